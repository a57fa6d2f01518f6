package packaging_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
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
	b.Run("json", func(b *testing.B) {
		// A compressible model of the same size: XGBoost-style JSON trees.
		jpkg := buildJSONPackage(b, filepath.Join(base, "json"), benchSize)
		b.Run("sha256sum", func(b *testing.B) {
			sum, err := exec.LookPath("sha256sum")
			if err != nil {
				b.Skip("no sha256sum on PATH")
			}
			b.SetBytes(benchSize)
			for b.Loop() {
				if out, err := exec.Command(sum, filepath.Join(jpkg.Dir, "model.json")).CombinedOutput(); err != nil {
					b.Fatalf("sha256sum: %v\n%s", err, out)
				}
			}
		})
		for _, bc := range bundles[:2] { // gzip-9 takes over 10 s here
			b.Run("bundle/"+bc.name, func(b *testing.B) {
				b.SetBytes(benchSize)
				var n int64
				for b.Loop() {
					cw := &counter{}
					if _, err := packaging.WriteBundle(ctx, cw, jpkg, meta, bc.opts); err != nil {
						b.Fatal(err)
					}
					n = cw.n
				}
				b.ReportMetric(float64(n)/benchSize, "size-ratio")
			})
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

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// buildJSONPackage writes a package whose model.json is size bytes of
// XGBoost-like JSON trees with pseudo-random splits: compressible, as real
// JSON models are (about 3:1 with gzip).
func buildJSONPackage(tb testing.TB, dir string, size int) *model.Package {
	tb.Helper()
	ctx := context.Background()
	b, err := model.NewBuilder(ctx, dir)
	check(tb, err)
	var s [32]byte
	rng := rand.New(rand.NewChaCha8(s))
	var buf bytes.Buffer
	buf.Grow(size + 256)
	buf.WriteString(`{"trees":[`)
	for id := 0; buf.Len() < size-200; id++ {
		fmt.Fprintf(&buf, `{"nodeid":%d,"split":"f%d","split_condition":%.6g,"yes":%d,"no":%d,"missing":%d,"gain":%.8g,"cover":%.6g},`+"\n",
			id, rng.IntN(64), rng.NormFloat64(), 2*id+1, 2*id+2, 2*id+1, rng.ExpFloat64()*100, rng.Float64()*1000)
	}
	buf.WriteString(`{"leaf":0}]}`)
	for buf.Len() < size {
		buf.WriteByte(' ')
	}
	check(tb, b.AddFile(ctx, "model.json", io.LimitReader(&buf, int64(size))))
	m := &model.Manifest{UTCTimeCreated: testCreated}
	m.SetFlavor(model.FerryFlavor{Trainer: "gbdt", Data: "model.json"})
	p, err := b.Finish(ctx, m, model.FerryInfo{Task: model.TaskRegression})
	check(tb, err)
	return p
}
