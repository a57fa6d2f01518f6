package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/router"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// TestServeCollects: a deployment with a data_collector logs its
// predictions through `ferry server`'s endpoint route; a graceful shutdown
// (Serve returning) writes every one of them to the artifact store under
// inference-logs/<endpoint>/<deployment>/, and a deployment without one
// logs nothing.
func TestServeCollects(t *testing.T) {
	b := testbackend.Open(t, "normal")
	b.RegisterLinear(t, "lin", 2)
	ctx := context.Background()
	if _, err := b.Deploy.PutEndpoint(ctx, deploy.Endpoint{Name: "lin"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []deploy.Deployment{
		{Name: "blue", EndpointName: "lin", Model: "models:/lin/1", DataCollector: &deploy.DataCollector{}},
		{Name: "green", EndpointName: "lin", Model: "models:/lin/1"},
	} {
		if _, err := b.Deploy.PutDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Deploy.SetTraffic(ctx, "lin", map[string]int{"blue": 50, "green": 50}, "test"); err != nil {
		t.Fatal(err)
	}
	if err := b.Router.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"blue", "green"} {
		if err := b.Router.WaitReady(ctx, "lin", d); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- b.Serve(sctx, ln) }()
	url := "http://" + ln.Addr().String()
	for _, dep := range []string{"blue", "green"} {
		for range 5 {
			req, _ := http.NewRequest("POST", url+"/endpoints/lin/v2/models/lin/infer", strings.NewReader(testbackend.LinearRow))
			req.Header.Set(router.Header, dep)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", dep, resp.StatusCode)
			}
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	rows := 0
	var walk func(prefix string)
	walk = func(prefix string) {
		entries, err := b.Artifacts.List(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir {
				walk(e.Path)
				continue
			}
			if !strings.HasPrefix(e.Path, "inference-logs/lin/blue/date=") || !strings.HasSuffix(e.Path, ".parquet") {
				t.Errorf("unexpected object %s", e.Path)
			}
			rows++
		}
	}
	walk("inference-logs")
	if rows != 1 {
		t.Errorf("%d segments, want 1 (blue's five predictions)", rows)
	}
}
