package process

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one run of the command.
type child struct {
	cmd    *exec.Cmd
	out    *outputTail
	outEOF chan struct{} // closed when the output pipe is closed by all writers
	exited chan struct{} // closed once the process has exited and been reaped
	err    error         // Wait's result; read after exited is closed
}

// spawn starts cfg's command in its own process group. Its output goes to log
// line by line.
func spawn(cfg Config, log *slog.Logger) (*child, error) {
	port := strconv.Itoa(cfg.Port)
	placeholders := strings.NewReplacer(PlaceholderPort, port, PlaceholderModelDir, cfg.ModelDir)
	args := make([]string, len(cfg.Command))
	for i, arg := range cfg.Command {
		args[i] = placeholders.Replace(arg)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = cfg.Dir
	cmd.Env = cfg.Env
	env := withoutKeys(cmd.Environ(), EnvPort, EnvFerryPort, EnvModelDir)
	env = append(env, EnvPort+"="+port, EnvFerryPort+"="+port)
	if cfg.ModelDir != "" {
		env = append(env, EnvModelDir+"="+cfg.ModelDir)
	}
	cmd.Env = env
	cmd.SysProcAttr = sysProcAttr()

	// One pipe for both streams, handed to the child as a file, so that Wait
	// returns when the child exits even if processes it started keep the
	// pipe open; the reader ends when the last of them closes it.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("process: output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		if errors.Is(err, exec.ErrNotFound) {
			return nil, invalidf("cannot start the model server: %q is not on PATH%s", clip(args[0]), notFoundHint(cfg))
		}
		return nil, invalidf("cannot start the model server %q: %v", clip(args[0]), unwrapExec(err))
	}
	w.Close()
	c := &child{cmd: cmd, out: &outputTail{}, outEOF: make(chan struct{}), exited: make(chan struct{})}
	pid := cmd.Process.Pid
	log.Info("process: model server started", "pid", pid, "command", strings.Join(args, " "), "port", cfg.Port)
	go func() {
		c.out.copy(r, log.With("pid", pid))
		close(c.outEOF)
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// notFoundHint says how to get the program of a command that is not on PATH.
func notFoundHint(cfg Config) string {
	if cfg.Protocol == ProtocolMLflow && cfg.Command[0] == DefaultMLflowCommand()[0] {
		return "; python_function models are served by 'mlflow models serve' (MLflow's scoring server): install MLflow with Python where Ferry runs (pip install mlflow, with the model's own requirements), or configure another command"
	}
	return "; install it or give its full path"
}

func unwrapExec(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// withoutKeys drops the entries of env named by keys.
func withoutKeys(env []string, keys ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, key := range keys {
			if k == key {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exitStatus describes how the process ended; "running" before it has.
func (c *child) exitStatus() string {
	select {
	case <-c.exited:
	default:
		return "running"
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ProcessState.String()
	}
	if c.err == nil {
		return "exit status 0"
	}
	return c.err.Error()
}

// lastOutput returns the last lines of output of an exited child, waiting a
// little for the reader to drain the pipe (processes the child started may
// hold it open longer).
func (c *child) lastOutput() []string {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.outEOF:
	case <-t.C:
	}
	return c.out.tail()
}

// terminate sends SIGTERM to the process group, SIGKILL after grace (or at
// once once the leader has exited, for what it left behind), and waits for the
// leader to exit.
func (c *child) terminate(grace time.Duration) {
	signalGroup(c.pid(), syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
	}
	c.killGroup()
	<-c.exited
}

// killGroup sends SIGKILL to the process group.
func (c *child) killGroup() { signalGroup(c.pid(), syscall.SIGKILL) }

// outputTail logs a child's output line by line and keeps its first lines
// (how it started) and its last lines (how it ended).
type outputTail struct {
	mu      sync.Mutex
	head    []string
	lines   []string
	dropped bool
}

const (
	headLines   = 3
	tailLines   = 10
	maxLineSize = 4096
)

func (o *outputTail) copy(r io.ReadCloser, log *slog.Logger) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLineSize)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			s := string(line)
			if isPrefix {
				s += "…"
				for isPrefix && err == nil { // drop the rest of a long line
					_, isPrefix, err = br.ReadLine()
				}
			}
			log.Info("process: model server output", "line", s)
			o.mu.Lock()
			if len(o.head) < headLines {
				o.head = append(o.head, s)
			} else {
				o.lines = append(o.lines, s)
				if len(o.lines) > tailLines {
					o.lines = o.lines[len(o.lines)-tailLines:]
					o.dropped = true
				}
			}
			o.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// tail returns the first and the last lines of output, with "…" between
// them where lines were dropped.
func (o *outputTail) tail() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append([]string(nil), o.head...)
	if o.dropped {
		out = append(out, "…")
	}
	return append(out, o.lines...)
}
