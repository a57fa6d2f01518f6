package process

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/ferry-ml/ferry/internal/runtime"
)

// protocol is what the runtime says to the child and how it reads the
// answers: the V2 protocol or MLflow's scoring protocol.
type protocol interface {
	// name names the protocol in messages.
	name() string
	// readyPath is the endpoint that answers 200 once the model is served.
	readyPath() string
	// describe returns the model's metadata once the child is ready.
	describe(ctx context.Context, m *Model) (runtime.Metadata, error)
	// request encodes a prediction: the path to POST and the body.
	request(inputs []runtime.Tensor) (path string, body []byte, err error)
	// response decodes the body of a 2xx answer to a prediction.
	response(body []byte) ([]runtime.Tensor, error)
	// failure reads an error answer: the message for users and, when the
	// body has one apart, a stack trace for the log.
	failure(body []byte) (msg, trace string)
	// showsServerErrors reports whether the messages of 5xx answers are
	// meant for users (else they are only logged).
	showsServerErrors() bool
}

func newProtocol(cfg Config) protocol {
	if cfg.Protocol == ProtocolMLflow {
		return newMLflowProtocol(cfg.Signature)
	}
	return v2Protocol{model: cfg.ModelName}
}

// v2Protocol is the Open Inference Protocol V2 REST API, for the model named
// model.
type v2Protocol struct{ model string }

func (v2Protocol) name() string            { return "V2 inference" }
func (v2Protocol) readyPath() string       { return "/v2/health/ready" }
func (v2Protocol) showsServerErrors() bool { return false }

func (p v2Protocol) request(inputs []runtime.Tensor) (string, []byte, error) {
	body, err := encodeInferRequest(inputs)
	return "/v2/models/" + url.PathEscape(p.model) + "/infer", body, err
}

func (v2Protocol) response(body []byte) ([]runtime.Tensor, error) { return decodeInferResponse(body) }

// failure is the message of a V2 error body, {"error": "..."}, or the body's
// text.
func (v2Protocol) failure(body []byte) (string, string) {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return clip(eb.Error), ""
	}
	return bodyText(body), ""
}

// describe reads GET /v2/models/{name}.
func (p v2Protocol) describe(ctx context.Context, m *Model) (runtime.Metadata, error) {
	path := "/v2/models/" + url.PathEscape(p.model)
	resp, err := roundTrip(ctx, m.addr, "GET", path, nil)
	if err != nil {
		return runtime.Metadata{}, unavailablef("cannot read the model's metadata from the model server: %v", err)
	}
	if resp.status == 404 {
		msg, _ := p.failure(resp.body)
		return runtime.Metadata{}, invalidf("the model server does not serve a model named %q: %s", clip(p.model), msg)
	}
	if resp.status != 200 {
		msg, _ := p.failure(resp.body)
		return runtime.Metadata{}, unavailablef("the model server answered HTTP %d to %s: %s", resp.status, path, msg)
	}
	var md modelMetadata
	if err := json.Unmarshal(quoteNonFinite(resp.body), &md); err != nil {
		return runtime.Metadata{}, unavailablef("the model server's metadata is not V2 model metadata: %v", err)
	}
	return runtime.Metadata{Platform: Platform, Inputs: specs(md.Inputs), Outputs: specs(md.Outputs)}, nil
}

// bodyText is an error body shown as it is, shortened.
func bodyText(body []byte) string {
	if len(body) == 0 {
		return "no message"
	}
	return clip(string(body))
}
