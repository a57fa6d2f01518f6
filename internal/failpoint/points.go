package failpoint

// The failpoints of Ferry's commit paths.
const (
	// LogBatchBeforeCommit: a log-batch's rows are written, COMMIT not yet issued.
	LogBatchBeforeCommit = "logbatch-before-commit"
	// LogBatchAfterCommit: a log-batch's COMMIT returned, the request not yet answered.
	LogBatchAfterCommit = "logbatch-after-commit"
	// RegisterPackageFile: one more file of a package being registered is in
	// the artifact store.
	RegisterPackageFile = "register-package-file"
	// RegisterBeforeCommit: a version's row, lineage and audit event are
	// written (its package copied), COMMIT not yet issued.
	RegisterBeforeCommit = "register-before-commit"
	// RegisterAfterCommit: a version's COMMIT returned, the request not yet answered.
	RegisterAfterCommit = "register-after-commit"
)
