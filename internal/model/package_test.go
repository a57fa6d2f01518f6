package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Contents of the example package every test below builds.
const (
	exampleModel   = `{"trainer":"logistic","weights":[0.25,-1.5,3],"intercept":-0.125}` + "\n"
	exampleInput   = `{"columns":["mean radius","mean texture","worst area"],"data":[[17.99,10.38,2019.0]]}` + "\n"
	exampleReadme  = "Logistic regression on the breast-cancer example.\n"
	exampleProfile = `{"rows":569,"columns":{"mean radius":{"mean":14.127,"std":3.524}}}`
)

func exampleManifest() *Manifest {
	m := &Manifest{
		ArtifactPath:   "model",
		RunID:          "5d8859a719f94e7cb4283e074bce122d",
		UTCTimeCreated: time.Date(2024, 7, 25, 22, 31, 1, 90420000, time.UTC),
		Signature: &Signature{
			Inputs: []Spec{
				{Name: "mean radius", Type: TypeDouble, Required: true},
				{Name: "mean texture", Type: TypeDouble, Required: true},
				{Name: "worst area", Type: TypeDouble, Required: true},
			},
			Outputs: []Spec{{Type: TypeLong, Required: true}},
		},
		Metadata: map[string]any{"owner": "ml-platform"},
	}
	m.SetFlavor(FerryFlavor{Trainer: "logistic", Data: "model.json"})
	return m
}

func exampleInfo() FerryInfo {
	return FerryInfo{
		Task:        TaskBinary,
		ClassLabels: []string{"malignant", "benign"},
		Profile:     json.RawMessage(exampleProfile),
		Lineage: Lineage{
			RunID:     "5d8859a719f94e7cb4283e074bce122d",
			GitCommit: "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69",
			GitDirty:  true,
			Datasets: []DatasetRef{
				{Name: "breast-cancer", Digest: "sha256:3b5d5c3712955042212316173ccf37be800b8a6a1f3e6f5b5c6e0a1d2c3b4a59", URI: "file:///data/breast_cancer.csv"},
			},
			Trainer:      "logistic",
			Params:       map[string]string{"l2": "0.01", "max_iter": "200", "learning_rate": "0.1"},
			FerryVersion: "0.1.0-test",
		},
	}
}

