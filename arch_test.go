package ferry_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ferry-ml/ferry"

// imports returns, for every package directory of the module, the imports of
// its non-test files.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[dir] = append(out[dir], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// httpStage reports whether the stage package dir speaks HTTP by its nature:
// the inference server, the process runtime's proxy, and the deploy stage's
// router and process target.
func httpStage(dir string) bool {
	for _, p := range []string{"internal/serving", "internal/runtime/process", "internal/deploy/router", "internal/deploy/process"} {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

// TestImportRules guards the layout of DESIGN.md §3 and docs/architecture.md:
// stage packages do no transport or storage themselves and never reach the
// HTTP client or API; only the composition root (internal/app) knows the
// concrete stores; commands reach Ferry through internal/app and the client,
// never a store.
func TestImportRules(t *testing.T) {
	stages := []string{"tracking", "train", "dataset", "model", "runtime", "registry", "packaging", "validation", "deploy", "monitor", "monitoring", "pipeline", "job", "serving"}
	concrete := []string{"/internal/store/sqlite", "/internal/store/postgres", "/internal/blob/file", "/internal/blob/s3"}
	for dir, imps := range imports(t) {
		isStage := false
		for _, s := range stages {
			if dir == "internal/"+s || strings.HasPrefix(dir, "internal/"+s+"/") {
				isStage = true
			}
		}
		for _, imp := range imps {
			transport := imp == module+"/client" || imp == module+"/internal/httpapi" || imp == module+"/internal/cli" || imp == module+"/internal/app"
			storage := strings.HasPrefix(imp, module+"/internal/store") || strings.HasPrefix(imp, module+"/internal/blob/")
			if isStage && (transport || storage || (imp == "net/http" && !httpStage(dir))) {
				t.Errorf("stage package %s imports %s; stages get their stores and transports through interfaces they own", dir, imp)
			}
			for _, c := range concrete {
				if imp == module+c && dir != "internal/app" {
					t.Errorf("%s imports the concrete %s; only the composition root internal/app opens stores", dir, imp)
				}
			}
			if dir == "internal/cli" && strings.HasPrefix(imp, module+"/internal/store") {
				t.Errorf("internal/cli imports %s; commands reach stores only through internal/app", imp)
			}
			if dir == "." && (strings.HasPrefix(imp, module+"/") || imp == "os" || imp == "net/http" || imp == "database/sql") {
				t.Errorf("the root package imports %s; it must stay free of I/O and internal packages", imp)
			}
		}
	}
}

// TestModelFormatWithoutTrainer guards the split of issue 9: Ferry's model
// format (internal/model/native) and what reads models — runtimes,
// validation, serving — never import the trainers (internal/train and its
// packages); the trainers import the format.
func TestModelFormatWithoutTrainer(t *testing.T) {
	readers := []string{"internal/model", "internal/runtime", "internal/validation", "internal/serving"}
	for dir, imps := range imports(t) {
		for _, r := range readers {
			if dir != r && !strings.HasPrefix(dir, r+"/") {
				continue
			}
			for _, imp := range imps {
				if imp == module+"/internal/train" || strings.HasPrefix(imp, module+"/internal/train/") {
					t.Errorf("%s imports the trainer %s; models are read through internal/model/native", dir, imp)
				}
			}
		}
	}
}

// TestPredictionDepsStayLean follows the module's import graph from the
// runtimes and validation: neither links the HTTP client, the HTTP API or
// the trainer, even indirectly (what `go list -deps` would show).
func TestPredictionDepsStayLean(t *testing.T) {
	graph := imports(t)
	for _, root := range []string{"internal/runtime", "internal/validation"} {
		seen := map[string]string{} // package dir -> the dir that imported it
		var stack []string
		for dir := range graph {
			if dir == root || strings.HasPrefix(dir, root+"/") {
				seen[dir] = ""
				stack = append(stack, dir)
			}
		}
		for len(stack) > 0 {
			dir := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, imp := range graph[dir] {
				rel, ok := strings.CutPrefix(imp, module+"/")
				if !ok {
					continue
				}
				if _, done := seen[rel]; done {
					continue
				}
				seen[rel] = dir
				stack = append(stack, rel)
			}
		}
		for dir, by := range seen {
			if dir == "client" || dir == "internal/httpapi" || dir == "internal/train" || strings.HasPrefix(dir, "internal/train/") {
				t.Errorf("%s depends on %s (imported by %s)", root, dir, by)
			}
		}
	}
}
