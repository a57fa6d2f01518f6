package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/testserver"
)

// TestLabels sends labels typed and as files, and reads the server's
// error naming the line.
func TestLabels(t *testing.T) {
	ctx := context.Background()
	c, b := testserver.Client(t)
	if _, err := b.Deploy.PutEndpoint(auth.WithPrincipal(ctx, "ana"), deploy.Endpoint{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	got, err := c.PutLabels(ctx, "churn", []client.Label{{RequestID: "r1", Value: "1", Time: day}, {RequestID: "r2", Value: "no"}})
	if err != nil || got != (client.LabelCounts{Endpoint: "churn", Received: 2, Created: 2, Total: 2}) {
		t.Fatalf("PutLabels: %+v, %v", got, err)
	}
	got, err = c.SendLabels(ctx, "churn", strings.NewReader("request_id,label\nr1,0\nr3,1\n"), client.LabelsCSV)
	if err != nil || got != (client.LabelCounts{Endpoint: "churn", Received: 2, Created: 1, Replaced: 1, Total: 3}) {
		t.Fatalf("SendLabels CSV: %+v, %v", got, err)
	}
	labels, err := b.Monitor.LabelsFor(ctx, "churn", []string{"r1", "r2"})
	if err != nil || labels["r1"].Value != "0" || !labels["r2"].Time.IsZero() || labels["r2"].Value != "no" {
		t.Fatalf("stored %+v, %v", labels, err)
	}
	_, err = c.SendLabels(ctx, "churn", strings.NewReader("request_id,label\nr1,0\n,1\n"), client.LabelsCSV)
	if ce, ok := err.(*client.Error); !ok || ce.Status != 400 || ce.Code != "EINVALID" || !strings.Contains(ce.Message, "line 3: request_id is required") {
		t.Fatalf("a bad line: %v", err)
	}
	if _, err := c.PutLabels(ctx, "nope", []client.Label{{RequestID: "a", Value: "1"}}); !client.IsNotFound(err) {
		t.Fatalf("an unknown endpoint: %v", err)
	}
}