// buildExample writes the example package into dir through a Builder.
func buildExample(t testing.TB, dir string) *Package {
	t.Helper()
	ctx := context.Background()
	b, err := NewBuilder(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile(ctx, "docs/README.txt", func(w io.Writer) error {
		_, err := io.WriteString(w, exampleReadme)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetInputExample(ctx, strings.NewReader(exampleInput), InputExampleInfo{}); err != nil {
		t.Fatal(err)
	}
	p, err := b.Finish(ctx, exampleManifest(), exampleInfo())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pkg")
	saved := buildExample(t, dir)
	loaded, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !loaded.Verified() || !saved.Verified() {
		t.Error("a Ferry package must load verified")
	}
	if !reflect.DeepEqual(saved.Manifest, loaded.Manifest) {
		t.Errorf("manifest changed on the way through the disk:\nsaved  %+v\nloaded %+v", saved.Manifest, loaded.Manifest)
	}
	if !reflect.DeepEqual(saved.Info, loaded.Info) {
		t.Errorf("info changed on the way through the disk:\nsaved  %+v\nloaded %+v", saved.Info, loaded.Info)
	}
	if saved.Digest() == "" || saved.Digest() != loaded.Digest() {
		t.Errorf("Digest: saved %q, loaded %q", saved.Digest(), loaded.Digest())
	}

	m := loaded.Manifest
	if got := m.Metadata[MetadataFormatVersionKey]; got != int64(FormatVersion) {
		t.Errorf("metadata %s = %v, want %d", MetadataFormatVersionKey, got, FormatVersion)
	}
	if f, err := m.Ferry(); err != nil || f != (FerryFlavor{Trainer: "logistic", Data: "model.json", FormatVersion: FormatVersion}) {
		t.Errorf("Ferry() = %+v, %v", f, err)
	}
	if want := (&InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split"}); !reflect.DeepEqual(m.SavedInputExample, want) {
		t.Errorf("SavedInputExample = %+v", m.SavedInputExample)
	}
	if len(m.ModelUUID) != 32 {
		t.Errorf("ModelUUID = %q, want 32 hex digits derived from the contents", m.ModelUUID)
	}
	wantFiles := []string{"MLmodel", "docs/README.txt", "input_example.json", "model.json"}
	var files []string
	for f := range loaded.Info.Files {
		files = append(files, f)
	}
	if !reflect.DeepEqual(sorted(files), wantFiles) {
		t.Errorf("Files = %v, want %v", sorted(files), wantFiles)
	}
	if loaded.Info.Files["model.json"] != digestBytes([]byte(exampleModel)) {
		t.Errorf("digest of model.json = %s", loaded.Info.Files["model.json"])
	}
	if loaded.Info.Task != TaskBinary || !reflect.DeepEqual(loaded.Info.ClassLabels, []string{"malignant", "benign"}) {
		t.Errorf("Info = %+v", loaded.Info)
	}
	if !bytes.Equal(compact(t, loaded.Info.Profile), compact(t, json.RawMessage(exampleProfile))) {
		t.Errorf("Profile = %s", loaded.Info.Profile)
	}

	pref, err := loaded.PreferredFlavor()
	if err != nil || pref != FlavorFerry {
		t.Fatalf("PreferredFlavor() = %q, %v", pref, err)
	}
	path, err := loaded.DataPath(pref)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "model.json") {
		t.Errorf("DataPath = %s", path)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != exampleModel {
		t.Errorf("data file = %q, %v", data, err)
	}
}

func TestSaveReproducible(t *testing.T) {
	tmp := t.TempDir()
	ctx := context.Background()
	save := func(name string) *Package {
		files := map[string]io.Reader{
			"model.json":      strings.NewReader(exampleModel),
			"docs/README.txt": strings.NewReader(exampleReadme),
		}
		p, err := Save(ctx, filepath.Join(tmp, name), exampleManifest(), exampleInfo(), files)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := save("a"), save("b")
	if a.Digest() != b.Digest() {
		t.Errorf("digests differ: %s vs %s", a.Digest(), b.Digest())
	}
	for _, name := range []string{ManifestFile, InfoFile, "model.json", "docs/README.txt"} {
		t.Run(name, func(t *testing.T) {
			da, err := os.ReadFile(filepath.Join(a.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			db, err := os.ReadFile(filepath.Join(b.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(da, db) {
				t.Errorf("%s differs between two saves of the same inputs:\n%s\n---\n%s", name, da, db)
			}
		})
	}
	// Changing any input changes the package.
	m := exampleManifest()
	m.UTCTimeCreated = m.UTCTimeCreated.Add(time.Second)
	c, err := Save(ctx, filepath.Join(tmp, "c"), m, exampleInfo(), map[string]io.Reader{"model.json": strings.NewReader(exampleModel), "docs/README.txt": strings.NewReader(exampleReadme)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest() == a.Digest() {
		t.Error("a different creation time gave the same package digest")
	}
}

// TestGolden pins the bytes of a Ferry-written MLmodel and ferry.json. Run
// go test ./internal/model -update to rewrite them after an intended change.
func TestGolden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pkg")
	buildExample(t, dir)
	for _, name := range []string{ManifestFile, InfoFile} {
		t.Run(name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/model -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", name, golden, got, want)
			}
		})
	}
}

func TestLoadTampered(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		file    string
		problem Problem
		message string
	}{
		{"byte changed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.json")
			data := must(os.ReadFile(p))
			data[10] ^= 0x01
			check(t, os.WriteFile(p, data, 0o644))
		}, "model.json", Tampered, `model: file "model.json" does not match its digest (tampered or corrupt)`},
		{"byte appended in a subdirectory", func(t *testing.T, dir string) {
			f := must(os.OpenFile(filepath.Join(dir, "docs", "README.txt"), os.O_APPEND|os.O_WRONLY, 0))
			_, err := f.WriteString("!")
			check(t, err)
			check(t, f.Close())
		}, "docs/README.txt", Tampered, `model: file "docs/README.txt" does not match its digest (tampered or corrupt)`},
		{"MLmodel edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ManifestFile)
			data := must(os.ReadFile(p))
			check(t, os.WriteFile(p, bytes.Replace(data, []byte("logistic"), []byte("gbt"), 1), 0o644))
		}, ManifestFile, Tampered, `model: file "MLmodel" does not match its digest (tampered or corrupt)`},
		{"file deleted", func(t *testing.T, dir string) {
			check(t, os.Remove(filepath.Join(dir, "input_example.json")))
		}, "input_example.json", Missing, `model: file "input_example.json" is listed in ferry.json but missing (incomplete package)`},
		{"MLmodel deleted", func(t *testing.T, dir string) {
			check(t, os.Remove(filepath.Join(dir, ManifestFile)))
		}, ManifestFile, Missing, `model: file "MLmodel" is listed in ferry.json but missing`},
		{"file added", func(t *testing.T, dir string) {
			check(t, os.WriteFile(filepath.Join(dir, "backdoor.py"), []byte("import os\n"), 0o644))
		}, "backdoor.py", Unexpected, `model: file "backdoor.py" is not listed in ferry.json (added after packaging)`},
		{"file added in a new directory", func(t *testing.T, dir string) {
			check(t, os.MkdirAll(filepath.Join(dir, "code", "lib"), 0o755))
			check(t, os.WriteFile(filepath.Join(dir, "code", "lib", "x.py"), nil, 0o644))
		}, "code/lib/x.py", Unexpected, `model: file "code/lib/x.py" is not listed in ferry.json`},
		{"file swapped for a symlink", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.json")
			check(t, os.Remove(p))
			check(t, os.Symlink("/etc/passwd", p))
		}, "model.json", NotRegular, `model: file "model.json" is not a regular file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pkg")
			buildExample(t, dir)
			tt.tamper(t, dir)
			p, err := Load(context.Background(), dir)
			if err == nil {
				t.Fatalf("Load of a tampered package = %+v, want an error", p)
			}
			var ie *IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("Load = %v, want an *IntegrityError", err)
			}
			if ie.File != tt.file || ie.Problem != tt.problem {
				t.Errorf("IntegrityError = %+v, want file %q problem %d", ie, tt.file, tt.problem)
			}
			if !strings.HasPrefix(err.Error(), tt.message) {
				t.Errorf("error = %q, want it to start with %q", err, tt.message)
			}
			var fe *ferry.Error
			if !errors.As(err, &fe) || fe.Code != ferry.EINVALID || !strings.Contains(fe.Message, tt.file) {
				t.Errorf("error does not wrap an EINVALID *ferry.Error naming the file: %#v", fe)
			}
		})
	}
}

func TestLoadBadInfo(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(fi map[string]any)
		raw   string // replaces ferry.json when set
		code  string
		want  string
		wantT func(err error) bool
	}{
		{name: "not JSON", raw: "{not json", code: ferry.EINVALID, want: "ferry.json is not valid"},
		{name: "newer format", edit: func(fi map[string]any) { fi["format_version"] = 99 }, code: ferry.EINVALID, want: "format_version 99 is newer than this Ferry reads"},
		{name: "no format", edit: func(fi map[string]any) { delete(fi, "format_version") }, code: ferry.EINVALID, want: "format_version 0 is not a package format"},
		{name: "MLmodel unlisted", edit: func(fi map[string]any) { delete(fi["files"].(map[string]any), ManifestFile) }, code: ferry.EINVALID, want: "does not list MLmodel"},
		{name: "traversal in files", edit: func(fi map[string]any) {
			fi["files"].(map[string]any)["../outside"] = "sha256:" + strings.Repeat("0", 64)
		}, code: ferry.EINVALID, want: `lists "../outside", which is not a clean relative path`},
		{name: "bad digest", edit: func(fi map[string]any) { fi["files"].(map[string]any)["model.json"] = "md5:abc" }, code: ferry.EINVALID, want: `the digest of "model.json"`},
		{name: "listed file never written", edit: func(fi map[string]any) {
			fi["files"].(map[string]any)["weights.bin"] = "sha256:" + strings.Repeat("a", 64)
		}, code: ferry.EINVALID, want: `file "weights.bin" is listed in ferry.json but missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pkg")
			buildExample(t, dir)
			p := filepath.Join(dir, InfoFile)
			data := []byte(tt.raw)
			if tt.raw == "" {
				var fi map[string]any
				check(t, json.Unmarshal(must(os.ReadFile(p)), &fi))
				tt.edit(fi)
				data = must(json.Marshal(fi))
			}
			check(t, os.WriteFile(p, data, 0o644))
			_, err := Load(context.Background(), dir)
			if err == nil || ferry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want %s containing %q", err, tt.code, tt.want)
			}
		})
	}
}

