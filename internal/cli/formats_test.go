package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/validation"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestFormatDocs: every field of the training spec, the promotion policy and
// the gates file (by their YAML tags) is in its document under docs/, the
// document's example is accepted by the loader, and `ferry help formats`
// names every document. The job spec's document is checked in internal/job.
func TestFormatDocs(t *testing.T) {
	gatesFields := append(yamlfile.Fields(reflect.TypeFor[validation.Policy]()),
		// baseline's rules are read by BaselineRules.UnmarshalYAML.
		"baseline.<key>.threshold", "baseline.<key>.min_absolute_change", "baseline.<key>.min_relative_change", "baseline.<key>.greater_is_better")
	tests := []struct {
		doc    string
		fields []string
		load   func(path string) error
	}{
		{"training-spec.md", yamlfile.Fields(reflect.TypeFor[train.Spec]()), func(p string) error {
			s, err := train.LoadSpec(p)
			if err == nil {
				err = s.Normalize()
			}
			return err
		}},
		{"policy.md", yamlfile.Fields(reflect.TypeFor[registry.Policy]()), func(p string) error {
			// The example's rules name gates.yaml beside it.
			must(t, os.WriteFile(filepath.Join(filepath.Dir(p), "gates.yaml"), []byte("thresholds: {roc_auc: \">= 0.6\"}\n"), 0o644))
			_, err := registry.LoadPolicy(p)
			return err
		}},
		{"gates.md", gatesFields, func(p string) error { _, err := validation.LoadPolicy(p); return err }},
	}
	_, help, _ := runCLI(t, t.TempDir(), "help", "formats")
	if !strings.Contains(help, "docs/resources.md") { // its fields are checked in internal/resource
		t.Error("ferry help formats does not name docs/resources.md")
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "docs", tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if missing := yamlfile.Undocumented(string(raw), tt.fields); len(missing) > 0 {
				t.Errorf("docs/%s does not document %s", tt.doc, strings.Join(missing, ", "))
			}
			m := yamlBlock.FindSubmatch(raw)
			if m == nil {
				t.Fatalf("docs/%s has no example", tt.doc)
			}
			example := filepath.Join(t.TempDir(), "example.yaml")
			must(t, os.WriteFile(example, m[1], 0o644))
			if err := tt.load(example); err != nil {
				t.Errorf("the example of docs/%s is refused: %v", tt.doc, err)
			}
			if !strings.Contains(help, "docs/"+tt.doc) {
				t.Errorf("ferry help formats does not name docs/%s", tt.doc)
			}
		})
	}
	if !strings.Contains(help, "docs/job-spec.md") {
		t.Error("ferry help formats does not name docs/job-spec.md")
	}
}
