package process

import (
	"io"
	"sync"
)

// ring keeps the last lines of a deployment's log — its children's output
// and the supervisor's events — and appends every line to a file too. It is
// safe for concurrent use.
type ring struct {
	mu    sync.Mutex
	lines []string // a circular buffer of cap lines once full
	next  int      // where the next line goes once full
	file  io.Writer
}

func newRing(size int, file io.Writer) *ring {
	return &ring{lines: make([]string, 0, size), file: file}
}

func (r *ring) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file != nil {
		_, _ = io.WriteString(r.file, line+"\n")
	}
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, line)
		return
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
}

// last returns the last n lines, oldest first; n <= 0 means all that are kept.
func (r *ring) last(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
	if n > 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}
