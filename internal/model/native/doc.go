// Package native is the format of Ferry's own models: what the `ferry`
// flavor's model.json holds (a Pipeline), and how it predicts.
//
// A Pipeline derives model features from raw input columns (FeatureSpec,
// BuildFeatures), encodes them for linear models (Encoder) and scores them
// with a trained model: a gradient-boosted tree ensemble (GBDT, which can
// also be exported in XGBoost's JSON format) or a linear model (Linear).
// Labels and ParseComparison turn a target column into the labels the
// model's task scores.
//
// The package holds no training code: the trainers (internal/train/gbdt,
// internal/train/linear) produce these types, and serving (runtime/native)
// and validation read them without importing the trainers.
package native
