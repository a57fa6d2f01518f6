// Package dataset holds Ferry's columnar data frames and what is derived from
// them: readers for CSV, Parquet and JSON Lines, schemas, mergeable profiles
// (the baselines that monitoring compares production data with),
// deterministic train/validation splits and content digests.
//
// OpenBatches reads the same formats as a stream of batches of rows, with
// values as the file gives them, for work on files of any size (scoring with
// a model); it shares its parsers and checks with Read.
//
// A Frame is a set of equal-length typed columns. Readers build the columns
// directly while streaming, so the memory a read needs is close to the size of
// the frame it returns. Every error about the data itself is a *ferry.Error with
// code EINVALID whose message names the file, the 1-based line (or row) and the
// column; errors of the surroundings (an unreadable file, a cancelled context)
// are wrapped as they are.
//
// Frames, columns, schemas and profiles are plain values with no locks: they
// are safe to read from many goroutines and must not be modified while shared.
package dataset
