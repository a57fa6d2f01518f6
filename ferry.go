// Package ferry holds the vocabulary every stage of the Ferry MLOps platform shares:
// the error type and codes, and small value types. It does no I/O.
package ferry

// Version is the version of this build of Ferry. Release builds override it with
// -ldflags "-X github.com/ferry-ml/ferry.Version=...".
var Version = "0.1.0-dev"
