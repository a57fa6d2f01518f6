package packaging_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/packaging"
)

func TestWriteBundleReproducible(t *testing.T) {
	base := t.TempDir()
	// Two packages built from the same inputs in different directories.
	pkgA := buildPackage(t, filepath.Join(base, "a"), bigSize)
	pkgB := buildPackage(t, filepath.Join(base, "b", "nested"), bigSize)
	for _, tc := range []struct {
		name string
		opts packaging.Options
	}{
		{"gzip default level", packaging.Options{}},
		{"gzip level 6", packaging.Options{Compression: packaging.CompressionGzip, Level: 6}},
		{"no compression", packaging.Options{Compression: packaging.CompressionNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, d1 := bundle(t, pkgA, testMeta(), tc.opts)
			second, d2 := bundle(t, pkgA, testMeta(), tc.opts)
			other, d3 := bundle(t, pkgB, testMeta(), tc.opts)
			if sha(first) != sha(second) || sha(first) != sha(other) {
				t.Fatalf("bundles differ: %s, %s, %s", sha(first), sha(second), sha(other))
			}
			if d1 != sha(first) || d2 != d1 || d3 != d1 {
				t.Errorf("returned digests %s, %s, %s; want %s", d1, d2, d3, sha(first))
			}
			if gz := bytes.HasPrefix(first, []byte{0x1f, 0x8b}); gz != (tc.opts.Compression != packaging.CompressionNone) {
				t.Errorf("gzip-compressed = %v for %q", gz, tc.opts.Compression)
			}
		})
	}
}

func TestBundleEntries(t *testing.T) {
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), bigSize)
	data, _ := bundle(t, pkg, testMeta(), packaging.Options{})
	var names []string
	for _, e := range readEntries(t, data) {
		h := e.hdr
		names = append(names, h.Name)
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o755
		}
		if h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" ||
			!h.ModTime.Equal(testCreated) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("entry %s: mode %o uid %d gid %d uname %q gname %q mtime %v atime %v ctime %v",
				h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, h.AccessTime, h.ChangeTime)
		}
	}
	want := []string{"bundle.json", "model/", "model/MLmodel", "model/docs/", "model/docs/README.txt", "model/ferry.json", "model/model.json", "model/weights.bin"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("entries %q, want %q", names, want)
	}
	// The gzip header carries no name and no time.
	if data[3] != 0 || !bytes.Equal(data[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header flags %x mtime %x, want none", data[3], data[4:8])
	}
}

func TestBundleGolden(t *testing.T) {
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), bigSize)
	data, _ := bundle(t, pkg, testMeta(), packaging.Options{})
	entries := readEntries(t, data)
	golden(t, "bundle.json", entries[0].data)
}

func TestWriteBundleMetaChangesDigest(t *testing.T) {
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), 1000)
	_, base := bundle(t, pkg, testMeta(), packaging.Options{})
	for _, tc := range []struct {
		name string
		meta func(*packaging.Meta)
		opts packaging.Options
	}{
		{"name", func(m *packaging.Meta) { m.Name = "other" }, packaging.Options{}},
		{"version", func(m *packaging.Meta) { m.Version = 4 }, packaging.Options{}},
		{"created", func(m *packaging.Meta) { m.Created = m.Created.Add(time.Second) }, packaging.Options{}},
		{"run id", func(m *packaging.Meta) { m.RunID = "another-run" }, packaging.Options{}},
		{"git commit", func(m *packaging.Meta) { m.GitCommit = "0000000" }, packaging.Options{}},
		{"dataset digests", func(m *packaging.Meta) { m.DatasetDigests = []string{} }, packaging.Options{}},
		{"labels", func(m *packaging.Meta) { m.Labels = map[string]string{"team": "fraud"} }, packaging.Options{}},
		{"gzip level", func(*packaging.Meta) {}, packaging.Options{Level: 9}},
		{"no compression", func(*packaging.Meta) {}, packaging.Options{Compression: packaging.CompressionNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := testMeta()
			tc.meta(&meta)
			if _, d := bundle(t, pkg, meta, tc.opts); d == base {
				t.Errorf("digest %s did not change", d)
			}
		})
	}
	t.Run("same instant in another zone", func(t *testing.T) {
		meta := testMeta()
		meta.Created = meta.Created.In(time.FixedZone("CET", 3600))
		if _, d := bundle(t, pkg, meta, packaging.Options{}); d != base {
			t.Errorf("digest %s, want %s", d, base)
		}
	})
}

