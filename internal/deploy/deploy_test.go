package deploy

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

func TestEndpointValidate(t *testing.T) {
	deps := map[string]bool{"blue": true, "green": true, "shadow": true}
	tests := []struct {
		name string
		e    Endpoint
		want string // "" valid, else a substring of the EINVALID message
	}{
		{"no traffic", Endpoint{Name: "churn"}, ""},
		{"split", Endpoint{Name: "churn", Traffic: map[string]int{"blue": 90, "green": 10}}, ""},
		{"all zero", Endpoint{Name: "churn", Traffic: map[string]int{"blue": 0}}, ""},
		{"sum 90", Endpoint{Name: "churn", Traffic: map[string]int{"blue": 80, "green": 10}}, "sums to 90"},
		{"unknown deployment", Endpoint{Name: "churn", Traffic: map[string]int{"red": 100}}, "red, which is not a deployment"},
		{"negative", Endpoint{Name: "churn", Traffic: map[string]int{"blue": -10, "green": 110}}, "not a percentage"},
		{"mirror", Endpoint{Name: "churn", Traffic: map[string]int{"blue": 100}, MirrorTraffic: map[string]int{"shadow": 50}}, ""},
		{"mirror over 50", Endpoint{Name: "churn", MirrorTraffic: map[string]int{"shadow": 51}}, "want 0 to 50"},
		{"mirror two", Endpoint{Name: "churn", MirrorTraffic: map[string]int{"shadow": 10, "green": 10}}, "at most one"},
		{"mirror in traffic", Endpoint{Name: "churn", Traffic: map[string]int{"blue": 100}, MirrorTraffic: map[string]int{"blue": 10}}, "both traffic and mirror_traffic"},
		{"mirror unknown", Endpoint{Name: "churn", MirrorTraffic: map[string]int{"red": 10}}, "mirror_traffic names red"},
		{"short name", Endpoint{Name: "ab"}, "3 to 32"},
		{"long name", Endpoint{Name: strings.Repeat("a", 33)}, "3 to 32"},
		{"digit first", Endpoint{Name: "1churn"}, "starting with a letter"},
		{"underscore", Endpoint{Name: "churn_x"}, "letters, digits or '-'"},
		{"auth token", Endpoint{Name: "churn", AuthMode: "aml_token"}, "want key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.e.Validate(deps), tt.want)
		})
	}
}

func TestDeploymentValidate(t *testing.T) {
	ok := Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn@champion"}
	with := func(f func(*Deployment)) Deployment { d := ok; f(&d); return d }
	tests := []struct {
		name string
		d    Deployment
		want string
	}{
		{"alias", ok, ""},
		{"version", with(func(d *Deployment) { d.Model = "models:/churn/3" }), ""},
		{"not a model uri", with(func(d *Deployment) { d.Model = "runs:/abc/model" }), "want models:/NAME/VERSION"},
		{"target process", with(func(d *Deployment) { d.Target = TargetProcess }), ""},
		{"target bad", with(func(d *Deployment) { d.Target = "lambda" }), "want embedded, process or kubernetes"},
		{"bad endpoint", with(func(d *Deployment) { d.EndpointName = "x" }), "endpoint name"},
		{"negative instances", with(func(d *Deployment) { d.InstanceCount = -1 }), "negative"},
		{"negative timeout", with(func(d *Deployment) { d.RequestSettings.RequestTimeoutMS = -1 }), "request_settings"},
		{"negative probe", with(func(d *Deployment) { d.LivenessProbe = &Probe{Period: -1} }), "probe"},
		{"canary", with(func(d *Deployment) { d.Rollout = &Rollout{Strategy: "canary", Steps: []int{10, 50, 100}} }), ""},
		{"steps down", with(func(d *Deployment) { d.Rollout = &Rollout{Strategy: "canary", Steps: []int{50, 10}} }), "steps must increase"},
		{"strategy bad", with(func(d *Deployment) { d.Rollout = &Rollout{Strategy: "yolo"} }), "want canary or blue_green"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.d.Validate(), tt.want)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("got %v, want valid", err)
	case want != "" && err == nil:
		t.Errorf("valid, want an error with %q", want)
	case want != "" && (ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), want)):
		t.Errorf("got %v (%s), want EINVALID with %q", err, ferry.ErrorCode(err), want)
	}
}

func TestComputePlan(t *testing.T) {
	ep := Endpoint{Name: "churn", Traffic: map[string]int{"blue": 100}}
	blue := Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn/1"}
	green := Deployment{Name: "green", EndpointName: "churn", Model: "models:/churn/2"}
	stored := func(d Deployment) Deployment { d = d.Normalize(); d.ModelVersion = "models:/churn/9"; return d }
	bigger := green
	bigger.InstanceCount = 2
	tests := []struct {
		name             string
		desired, current State
		prune            bool
		want             string // Plan.String()
		err              string
	}{
		{name: "empty", want: "No changes.\n"},
		{
			name:    "create all",
			desired: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{green, blue}},
			want:    "+ create endpoint churn\n+ create deployment churn/blue\n+ create deployment churn/green\nPlan: 3 to add, 0 to change, 0 to destroy.\n",
		},
		{
			name:    "unchanged after defaults and pinning",
			desired: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{blue}},
			current: State{Endpoints: []Endpoint{ep.Normalize()}, Deployments: []Deployment{stored(blue)}},
			want:    "No changes.\n",
		},
		{
			name:    "one field",
			desired: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{blue, bigger}},
			current: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{stored(blue), stored(green)}},
			want:    "~ update deployment churn/green: instance_count 1 → 2\nPlan: 0 to add, 1 to change, 0 to destroy.\n",
		},
		{
			name:    "missing file keeps without prune",
			desired: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{blue}},
			current: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{stored(blue), stored(green)}},
			want:    "No changes.\n",
		},
		{
			name:    "prune deletes deployment then endpoint",
			desired: State{},
			current: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{stored(blue)}},
			prune:   true,
			want:    "- delete deployment churn/blue\n- delete endpoint churn\nPlan: 0 to add, 0 to change, 2 to destroy.\n",
		},
		{
			name:    "traffic switch orders create before update before delete",
			desired: State{Endpoints: []Endpoint{{Name: "churn", Traffic: map[string]int{"green": 100}}}, Deployments: []Deployment{green}},
			current: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{stored(blue)}},
			prune:   true,
			want:    "+ create deployment churn/green\n~ update endpoint churn: traffic.blue 100 → (none), traffic.green (none) → 100\n- delete deployment churn/blue\nPlan: 1 to add, 1 to change, 1 to destroy.\n",
		},
		{
			name:    "traffic to a pruned deployment",
			desired: State{Endpoints: []Endpoint{ep}},
			current: State{Endpoints: []Endpoint{ep}, Deployments: []Deployment{stored(blue)}},
			prune:   true,
			err:     "traffic names blue",
		},
		{
			name:    "deployment without endpoint",
			desired: State{Deployments: []Deployment{blue}},
			err:     "endpoint churn is neither declared nor deployed",
		},
		{
			name:    "declared twice",
			desired: State{Endpoints: []Endpoint{{Name: "churn"}, {Name: "churn"}}},
			err:     "declared twice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ComputePlan(tt.desired, tt.current, tt.prune)
			if tt.err != "" {
				checkErr(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("plan\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
