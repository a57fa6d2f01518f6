package onnx_test

import (
	"context"
	"testing"

	"github.com/ferry-ml/ferry/internal/runtime/onnx"
)

func TestLibraryFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"absent", []string{"HOME=/root", "PATH=/bin"}, ""},
		{"nil", nil, ""},
		{"set", []string{"HOME=/root", "FERRY_ONNXRUNTIME_LIB=/opt/ort/libonnxruntime.so.1"}, "/opt/ort/libonnxruntime.so.1"},
		{"empty value", []string{"FERRY_ONNXRUNTIME_LIB="}, ""},
		{"last wins", []string{"FERRY_ONNXRUNTIME_LIB=/a", "FERRY_ONNXRUNTIME_LIB=/b"}, "/b"},
		{"value with equals", []string{"FERRY_ONNXRUNTIME_LIB=/x=y/lib.so"}, "/x=y/lib.so"},
		{"prefix of another key", []string{"FERRY_ONNXRUNTIME_LIBRARY=/a"}, ""},
		{"no equals", []string{"FERRY_ONNXRUNTIME_LIB"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := onnx.LibraryFromEnv(tt.environ); got != tt.want {
				t.Errorf("LibraryFromEnv(%q) = %q, want %q", tt.environ, got, tt.want)
			}
		})
	}
}

func TestLoaderBindsOptions(t *testing.T) {
	load := onnx.Loader(onnx.WithLibrary("/nonexistent/libonnxruntime.so.1"), nil)
	if load == nil {
		t.Fatal("Loader returned nil")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := load(ctx, nil); err == nil {
		t.Fatal("load with a cancelled context and no package: got nil error")
	}
}
