// Package serving answers inference requests for loaded models over three
// wire protocols: the Open Inference Protocol V2 (KServe V2, Triton) REST
// API, KServe's V1 protocol, and MLflow's scoring protocol (/invocations)
// for a server of one model.
//
// A Server holds named models (runtime.Model with its version and
// signature). Set swaps a model atomically while requests flow: each
// request holds the version it started with (a reference count), and a
// replaced model is Closed only after its last request has ended, so a hot
// swap fails no request. RegistryHandler serves registered models by name,
// alias or version, loading them on demand through a Resolver.
//
// Every request is checked against the model's Schema — its runtime
// metadata and signature — before the runtime sees it: input names,
// datatypes (with lossless widening: integers to FP64, FP32 to FP64, narrower
// to wider integers), shapes, rows, missing and unknown inputs, and missing
// values in required inputs, with 4xx answers that name the input and what
// was expected. Unknown inputs are refused over V2 and V1 (as Triton, a
// KServe V2 server, refuses them); /invocations ignores the columns a model
// does not take, as MLflow's scoring server does, and names them in the
// X-Ferry-Ignored-Columns header and a debug log line. The JSON decoders are hand-written, allocate in proportion
// to the body (a declared shape is checked against the data's length before
// anything is allocated) and never recurse deeper than 64 levels. Bodies are
// bounded (413), predictions time out (504), and a server at its in-flight
// limit answers 503.
//
// Adaptive batching (off by default) concatenates concurrent requests to a
// model along their first dimension into one Predict and splits the outputs
// back. Metrics per model and version — requests by protocol and code,
// errors by reason, latency, rows per Predict — go to an injected
// prometheus.Registerer. Every response carries an X-Request-Id, echoed or
// generated.
//
// Columns builds model inputs value by value from any row source (JSON,
// CSV, Parquet). ScoreFile, the engine of `ferry predict`, uses it to score
// a table file in batches: it reads through dataset.OpenBatches and writes
// the predictions as CSV, JSON Lines or Parquet, with bounded memory.
package serving
