package packaging_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/packaging"
)

// benchSize is the size of the random file in the benchmark's model.
const benchSize = 100 << 20

// BenchmarkPackaging packages a model holding a 100 MB file of random bytes
// (incompressible, like float weights) and measures, in the same run, the
// peer the target is set against: `sha256sum` reading the same file.
// bench/packaging.sh runs it five times and reports medians and ratios.
func BenchmarkPackaging(b *testing.B) {
	ctx := context.Background()
	base := b.TempDir()
	pkg := buildPackage(b, filepath.Join(base, "pkg"), benchSize)
	big := filepath.Join(pkg.Dir, bigName)
	meta := testMeta()

	b.Run("sha256sum", func(b *testing.B) {
		sum, err := exec.LookPath("sha256sum")
		if err != nil {
			b.Skip("no sha256sum on PATH")
		}
		b.SetBytes(benchSize)
		for b.Loop() {
			if out, err := exec.Command(sum, big).CombinedOutput(); err != nil {
				b.Fatalf("sha256sum: %v\n%s", err, out)
			}
		}
	})
	b.Run("sha256-go", func(b *testing.B) {
		// crypto/sha256 (SHA-NI where the CPU has it) over the same file: the
		// floor for anything that hashes every byte once.
		b.SetBytes(benchSize)
		for b.Loop() {
			f, err := os.Open(big)
			check(b, err)
			_, err = io.Copy(sha256.New(), f)
			f.Close()
			check(b, err)
		}
	})
	bundles := []struct {
		name string
		opts packaging.Options
	}{
		{"gzip-1", packaging.Options{}}, // DefaultLevel
		{"gzip-6", packaging.Options{Level: 6}},
		{"gzip-9", packaging.Options{Level: 9}},
		{"none", packaging.Options{Compression: packaging.CompressionNone}},
	}
	for _, bc := range bundles {
		b.Run("bundle/"+bc.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				if _, err := packaging.WriteBundle(ctx, io.Discard, pkg, meta, bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("bundle-file/gzip-1", func(b *testing.B) {
		// To a file, synced: what `ferry` does.
		path := filepath.Join(base, "model.tar.gz")
		b.SetBytes(benchSize)
		for b.Loop() {
			if _, err := packaging.WriteBundleFile(ctx, path, pkg, meta, packaging.Options{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			check(b, os.Remove(path))
			b.StartTimer()
		}
	})
	b.Run("verify/gzip-1", func(b *testing.B) {
		var buf bytes.Buffer
		if _, err := packaging.WriteBundle(ctx, &buf, pkg, meta, packaging.Options{}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchSize)
		for b.Loop() {
			if _, err := packaging.VerifyBundle(ctx, bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image/gzip-1", func(b *testing.B) {
		bin := fakeELF(b, b.TempDir(), false)
		b.SetBytes(benchSize)
		for b.Loop() {
			dst := filepath.Join(b.TempDir(), "image")
			if _, err := packaging.WriteImage(ctx, dst, pkg, meta, bin, packaging.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