func TestVerifyAndReadBundle(t *testing.T) {
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), bigSize)
	ctx := context.Background()
	for _, opts := range []packaging.Options{{}, {Compression: packaging.CompressionNone}} {
		t.Run("compression "+string(opts.Compression), func(t *testing.T) {
			data, _ := bundle(t, pkg, testMeta(), opts)
			man, err := packaging.VerifyBundle(ctx, bytes.NewReader(data))
			check(t, err)
			head, err := packaging.ReadBundle(ctx, bytes.NewReader(data))
			check(t, err)
			if man.Meta.ModelDigest != pkg.Digest() || head.Meta.ModelDigest != pkg.Digest() {
				t.Errorf("model digest %s / %s, want %s", man.Meta.ModelDigest, head.Meta.ModelDigest, pkg.Digest())
			}
			m := man.Meta
			if m.Name != "breast-cancer" || m.Version != 3 || !m.Created.Equal(testCreated) ||
				m.RunID != "5d8859a719f94e7cb4283e074bce122d" || m.GitCommit != "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69" ||
				len(m.DatasetDigests) != 1 || m.Labels["team"] != "ml-platform" {
				t.Errorf("meta %+v", m)
			}
			if len(man.Files) != 5 {
				t.Fatalf("%d files, want 5: %+v", len(man.Files), man.Files)
			}
			for _, f := range man.Files {
				rel := strings.TrimPrefix(f.Path, "model/")
				want := pkg.Info.Files[rel]
				if rel == model.InfoFile {
					want = pkg.Digest()
				}
				if f.SHA256 != want {
					t.Errorf("%s: digest %s, want %s", f.Path, f.SHA256, want)
				}
				if f.Path == "model/"+bigName && f.Size != bigSize {
					t.Errorf("%s: size %d", f.Path, f.Size)
				}
			}
		})
	}
}

