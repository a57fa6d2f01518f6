// Package testserver serves Ferry's HTTP API over the embedded backend of
// internal/testbackend, for tests of the layers that talk to a server: the Go
// client, training, jobs.
package testserver

import (
	"net/http/httptest"
	"testing"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// Client starts a server on a loopback port over a new backend (SQLite with
// synchronous=normal) and returns a client of it and the backend. Both are
// closed when tb ends.
func Client(tb testing.TB) (*client.Client, *testbackend.Backend) {
	tb.Helper()
	b := testbackend.Open(tb, "normal")
	srv := httptest.NewServer(b.API.Handler())
	tb.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return c, b
}
