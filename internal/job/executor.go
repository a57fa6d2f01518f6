// Package job runs any command as a tracked run, in the vocabulary of Azure
// ML's command jobs.
//
// A Spec is a command job read from YAML (LoadSpec). A Runner turns it into a
// run on the tracking server — params from its inputs, tags for its code's
// git commit — and starts it on an Executor; when the job ends, the Runner
// uploads its log and outputs and ends the run FINISHED, FAILED or KILLED.
// Executors only run commands: Local runs them as process groups on this
// machine; a Kubernetes executor can implement the same interface.
//
// The package does no HTTP itself: it reaches the tracking server through
// the Tracker interface, which *client.Client satisfies.
package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/ferry-ml/ferry"
)

// State is where a job is in its life.
type State string

// States of a job. Succeeded, Failed, Cancelled and TimedOut are terminal.
const (
	Queued    State = "Queued"    // submitted, not started
	Running   State = "Running"   // an attempt is running, or a retry is waiting for its backoff
	Succeeded State = "Succeeded" // an attempt exited with code 0
	Failed    State = "Failed"    // the last attempt exited non-zero or could not start
	Cancelled State = "Cancelled" // stopped by Cancel
	TimedOut  State = "TimedOut"  // stopped because it ran longer than its timeout
)

// Terminal reports whether the job has ended.
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == TimedOut
}

// Job is what an executor runs. It holds no local assumption beyond a shell
// command: a Kubernetes executor would run Command in a container with Env,
// Dir as the working directory inside the image.
type Job struct {
	// ID names the job: 1 to 63 lowercase letters, digits and '-', starting
	// with a letter or digit (a DNS label, so a Kubernetes Job can carry it).
	// NewID makes one.
	ID      string
	Name    string            // a human name; may be empty
	Command string            // run by a POSIX shell (sh -c)
	Dir     string            // working directory
	Env     map[string]string // variables added to the executor's base environment, overriding it
	Timeout time.Duration     // for the whole job, all attempts and backoffs; 0 means none
	Retry   RetryPolicy       // retries of failed (non-zero) exits
	Labels  map[string]string // returned in Status, such as the run ID; not interpreted
}

// Status is what an executor knows about a job.
type Status struct {
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	State       State             `json:"state"`
	ExitCode    int               `json:"exit_code"` // of the last attempt; -1 while none has exited, or when killed by a signal
	Attempts    int               `json:"attempts"`  // attempts started so far
	SubmittedAt time.Time         `json:"submitted_at"`
	StartedAt   time.Time         `json:"started_at,omitzero"` // of the first attempt
	EndedAt     time.Time         `json:"ended_at,omitzero"`
	Message     string            `json:"message,omitempty"` // why the job ended as it did, when it did not succeed
	Labels      map[string]string `json:"labels,omitempty"`
}

// Executor runs jobs. Implementations are safe for concurrent use.
//
// Errors: an unknown job ID is a *ferry.Error with code ENOTFOUND; a Job that
// cannot be run as given (a bad ID, an empty command) is EINVALID; a job ID
// already used is ECONFLICT.
type Executor interface {
	// Submit starts j and returns its ID at once, without waiting for it to
	// run; the job then runs on its own until it ends or is cancelled, even
	// if ctx ends.
	Submit(ctx context.Context, j Job) (string, error)
	// Status returns the job's current status.
	Status(ctx context.Context, id string) (Status, error)
	// List returns the status of every job the executor knows, oldest first.
	List(ctx context.Context) ([]Status, error)
	// Logs returns the job's combined standard output and error as written so
	// far; with follow, the reader blocks for more until the job ends and then
	// returns io.EOF. The caller closes the reader.
	Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error)
	// Cancel stops the job (its whole process tree) and marks it Cancelled.
	// Cancelling an ended job does nothing and returns nil.
	Cancel(ctx context.Context, id string) error
}

// Waiter is implemented by executors that can tell when a job ends without
// being polled.
type Waiter interface {
	// Wait blocks until the job ends or ctx ends, and returns its status.
	Wait(ctx context.Context, id string) (Status, error)
}

// Wait blocks until the job id ends, or ctx ends, and returns its final
// status. It uses the executor's Wait when it implements Waiter, and otherwise
// asks for the status every poll.
func Wait(ctx context.Context, ex Executor, id string, poll time.Duration) (Status, error) {
	if w, ok := ex.(Waiter); ok {
		return w.Wait(ctx, id)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		st, err := ex.Status(ctx, id)
		if err != nil || st.State.Terminal() {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("job: wait for %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// checkID returns an EINVALID error unless id is a valid job ID.
func checkID(id string) error {
	if !validID.MatchString(id) {
		return ferry.Errorf(ferry.EINVALID, "invalid job ID %q: use 1 to 63 lowercase letters, digits and '-'", id)
	}
	return nil
}

// NewID returns a new random job ID of 12 hexadecimal digits.
func NewID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
