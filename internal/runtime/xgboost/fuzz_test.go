package xgboost

import (
	"context"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/ferry-ml/ferry"
)

// FuzzLoadXGBoostJSON feeds arbitrary bytes to the JSON and UBJSON decoders
// and the model builder. It checks that they never panic, that every error
// is a *ferry.Error with a code, that decoding allocates in proportion to
// the input (no size declared in the input is trusted), and that a model
// that loads predicts without panicking, whatever the row.
func FuzzLoadXGBoostJSON(f *testing.F) {
	f.Add(marshal(f, tinyDoc()))
	f.Add(ubj(tinyDoc()))
	for _, name := range []string{"binary_logistic_ubj.ubj", "categorical.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"learner": {"learner_model_param": {"num_feature": "1", "base_score": "[NaN]"}}}`))
	f.Add([]byte("{L\x00\x00\x00\x00\x00\x00\x00\x07learner[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff"))

	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, Parse, ParseJSON, ParseUBJSON)
	})
}

// FuzzLoadXGBoostBinary does for the legacy binary format what
// FuzzLoadXGBoostJSON does for JSON: no panic, coded errors, allocation in
// proportion to the input whatever the counts and lengths it declares.
func FuzzLoadXGBoostBinary(f *testing.F) {
	f.Add(tinyBinary().bytes())
	m := tinyBinary()
	m.booster, m.weights, m.noHeader, m.major = "dart", []float32{0.5}, true, 0
	f.Add(m.bytes())
	for _, name := range []string{"bin_binary_dart.xgb"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, Parse, ParseBinary)
	})
}

// checkParse parses data with each parser and checks that it never panics,
// that every error is a *ferry.Error with a code, that decoding allocates in
// proportion to the input, and that a model that loads predicts without
// panicking, whatever the row.
func checkParse(t *testing.T, data []byte, parsers ...func([]byte) (*Booster, error)) {
	for _, parse := range parsers {
		var b *Booster
		var err error
		if grew := allocs(func() { b, err = parse(data) }); grew > 1<<20+512*uint64(len(data)) {
			t.Errorf("decoding %d bytes allocated %d bytes", len(data), grew)
		}
		if err != nil {
			if ferry.ErrorCode(err) == ferry.EINTERNAL {
				t.Errorf("error without a code: %v", err)
			}
			continue
		}
		if grew := allocs(func() { _ = NewModel(b, nil).Metadata() }); grew > 1<<20+512*uint64(len(data)) {
			t.Errorf("serving a model of %d bytes allocated %d bytes", len(data), grew)
		}
		if b.NumFeature() > 1<<16 {
			continue // a valid model, but too wide to score here
		}
		out := make([]float64, b.NumOutputs())
		margins := make([]float32, b.NumGroups())
		row := make([]float32, b.NumFeature())
		for _, fill := range []func(i int) float32{
			func(int) float32 { return 0 },
			func(int) float32 { return float32(math.NaN()) },
			func(i int) float32 { return float32(int8(data[i%len(data)])) / 4 },
		} {
			for i := range row {
				row[i] = fill(i)
			}
			b.PredictRow(row, out)
			b.PredictMarginRow(row, margins)
		}
		if err := b.Predict(context.Background(), row, 1, out); err != nil {
			t.Errorf("Predict: %v", err)
		}
	}
}

// allocs returns the bytes f allocates.
func allocs(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
