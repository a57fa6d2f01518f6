package deploy

import (
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

func TestDataCollector(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name            string
		dc              *DataCollector
		rate            float64
		inputs, outputs bool
		err             string
	}{
		{"absent", nil, 0, false, false, ""},
		{"defaults", &DataCollector{}, 1, true, true, ""},
		{"inputs only", &DataCollector{SamplingRate: f(0.25), RollingRate: "hour", Collections: map[string]DataCollection{CollectionInputs: {Enabled: true}, CollectionOutputs: {}}}, 0.25, true, false, ""},
		{"rate above 1", &DataCollector{SamplingRate: f(1.5)}, 1.5, true, true, "sampling_rate 1.5"},
		{"negative rate", &DataCollector{SamplingRate: f(-0.1)}, -0.1, true, true, "sampling_rate -0.1"},
		{"rolling by day", &DataCollector{RollingRate: "day"}, 1, true, true, `rolling_rate "day"`},
		{"unknown collection", &DataCollector{Collections: map[string]DataCollection{"request": {Enabled: true}}}, 1, false, false, `collections "request"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.dc.Rate(); got != tc.rate {
				t.Errorf("Rate() = %v, want %v", got, tc.rate)
			}
			if tc.dc.Collects(CollectionInputs) != tc.inputs || tc.dc.Collects(CollectionOutputs) != tc.outputs {
				t.Errorf("Collects = %v, %v; want %v, %v", tc.dc.Collects(CollectionInputs), tc.dc.Collects(CollectionOutputs), tc.inputs, tc.outputs)
			}
			d := Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn/1", DataCollector: tc.dc}
			err := d.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || ferry.ErrorCode(err) != ferry.EINVALID):
				t.Errorf("Validate: %v, want EINVALID mentioning %s", err, tc.err)
			}
		})
	}
}
