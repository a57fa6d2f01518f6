package cli

import (
	"log/slog"
	"strings"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/lightgbm"
	"github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/runtime/onnx"
	"github.com/ferry-ml/ferry/internal/runtime/process"
	"github.com/ferry-ml/ferry/internal/runtime/xgboost"
)

// runtimeConfig is what the runtimes take from the environment.
type runtimeConfig struct {
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

// runtimeConfig reads the runtimes' settings from the command's environment.
func (a *app) runtimeConfig(log *slog.Logger) runtimeConfig {
	name := a.env.lookup("FERRY_PROCESS_MODEL_NAME")
	if name == "" {
		name = "model"
	}
	return runtimeConfig{
		ProcessCommand:   strings.Fields(a.env.lookup("FERRY_PROCESS_COMMAND")),
		ProcessModelName: name,
		ONNXLibrary:      onnx.LibraryFromEnv(a.env.Environ),
		Log:              log,
	}
}

// runtimes returns the runtime registry of this build: Ferry's native
// models, XGBoost, LightGBM and ONNX in-process (ONNX only in builds with the
// onnx tag; without it, its loader says how to get one), and python_function
// models through a child process when a command is configured.
func runtimes(cfg runtimeConfig) runtime.Registry {
	log := cfg.Log
	if log == nil {
		log = discardLogger()
	}
	r := runtime.Registry{
		model.FlavorFerry:    native.Load,
		model.FlavorXGBoost:  xgboost.Load,
		model.FlavorLightGBM: lightgbm.Load,
		model.FlavorONNX:     onnx.Loader(onnx.WithLibrary(cfg.ONNXLibrary), onnx.WithLogger(log)),
	}
	if len(cfg.ProcessCommand) > 0 {
		r[model.FlavorPyFunc] = process.Loader(process.Config{Command: cfg.ProcessCommand, ModelName: cfg.ProcessModelName, Log: log})
	}
	return r
}
