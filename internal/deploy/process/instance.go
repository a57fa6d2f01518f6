package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// servingLine is the line `ferry serve` prints on its standard output once
// it listens: "Serving NAME version V (PLATFORM) on http://ADDR".
var servingLine = regexp.MustCompile(`^Serving .* on http://(\S+)$`)

// Probe paths of `ferry serve`.
const (
	readyPath = "/v2/health/ready"
	livePath  = "/v2/health/live"
)

// Probe defaults, in seconds (counts for the thresholds), for the fields a
// deployment's readiness_probe and liveness_probe leave zero. An instance is
// probed as soon as it reports its address, which it does once it serves.
var (
	defaultReadiness = deploy.Probe{InitialDelay: 0, Period: 1, Timeout: 2, FailureThreshold: 3, SuccessThreshold: 1}
	defaultLiveness  = deploy.Probe{InitialDelay: 0, Period: 10, Timeout: 2, FailureThreshold: 3, SuccessThreshold: 1}
)

func probeOrDefault(p *deploy.Probe, def deploy.Probe) deploy.Probe {
	if p == nil {
		return def
	}
	out := *p
	if out.Period == 0 {
		out.Period = def.Period
	}
	if out.Timeout == 0 {
		out.Timeout = def.Timeout
	}
	if out.FailureThreshold == 0 {
		out.FailureThreshold = def.FailureThreshold
	}
	if out.SuccessThreshold == 0 {
		out.SuccessThreshold = def.SuccessThreshold
	}
	return out
}

// instance is one run of a child.
type instance struct {
	idx     int
	proc    *os.Process
	pid     int
	started time.Time

	addr      atomic.Pointer[string] // set once the child reported it
	addrReady chan struct{}          // closed then

	ready       atomic.Bool   // the readiness probe's verdict; false once exited
	draining    atomic.Bool   // being stopped: no new requests
	becameReady chan struct{} // closed the first time it is ready
	readyOnce   sync.Once

	lastLine atomic.Pointer[string] // the last line of output
	exited   chan struct{}          // closed once the process was reaped
	status   string                 // how it exited; read after exited
}

// routable reports whether requests may go to in: it is ready, not being
// stopped, and has not exited.
func (in *instance) routable() bool {
	select {
	case <-in.exited:
		return false
	default:
		return in.ready.Load() && !in.draining.Load()
	}
}

func (in *instance) address() string {
	if a := in.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// exitReport says how an exited instance ended, with its last line of
// output when it never became ready.
func (in *instance) exitReport() string {
	select {
	case <-in.becameReady:
		return fmt.Sprintf("pid %d exited (%s)", in.pid, in.status)
	default:
	}
	msg := fmt.Sprintf("pid %d exited (%s) before it was ready", in.pid, in.status)
	if l := in.lastLine.Load(); l != nil {
		msg += "; its last output: " + *l
	}
	return msg
}

// spawn starts a child in slot idx, and the goroutines that read its
// output, reap it and probe it. The child is in d.live from the start;
// requests go to it once it is ready.
func (d *Deployment) spawn(idx int) (*instance, error) {
	args := append(append([]string(nil), d.opts.Command[1:]...), d.pkgDir,
		"--name", d.endpoint, "--addr", "127.0.0.1:0", "--timeout", d.timeout.String())
	if n := d.spec.RequestSettings.MaxConcurrentRequestsPerInstance; n > 0 {
		args = append(args, "--max-in-flight", strconv.Itoa(n))
	}
	if n := d.spec.RequestSettings.MaxBatchSize; n > 1 {
		args = append(args, "--batch-max", strconv.Itoa(n))
	}
	cmd := exec.Command(d.opts.Command[0], args...)
	cmd.Dir = d.workDir
	cmd.Env = os.Environ()
	if d.version != "" {
		cmd.Env = append(cmd.Env, "FERRY_MODEL_VERSION="+d.version)
	}
	keys := make([]string, 0, len(d.spec.EnvironmentVariables))
	for k := range d.spec.EnvironmentVariables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+d.spec.EnvironmentVariables[k])
	}
	cmd.SysProcAttr = sysProcAttr()
	// Pipes handed to the child as files, so that Wait does not wait for
	// the readers, which end when the last writer closes them.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("cannot start %s: %w", d.opts.Command[0], err)
	}
	in := &instance{
		idx: idx, proc: cmd.Process, pid: cmd.Process.Pid, started: d.opts.Now(),
		addrReady: make(chan struct{}), becameReady: make(chan struct{}), exited: make(chan struct{}),
	}
	d.event(idx, "started pid %d: %s", in.pid, strings.Join(cmd.Args, " "))
	d.add(in)
	d.wg.Add(4)
	go func() {
		defer d.wg.Done()
		d.readOutput(in, outR, true)
	}()
	go func() {
		defer d.wg.Done()
		d.readOutput(in, errR, false)
	}()
	go func() {
		defer d.wg.Done()
		err := cmd.Wait()
		in.ready.Store(false)
		in.status = "exit status 0"
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			in.status = ee.ProcessState.String()
		} else if err != nil {
			in.status = err.Error()
		}
		close(in.exited)
	}()
	go func() {
		defer d.wg.Done()
		d.watch(in)
	}()
	return in, nil
}

