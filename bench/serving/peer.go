package servingbench

import (
	"encoding/json"
	"net/http"
)

// v2Request and v2Response are the Open Inference Protocol V2 inference
// messages as plain structs, for the peer.
type v2Request struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []v2Tensor     `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

type v2Tensor struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

type v2Response struct {
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version,omitempty"`
	ID           string     `json:"id,omitempty"`
	Outputs      []v2Tensor `json:"outputs"`
}

// PeerHandler is the bare net/http peer: it decodes a V2 inference request
// with encoding/json, runs no model, and encodes a V2 response of the shape
// Ferry's answer to the benchmark request has (a probability and a label per
// row) with encoding/json. It is the cost of HTTP and JSON alone.
func PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/models/{name}/infer", func(w http.ResponseWriter, r *http.Request) {
		var req v2Request
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil || len(req.Inputs) == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad request"})
			return
		}
		rows := int64(1)
		if len(req.Inputs[0].Shape) > 0 {
			rows = req.Inputs[0].Shape[0]
		}
		prob := make([]float64, rows)
		label := make([]string, rows)
		for i := range prob {
			prob[i], label[i] = 0.2698216517942549, "false"
		}
		resp := v2Response{ModelName: r.PathValue("name"), ModelVersion: "1", ID: req.ID, Outputs: []v2Tensor{
			{Name: "probability", Datatype: "FP64", Shape: []int64{rows}, Data: prob},
			{Name: "label", Datatype: "BYTES", Shape: []int64{rows}, Data: label},
		}}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	return mux
}
