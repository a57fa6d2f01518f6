// Package gbdt is Ferry's built-in gradient-boosted decision tree trainer,
// a histogram-based implementation of XGBoost's "hist" method. Train fits
// a native.GBDT (the model format, internal/model/native) from column data;
// the model predicts exactly as XGBoost does and exports to XGBoost's JSON
// format.
//
// Numeric features are cut into at most 255 quantile bins of float32 values
// (one more uint8 code marks missing values), categorical features get one
// bin per category (the 255 most frequent; rarer ones are treated as
// missing). Each node's split is searched on gradient/hessian histograms;
// missing values are tried on both sides of every numeric threshold and the
// better side is kept (XGBoost's default_left). Categorical splits sort the
// node's categories by G/(H+λ) and try every prefix and suffix of that order
// of up to MaxCatThreshold categories against the rest (LightGBM's and
// XGBoost's partition split); categories not seen in the node, unseen in
// training or missing go to the default side.
//
// Not implemented: L1 regularisation (alpha), max_delta_step,
// scale_pos_weight, monotone or interaction constraints, per-level or
// per-node column sampling, one-hot categorical splits (max_cat_to_onehot),
// and sample weights in the quantile cuts (cuts count rows).
//
// Binning is in bin.go, tree growth in grow.go and tree.go, the training
// loop and the objectives in train.go.
package gbdt
