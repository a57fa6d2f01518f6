package serving

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/runtime"
)

// BatchOptions configure adaptive batching. The zero value is off.
type BatchOptions struct {
	// MaxRows is the most rows one Predict gets; <= 1 turns batching off.
	MaxRows int
	// MaxDelay is the longest the first request of a batch waits for others;
	// default 5ms.
	MaxDelay time.Duration
}

// batcher merges concurrent requests to one model into one Predict: requests
// whose inputs have the same names, datatypes and trailing dimensions are
// concatenated along the first dimension, up to MaxRows rows or until
// MaxDelay after the first arrived, and the outputs are split back by rows.
type batcher struct {
	model   runtime.Model
	opts    BatchOptions
	timeout time.Duration
	sizes   prometheus.Observer
	reqs    chan *batchReq
	quit    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup // running Predicts
}

type batchReq struct {
	ctx    context.Context
	inputs []runtime.Tensor
	rows   int
	key    string
	res    chan batchRes // buffered: the batcher never blocks on it
}

type batchRes struct {
	outs []runtime.Tensor
	err  error
}

func newBatcher(m runtime.Model, opts BatchOptions, timeout time.Duration, sizes prometheus.Observer) *batcher {
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 5 * time.Millisecond
	}
	b := &batcher{model: m, opts: opts, timeout: timeout, sizes: sizes, reqs: make(chan *batchReq), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// stop ends the batcher after the Predicts it started have returned. No
// request may be submitted after stop is called.
func (b *batcher) stop() {
	close(b.quit)
	<-b.done
	b.wg.Wait()
}

// predict submits a request and waits for its share of a batch's outputs.
// A request larger than MaxRows is predicted on its own.
func (b *batcher) predict(ctx context.Context, inputs []runtime.Tensor, rows int) ([]runtime.Tensor, error) {
	if rows >= b.opts.MaxRows {
		b.sizes.Observe(float64(rows))
		return b.model.Predict(ctx, inputs)
	}
	r := &batchReq{ctx: ctx, inputs: inputs, rows: rows, key: batchKey(inputs, rows), res: make(chan batchRes, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.res:
		return res.outs, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// batchKey identifies requests that can be concatenated: same input names
// and datatypes, each with rows as its first dimension and the same
// trailing dimensions. Requests that cannot be batched get "".
func batchKey(inputs []runtime.Tensor, rows int) string {
	var sb strings.Builder
	for _, t := range inputs {
		if len(t.Shape) == 0 || int(t.Shape[0]) != rows {
			return ""
		}
		fmt.Fprintf(&sb, "%s\x00%s\x00%v\x00", t.Name, t.Datatype, t.Shape[1:])
	}
	return sb.String()
}

func (b *batcher) loop() {
	defer close(b.done)
	var pending []*batchReq // requests that did not fit the last batch
	for {
		var first *batchReq
		if len(pending) > 0 {
			first, pending = pending[0], pending[1:]
		} else {
			select {
			case first = <-b.reqs:
			case <-b.quit:
				return
			}
		}
		batch := []*batchReq{first}
		rows := first.rows
		if first.key != "" {
			timer := time.NewTimer(b.opts.MaxDelay)
			// Requests deferred earlier join first, then new arrivals.
			rest := pending[:0:0]
			for _, p := range pending {
				if p.key == first.key && rows+p.rows <= b.opts.MaxRows {
					batch, rows = append(batch, p), rows+p.rows
				} else {
					rest = append(rest, p)
				}
			}
			pending = rest
		collect:
			for rows < b.opts.MaxRows {
				select {
				case r := <-b.reqs:
					if r.key == first.key && rows+r.rows <= b.opts.MaxRows {
						batch, rows = append(batch, r), rows+r.rows
					} else {
						pending = append(pending, r)
						if r.key == first.key {
							break collect // full
						}
					}
				case <-timer.C:
					break collect
				case <-b.quit:
					break collect
				}
			}
			timer.Stop()
		}
		b.wg.Add(1)
		go b.run(batch, rows)
	}
}

// run predicts one batch and hands each request its rows of the outputs.
func (b *batcher) run(batch []*batchReq, rows int) {
	defer b.wg.Done()
	b.sizes.Observe(float64(rows))
	if len(batch) == 1 {
		r := batch[0]
		outs, err := b.model.Predict(r.ctx, r.inputs)
		r.res <- batchRes{outs: outs, err: err}
		return
	}
	// The batch outlives any one request: it runs under the server's
	// timeout, and a request that gives up simply ignores its share.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), b.timeout)
	defer cancel()
	inputs := concat(batch, rows)
	outs, err := b.model.Predict(ctx, inputs)
	if err == nil {
		for i := range outs {
			if len(outs[i].Shape) == 0 || int(outs[i].Shape[0]) != rows || outs[i].Len() != shapeElems(outs[i].Shape) {
				err = &outputError{msg: fmt.Sprintf("batched output %q has shape %v for %d rows", outs[i].Name, outs[i].Shape, rows)}
				break
			}
		}
	}
	if err != nil {
		for _, r := range batch {
			r.res <- batchRes{err: err}
		}
		return
	}
	off := 0
	for _, r := range batch {
		part := make([]runtime.Tensor, len(outs))
		for i := range outs {
			part[i] = sliceRows(&outs[i], off, off+r.rows)
		}
		off += r.rows
		r.res <- batchRes{outs: part}
	}
}

// concat joins the requests' inputs along the first dimension.
func concat(batch []*batchReq, rows int) []runtime.Tensor {
	first := batch[0].inputs
	out := make([]runtime.Tensor, len(first))
	for i := range first {
		t := runtime.Tensor{Name: first[i].Name, Datatype: first[i].Datatype, Shape: append([]int64{int64(rows)}, first[i].Shape[1:]...)}
		n := shapeElems(t.Shape)
		for _, r := range batch {
			src := &r.inputs[i]
			switch {
			case src.FP64 != nil:
				t.FP64 = appendCap(t.FP64, src.FP64, n)
			case src.FP32 != nil:
				t.FP32 = appendCap(t.FP32, src.FP32, n)
			case src.Int != nil:
				t.Int = appendCap(t.Int, src.Int, n)
			case src.Bool != nil:
				t.Bool = appendCap(t.Bool, src.Bool, n)
			case src.Str != nil:
				t.Str = appendCap(t.Str, src.Str, n)
			}
		}
		out[i] = t
	}
	return out
}

func appendCap[T any](dst, src []T, n int) []T {
	if dst == nil {
		dst = make([]T, 0, n)
	}
	return append(dst, src...)
}

// sliceRows returns rows [from, to) of t, sharing its data.
func sliceRows(t *runtime.Tensor, from, to int) runtime.Tensor {
	per := perRow(t)
	out := runtime.Tensor{Name: t.Name, Datatype: t.Datatype, Shape: append([]int64{int64(to - from)}, t.Shape[1:]...)}
	a, z := from*per, to*per
	switch {
	case t.FP64 != nil:
		out.FP64 = t.FP64[a:z:z]
	case t.FP32 != nil:
		out.FP32 = t.FP32[a:z:z]
	case t.Int != nil:
		out.Int = t.Int[a:z:z]
	case t.Bool != nil:
		out.Bool = t.Bool[a:z:z]
	case t.Str != nil:
		out.Str = t.Str[a:z:z]
	}
	return out
}
