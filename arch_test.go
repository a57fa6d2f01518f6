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

// TestImportRules guards the layout of DESIGN.md §3: stage packages do no
// transport or storage themselves, and only the composition root knows the
// concrete stores.
func TestImportRules(t *testing.T) {
	stages := []string{"tracking", "train", "dataset", "model", "runtime", "registry", "packaging", "validation", "deploy", "monitoring", "pipeline", "job"}
	concrete := []string{"/internal/store/sqlite", "/internal/store/postgres", "/internal/blob/file", "/internal/blob/s3"}
	for dir, imps := range imports(t) {
		for _, imp := range imps {
			isStage := false
			for _, s := range stages {
				if dir == "internal/"+s || strings.HasPrefix(dir, "internal/"+s+"/") {
					isStage = true
				}
			}
			if isStage && (imp == "net/http" || strings.HasPrefix(imp, module+"/internal/store") || strings.HasPrefix(imp, module+"/internal/blob/") ||
				imp == module+"/internal/httpapi" || imp == module+"/internal/cli") {
				t.Errorf("stage package %s imports %s; stages get their stores and transports through interfaces", dir, imp)
			}
			for _, c := range concrete {
				if imp == module+c && dir != "internal/cli" && dir != "internal/testbackend" {
					t.Errorf("%s imports the concrete %s; only internal/cli (and internal/testbackend for tests) wire concrete stores", dir, imp)
				}
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
