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
// categories by leaf weight −G/(H+λ), 0 when their hessian sum in the node
// is below MinChildWeight, and try every prefix and suffix of that order of
// fewer than MaxCatThreshold categories against the rest (XGBoost's
// partition split, as XGBoost 1.7 orders and counts it); categories not seen
// in the node, unseen in training or missing go to the default side.
//
// Not implemented: L1 regularisation (alpha), max_delta_step,
// scale_pos_weight, monotone or interaction constraints, per-level or
// per-node column sampling, one-hot categorical splits (max_cat_to_onehot),
// and sample weights in the quantile cuts (cuts count rows).
//
// Binning is in bin.go, tree growth in grow.go and tree.go, the training
// loop and the objectives in train.go.
package gbdt
