//go:build failpoint

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/failpoint/fault"
	"github.com/ferry-ml/ferry/internal/loadgen"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// lightgbmPackage is a real model package (as mlflow.lightgbm writes it).
const lightgbmPackage = "../runtime/lightgbm/testdata/mlflow"

// creditRow is a V2 request of one row for it.
const creditRow = `{"inputs":[{"name":"age","shape":[1],"datatype":"FP64","data":[25]},` +
	`{"name":"annual income","shape":[1],"datatype":"FP64","data":[100]}]}`

// TestFaultVersionServed: in a failpoint build, a registered fault version
// is served like any other: over 2,000 requests ≈5% answer 500 (within 4
// standard deviations of the binomial mean), the others the wrapped
// model's prediction; a version with delay_ms 100 answers no faster than
// 100 ms.
func TestFaultVersionServed(t *testing.T) {
	ctx := context.Background()
	b := testbackend.Open(t, "")
	if _, err := b.Registry.RegisterDir(ctx, "credit", lightgbmPackage, "", "", nil); err != nil {
		t.Fatal(err)
	}
	failing, err := fault.Register(ctx, b.Registry, "credit", lightgbmPackage, fault.Config{ErrorRate: 0.05, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := fault.Register(ctx, b.Registry, "credit", lightgbmPackage, fault.Config{DelayMS: 100})
	if err != nil {
		t.Fatal(err)
	}
	h, closeModels := b.Handler()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		closeModels(ctx)
	})
	url := func(version int) string {
		return fmt.Sprintf("%s/v2/models/credit/versions/%d/infer", srv.URL, version)
	}

	outputs := func(body []byte) (any, error) {
		var r struct{ Outputs any }
		err := json.Unmarshal(body, &r)
		return r.Outputs, err
	}
	resp, err := http.Post(url(1), "application/json", strings.NewReader(creditRow))
	if err != nil {
		t.Fatal(err)
	}
	var plain struct{ Outputs any }
	err = json.NewDecoder(resp.Body).Decode(&plain)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || plain.Outputs == nil {
		t.Fatalf("version 1: %d %+v %v", resp.StatusCode, plain, err)
	}
	sameAnswer := func(resp *http.Response, body []byte) error {
		got, err := outputs(body)
		if err != nil || !reflect.DeepEqual(got, plain.Outputs) {
			return fmt.Errorf("outputs %v (%v), want the wrapped model's %v", got, err, plain.Outputs)
		}
		return nil
	}

	t.Run("error rate", func(t *testing.T) {
		const n, p = 2000, 0.05
		res := loadgen.Run(ctx, loadgen.Config{
			Concurrency: 8, Requests: n, NewRequest: loadgen.Post(url(failing.Version), "application/json", []byte(creditRow)), Check: sameAnswer,
		})
		t.Log(res)
		mean, sd := n*p, math.Sqrt(n*p*(1-p))
		if math.Abs(float64(res.Failures)-mean) > 4*sd {
			t.Errorf("%d of %d requests failed, want %.0f ± %.0f", res.Failures, n, mean, 4*sd)
		}
		if res.Requests != n || res.ByStatus[http.StatusInternalServerError] != res.Failures || res.ByStatus[http.StatusOK] != n-res.Failures || res.ClientErrors != 0 {
			t.Errorf("want only 500s and right answers:\n%s", res)
		}
	})
	t.Run("delay", func(t *testing.T) {
		res := loadgen.Run(ctx, loadgen.Config{
			Concurrency: 4, Requests: 16, NewRequest: loadgen.Post(url(slow.Version), "application/json", []byte(creditRow)), Check: sameAnswer,
		})
		t.Log(res)
		if res.Failures != 0 || res.Latency.P50 < 100*time.Millisecond {
			t.Errorf("want 16 right answers, none faster than 100ms:\n%s", res)
		}
	})
}