func TestLoadMLflowPackages(t *testing.T) {
	tests := []struct {
		name      string
		dataFiles []string
		preferred string
		dataPath  string
	}{
		{"xgboost", []string{"model.json", "conda.yaml", "python_env.yaml", "requirements.txt", "input_example.json"}, FlavorXGBoost, "model.json"},
		{"xgboost_legacy", []string{"model.xgb", "input_example.json", "serving_input_example.json"}, FlavorXGBoost, "model.xgb"},
		{"lightgbm", []string{"model.lgb", "input_example.json"}, FlavorLightGBM, "model.lgb"},
		{"onnx", []string{"model.onnx"}, FlavorONNX, "model.onnx"},
		{"sklearn", []string{"model.pkl", "input_example.json", "serving_input_example.json"}, FlavorPyFunc, "model.pkl"},
		{"pyfunc", []string{"python_model.pkl", "input_example.json", "serving_input_example.json"}, FlavorPyFunc, "python_model.pkl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			check(t, os.WriteFile(filepath.Join(dir, ManifestFile), mlflowFixture(t, tt.name), 0o644))
			for _, f := range tt.dataFiles {
				check(t, os.WriteFile(filepath.Join(dir, f), []byte("placeholder "+f), 0o644))
			}
			p, err := Load(context.Background(), dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if p.Verified() || p.Info != nil || p.Digest() != "" {
				t.Error("a package MLflow wrote has no ferry.json and must not report itself verified")
			}
			pref, err := p.PreferredFlavor()
			if err != nil || pref != tt.preferred {
				t.Fatalf("PreferredFlavor() = %q, %v; want %q", pref, err, tt.preferred)
			}
			got, err := p.DataPath(pref)
			if err != nil || got != filepath.Join(dir, tt.dataPath) {
				t.Errorf("DataPath(%s) = %q, %v", pref, got, err)
			}
			if _, ok := p.Flavor(pref); !ok {
				t.Errorf("Flavor(%q) missing", pref)
			}
		})
	}
}

