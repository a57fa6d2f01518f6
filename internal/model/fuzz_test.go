package model

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry"
)

// FuzzParseManifest feeds ParseManifest arbitrary bytes. It must never panic;
// every error must wrap a *ferry.Error; and whatever it accepts must write back
// to an MLmodel that it accepts again and that writes back to the same bytes.
//
// Run it with: go test -run XXX -fuzz FuzzParseManifest -fuzztime 60s ./internal/model/
// Interesting inputs it found live in testdata/fuzz/FuzzParseManifest.
func FuzzParseManifest(f *testing.F) {
	for _, name := range []string{"xgboost", "xgboost_legacy", "lightgbm", "onnx", "sklearn", "pyfunc"} {
		f.Add(mlflowFixture(f, name))
	}
	if golden, err := os.ReadFile(filepath.Join("testdata", "golden", ManifestFile)); err == nil {
		f.Add(golden)
	}
	for _, s := range []string{
		"",
		"flavors:\n- xgboost\n",
		"flavors: {xgboost: {data: ../../etc/passwd}}\n",
		"flavors: {onnx: {data: m.onnx}}\nsignature: {inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, 4]}}]'}\n",
		"flavors: {python_function: {env: conda.yaml}}\nutc_time_created: 2022-01-12 05:17:31.634689\n",
		"a: &a [x, x]\nb: [*a, *a]\n",
		"signature:\n  params: '[{\"name\": \"k\", \"default\": {\"a\": [1, 2.5e3]}, \"shape\": null, \"type\": \"object\", \"properties\": {\"a\": {\"type\": \"array\", \"items\": {\"type\": \"double\"}}}}]'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(bytes.NewReader(data))
		if err != nil {
			var fe *ferry.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) does not wrap a *ferry.Error", err, err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted manifest: %v", err)
		}
		m2, err := ParseManifest(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("ParseManifest rejects what Marshal wrote: %v\n%s", err, out)
		}
		out2, err := m2.Marshal()
		if err != nil {
			t.Fatalf("second Marshal: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("Marshal is not stable across a round trip:\n%s\n---\n%s", out, out2)
		}
	})
}
