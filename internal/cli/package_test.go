package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageAndVerify registers a trained model, packages it twice into
// byte-identical bundles, verifies one, and shows that one flipped byte in a
// packaged file makes verify fail naming the file.
func TestPackageAndVerify(t *testing.T) {
	data := t.TempDir()
	run := trainTinyModel(t, data)
	if code, out, errs := runCLI(t, data, "models", "register", "toy", "--from", "runs:/"+run+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	dir := t.TempDir()
	var sums [][32]byte
	for _, name := range []string{"a.tar.gz", "b.tar.gz"} {
		path := filepath.Join(dir, name)
		code, out, errs := runCLI(t, data, "models", "package", "models:/toy/1", "-O", path)
		if code != 0 || !strings.Contains(out, "Packaged toy version 1") {
			t.Fatalf("package: %d %s %s", code, out, errs)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sha256.Sum256(b))
	}
	if sums[0] != sums[1] {
		t.Fatal("two packagings of the same version differ")
	}
	good := filepath.Join(dir, "a.tar.gz")
	if code, out, errs := runCLI(t, data, "models", "verify", good); code != 0 || !strings.Contains(out, "every file matches its digest") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.tar.gz")
	flipByte(t, good, bad, "model/model.json")
	code, _, errs := runCLI(t, data, "models", "verify", bad)
	if code != 1 || !strings.Contains(errs, "model/model.json") {
		t.Fatalf("tampered bundle: exit %d, %q; want a failure naming model/model.json", code, errs)
	}
	if code, _, errs := runCLI(t, data, "models", "package", "models:/toy@nope", "-O", filepath.Join(dir, "x.tar.gz")); code != 1 || !strings.Contains(errs, "nope") {
		t.Fatalf("unknown alias: %d %q", code, errs)
	}
}

// flipByte copies the bundle src to dst with one byte of the named member
// changed.
func flipByte(t *testing.T, src, dst, member string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == member && len(body) > 10 {
			body[10] ^= 0x01
			found = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	if !found {
		t.Fatalf("no member %s in %s", member, src)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