// maxLine bounds a line of a child's output; the rest of a longer line is
// dropped.
const maxLine = 4096

// readOutput copies a child's output into the log line by line; on standard
// output it looks for the line with the address.
func (d *Deployment) readOutput(in *instance, r io.ReadCloser, stdout bool) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLine)
	for {
		b, isPrefix, err := br.ReadLine()
		if len(b) > 0 || (err == nil && !isPrefix) {
			s := string(b)
			for isPrefix && err == nil {
				_, isPrefix, err = br.ReadLine()
				s = strings.TrimSuffix(s, "…") + "…"
			}
			d.line(in.idx, s)
			d.log.Debug("process: instance output", "instance", in.idx, "pid", in.pid, "line", s)
			in.lastLine.Store(&s)
			if m := servingLine.FindStringSubmatch(s); stdout && m != nil && in.addr.Load() == nil {
				in.addr.Store(&m[1])
				close(in.addrReady)
			}
		}
		if err != nil {
			return
		}
	}
}

// watch waits for in to report its address (killing it if it does not
// within StartTimeout), then probes it until it exits: readiness decides
// whether it gets requests, liveness failures kill it.
func (d *Deployment) watch(in *instance) {
	t := time.NewTimer(d.opts.StartTimeout)
	select {
	case <-in.addrReady:
		t.Stop()
	case <-in.exited:
		t.Stop()
		return
	case <-t.C:
		d.event(in.idx, "pid %d did not report its address within %s; killing it", in.pid, d.opts.StartTimeout)
		signal(in.proc, syscall.SIGKILL)
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		failures := 0
		p := probeOrDefault(d.spec.LivenessProbe, defaultLiveness)
		d.probe(in, p, livePath, func(ok bool) bool {
			if ok {
				failures = 0
				return true
			}
			if failures++; failures < p.FailureThreshold {
				return true
			}
			d.event(in.idx, "pid %d failed its liveness probe %d times in a row; killing it", in.pid, failures)
			signal(in.proc, syscall.SIGKILL)
			return false
		})
	}()
	succ, fail := 0, 0
	p := probeOrDefault(d.spec.ReadinessProbe, defaultReadiness)
	d.probe(in, p, readyPath, func(ok bool) bool {
		if ok {
			succ, fail = succ+1, 0
		} else {
			succ, fail = 0, fail+1
		}
		switch {
		case ok && succ >= p.SuccessThreshold && !in.ready.Load():
			in.ready.Store(true)
			d.event(in.idx, "pid %d ready on %s", in.pid, in.address())
			in.readyOnce.Do(func() { close(in.becameReady) })
		case !ok && fail >= p.FailureThreshold && in.ready.Load():
			in.ready.Store(false)
			d.event(in.idx, "pid %d not ready: its readiness probe failed %d times in a row", in.pid, fail)
		}
		return true
	})
}

// probe runs GET path on in per p, calling report with each result, until
// report returns false or in exits or is being stopped.
func (d *Deployment) probe(in *instance, p deploy.Probe, path string, report func(ok bool) bool) {
	wait := time.Duration(p.InitialDelay) * time.Second
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-in.exited:
			return
		case <-t.C:
		}
		if in.draining.Load() {
			return
		}
		ok := d.check(in, path, time.Duration(p.Timeout)*time.Second)
		if d.ctx.Err() != nil || !report(ok) {
			return
		}
		t.Reset(time.Duration(p.Period) * time.Second)
	}
}

// check reports whether GET path on in answers 200 within timeout.
func (d *Deployment) check(in *instance, path string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.address()+path, nil)
	if err != nil {
		return false
	}
	resp, err := d.transport.RoundTrip(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop stops in gracefully: no new requests, SIGTERM (the child finishes the
// requests it is serving), SIGKILL after StopGrace; it returns once in has
// exited.
func (d *Deployment) stop(in *instance) {
	in.draining.Store(true)
	d.remove(in)
	signal(in.proc, syscall.SIGTERM)
	t := time.NewTimer(d.opts.StopGrace)
	defer t.Stop()
	select {
	case <-in.exited:
	case <-t.C:
		d.event(in.idx, "pid %d did not stop within %s; killing it", in.pid, d.opts.StopGrace)
	}
	signal(in.proc, syscall.SIGKILL) // and anything it left behind
	<-in.exited
	d.event(in.idx, "pid %d stopped (%s)", in.pid, in.status)
	d.transport.CloseIdleConnections()
}
