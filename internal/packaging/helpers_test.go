package packaging_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/packaging"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Contents of the test package.
const (
	testModel  = `{"trainer":"logistic","weights":[0.25,-1.5,3],"intercept":-0.125}` + "\n"
	testReadme = "Logistic regression on the breast-cancer example.\n"
	bigName    = "weights.bin"
	bigSize    = 5 << 20
)

var testCreated = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// randomReader returns n pseudo-random bytes, the same for the same seed.
func randomReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

// buildPackage writes the test package into dir with internal/model's
// Builder: two small files, one in a subdirectory, and a big file of bigSize
// pseudo-random bytes. The same arguments give byte-identical packages.
func buildPackage(t testing.TB, dir string, big int64) *model.Package {
	t.Helper()
	ctx := context.Background()
	b, err := model.NewBuilder(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	check(t, b.AddFile(ctx, "model.json", strings.NewReader(testModel)))
	check(t, b.AddFile(ctx, "docs/README.txt", strings.NewReader(testReadme)))
	check(t, b.AddFile(ctx, bigName, randomReader(1, big)))
	m := &model.Manifest{
		RunID:          "5d8859a719f94e7cb4283e074bce122d",
		UTCTimeCreated: testCreated,
	}
	m.SetFlavor(model.FerryFlavor{Trainer: "logistic", Data: "model.json"})
	p, err := b.Finish(ctx, m, model.FerryInfo{
		Task:        model.TaskBinary,
		ClassLabels: []string{"malignant", "benign"},
		Lineage: model.Lineage{
			RunID:     "5d8859a719f94e7cb4283e074bce122d",
			GitCommit: "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69",
			Datasets: []model.DatasetRef{
				{Name: "breast-cancer", Digest: "sha256:3b5d5c3712955042212316173ccf37be800b8a6a1f3e6f5b5c6e0a1d2c3b4a59"},
			},
			Trainer:      "logistic",
			FerryVersion: "0.1.0-test",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testMeta() packaging.Meta {
	return packaging.Meta{
		Name:    "breast-cancer",
		Version: 3,
		Created: testCreated,
		Labels:  map[string]string{"team": "ml-platform"},
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// bundle writes pkg as a bundle into memory.
func bundle(t testing.TB, pkg *model.Package, meta packaging.Meta, opts packaging.Options) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	digest, err := packaging.WriteBundle(context.Background(), &buf, pkg, meta, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), digest
}

// entry is one tar entry held in memory.
type entry struct {
	hdr  tar.Header
	data []byte
}

// readEntries reads a (possibly gzipped) tar archive into memory.
func readEntries(t testing.TB, archive []byte) []entry {
	t.Helper()
	var r io.Reader = bytes.NewReader(archive)
	if bytes.HasPrefix(archive, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(r)
		check(t, err)
		r = gz
	}
	tr := tar.NewReader(r)
	var out []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		check(t, err)
		data, err := io.ReadAll(tr)
		check(t, err)
		out = append(out, entry{hdr: *hdr, data: data})
	}
}

// writeEntries writes entries as a gzipped tar archive.
func writeEntries(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, err := gz.Write(writeTar(t, entries))
	check(t, err)
	check(t, gz.Close())
	return buf.Bytes()
}

// writeTar writes entries as a tar archive.
func writeTar(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		check(t, tw.WriteHeader(&h))
		_, err := tw.Write(e.data)
		check(t, err)
	}
	check(t, tw.Close())
	return buf.Bytes()
}

func findEntry(t testing.TB, entries []entry, name string) int {
	t.Helper()
	for i, e := range entries {
		if e.hdr.Name == name {
			return i
		}
	}
	t.Fatalf("no entry %q", name)
	return -1
}

var (
	digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	sizeRE   = regexp.MustCompile(`"size": [0-9]+`)
)

// golden compares got with testdata/name, rewriting it under -update. Digests
// and sizes are masked: they change with the model package's encoding and the
// gzip library, and the reproducibility tests pin them down; the golden files
// pin the format.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	got = digestRE.ReplaceAll(got, []byte("sha256:<digest>"))
	got = sizeRE.ReplaceAll(got, []byte(`"size": <size>`))
	path := filepath.Join("testdata", name)
	if *update {
		check(t, os.MkdirAll("testdata", 0o755))
		check(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update if the change is intended):\n got: %s\nwant: %s", name, got, want)
	}
}

// fakeELF writes a minimal ELF executable header for the machine this test
// runs on: enough for debug/elf, not to run. With interp it names a dynamic
// loader, as a cgo binary does.
func fakeELF(t testing.TB, dir string, interp bool) string {
	t.Helper()
	machine, ok := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if !ok {
		t.Skipf("no fake ELF for %s", runtime.GOARCH)
	}
	const interpPath = "/lib64/ld-linux-x86-64.so.2\x00"
	nprog := 1
	if interp {
		nprog = 2
	}
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Entry: 0x401000, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(nprog), Shentsize: 64,
	}
	copy(hdr.Ident[:], "\x7fELF")
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	check(t, binary.Write(&buf, binary.LittleEndian, hdr))
	dataOff := uint64(64 + 56*nprog)
	check(t, binary.Write(&buf, binary.LittleEndian, elf.Prog64{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: 0x400000, Paddr: 0x400000,
		Filesz: dataOff + uint64(len(interpPath)), Memsz: dataOff + uint64(len(interpPath)), Align: 0x1000,
	}))
	if interp {
		check(t, binary.Write(&buf, binary.LittleEndian, elf.Prog64{
			Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: dataOff,
			Filesz: uint64(len(interpPath)), Memsz: uint64(len(interpPath)), Align: 1,
		}))
	}
	buf.WriteString(interpPath)
	path := filepath.Join(dir, "ferry")
	check(t, os.WriteFile(path, buf.Bytes(), 0o755))
	return path
}

// prettyJSON indents raw JSON for golden files.
func prettyJSON(t testing.TB, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	check(t, json.Indent(&out, raw, "", "  "))
	out.WriteByte('\n')
	return out.Bytes()
}
