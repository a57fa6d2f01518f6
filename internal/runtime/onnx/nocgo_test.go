//go:build onnx && !cgo

package onnx_test

import (
	"os"
	"testing"
)

// TestTagNeedsCgo keeps `go test -tags onnx` without cgo from passing with the
// stub in CI: the parity tests need cgo.
func TestTagNeedsCgo(t *testing.T) {
	msg := "built with -tags onnx but without cgo, so the ONNX runtime is the stub; run with CGO_ENABLED=1"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
