package suggest

import "testing"

func TestClosest(t *testing.T) {
	tests := []struct {
		name       string
		word       string
		candidates []string
		want       string
	}{
		{"dropped letter", "lst", []string{"get", "list", "log", "compare"}, "list"},
		{"transposed letters", "tagret", []string{"data", "target", "trainer"}, "target"},
		{"case differs", "Target", []string{"target"}, "target"},
		{"prefix", "learning", []string{"learning_rate", "max_depth"}, "learning_rate"},
		{"suffix", "depth", []string{"num_rounds", "max_depth"}, "max_depth"},
		{"nothing near", "teleport", []string{"runs", "models", "data"}, ""},
		{"two edits in a short word is not near", "gate", []string{"data", "thresholds"}, ""},
		{"no candidates", "x", nil, ""},
		{"tie goes to the first", "ab", []string{"ac", "ad"}, "ac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Closest(tt.word, tt.candidates); got != tt.want {
				t.Fatalf("Closest(%q, %v) = %q, want %q", tt.word, tt.candidates, got, tt.want)
			}
		})
	}
}
