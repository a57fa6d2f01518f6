package app

import (
	"log/slog"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/lightgbm"
	"github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/runtime/onnx"
	"github.com/ferry-ml/ferry/internal/runtime/process"
	"github.com/ferry-ml/ferry/internal/runtime/xgboost"
)

// RuntimeConfig is what the runtimes take from the environment.
type RuntimeConfig struct {
	// ProcessProtocol is what the command serving python_function models
	// speaks (FERRY_PROCESS_PROTOCOL): process.ProtocolV2 or
	// process.ProtocolMLflow. Empty means v2 when a command is given and
	// mlflow (with process.DefaultMLflowCommand) when none is.
	ProcessProtocol string
	// ProcessCommand serves python_function models (FERRY_PROCESS_COMMAND,
	// split on spaces; {port} and {model_dir} are replaced).
	ProcessCommand []string
	// ProcessModelName is the name a V2 command serves the model under
	// (FERRY_PROCESS_MODEL_NAME, default "model").
	ProcessModelName string
	// ONNXLibrary is ONNX Runtime's shared library (FERRY_ONNXRUNTIME_LIB);
	// only builds with the onnx tag use it.
	ONNXLibrary string
	Log         *slog.Logger
}

// Runtimes returns the runtime registry of this build: Ferry's native
// models, XGBoost, LightGBM and ONNX in-process (ONNX only in builds with the
// onnx tag; without it, its loader says how to get one), and python_function
// models through a child process: the configured command, or `mlflow models
// serve` (a package without MLflow installed fails to load, saying so).
// A failpoint build (-tags failpoint) also has the ferry_fault runtime of the
// rollout tests (internal/failpoint/fault); a normal build does not.
func Runtimes(cfg RuntimeConfig) runtime.Registry {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := cfg.ProcessModelName
	if name == "" {
		name = "model"
	}
	r := runtime.Registry{
		model.FlavorFerry:    native.Load,
		model.FlavorXGBoost:  xgboost.Load,
		model.FlavorLightGBM: lightgbm.Load,
		model.FlavorONNX:     onnx.Loader(onnx.WithLibrary(cfg.ONNXLibrary), onnx.WithLogger(log)),
	}
	protocol := cfg.ProcessProtocol
	if protocol == "" && len(cfg.ProcessCommand) == 0 {
		protocol = process.ProtocolMLflow
	}
	r[model.FlavorPyFunc] = process.Loader(process.Config{Protocol: protocol, Command: cfg.ProcessCommand, ModelName: name, Log: log})
	addTestRuntimes(r)
	return r
}
