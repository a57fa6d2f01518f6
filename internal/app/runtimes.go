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
	// ProcessCommand serves python_function models (FERRY_PROCESS_COMMAND,
	// split on spaces); empty leaves them unserved.
	ProcessCommand []string
	// ProcessModelName is the name that command serves the model under
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
// models through a child process when a command is configured.
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
	if len(cfg.ProcessCommand) > 0 {
		r[model.FlavorPyFunc] = process.Loader(process.Config{Command: cfg.ProcessCommand, ModelName: name, Log: log})
	}
	return r
}
