package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// exampleWorld is what the commands' --help examples assume exists, made
// once and copied for each command so that no example sees another's
// effects. In its directory:
//
//	flights.csv, customers.csv, customers.jsonl, new.csv, confusion.png,
//	train.yaml, job.yaml, gates.yaml, model/ (a package directory)
//	deploy/churn.yaml (endpoint churn, deployments blue and green, monitor churn-drift)
//	labels.csv, labels.json (labels of churn's requests)
//	data:/flights/1, data:/customers/1
//	experiment churn with six runs; model churn, versions 1-4 from the
//	first four, @champion on 2; the fifth and sixth runs are unregistered
//	job 3fa2c1d04b9e (the example's ID, mapped to a real job)
type exampleWorld struct {
	dir     string
	replace map[string]string // example placeholders -> real IDs
}

func makeExampleWorld(t *testing.T) exampleWorld {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	write := func(name, content string) {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "deploy"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "rollout"), 0o755))
	write("rollout/churn.yaml", "kind: Endpoint\nname: churn\ntraffic: {green: 100}\n---\n"+
		"kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/churn@champion\n---\n"+
		"kind: Deployment\nname: green\nendpoint_name: churn\nmodel: models:/churn/3\ninstance_count: 2\n"+
		"rollout: {strategy: canary, steps: [10, 50, 100], step_duration: 1h}\n")
	write("request.json", `{"dataframe_records": [{"tenure": 14, "plan": "basic", "monthly_charges": 29.5}]}`)
	write("infer.json", `{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": [14]}, `+
		`{"name": "plan", "datatype": "BYTES", "shape": [1], "data": ["basic"]}, `+
		`{"name": "monthly_charges", "datatype": "FP64", "shape": [1], "data": [29.5]}]}`)
	write("deploy/churn.yaml", "kind: Endpoint\nname: churn\ntraffic: {blue: 90, green: 10}\n---\n"+
		"kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/churn@champion\n---\n"+
		"kind: Deployment\nname: green\nendpoint_name: churn\nmodel: models:/churn/3\ninstance_count: 2\n---\n"+
		"kind: Monitor\nname: churn-drift\nendpoint: churn\nsignals: {data_drift: {}, data_quality: {}}\n")
	var flights, customers, jsonl, fresh strings.Builder
	flights.WriteString("date,delay,distance,origin,destination\n")
	customers.WriteString("tenure,plan,monthly_charges,churned\n")
	fresh.WriteString("tenure,plan,monthly_charges\n")
	airports := []string{"SFO", "ORD", "ATL", "SEA"}
	plans := []string{"basic", "plus", "pro"}
	for i := range 240 {
		fmt.Fprintf(&flights, "2001-%02d-%02d %02d:%02d:00,%d,%d,%s,%s\n", 1+i%6, 1+i%28, 6+i%16, i%60,
			(i*37)%60-10+(i%16)*2, 200+(i*53)%2400, airports[i%4], airports[(i+1)%4])
		tenure, plan, charges := i%72, plans[i%3], 20+float64((i*13)%80)
		churned := 0
		if tenure < 20 && plan != "pro" || charges > 90 {
			churned = 1
		}
		if i%11 == 0 {
			churned = 1 - churned
		}
		fmt.Fprintf(&customers, "%d,%s,%g,%d\n", tenure, plan, charges, churned)
		fmt.Fprintf(&jsonl, `{"tenure": %d, "plan": %q, "monthly_charges": %g}`+"\n", tenure, plan, charges)
		if i < 20 {
			fmt.Fprintf(&fresh, "%d,%s,%g\n", tenure, plan, charges)
		}
	}
	write("flights.csv", flights.String())
	write("customers.csv", customers.String())
	write("customers.jsonl", jsonl.String())
	write("new.csv", fresh.String())
	write("confusion.png", "\x89PNG\r\n\x1a\nnot really a picture")
	write("train.yaml", "experiment_name: flights-delay\ndata: flights.csv\ntarget: delay\npositive_when: \"> 15\"\n"+
		"features: [date:month, date:hour, distance, origin]\nparams: {num_rounds: 5}\n")
	write("job.yaml", "type: command\ncommand: echo lr=${{inputs.lr}}\ninputs:\n  lr: 0.1\nlimits: {timeout: 5m}\n")
	write("gates.yaml", "thresholds: {roc_auc: \">= 0.5\"}\n")
	write("labels.csv", "request_id,label,time\n9f1c2e4a,1,2024-03-01T12:00:00Z\n4b7d0a13,0,2024-03-01T12:05:00Z\n")
	write("labels.json", `{"labels": [{"request_id": "9f1c2e4a", "label": 0, "time": "2024-03-02"}, {"request_id": "c3e81f52", "label": 1}]}`)

	s := newScript(t)
	s.run("ferry data create flights --path flights.csv")
	s.run("ferry data create customers --path customers.csv")
	var runs []string
	for i := range 6 {
		extra := ""
		if i == 0 {
			extra = " --out ." // the package in ./model
		}
		s.run(fmt.Sprintf("RUN=$(ferry train --dataset customers.csv --target churned --feature tenure --feature plan --feature monthly_charges --experiment churn --param num_rounds=%d%s -o json | jq -r .run_id)", 2+i, extra))
		runs = append(runs, s.vars["RUN"])
		if i < 4 {
			s.run("ferry models register churn --from runs:/$RUN/model")
		}
	}
	s.run("ferry models alias churn champion 2")
	s.run("JOB=$(ferry jobs submit -f job.yaml -o json | jq -r .id)")
	s.endBlock()
	return exampleWorld{dir: dir, replace: map[string]string{
		"0a1b2c3d4e5f60718293a4b5c6d7e8f9": runs[4],
		"<run_id>":                         runs[5],
		"3f2a...":                          runs[0],
		"9b1c...":                          runs[1],
		"6f1c...":                          runs[0],
		"3fa2c1d04b9e":                     s.vars["JOB"],
	}}
}