func TestDataPathErrors(t *testing.T) {
	dir := t.TempDir()
	check(t, os.WriteFile(filepath.Join(dir, "model.onnx"), []byte("x"), 0o644))
	check(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link.onnx")))
	pkg := func(data any) *Package {
		return &Package{Dir: dir, Manifest: &Manifest{Flavors: map[string]Flavor{FlavorONNX: {"data": data}, "sklearn": {"serialization_format": "cloudpickle"}}}}
	}
	tests := []struct {
		name   string
		p      *Package
		flavor string
		code   string
		want   string
	}{
		{"traversal", pkg("../../etc/passwd"), FlavorONNX, ferry.EINVALID, "the path leaves the package directory"},
		{"traversal after a subdirectory", pkg("sub/../../x"), FlavorONNX, ferry.EINVALID, "the path leaves the package directory"},
		{"absolute", pkg("/etc/passwd"), FlavorONNX, ferry.EINVALID, "the path is absolute"},
		{"backslash", pkg(`..\..\evil`), FlavorONNX, ferry.EINVALID, "backslash"},
		{"symlink", pkg("link.onnx"), FlavorONNX, ferry.EINVALID, "symbolic link"},
		{"missing file", pkg("other.onnx"), FlavorONNX, ferry.ENOTFOUND, `names "other.onnx", which is not in the package`},
		{"not a string", pkg(42), FlavorONNX, ferry.EINVALID, "must be a string, not a number"},
		{"no data field", pkg("model.onnx"), "sklearn", ferry.ENOTFOUND, "names no data file"},
		{"no such flavor", pkg("model.onnx"), FlavorXGBoost, ferry.ENOTFOUND, "the model has no xgboost flavor (it has onnx, sklearn)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.DataPath(tt.flavor)
			if err == nil {
				t.Fatalf("DataPath = %q, want an error", got)
			}
			if ferry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DataPath = %v (%s), want %s containing %q", err, ferry.ErrorCode(err), tt.code, tt.want)
			}
		})
	}
	if got, err := pkg("./model.onnx").DataPath(FlavorONNX); err != nil || got != filepath.Join(dir, "model.onnx") {
		t.Errorf("DataPath(./model.onnx) = %q, %v", got, err)
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no directory", func(t *testing.T) {
		_, err := Load(ctx, filepath.Join(t.TempDir(), "nope"))
		if ferry.ErrorCode(err) != ferry.ENOTFOUND {
			t.Errorf("Load = %v, want ENOTFOUND", err)
		}
	})
	t.Run("no MLmodel", func(t *testing.T) {
		_, err := Load(ctx, t.TempDir())
		if ferry.ErrorCode(err) != ferry.ENOTFOUND || !strings.Contains(err.Error(), "no MLmodel file") {
			t.Errorf("Load = %v, want ENOTFOUND", err)
		}
	})
	t.Run("MLmodel too large", func(t *testing.T) {
		dir := t.TempDir()
		check(t, os.WriteFile(filepath.Join(dir, ManifestFile), bytes.Repeat([]byte("#\n"), MaxManifestSize), 0o644))
		_, err := Load(ctx, dir)
		if ferry.ErrorCode(err) != ferry.ETOOLARGE {
			t.Errorf("Load = %v, want ETOOLARGE", err)
		}
	})
	t.Run("MLmodel a symlink", func(t *testing.T) {
		dir := t.TempDir()
		check(t, os.Symlink("/etc/hostname", filepath.Join(dir, ManifestFile)))
		_, err := Load(ctx, dir)
		if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Load = %v, want EINVALID", err)
		}
	})
	t.Run("malformed MLmodel", func(t *testing.T) {
		dir := t.TempDir()
		check(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte("flavors:\n- xgboost\n"), 0o644))
		_, err := Load(ctx, dir)
		if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), "flavors must be a mapping") {
			t.Errorf("Load = %v, want EINVALID", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pkg")
		buildExample(t, dir)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Load(cctx, dir); !errors.Is(err, context.Canceled) {
			t.Errorf("Load = %v, want context.Canceled", err)
		}
	})
}

func TestBuilderErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, b *Builder) error
		code string
		want string
	}{
		{"reserved MLmodel", func(t *testing.T, b *Builder) error {
			return b.AddFile(ctx, "MLmodel", strings.NewReader("x"))
		}, ferry.EINVALID, `file name "MLmodel" is reserved`},
		{"reserved ferry.json", func(t *testing.T, b *Builder) error {
			return b.AddFile(ctx, "./ferry.json", strings.NewReader("x"))
		}, ferry.EINVALID, `file name "ferry.json" is reserved`},
		{"traversal", func(t *testing.T, b *Builder) error {
			return b.AddFile(ctx, "../escape.txt", strings.NewReader("x"))
		}, ferry.EINVALID, "the path leaves the package directory"},
		{"absolute", func(t *testing.T, b *Builder) error {
			return b.AddFile(ctx, "/tmp/x", strings.NewReader("x"))
		}, ferry.EINVALID, "the path is absolute"},
		{"duplicate", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "a.txt", strings.NewReader("x")))
			return b.AddFile(ctx, "a.txt", strings.NewReader("y"))
		}, ferry.ECONFLICT, `file "a.txt" was already added`},
		{"file and directory", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "a", strings.NewReader("x")))
			return b.AddFile(ctx, "a/b", strings.NewReader("y"))
		}, ferry.ECONFLICT, "a file cannot also be a directory"},
		{"data file not added", func(t *testing.T, b *Builder) error {
			_, err := b.Finish(ctx, exampleManifest(), exampleInfo())
			return err
		}, ferry.EINVALID, `flavor "ferry" names "model.json", which was not added`},
		{"no creation time", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			m := exampleManifest()
			m.UTCTimeCreated = time.Time{}
			_, err := b.Finish(ctx, m, exampleInfo())
			return err
		}, ferry.EINVALID, "utc_time_created is required"},
		{"no flavors", func(t *testing.T, b *Builder) error {
			m := exampleManifest()
			m.Flavors = nil
			_, err := b.Finish(ctx, m, exampleInfo())
			return err
		}, ferry.EINVALID, "needs at least one flavor"},
		{"wrong ferry format version", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			m := exampleManifest()
			m.SetFlavor(FerryFlavor{Trainer: "x", Data: "model.json", FormatVersion: 7})
			_, err := b.Finish(ctx, m, exampleInfo())
			return err
		}, ferry.EINVALID, "format_version is 7"},
		{"bad task", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			info := exampleInfo()
			info.Task = "ranking"
			_, err := b.Finish(ctx, exampleManifest(), info)
			return err
		}, ferry.EINVALID, `task "ranking" is not binary, multiclass or regression`},
		{"binary with three labels", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			info := exampleInfo()
			info.ClassLabels = []string{"a", "b", "c"}
			_, err := b.Finish(ctx, exampleManifest(), info)
			return err
		}, ferry.EINVALID, "a binary model has 2 class labels, not 3"},
		{"profile not JSON", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			info := exampleInfo()
			info.Profile = json.RawMessage("{oops")
			_, err := b.Finish(ctx, exampleManifest(), info)
			return err
		}, ferry.EINVALID, "the profile is not valid JSON"},
		{"extra shadows a field", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			m := exampleManifest()
			m.Extra = map[string]any{"run_id": "other"}
			_, err := b.Finish(ctx, m, exampleInfo())
			return err
		}, ferry.EINVALID, `extra key "run_id" shadows a field`},
		{"stray file", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			check(t, os.WriteFile(filepath.Join(b.dir, "stray.txt"), nil, 0o644))
			_, err := b.Finish(ctx, exampleManifest(), exampleInfo())
			return err
		}, ferry.ECONFLICT, `file "stray.txt" appeared in the package directory`},
		{"reader fails", func(t *testing.T, b *Builder) error {
			return b.AddFile(ctx, "model.json", io.MultiReader(strings.NewReader("part"), errReader{}))
		}, ferry.EINTERNAL, "model: write model.json: disk on fire"},
		{"second input example", func(t *testing.T, b *Builder) error {
			check(t, b.SetInputExample(ctx, strings.NewReader("{}"), InputExampleInfo{}))
			return b.SetInputExample(ctx, strings.NewReader("{}"), InputExampleInfo{ArtifactPath: "other.json"})
		}, ferry.ECONFLICT, "already has an input example"},
		{"finished twice", func(t *testing.T, b *Builder) error {
			check(t, b.AddFile(ctx, "model.json", strings.NewReader(exampleModel)))
			_, err := b.Finish(ctx, exampleManifest(), exampleInfo())
			check(t, err)
			_, err = b.Finish(ctx, exampleManifest(), exampleInfo())
			return err
		}, ferry.ECONFLICT, "already finished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pkg")
			b, err := NewBuilder(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Abort()
			err = tt.run(t, b)
			if err == nil || ferry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (%s), want %s containing %q", err, ferry.ErrorCode(err), tt.code, tt.want)
			}
			// A failed step leaves no temporary file, MLmodel or ferry.json behind.
			entries := must(os.ReadDir(dir))
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tmpPrefix) || (tt.name != "finished twice" && (e.Name() == ManifestFile || e.Name() == InfoFile)) {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}

