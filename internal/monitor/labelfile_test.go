package monitor

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
)

func TestParseLabels(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name  string
		parse func() ([]Label, error)
		want  []Label
	}{
		{"CSV in any column order, with a BOM, quotes and spaces", func() ([]Label, error) {
			return ParseLabelsCSV(strings.NewReader("\ufeff Time ,LABEL,request_id\r\n2024-03-01,\"no, spam\", r1 \r\n2024-03-01T10:00:00+02:00,1,r2\r\n,0.5,r3\n"))
		}, []Label{
			{RequestID: "r1", Value: "no, spam", Time: at("2024-03-01T00:00:00Z")},
			{RequestID: "r2", Value: "1", Time: at("2024-03-01T08:00:00Z")},
			{RequestID: "r3", Value: "0.5"},
		}},
		{"JSON numbers keep their text", func() ([]Label, error) {
			return ParseLabelsJSON([]byte(`{"labels": [{"request_id": 17, "label": 1e3}, {"request_id": "b", "label": false, "time": "2024-03-01 08:30:00"}, {"request_id": "c", "label": "cat", "time": null}]}`))
		}, []Label{
			{RequestID: "17", Value: "1e3"},
			{RequestID: "b", Value: "false", Time: at("2024-03-01T08:30:00Z")},
			{RequestID: "c", Value: "cat"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d labels, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i].RequestID != tt.want[i].RequestID || got[i].Value != tt.want[i].Value || !got[i].Time.Equal(tt.want[i].Time) {
					t.Errorf("label %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	t.Run("more than MaxLabels CSV rows", func(t *testing.T) {
		var b bytes.Buffer
		b.WriteString("request_id,label\n")
		for range MaxLabels + 1 {
			b.WriteString("a,1\n")
		}
		_, err := ParseLabelsCSV(&b)
		if ferry.ErrorCode(err) != ferry.ETOOLARGE || !strings.Contains(err.Error(), "line 100002") {
			t.Errorf("got %v, want ETOOLARGE naming line 100002", err)
		}
	})
}

// checkParsed is what every parse must give: labels PutLabels accepts as
// they are, or an EINVALID or ETOOLARGE *ferry.Error.
func checkParsed(t *testing.T, labels []Label, err error) {
	t.Helper()
	if err != nil {
		if c := ferry.ErrorCode(err); c != ferry.EINVALID && c != ferry.ETOOLARGE {
			t.Fatalf("error %v has code %q, want EINVALID or ETOOLARGE", err, c)
		}
		return
	}
	if len(labels) == 0 {
		t.Fatal("no labels and no error")
	}
	for i, l := range labels {
		n, err := normalizeLabel(l)
		if err != nil {
			t.Fatalf("label %d %+v would be refused: %v", i, l, err)
		}
		if n != l {
			t.Fatalf("label %d %+v is not normalized (%+v)", i, l, n)
		}
	}
}

func FuzzParseLabelsCSV(f *testing.F) {
	for _, s := range []string{
		"request_id,label\na,1\n",
		"request_id,label,time\na,1,2024-03-01T12:00:00Z\nb,spam,2024-03-01\n",
		"\ufefflabel,request_id\n\"x,y\",\"a\"\"b\"\n",
		"request_id,label\na\n",
		"request_id,lable\n",
		"",
		"request_id,label,time\na,1,2024-02-30\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := ParseLabelsCSV(bytes.NewReader(data))
		checkParsed(t, labels, err)
	})
}

func FuzzParseLabelsJSON(f *testing.F) {
	for _, s := range []string{
		`{"labels": [{"request_id": "a", "label": 1}]}`,
		`{"labels": [{"request_id": 7, "label": "spam", "time": "2024-03-01T12:00:00Z"}, {"request_id": "b", "label": true}]}`,
		`{"labels": [{"request_id": "a", "label": {"x": 1}}]}`,
		`{"labels": []}`,
		`[]`,
		`{"labels": [{"request_id": "a", "label": 1, "time": 5}]} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := ParseLabelsJSON(data)
		checkParsed(t, labels, err)
	})
}
