package serving

import (
	"context"
	"net/http"
	"time"

	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Collector receives the Server's successful predictions (Options.Collector),
// for inference logging. Collect is called on the request's goroutine after
// the response has been written, once per prediction; it must return at once
// (never block on I/O) and cannot fail the request. The Prediction's tensors
// are not reused by the Server: Collect may keep them, and must not modify
// them. Implementations are safe for concurrent use.
type Collector interface {
	Collect(ctx context.Context, p Prediction)
}

// Prediction is one answered inference request as a Collector sees it.
type Prediction struct {
	// RequestID is the request's X-Request-Id.
	RequestID string
	// Time is when the request arrived.
	Time time.Time
	// Model and Version are the served name and version that answered.
	Model, Version string
	// Schema describes the inputs and outputs (column names and types).
	Schema *Schema
	// Inputs are the decoded input tensors, in Schema.Inputs order for
	// column models; Outputs are every output of the model.
	Inputs, Outputs []runtime.Tensor
	// Rows is the number of rows (the inputs' first dimension).
	Rows int
}

// collect hands a prediction to the Collector, if any.
func (s *Server) collect(r *http.Request, e *entry, start time.Time, inputs, outputs []runtime.Tensor, rows int) {
	if s.opts.Collector == nil {
		return
	}
	s.opts.Collector.Collect(r.Context(), Prediction{
		RequestID: httpmw.RequestIDFrom(r.Context()), Time: start, Model: e.name, Version: e.version,
		Schema: e.schema, Inputs: inputs, Outputs: outputs, Rows: rows,
	})
}

// OutputLabels names the entries of the [rows, k] output called name as the
// row protocols do (class labels, or the signature's output names), or nil.
func (p *Prediction) OutputLabels(name string) []string {
	if p.Schema == nil {
		return nil
	}
	return p.Schema.entryLabels(name, len(p.Outputs))
}