func TestNewBuilderNonEmpty(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	check(t, os.WriteFile(filepath.Join(dir, "old.txt"), nil, 0o644))
	if _, err := NewBuilder(ctx, dir); ferry.ErrorCode(err) != ferry.ECONFLICT || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("NewBuilder(non-empty) = %v, want ECONFLICT", err)
	}
	file := filepath.Join(dir, "old.txt")
	if _, err := NewBuilder(ctx, file); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("NewBuilder(file) = %v, want ECONFLICT", err)
	}
}

func TestBuilderAbort(t *testing.T) {
	ctx := context.Background()
	t.Run("created directory is removed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pkg")
		b := must(NewBuilder(ctx, dir))
		check(t, b.AddFile(ctx, "sub/model.json", strings.NewReader("x")))
		check(t, b.Abort())
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat after Abort = %v, want not exist", err)
		}
	})
	t.Run("existing directory is emptied", func(t *testing.T) {
		dir := t.TempDir()
		b := must(NewBuilder(ctx, dir))
		check(t, b.AddFile(ctx, "sub/model.json", strings.NewReader("x")))
		check(t, b.Abort())
		if entries := must(os.ReadDir(dir)); len(entries) != 0 {
			t.Errorf("entries after Abort: %v", entries)
		}
	})
	t.Run("cancelled write leaves nothing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pkg")
		b := must(NewBuilder(ctx, dir))
		defer b.Abort()
		cctx, cancel := context.WithCancel(ctx)
		err := b.WriteFile(cctx, "big.bin", func(w io.Writer) error {
			if _, err := w.Write([]byte("first")); err != nil {
				return err
			}
			cancel()
			_, err := w.Write([]byte("second"))
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WriteFile = %v, want context.Canceled", err)
		}
		if entries := must(os.ReadDir(dir)); len(entries) != 0 {
			t.Errorf("entries after a cancelled write: %v", entries)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func compact(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var b bytes.Buffer
	check(t, json.Compact(&b, raw))
	return b.Bytes()
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestSaveKnownFlavors writes packages with MLflow's flavors through their
// typed forms and reads them back through the typed accessors.
func TestSaveKnownFlavors(t *testing.T) {
	ctx := context.Background()
	tensorSig := &Signature{
		Inputs:  []Spec{{Name: "float_input", Type: TypeTensor, IsTensor: true, Required: true, DType: "float32", Shape: []int64{-1, 4}}},
		Outputs: []Spec{{Name: "label", Type: TypeTensor, IsTensor: true, Required: true, DType: "int64", Shape: []int64{-1}}},
	}
	tests := []struct {
		name    string
		flavors []KnownFlavor
		file    string
		read    func(m *Manifest) (any, error)
		want    any
	}{
		{"xgboost", []KnownFlavor{
			XGBoostFlavor{Data: "model.json", ModelFormat: "json", ModelClass: "xgboost.core.Booster", XGBVersion: "2.0.3"},
			PyFuncFlavor{LoaderModule: "mlflow.xgboost", Data: "model.json", PythonVersion: "3.11.4", Env: PythonEnv{Conda: "conda.yaml", Virtualenv: "python_env.yaml"}},
		}, "model.json", func(m *Manifest) (any, error) { return m.XGBoost() },
			XGBoostFlavor{Data: "model.json", ModelFormat: "json", ModelClass: "xgboost.core.Booster", XGBVersion: "2.0.3"}},
		{"lightgbm", []KnownFlavor{LightGBMFlavor{Data: "model.lgb", ModelClass: "lightgbm.basic.Booster", LGBVersion: "4.5.0"}},
			"model.lgb", func(m *Manifest) (any, error) { return m.LightGBM() },
			LightGBMFlavor{Data: "model.lgb", ModelClass: "lightgbm.basic.Booster", LGBVersion: "4.5.0"}},
		{"onnx", []KnownFlavor{ONNXFlavor{Data: "model.onnx", ONNXVersion: "1.16.1", Providers: []string{"CPUExecutionProvider"}}},
			"model.onnx", func(m *Manifest) (any, error) { return m.ONNX() },
			ONNXFlavor{Data: "model.onnx", ONNXVersion: "1.16.1", Providers: []string{"CPUExecutionProvider"}}},
		{"python_function", []KnownFlavor{PyFuncFlavor{LoaderModule: "mlflow.pyfunc.model", PythonModel: "python_model.pkl", Code: "code"}},
			"python_model.pkl", func(m *Manifest) (any, error) { return m.PyFunc() },
			PyFuncFlavor{LoaderModule: "mlflow.pyfunc.model", PythonModel: "python_model.pkl", Code: "code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{UTCTimeCreated: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Signature: tensorSig, ModelUUID: "00112233445566778899aabbccddeeff"}
			for _, f := range tt.flavors {
				m.SetFlavor(f)
			}
			dir := filepath.Join(t.TempDir(), "pkg")
			_, err := Save(ctx, dir, m, FerryInfo{Task: TaskMulticlass, ClassLabels: []string{"a", "b", "c"}}, map[string]io.Reader{
				tt.file:          strings.NewReader("weights"),
				"code/helper.py": strings.NewReader("pass\n"),
			})
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.read(p.Manifest)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("typed flavor = %+v, %v; want %+v", got, err, tt.want)
			}
			if !reflect.DeepEqual(p.Manifest.Signature, tensorSig) {
				t.Errorf("signature = %+v", p.Manifest.Signature)
			}
			if p.Manifest.ModelUUID != m.ModelUUID {
				t.Errorf("a model_uuid the caller fixed was changed to %q", p.Manifest.ModelUUID)
			}
			if got := p.Manifest.UTCTimeCreated; !got.Equal(m.UTCTimeCreated) {
				t.Errorf("UTCTimeCreated = %v", got)
			}
			if _, err := p.DataPath(tt.flavors[0].FlavorName()); err != nil {
				t.Errorf("DataPath: %v", err)
			}
		})
	}
}

func TestEmptyDir(t *testing.T) {
	ctx := context.Background()
	if _, err := Load(ctx, ""); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("Load(\"\") = %v, want EINVALID", err)
	}
	if _, err := NewBuilder(ctx, ""); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("NewBuilder(\"\") = %v, want EINVALID", err)
	}
}
