// Package predict benchmarks single-row prediction of Ferry's XGBoost
// runtime (internal/runtime/xgboost) against XGBoost's own C++ predictor on
// the same model and rows. run.sh trains the model with xgb_predict.py,
// then alternates the Go benchmarks in this package with xgb_predict.py's
// timings and prints the medians and ratios; BENCHMARKS.md quotes them.
//
// The benchmarks read the model and rows from the directory named by
// FERRY_BENCH_PREDICT_DIR (model.json, x1000.f32, expected.f64, as
// `xgb_predict.py train` writes them) and skip when it is not set.
package predict
