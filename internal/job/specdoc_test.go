package job

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// TestSpecDoc: every field of the job spec is in docs/job-spec.md, and the
// document's example is a valid spec.
func TestSpecDoc(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "job-spec.md"))
	if err != nil {
		t.Fatal(err)
	}
	fields := append(yamlfile.Fields(reflect.TypeFor[specFile]()),
		// inputs and outputs are read field by field by resolveInput and resolveOutput.
		"inputs.<key>.type", "inputs.<key>.path", "inputs.<key>.mode", "inputs.<key>.description",
		"outputs.<key>.type", "outputs.<key>.mode", "outputs.<key>.description")
	if missing := yamlfile.Undocumented(string(raw), fields); len(missing) > 0 {
		t.Errorf("docs/job-spec.md does not document %s", strings.Join(missing, ", "))
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("docs/job-spec.md has no example")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "jobs", "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "churn.csv"), []byte("x\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSpec(m[1], filepath.Join(dir, "jobs"), nil); err != nil {
		t.Errorf("the example of docs/job-spec.md is refused: %v", err)
	}
}
