package examples

import (
	"bytes"
	"os"
	"testing"
)

// TestFlightsSplit: the training and held-out flights partition the sample
// at FlightsHoldoutFrom, so a model trained on one never sees the other.
func TestFlightsSplit(t *testing.T) {
	files, err := Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rows := func(name string) [][]byte {
		raw, err := os.ReadFile(files[name])
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
		if string(lines[0]) != "date,delay,distance,origin,destination" {
			t.Fatalf("%s header %q", name, lines[0])
		}
		return lines[1:]
	}
	train, holdout := rows("flights_train"), rows("flights_holdout")
	if len(train)+len(holdout) != 120000 || len(train) == 0 || len(holdout) == 0 {
		t.Fatalf("%d + %d rows, want 120000 in two non-empty parts", len(train), len(holdout))
	}
	for _, r := range train {
		if d := string(r[:10]); d < "2001-01-01" || d >= FlightsHoldoutFrom {
			t.Fatalf("training row dated %s", d)
		}
	}
	for _, r := range holdout {
		if d := string(r[:10]); d < FlightsHoldoutFrom || d > "2001-06-30" {
			t.Fatalf("held-out row dated %s", d)
		}
	}
}
