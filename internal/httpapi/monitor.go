package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/monitor"
)

// The /api/v1 monitor routes: ground-truth labels of an endpoint's requests.

func (s *Server) v1MonitorRoutes() []v1Route {
	return []v1Route{{
		method: "POST", path: "/endpoints/{name}/labels", op: "putLabels",
		summary: "Store the ground truth of an endpoint's requests, joined to them by request id; a later label for a request replaces the one before, so labels may come days late or be corrected. " +
			"The body is a JSON batch, or CSV (Content-Type text/csv) whose header names request_id, label and optionally time. Errors name the label (labels[i] or the CSV line) and field.",
		request: reflect.TypeFor[v1LabelsRequest](), response: reflect.TypeFor[monitor.LabelCounts](),
		csv:    "CSV with a header line naming the columns request_id, label and optionally time, in any order; one label a line.",
		status: http.StatusOK, handler: s.v1PutLabels,
	}}
}

// v1LabelsRequest documents the JSON body of putLabels; the handler parses
// it with monitor.ParseLabelsJSON, which names the label at fault.
type v1LabelsRequest struct {
	Labels []v1LabelInput `json:"labels" doc:"At most 100000 labels."`
}

type v1LabelInput struct {
	RequestID string          `json:"request_id" doc:"The request's id, as the endpoint answered it in its X-Request-Id header."`
	Label     json.RawMessage `json:"label" doc:"The truth: a number, a string (a class) or a boolean."`
	Time      string          `json:"time,omitempty" doc:"When the truth happened: RFC 3339, or 2006-01-02 15:04:05 or 2006-01-02 in UTC."`
}

func (s *Server) v1PutLabels(w http.ResponseWriter, r *http.Request) {
	counts, err := s.putLabels(r)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	writeJSON(w, http.StatusOK, counts)
}

func (s *Server) putLabels(r *http.Request) (monitor.LabelCounts, error) {
	if s.monitor == nil {
		return monitor.LabelCounts{}, errNoMonitor()
	}
	ctype := "application/json"
	if h := r.Header.Get("Content-Type"); h != "" {
		mt, _, err := mime.ParseMediaType(h)
		if err != nil {
			return monitor.LabelCounts{}, ferry.Errorf(ferry.EINVALID, "Content-Type %q: %v; send application/json or text/csv.", h, err)
		}
		ctype = mt
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return monitor.LabelCounts{}, ferry.Errorf(ferry.ETOOLARGE, "The request body exceeds the limit of %d bytes; send the labels in smaller batches.", s.maxBody)
	}
	if err != nil {
		return monitor.LabelCounts{}, ferry.Errorf(ferry.EINVALID, "Could not read the request body: %v.", err)
	}
	var labels []monitor.Label
	switch ctype {
	case "text/csv":
		labels, err = monitor.ParseLabelsCSV(bytes.NewReader(raw))
	case "application/json":
		labels, err = monitor.ParseLabelsJSON(raw)
	default:
		err = ferry.Errorf(ferry.EINVALID, "Content-Type %s is not accepted here; send application/json or text/csv.", ctype)
	}
	if err != nil {
		return monitor.LabelCounts{}, err
	}
	return s.monitor.PutLabels(r.Context(), r.PathValue("name"), labels)
}