// exampleSetup prepares the copy of the world for the examples of one
// command, where they need more than the world holds.
var exampleSetup = map[string][]string{
	// A policy that makes Production and @champion wait for a second
	// person, and requests waiting for one.
	"ferry models":         {"policy"},
	"ferry models approve": {"policy", "ferry models promote churn 3 --to production --as data-scientist   # exits 1", "ferry models promote churn 3 --to @champion --as data-scientist   # exits 1"},
	"ferry models reject":  {"policy", "ferry models promote churn 3 --to production --as data-scientist   # exits 1", "ferry models promote churn 3 --to @champion --as data-scientist   # exits 1"},
	"ferry models verify":  {"ferry models package models:/churn@champion -O churn.tar.gz --image churn-oci/"},
	// Endpoint churn applied from deploy/churn.yaml; for apply, a saved plan.
	"ferry apply":               {"ferry plan -f deploy/ --out plan.json"},
	"ferry endpoints":           {"ferry apply -f deploy/"},
	"ferry endpoints list":      {"ferry apply -f deploy/"},
	"ferry endpoints get":       {"ferry apply -f deploy/"},
	"ferry endpoints traffic":   {"ferry apply -f deploy/"},
	"ferry endpoints logs":      {"ferry apply -f deploy/"},
	"ferry deployments":         {"ferry apply -f deploy/"},
	"ferry deployments list":    {"ferry apply -f deploy/"},
	"ferry deployments get":     {"ferry apply -f deploy/"},
	"ferry endpoints invoke":    {"ferry apply -f deploy/"},
	"ferry deployments logs":    {"ferry apply -f deploy/"},
	"ferry deployments restart": {"ferry apply -f deploy/"},
	// Labels go to an existing endpoint.
	"ferry monitor":        {"ferry apply -f deploy/"},
	"ferry monitor labels": {"ferry apply -f deploy/"},
	"ferry monitor list":   {"ferry apply -f deploy/"},
	"ferry monitor get":    {"ferry apply -f deploy/"},
	"ferry monitor status": {"ferry apply -f deploy/"},
	// A canary of green in progress (nothing advances it in local mode).
	"ferry endpoints rollout":          {"ferry apply -f deploy/", "ferry apply -f rollout/"},
	"ferry endpoints rollout status":   {"ferry apply -f deploy/", "ferry apply -f rollout/"},
	"ferry endpoints rollout pause":    {"ferry apply -f deploy/", "ferry apply -f rollout/"},
	"ferry endpoints rollout resume":   {"ferry apply -f deploy/", "ferry apply -f rollout/", "ferry endpoints rollout pause churn"},
	"ferry endpoints rollout promote":  {"ferry apply -f deploy/", "ferry apply -f rollout/"},
	"ferry endpoints rollout rollback": {"ferry apply -f deploy/", "ferry apply -f rollout/"},
}

// exampleNotRun are example lines that need what a test cannot have here.
var exampleNotRun = map[string]string{
	"ferry server --addr 0.0.0.0:5000 --store postgres://ferry@db/ferry --artifacts s3://ml-artifacts/ferry": "needs a PostgreSQL server and an S3 bucket (the store and blob suites test both)",
}

// TestHelpExamplesRun runs every line of every command's Example, as
// written, in a copy of exampleWorld: each must exit 0, or with the code
// its "# exits N" comment gives.
func TestHelpExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains several models")
	}
	world := makeExampleWorld(t)
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example != "" {
			cmds = append(cmds, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk((&app{}).rootCommand())
	if len(cmds) < 20 {
		t.Fatalf("only %d commands have examples", len(cmds))
	}
	for _, c := range cmds {
		t.Run(c.CommandPath(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "w")
			must(t, os.CopyFS(dir, os.DirFS(world.dir)))
			t.Chdir(dir)
			s := newScript(t)
			s.replace = world.replace
			for _, step := range exampleSetup[c.CommandPath()] {
				if step == "policy" {
					must(t, os.WriteFile("policy.yaml", []byte("default:\n  stages:\n    Production: {approval: true}\n  aliases:\n    champion: {approval: true}\n"), 0o644))
					must(t, os.WriteFile("ferry.yaml", []byte("policy_file: policy.yaml\n"), 0o644))
					continue
				}
				s.run(step)
			}
			for _, line := range lines(c.Example) {
				if why, ok := exampleNotRun[line]; ok {
					t.Logf("not run: %q: %s", line, why)
					continue
				}
				s.run(line)
			}
			s.endBlock()
		})
	}
}
