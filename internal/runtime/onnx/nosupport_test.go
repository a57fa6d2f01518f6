//go:build !onnx || !cgo

package onnx_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime/onnx"
)

func TestLoadWithoutTag(t *testing.T) {
	if onnx.Supported {
		t.Fatal("Supported is true in a build without the onnx tag or cgo")
	}
	pkg, err := model.Load(context.Background(), "testdata/mlp")
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(context.Background(), pkg, onnx.WithLibrary("/opt/libonnxruntime.so.1"))
	if m != nil || err == nil {
		t.Fatalf("Load = %v, %v; want an error", m, err)
	}
	if code := ferry.ErrorCode(err); code != ferry.ENOTIMPLEMENTED {
		t.Errorf("code = %s, want ENOTIMPLEMENTED", code)
	}
	msg := ferry.ErrorMessage(err)
	for _, want := range []string{"no ONNX support", "-tags onnx", "cgo", "FERRY_ONNXRUNTIME_LIB"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	if !strings.HasPrefix(err.Error(), "onnx: ") {
		t.Errorf("error %q does not start with the package name", err)
	}
}
