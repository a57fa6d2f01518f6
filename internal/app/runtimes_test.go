package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// TestRuntimesPyFunc: python_function models are served by `mlflow models
// serve` when no command is configured, and a missing MLflow is a clear error
// at load; a configured command speaks V2 unless the protocol says mlflow.
func TestRuntimesPyFunc(t *testing.T) {
	dir := t.TempDir()
	mlmodel := "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlmodel), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg, err := model.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // neither mlflow nor the commands below
	tests := []struct {
		name string
		cfg  RuntimeConfig
		want []string
	}{
		{"default: mlflow models serve", RuntimeConfig{}, []string{`"mlflow" is not on PATH`, "pip install mlflow"}},
		{"a command speaks V2", RuntimeConfig{ProcessCommand: []string{"my-v2-server"}}, []string{`"my-v2-server" is not on PATH`}},
		{"a command speaking mlflow", RuntimeConfig{ProcessProtocol: "mlflow", ProcessCommand: []string{"my-scorer", "{model_dir}"}}, []string{`"my-scorer" is not on PATH`}},
		{"an unknown protocol", RuntimeConfig{ProcessProtocol: "grpc"}, []string{`unknown protocol "grpc"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Runtimes(tt.cfg).Load(context.Background(), pkg)
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded")
			}
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("code %s (%v), want EINVALID", ferry.ErrorCode(err), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not say %q", err, w)
				}
			}
		})
	}
}
