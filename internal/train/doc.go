// Package train runs training: it reads a Spec (train.yaml), reads and
// splits the data, trains with a built-in trainer — gbdt (internal/train/gbdt)
// or logistic and linear (internal/train/linear) — scores the validation rows
// with validation's metrics (internal/validation/metrics), writes the model
// package (the `ferry` flavor, internal/model/native) and records all of it
// as a tracked run through a Tracker.
package train
