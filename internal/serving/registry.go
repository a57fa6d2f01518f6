package serving

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Resolver finds registered model versions and loads them, for
// RegistryHandler. Implementations must be safe for concurrent use.
type Resolver interface {
	// Resolve returns the version of the registered model name that ref
	// names: "" for the latest version, "@alias" for an alias, or a version
	// number or stage. It is called on every request, so that a moved alias
	// is followed at once; it should be a metadata lookup. Unknown models,
	// versions and aliases are ENOTFOUND.
	Resolve(ctx context.Context, name, ref string) (version string, err error)
	// Load loads a version. The caller owns the model and Closes it.
	Load(ctx context.Context, name, version string) (runtime.Model, *model.Signature, error)
}

// RegistryOptions configure RegistryHandler.
type RegistryOptions struct {
	// MaxLoaded bounds the model versions kept loaded; beyond it the least
	// recently used is unloaded (and Closed after its last request).
	// Default 8.
	MaxLoaded int
	// LoadTimeout bounds loading one version; default 5 minutes.
	LoadTimeout time.Duration
	// Batch is the adaptive batching of loaded models; the zero value is off.
	Batch BatchOptions
}

// RegistryHandler returns a handler of the V2 and V1 routes that serves
// registered models by name, loading versions on demand:
//
//	/v2/models/NAME/infer                  the latest version
//	/v2/models/NAME@ALIAS/infer            the version ALIAS points to now
//	/v2/models/NAME/versions/N/infer       version N (or a stage name)
//
// and likewise the metadata and ready routes, and POST
// /v1/models/NAME[@ALIAS]:predict. Loaded versions are cached (see
// RegistryOptions.MaxLoaded); when an alias moves, the next request loads
// the version it points to. It shares the Server's limits, metrics and
// request ids, and its models are unloaded by Server.Close. Mount it under
// /v2/ and /v1/models/.
func (s *Server) RegistryHandler(res Resolver, opts RegistryOptions) http.Handler {
	if opts.MaxLoaded <= 0 {
		opts.MaxLoaded = 8
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 5 * time.Minute
	}
	rm := &registryModels{s: s, res: res, opts: opts, loaded: map[string]*cached{}}
	s.mu.Lock()
	s.registries = append(s.registries, rm)
	s.mu.Unlock()
	mux := http.NewServeMux()
	s.routes(mux, rm, false)
	return s.wrap(mux)
}

// registryModels is the cache of loaded registered versions.
type registryModels struct {
	s    *Server
	res  Resolver
	opts RegistryOptions

	mu     sync.Mutex
	loaded map[string]*cached // name \x00 version
	tick   uint64
	closed bool
}

type cached struct {
	e       *entry        // nil while loading
	ready   chan struct{} // closed when loading ends
	err     error         // the load's error
	lastUse uint64
}

func (rm *registryModels) acquire(ctx context.Context, pathName, pathVersion string) (*entry, error) {
	name, alias, hasAlias := strings.Cut(pathName, "@")
	ref := pathVersion
	if hasAlias {
		if alias == "" || pathVersion != "" {
			return nil, invalidf("Name a model as NAME, NAME@ALIAS or NAME/versions/N, not '%s' with version '%s'.", clip(pathName), clip(pathVersion))
		}
		ref = "@" + alias
	}
	version, err := rm.res.Resolve(ctx, name, ref)
	if err != nil {
		return nil, err
	}
	key := name + "\x00" + version
	for {
		rm.mu.Lock()
		if rm.closed {
			rm.mu.Unlock()
			return nil, ferry.Errorf(ferry.EUNAVAILABLE, "The server is shutting down.")
		}
		c := rm.loaded[key]
		if c == nil {
			c = &cached{ready: make(chan struct{})}
			rm.loaded[key] = c
			rm.mu.Unlock()
			rm.load(ctx, c, key, name, version)
			if c.err != nil {
				return nil, c.err
			}
			continue
		}
		if c.e != nil {
			rm.tick++
			c.lastUse = rm.tick
			c.e.refs.Add(1)
			rm.mu.Unlock()
			return c.e, nil
		}
		rm.mu.Unlock()
		select {
		case <-c.ready:
			if c.err != nil {
				return nil, c.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// load loads a version into c, or records the error (and forgets c, so the
// next request tries again).
func (rm *registryModels) load(ctx context.Context, c *cached, key, name, version string) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rm.opts.LoadTimeout)
	defer cancel()
	start := time.Now()
	m, sig, err := rm.res.Load(lctx, name, version)
	var evicted []*entry
	defer func() {
		for _, e := range evicted {
			e.release() // Closes it after its last request; not under the lock
		}
	}()
	rm.mu.Lock()
	defer rm.mu.Unlock()
	defer close(c.ready)
	if err != nil {
		rm.s.metrics.loads.WithLabelValues(name, "error").Inc()
		rm.s.log.ErrorContext(ctx, "loading registered model", "model", name, "version", version, "err", err)
		c.err = fmt.Errorf("serving: load %s version %s: %w", name, version, err)
		delete(rm.loaded, key)
		return
	}
	rm.s.metrics.loads.WithLabelValues(name, "ok").Inc()
	rm.s.log.Info("loaded registered model", "model", name, "version", version, "duration", time.Since(start))
	if rm.closed {
		delete(rm.loaded, key)
		if err := m.Close(); err != nil {
			rm.s.log.Error("closing model", "model", name, "version", version, "err", err)
		}
		c.err = ferry.Errorf(ferry.EUNAVAILABLE, "The server is shutting down.")
		return
	}
	c.e = rm.s.newEntry(name, version, m, sig, modelOptions{batch: rm.opts.Batch})
	rm.tick++
	c.lastUse = rm.tick
	evicted = rm.evictLocked()
}

// evictLocked forgets the least recently used versions beyond MaxLoaded
// and returns them, for the caller to release once it has unlocked.
func (rm *registryModels) evictLocked() []*entry {
	var evicted []*entry
	for {
		n := 0
		var oldest string
		var oldestUse uint64
		for k, c := range rm.loaded {
			if c.e == nil {
				continue
			}
			n++
			if oldest == "" || c.lastUse < oldestUse {
				oldest, oldestUse = k, c.lastUse
			}
		}
		if n <= rm.opts.MaxLoaded {
			return evicted
		}
		evicted = append(evicted, rm.loaded[oldest].e)
		delete(rm.loaded, oldest)
	}
}

// close unloads every version.
func (rm *registryModels) close() {
	rm.mu.Lock()
	rm.closed = true
	var entries []*entry
	for k, c := range rm.loaded {
		if c.e != nil {
			entries = append(entries, c.e)
			delete(rm.loaded, k)
		}
	}
	rm.mu.Unlock()
	for _, e := range entries {
		e.release()
	}
}