func TestExtractBundle(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), bigSize)
	data, _ := bundle(t, pkg, testMeta(), packaging.Options{})
	for _, tc := range []struct {
		name  string
		setup func(dir string)
	}{
		{"new directory", func(string) {}},
		{"empty directory", func(dir string) { check(t, os.MkdirAll(dir, 0o755)) }},
		{"named with a trailing slash", func(string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out", "model")
			tc.setup(dir)
			arg := dir
			if tc.name == "named with a trailing slash" {
				arg += string(filepath.Separator)
			}
			man, err := packaging.ExtractBundle(ctx, bytes.NewReader(data), arg)
			check(t, err)
			got, err := model.Load(ctx, dir)
			if err != nil {
				t.Fatalf("model.Load(extracted) = %v", err)
			}
			if got.Digest() != pkg.Digest() || man.Meta.ModelDigest != pkg.Digest() {
				t.Errorf("extracted digest %s, want %s", got.Digest(), pkg.Digest())
			}
			for _, rel := range []string{"model.json", "docs/README.txt", bigName, "MLmodel", "ferry.json"} {
				a := must(os.ReadFile(filepath.Join(pkg.Dir, rel)))
				b := must(os.ReadFile(filepath.Join(dir, rel)))
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs after extraction", rel)
				}
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".ferry-*")); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
	t.Run("non-empty directory", func(t *testing.T) {
		dir := t.TempDir()
		check(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
		_, err := packaging.ExtractBundle(ctx, bytes.NewReader(data), dir)
		if ferry.ErrorCode(err) != ferry.ECONFLICT {
			t.Errorf("ExtractBundle(non-empty) = %v, want ECONFLICT", err)
		}
	})
}

// TestBundleTampered rewrites a good bundle in the ways an attacker or a
// broken disk would, and checks that VerifyBundle and ExtractBundle refuse it
// with a message naming the entry, leaving nothing behind.
func TestBundleTampered(t *testing.T) {
	ctx := context.Background()
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), bigSize)
	good, _ := bundle(t, pkg, testMeta(), packaging.Options{})
	plain, _ := bundle(t, pkg, testMeta(), packaging.Options{Compression: packaging.CompressionNone})
	rewrite := func(edit func(t *testing.T, es []entry) []entry) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return writeEntries(t, edit(t, readEntries(t, good))) }
	}
	fileHdr := func(name string) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: testCreated, Format: tar.FormatPAX}
	}
	for _, tc := range []struct {
		name    string
		bundle  func(t *testing.T) []byte
		problem packaging.Problem
		file    string
		msg     string // the whole error message, or a prefix ending in "…"
	}{
		{
			name: "flipped byte in small file",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				i := findEntry(t, es, "model/model.json")
				es[i].data = bytes.Clone(es[i].data)
				es[i].data[10] ^= 1
				return es
			}),
			problem: packaging.Tampered, file: "model/model.json",
			msg: `packaging: bundle file "model/model.json" does not match its digest`,
		},
		{
			name: "flipped byte in big file",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				i := findEntry(t, es, "model/weights.bin")
				es[i].data = bytes.Clone(es[i].data)
				es[i].data[bigSize-1] ^= 0x80
				return es
			}),
			problem: packaging.Tampered, file: "model/weights.bin",
			msg: `packaging: bundle file "model/weights.bin" does not match its digest`,
		},
		{
			name:    "truncated gzip",
			bundle:  func(*testing.T) []byte { return good[:len(good)*2/3] },
			problem: packaging.Truncated, file: "model/weights.bin",
			msg: `packaging: bundle is truncated or corrupt at file "model/weights.bin" (…`,
		},
		{
			name:    "truncated tar",
			bundle:  func(*testing.T) []byte { return plain[:len(plain)-bigSize/2] },
			problem: packaging.Truncated, file: "model/weights.bin",
			msg: `packaging: bundle is truncated or corrupt at file "model/weights.bin" (…`,
		},
		{
			name:    "gzip trailer cut",
			bundle:  func(*testing.T) []byte { return good[:len(good)-4] },
			problem: packaging.Truncated, file: "model/weights.bin",
			msg: `packaging: bundle is truncated or corrupt at file "model/weights.bin" (…`,
		},
		{
			name:    "garbage after the gzip stream",
			bundle:  func(*testing.T) []byte { return append(bytes.Clone(good), "junk"...) },
			problem: packaging.Truncated, file: "model/weights.bin",
			msg: `packaging: bundle is truncated or corrupt at file "model/weights.bin" (…`,
		},
		{
			name: "extra file",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es, entry{hdr: fileHdr("model/extra.txt"), data: []byte("hello")})
			}),
			problem: packaging.Unexpected, file: "model/extra.txt",
			msg: `packaging: bundle file "model/extra.txt" is not listed in bundle.json`,
		},
		{
			name: "file outside model",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es, entry{hdr: fileHdr("run.sh"), data: []byte("rm -rf /")})
			}),
			problem: packaging.Unexpected, file: "run.sh",
			msg: `packaging: bundle file "run.sh" is not listed in bundle.json`,
		},
		{
			name: "parent traversal",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es[:2], append([]entry{{hdr: fileHdr("../evil"), data: []byte("x")}}, es[2:]...)...)
			}),
			problem: packaging.UnsafePath, file: "../evil",
			msg: `packaging: bundle entry "../evil" has an unsafe path (absolute, leaving the bundle or not canonical)`,
		},
		{
			name: "traversal inside model",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es, entry{hdr: fileHdr("model/../../evil"), data: []byte("x")})
			}),
			problem: packaging.UnsafePath, file: "model/../../evil",
			msg: `packaging: bundle entry "model/../../evil" has an unsafe path (absolute, leaving the bundle or not canonical)`,
		},
		{
			name: "absolute path",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es, entry{hdr: fileHdr("/etc/cron.d/evil"), data: []byte("x")})
			}),
			problem: packaging.UnsafePath, file: "/etc/cron.d/evil",
			msg: `packaging: bundle entry "/etc/cron.d/evil" has an unsafe path (absolute, leaving the bundle or not canonical)`,
		},
		{
			name: "duplicate entry",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				i := findEntry(t, es, "model/model.json")
				return append(es, es[i])
			}),
			problem: packaging.Duplicate, file: "model/model.json",
			msg: `packaging: bundle entry "model/model.json" appears more than once`,
		},
		{
			name: "symbolic link",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "model/link", Linkname: "/etc/passwd", ModTime: testCreated}})
			}),
			problem: packaging.NotRegular, file: "model/link",
			msg: `packaging: bundle entry "model/link" is not a regular file or directory (links and devices are refused)`,
		},
		{
			name: "hard link",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				return append(es, entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "model/hard", Linkname: "model/model.json", ModTime: testCreated}})
			}),
			problem: packaging.NotRegular, file: "model/hard",
			msg: `packaging: bundle entry "model/hard" is not a regular file or directory (links and devices are refused)`,
		},
		{
			name: "missing file",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				i := findEntry(t, es, "model/docs/README.txt")
				return append(es[:i], es[i+1:]...)
			}),
			problem: packaging.Missing, file: "model/docs/README.txt",
			msg: `packaging: bundle file "model/docs/README.txt" is listed in bundle.json but missing from the archive`,
		},
		{
			name: "size differs from manifest",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				i := findEntry(t, es, "model/model.json")
				es[i].data = append(bytes.Clone(es[i].data), ' ')
				return es
			}),
			problem: packaging.WrongSize, file: "model/model.json",
			msg: `packaging: bundle file "model/model.json" has a different size than bundle.json lists`,
		},
		{
			name: "file and bundle.json both changed",
			bundle: rewrite(func(t *testing.T, es []entry) []entry {
				i := findEntry(t, es, "model/model.json")
				old := sha(es[i].data)
				es[i].data = bytes.Replace(es[i].data, []byte("0.25"), []byte("9.25"), 1)
				es[0].data = bytes.Replace(es[0].data, []byte(old), []byte(sha(es[i].data)), 1)
				return es
			}),
			problem: packaging.Inconsistent, file: "model/model.json",
			msg: `packaging: bundle.json and model/ferry.json disagree on bundle file "model/model.json"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.bundle(t)
			_, err := packaging.VerifyBundle(ctx, bytes.NewReader(data))
			t.Log(err)
			checkIntegrity(t, err, tc.problem, tc.file, tc.msg)

			dir := filepath.Join(t.TempDir(), "out")
			_, err = packaging.ExtractBundle(ctx, bytes.NewReader(data), dir)
			checkIntegrity(t, err, tc.problem, tc.file, tc.msg)
			if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) > 0 {
				t.Errorf("ExtractBundle left %v behind", left)
			}
		})
	}
}

func checkIntegrity(t *testing.T, err error, problem packaging.Problem, file, msg string) {
	t.Helper()
	var ie *packaging.IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want *IntegrityError", err, err)
	}
	if ie.Problem != problem || ie.File != file {
		t.Errorf("problem %d file %q, want %d %q (%v)", ie.Problem, ie.File, problem, file, err)
	}
	if prefix, ok := strings.CutSuffix(msg, "…"); ok {
		if !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("error %q, want prefix %q", err, prefix)
		}
	} else if err.Error() != msg {
		t.Errorf("error %q\n want %q", err, msg)
	}
	if ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("code %s, want EINVALID", ferry.ErrorCode(err))
	}
}

func TestBundleMalformed(t *testing.T) {
	ctx := context.Background()
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), 1000)
	good, _ := bundle(t, pkg, testMeta(), packaging.Options{})
	edit := func(f func(es []entry) []entry) []byte { return writeEntries(t, f(readEntries(t, good))) }
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty input", nil, "packaging: not a Ferry bundle: the archive is empty"},
		{"not an archive", []byte("hello, world"), "packaging: not a Ferry bundle: …"},
		{"manifest not first", edit(func(es []entry) []entry { return append(es[1:], es[0]) }),
			`packaging: not a Ferry bundle: the first entry is "model/", not bundle.json`},
		{"manifest not JSON", edit(func(es []entry) []entry { es[0].data = []byte("{"); return es }),
			"packaging: bundle.json is not valid JSON: …"},
		{"newer format", edit(func(es []entry) []entry { es[0].data = []byte(`{"format_version": 2}`); return es }),
			"packaging: bundle.json has format version 2; this Ferry reads up to 1: upgrade Ferry"},
		{"unknown field", edit(func(es []entry) []entry {
			es[0].data = bytes.Replace(es[0].data, []byte(`"files"`), []byte(`"extra": 1, "files"`), 1)
			return es
		}), "packaging: bundle.json is malformed: …"},
		{"unsafe listed path", edit(func(es []entry) []entry {
			es[0].data = bytes.Replace(es[0].data, []byte(`"model/model.json"`), []byte(`"model/../x"`), 1)
			return es
		}), `packaging: bundle.json lists "model/../x", which is not a safe path under model/`},
		{"model digest mismatch", edit(func(es []entry) []entry {
			es[0].data = bytes.Replace(es[0].data, []byte(`"model_digest": "sha256:`), []byte(`"model_digest": "sha256:0`), 1)
			return es
		}), "packaging: bundle.json names model digest …"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := packaging.VerifyBundle(ctx, bytes.NewReader(tc.data))
			if err == nil {
				t.Fatal("VerifyBundle succeeded")
			}
			if prefix, ok := strings.CutSuffix(tc.msg, "…"); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error %q, want prefix %q", err, prefix)
				}
			} else if err.Error() != tc.msg {
				t.Errorf("error %q\n want %q", err, tc.msg)
			}
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("code %s, want EINVALID", ferry.ErrorCode(err))
			}
		})
	}
}

func TestWriteBundleErrors(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), 1000)

	mlflowDir := filepath.Join(base, "mlflow")
	check(t, os.MkdirAll(mlflowDir, 0o755))
	check(t, os.WriteFile(filepath.Join(mlflowDir, "MLmodel"), []byte("flavors:\n  sklearn:\n    pickled_model: model.pkl\nutc_time_created: '2024-01-01 00:00:00.000000'\n"), 0o644))
	check(t, os.WriteFile(filepath.Join(mlflowDir, "model.pkl"), []byte("pickle"), 0o644))
	unverified, err := model.Load(ctx, mlflowDir)
	check(t, err)

	changedDir := filepath.Join(base, "changed")
	changed := buildPackage(t, changedDir, 1000)
	check(t, os.WriteFile(filepath.Join(changedDir, "model.json"), []byte(strings.Replace(testModel, "0.25", "0.26", 1)), 0o644))

	for _, tc := range []struct {
		name string
		pkg  *model.Package
		meta func(*packaging.Meta)
		opts packaging.Options
		code string
		msg  string
	}{
		{"no package", nil, nil, packaging.Options{}, ferry.EINVALID, "packaging: no model package given"},
		{"unverified package", unverified, nil, packaging.Options{}, ferry.EINVALID, "packaging: the model package in … has no ferry.json …"},
		{"no name", pkg, func(m *packaging.Meta) { m.Name = "" }, packaging.Options{}, ferry.EINVALID, "packaging: the model needs a name"},
		{"version 0", pkg, func(m *packaging.Meta) { m.Version = 0 }, packaging.Options{}, ferry.EINVALID, "packaging: model version 0 is not a version number (from 1)"},
		{"wrong model digest", pkg, func(m *packaging.Meta) { m.ModelDigest = "sha256:00" }, packaging.Options{}, ferry.EINVALID, `packaging: meta names model digest "sha256:00" but …`},
		{"reserved label", pkg, func(m *packaging.Meta) { m.Labels = map[string]string{"ferry.model.name": "x"} }, packaging.Options{}, ferry.EINVALID,
			`packaging: label "ferry.model.name" uses a reserved prefix (org.opencontainers.image. and ferry. are set by Ferry)`},
		{"bad compression", pkg, nil, packaging.Options{Compression: "zstd"}, ferry.EINVALID, `packaging: compression "zstd" is not gzip or none`},
		{"bad level", pkg, nil, packaging.Options{Level: 11}, ferry.EINVALID, "packaging: gzip level 11 is not between 1 and 9"},
		{"package changed after load", changed, nil, packaging.Options{}, ferry.EINVALID,
			`packaging: model file "model.json" does not match its digest in ferry.json (the package changed after it was loaded)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := testMeta()
			if tc.meta != nil {
				tc.meta(&meta)
			}
			_, err := packaging.WriteBundle(ctx, io.Discard, tc.pkg, meta, tc.opts)
			if ferry.ErrorCode(err) != tc.code {
				t.Errorf("code %s, want %s (%v)", ferry.ErrorCode(err), tc.code, err)
			}
			if !matchMsg(err, tc.msg) {
				t.Errorf("error %q\n want %q", err, tc.msg)
			}
		})
	}
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := packaging.WriteBundle(ctx, io.Discard, pkg, testMeta(), packaging.Options{}); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// matchMsg matches an error message against want, where "…" stands for any
// text.
func matchMsg(err error, want string) bool {
	if err == nil {
		return false
	}
	got := err.Error()
	parts := strings.Split(want, "…")
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	got = got[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(got, p)
		if i < 0 {
			return false
		}
		got = got[i+len(p):]
	}
	return got == "" || strings.HasSuffix(want, "…")
}

