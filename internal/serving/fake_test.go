package serving

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// tableModel is a fake model with a column signature: x (double), n (long),
// s (string, optional). Its score is x + n + len(s); with outputs "multi" it
// also gives the row number, and with "classes" it gives P(no), P(yes) as
// one [rows, 2] tensor.
type tableModel struct {
	outputs string // "", "multi" or "classes"
	tag     float64
	calls   atomic.Int64 // Predict calls
	rows    atomic.Int64 // rows predicted
	closed  atomic.Bool
	inUse   atomic.Int64 // Predicts running
	// block, when set, makes Predict wait until it is closed or ctx ends.
	block chan struct{}
	// entered, when set, receives once per Predict as it starts.
	entered chan struct{}
	mu      sync.Mutex
	err     error // set when Predict ran after Close
}

func tableSignature() *model.Signature {
	return &model.Signature{
		Inputs: []model.Spec{
			{Name: "x", Type: model.TypeDouble, Required: true},
			{Name: "n", Type: model.TypeLong, Required: true},
			{Name: "s", Type: model.TypeString, Required: false},
		},
		Outputs: []model.Spec{{Name: "score", Type: model.TypeDouble, Required: true}},
	}
}

func classesSignature() *model.Signature {
	sig := tableSignature()
	sig.Outputs = []model.Spec{{Name: "no", Type: model.TypeDouble, Required: true}, {Name: "yes", Type: model.TypeDouble, Required: true}}
	return sig
}

func (m *tableModel) Metadata() runtime.Metadata {
	md := runtime.Metadata{
		Platform: "fake_table",
		Inputs: []runtime.TensorSpec{
			{Name: "x", Datatype: runtime.FP64, Shape: []int64{-1}},
			{Name: "n", Datatype: runtime.INT64, Shape: []int64{-1}},
			{Name: "s", Datatype: runtime.BYTES, Shape: []int64{-1}},
		},
		Outputs: []runtime.TensorSpec{{Name: "score", Datatype: runtime.FP64, Shape: []int64{-1}}},
	}
	switch m.outputs {
	case "multi":
		md.Outputs = append(md.Outputs, runtime.TensorSpec{Name: "row", Datatype: runtime.INT64, Shape: []int64{-1}})
	case "classes":
		md.Outputs = []runtime.TensorSpec{{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{-1, 2}}}
	}
	return md
}

func (m *tableModel) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	m.inUse.Add(1)
	defer m.inUse.Add(-1)
	if m.closed.Load() {
		m.mu.Lock()
		m.err = fmt.Errorf("Predict after Close")
		m.mu.Unlock()
	}
	m.calls.Add(1)
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var x, n, s *runtime.Tensor
	for i := range inputs {
		switch inputs[i].Name {
		case "x":
			x = &inputs[i]
		case "n":
			n = &inputs[i]
		case "s":
			s = &inputs[i]
		}
	}
	if x == nil || n == nil || x.FP64 == nil || n.Int == nil || s != nil && s.Str == nil {
		return nil, ferry.Errorf(ferry.EINVALID, "fake: bad inputs %+v", inputs)
	}
	rows := len(x.FP64)
	m.rows.Add(int64(rows))
	score := make([]float64, rows)
	for i := range score {
		score[i] = x.FP64[i] + float64(n.Int[i]) + m.tag
		if s != nil {
			score[i] += float64(len(s.Str[i]))
		}
	}
	out := []runtime.Tensor{{Name: "score", Datatype: runtime.FP64, Shape: []int64{int64(rows)}, FP64: score}}
	switch m.outputs {
	case "multi":
		row := make([]int64, rows)
		for i := range row {
			row[i] = int64(i)
		}
		out = append(out, runtime.Tensor{Name: "row", Datatype: runtime.INT64, Shape: []int64{int64(rows)}, Int: row})
	case "classes":
		p := make([]float64, 0, 2*rows)
		for _, v := range score {
			q := 1 / (1 + float64(len(fmt.Sprint(v))))
			p = append(p, 1-q, q)
		}
		out = []runtime.Tensor{{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{int64(rows), 2}, FP64: p}}
	}
	return out, nil
}

func (m *tableModel) Close() error {
	if m.inUse.Load() != 0 {
		m.mu.Lock()
		m.err = fmt.Errorf("Close while %d Predicts run", m.inUse.Load())
		m.mu.Unlock()
	}
	if m.closed.Swap(true) {
		m.mu.Lock()
		m.err = fmt.Errorf("closed twice")
		m.mu.Unlock()
	}
	return nil
}

func (m *tableModel) problem() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// imageModel is a fake model with a tensor signature: "pixels", float32
// [-1, 2, 2]; it gives "probs", FP32 [rows, 2]: the sum and the maximum of
// each image.
type imageModel struct{ closed atomic.Bool }

func imageSignature() *model.Signature {
	return &model.Signature{
		Inputs:  []model.Spec{{Name: "pixels", Type: model.TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1, 2, 2}, Required: true}},
		Outputs: []model.Spec{{Name: "probs", Type: model.TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1, 2}, Required: true}},
	}
}

func (m *imageModel) Metadata() runtime.Metadata {
	// The runtime leaves its metadata to the signature.
	return runtime.Metadata{Platform: "fake_image"}
}

func (m *imageModel) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	if len(inputs) != 1 || inputs[0].FP32 == nil || len(inputs[0].Shape) != 3 {
		return nil, ferry.Errorf(ferry.EINVALID, "fake: bad inputs")
	}
	rows := int(inputs[0].Shape[0])
	out := make([]float32, 0, 2*rows)
	for r := range rows {
		px := inputs[0].FP32[r*4 : r*4+4]
		var sum, mx float32
		mx = px[0]
		for _, v := range px {
			sum += v
			mx = max(mx, v)
		}
		out = append(out, sum, mx)
	}
	return []runtime.Tensor{{Name: "probs", Datatype: runtime.FP32, Shape: []int64{int64(rows), 2}, FP32: out}}, nil
}

func (m *imageModel) Close() error { m.closed.Store(true); return nil }
