package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

type anyModel struct{}

func (anyModel) Resolve(context.Context, string) (registry.Version, error) {
	return registry.Version{Name: "churn", Version: 1}, nil
}

// seedRollout stores, in data's database, endpoint churn with blue taking
// all traffic and a canary rollout of green started by ana.
func seedRollout(t *testing.T, data string) {
	t.Helper()
	ctx := auth.WithPrincipal(context.Background(), "ana")
	db, err := sqlite.Open(ctx, filepath.Join(data, "ferry.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := deploy.NewService(db, anyModel{}, nil)
	_, err = svc.PutEndpoint(ctx, deploy.Endpoint{Name: "churn"})
	if err == nil {
		_, err = svc.PutDeployment(ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn/1"})
	}
	if err == nil {
		_, err = svc.PutDeployment(ctx, deploy.Deployment{Name: "green", EndpointName: "churn", Model: "models:/churn/2", Rollout: &deploy.Rollout{Strategy: "canary", Steps: []int{10, 50}}})
	}
	if err == nil {
		_, err = svc.SetTraffic(ctx, "churn", map[string]int{"blue": 100}, "")
	}
	if err == nil {
		_, err = svc.StartRollout(ctx, "churn", "green", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// runRollout runs `ferry rollout ARGS` on data with the rollout command
// mounted on the root (the lead mounts it under ferry endpoints).
func runRollout(t *testing.T, data string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{env: Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: []string{"HOME=" + t.TempDir(), "FERRY_PRINCIPAL=bob"}}}
	root := a.rootCommand()
	root.AddCommand(a.rolloutCommand())
	root.SetArgs(append([]string{"--data", data, "rollout"}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestRolloutCommand(t *testing.T) {
	data := t.TempDir()
	seedRollout(t, data)
	steps := []struct {
		args []string
		want []string // substrings of the output, or of the error
		err  bool
	}{
		{[]string{"status", "churn"}, []string{"STATE", "progressing", "1/3  [10%] → 50% → 100%  every 5m0s", "FROM", "blue=100%", "green=100%", "STARTED BY", "ana"}, false},
		{[]string{"pause", "churn", "-o", "json"}, []string{`"state": "paused"`, `"message": "paused by bob"`}, false},
		{[]string{"resume", "churn", "-o", "yaml"}, []string{"state: progressing"}, false},
		{[]string{"promote", "churn"}, []string{"succeeded", "promoted by bob"}, false},
		{[]string{"rollback", "churn"}, []string{"no rollout in progress"}, true},
		{[]string{"status", "nosuch"}, []string{"has no rollout"}, true},
		{[]string{"status"}, []string{"ENDPOINT"}, true},
	}
	for _, st := range steps {
		t.Run(strings.Join(st.args, " "), func(t *testing.T) {
			out, err := runRollout(t, data, st.args...)
			if (err != nil) != st.err {
				t.Fatalf("error %v, want error %v; output:\n%s", err, st.err, out)
			}
			got := out
			if err != nil {
				got = userMessage(err)
			}
			for _, w := range st.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q is not in:\n%s", w, got)
				}
			}
		})
	}
	out, err := runRollout(t, data, "status", "churn", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r deploy.RolloutStatus
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.State != deploy.RolloutSucceeded || r.Goal["green"] != 100 {
		t.Errorf("status -o json: %v, %+v", err, r)
	}
	help, _ := runRollout(t, data, "--help")
	if !strings.Contains(help, "ferry endpoints rollout rollback churn") {
		t.Errorf("help has no examples:\n%s", help)
	}
}