func TestWriteBundleFile(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	pkg := buildPackage(t, filepath.Join(base, "pkg"), 1000)
	path := filepath.Join(base, "model.tar.gz")
	digest, err := packaging.WriteBundleFile(ctx, path, pkg, testMeta(), packaging.Options{})
	check(t, err)
	data := must(os.ReadFile(path))
	if sha(data) != digest {
		t.Errorf("file digest %s, returned %s", sha(data), digest)
	}
	if _, err := packaging.WriteBundleFile(ctx, path, pkg, testMeta(), packaging.Options{}); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("second WriteBundleFile = %v, want ECONFLICT", err)
	}
	meta := testMeta()
	meta.Version = 0
	bad := filepath.Join(base, "bad.tar.gz")
	if _, err := packaging.WriteBundleFile(ctx, bad, pkg, meta, packaging.Options{}); err == nil {
		t.Fatal("WriteBundleFile with a bad meta succeeded")
	}
	if left, _ := filepath.Glob(filepath.Join(base, ".ferry-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("a failed WriteBundleFile left %s", bad)
	}
}

func TestProgress(t *testing.T) {
	pkg := buildPackage(t, filepath.Join(t.TempDir(), "pkg"), bigSize)
	var total int64
	for rel := range pkg.Info.Files {
		total += must(os.Stat(filepath.Join(pkg.Dir, rel))).Size()
	}
	total += must(os.Stat(filepath.Join(pkg.Dir, model.InfoFile))).Size()

	var calls, last int64
	opts := packaging.Options{Progress: func(done, tot int64) {
		calls++
		if tot != total {
			t.Errorf("total %d, want %d", tot, total)
		}
		if done < last || done > tot {
			t.Errorf("done %d after %d (total %d)", done, last, tot)
		}
		last = done
	}}
	bundle(t, pkg, testMeta(), opts)
	if last != total {
		t.Errorf("last report %d, want %d", last, total)
	}
	if calls < bigSize/(1<<20) {
		t.Errorf("%d progress calls for a %d-byte file, want at least one per MiB", calls, bigSize)
	}
}
