package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// Runs is what the registry needs from tracking: the run a version comes from.
type Runs interface {
	GetRun(ctx context.Context, id string) (tracking.Run, error)
}

// Service is the registry stage's API. Principals are explicit arguments: the
// user or token owner on whose behalf a call is made. It is safe for
// concurrent use.
type Service struct {
	store     Store
	runs      Runs
	artifacts blob.Store
	policy    *Policy
	now       func() time.Time
	log       *slog.Logger
}

// Options configure a Service.
type Options struct {
	Policy *Policy // nil: no rules
	Now    func() time.Time
	Log    *slog.Logger
}

// NewService returns a registry over store, reading run artifacts and keeping
// version copies in artifacts.
func NewService(store Store, runs Runs, artifacts blob.Store, opts Options) *Service {
	s := &Service{store: store, runs: runs, artifacts: artifacts, policy: opts.Policy, now: opts.Now, log: opts.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Service) millis() int64 { return s.now().UnixMilli() }

func (s *Service) event(principal, action, name string, version int, from, to, reason string) AuditEvent {
	if principal == "" {
		principal = "anonymous"
	}
	return AuditEvent{Time: s.millis(), Principal: principal, Action: action, Model: name, Version: version, From: from, To: to, Reason: reason}
}

// CreateModel registers a model name; a taken name is ECONFLICT.
func (s *Service) CreateModel(ctx context.Context, principal, name, description string, tags []Tag) (Model, error) {
	if err := ValidateModelName(name); err != nil {
		return Model{}, err
	}
	now := s.millis()
	m := Model{Name: name, Description: description, CreationTime: now, LastUpdatedTime: now, Tags: tags}
	if err := s.store.CreateModel(ctx, m, s.event(principal, ActionCreateModel, name, 0, "", name, "")); err != nil {
		return Model{}, err
	}
	return s.store.GetModel(ctx, name)
}

// GetModel returns a registered model with its aliases.
func (s *Service) GetModel(ctx context.Context, name string) (Model, error) {
	return s.store.GetModel(ctx, name)
}

// Store returns the underlying store, for reads the service does not wrap.
func (s *Service) Store() Store { return s.store }

// RegisterVersion registers a new version of name from source: runs:/RUN/path
// or an mlflow-artifacts: URI of a model package. The package is copied into
// the registry's own storage (so the version is immutable), its digests are
// verified, and its lineage is recorded. The model is created when absent
// and create is set. The same package registered twice is ECONFLICT.
func (s *Service) RegisterVersion(ctx context.Context, principal, name, source, runID, description string, tags []Tag, create bool) (Version, error) {
	if err := ValidateModelName(name); err != nil {
		return Version{}, err
	}
	_, err := s.store.GetModel(ctx, name)
	missing := ferry.ErrorCode(err) == ferry.ENOTFOUND
	if err != nil && !(missing && create) {
		return Version{}, err
	}
	key, run, err := s.resolveSource(ctx, source, runID)
	if err != nil {
		return Version{}, err
	}
	tmp, err := os.MkdirTemp("", "ferry-register-")
	if err != nil {
		return Version{}, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "model")
	if err := s.download(ctx, key, dir); err != nil {
		return Version{}, err
	}
	pkg, err := model.Load(ctx, dir)
	if err != nil {
		return Version{}, fmt.Errorf("registry: %s is not a valid model package: %w", source, err)
	}
	v := Version{
		Name: name, CreationTime: s.millis(), Description: description, UserID: principal, Stage: StageNone,
		Source: source, RunID: run, Status: StatusReady, Tags: tags,
	}
	v.LastUpdatedTime = v.CreationTime
	v.ModelDigest = pkg.Digest()
	if v.ModelDigest == "" {
		hexDigest, err := dataset.FileDigest(ctx, filepath.Join(dir, model.ManifestFile))
		if err != nil {
			return Version{}, err
		}
		v.ModelDigest = "sha256:" + hexDigest
	}
	if info := pkg.Info; info != nil {
		v.GitCommit, v.GitDirty = info.Lineage.GitCommit, info.Lineage.GitDirty
		for _, d := range info.Lineage.Datasets {
			v.DatasetDigests = append(v.DatasetDigests, d.Digest)
		}
		if v.RunID == "" {
			v.RunID = info.Lineage.RunID
		}
	}
	// The package is valid: only now may a missing model be created, so that a
	// failed registration leaves nothing behind.
	if missing {
		if _, err := s.CreateModel(ctx, principal, name, "", nil); err != nil && ferry.ErrorCode(err) != ferry.ECONFLICT {
			return Version{}, err
		}
	}
	v.StorageURI = "registry/" + name + "/" + strings.TrimPrefix(v.ModelDigest, "sha256:")
	if err := s.upload(ctx, dir, v.StorageURI); err != nil {
		return Version{}, err
	}
	out, err := s.store.CreateVersion(ctx, v, s.event(principal, ActionCreateVersion, name, 0, "", v.ModelDigest, source))
	if ferry.ErrorCode(err) == ferry.ECONFLICT {
		return Version{}, s.duplicate(ctx, name, v.ModelDigest, err)
	}
	if err != nil {
		return Version{}, err
	}
	return out, nil
}

// duplicate names the version that already holds the package with digest,
// for the ECONFLICT the store gave (one version per package per model).
func (s *Service) duplicate(ctx context.Context, name, digest string, conflict error) error {
	vs, _, err := s.store.SearchVersions(ctx, VersionQuery{Name: name, MaxResults: MaxVersionsScanned})
	if err != nil {
		return conflict
	}
	for _, d := range vs {
		if d.ModelDigest == digest {
			return ferry.Errorf(ferry.ECONFLICT, "This model package is already registered as %s version %d (digest %s).", name, d.Version, digest)
		}
	}
	return conflict
}

// resolveSource maps a model source to the artifact-store key of the package.
func (s *Service) resolveSource(ctx context.Context, source, runID string) (key, run string, err error) {
	switch {
	case strings.HasPrefix(source, "runs:/"):
		rest := strings.TrimPrefix(source, "runs:/")
		id, path, _ := strings.Cut(rest, "/")
		r, err := s.runs.GetRun(ctx, id)
		if err != nil {
			return "", "", err
		}
		root, ok := strings.CutPrefix(r.Info.ArtifactURI, "mlflow-artifacts:")
		if !ok {
			return "", "", invalid("The artifacts of run %s are at %s, outside this server; register from an mlflow-artifacts: URI.", id, r.Info.ArtifactURI)
		}
		k, err := blob.CleanKey(strings.TrimPrefix(root, "/") + "/" + path)
		return k, id, err
	case strings.HasPrefix(source, "mlflow-artifacts:"):
		k, err := blob.CleanKey(strings.TrimLeft(strings.TrimPrefix(source, "mlflow-artifacts:"), "/"))
		return k, runID, err
	}
	return "", "", invalid("Model source %q is not supported: use runs:/<run_id>/<path> or an mlflow-artifacts: URI.", source)
}

// download copies every file under key into dir.
func (s *Service) download(ctx context.Context, key, dir string) error {
	entries, err := s.artifacts.List(ctx, key)
	if err != nil {
		return err
	}
	if len(entries) == 0 && dir != "" {
		return ferry.Errorf(ferry.ENOTFOUND, "No model package at %s: the path holds no files.", key)
	}
	for _, e := range entries {
		local := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(e.Path, key+"/")))
		if e.IsDir {
			if err := s.download(ctx, e.Path, local); err != nil {
				return err
			}
			continue
		}
		if err := s.copyOut(ctx, e.Path, local); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) copyOut(ctx context.Context, key, local string) error {
	rc, _, err := s.artifacts.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return err
	}
	f, err := os.Create(local)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("registry: copy %s: %w", key, err)
	}
	return f.Close()
}

// upload copies every file under dir to the artifact store under key.
func (s *Service) upload(ctx context.Context, dir, key string) error {
	return model.EachFile(dir, func(rel string, r io.Reader) error {
		_, err := s.artifacts.Put(ctx, key+"/"+rel, r)
		return err
	})
}

// FetchVersion copies a version's package into dir and loads it, verifying
// every digest.
func (s *Service) FetchVersion(ctx context.Context, v Version, dir string) (*model.Package, error) {
	if err := s.download(ctx, v.StorageURI, dir); err != nil {
		return nil, err
	}
	return model.Load(ctx, dir)
}

// Resolve finds the version a model URI names: models:/name/3,
// models:/name@alias, models:/name@latest, models:/name/Production (the
// latest version in that stage).
func (s *Service) Resolve(ctx context.Context, uri string) (Version, error) {
	rest, ok := strings.CutPrefix(uri, "models:/")
	if !ok {
		return Version{}, invalid("Model URI %q: want models:/name/version, models:/name@alias or models:/name/stage.", uri)
	}
	if name, alias, ok := strings.Cut(rest, "@"); ok {
		if alias == "latest" {
			return s.latest(ctx, name, "")
		}
		if err := ValidateAlias(alias); err != nil {
			return Version{}, err
		}
		v, err := s.store.GetAlias(ctx, name, alias)
		if err != nil {
			return Version{}, err
		}
		return s.store.GetVersion(ctx, name, v)
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return Version{}, invalid("Model URI %q: want models:/name/version, models:/name@alias or models:/name/stage.", uri)
	}
	name, ref := rest[:i], rest[i+1:]
	if n, err := strconv.Atoi(ref); err == nil {
		return s.store.GetVersion(ctx, name, n)
	}
	stage, err := NormalizeStage(ref)
	if err != nil {
		return Version{}, invalid("Model URI %q: %q is neither a version number nor a stage.", uri, ref)
	}
	return s.latest(ctx, name, stage)
}

// latest returns the newest version of name (in stage, when set).
func (s *Service) latest(ctx context.Context, name, stage string) (Version, error) {
	vs, _, err := s.store.SearchVersions(ctx, VersionQuery{Name: name, MaxResults: MaxVersionsScanned})
	if err != nil {
		return Version{}, err
	}
	var best Version
	for _, v := range vs {
		if (stage == "" || v.Stage == stage) && v.Version > best.Version {
			best = v
		}
	}
	if best.Version == 0 {
		if _, err := s.store.GetModel(ctx, name); err != nil {
			return Version{}, err
		}
		where := ""
		if stage != "" {
			where = " in stage " + stage
		}
		return Version{}, ferry.Errorf(ferry.ENOTFOUND, "Registered model '%s' has no versions%s.", name, where)
	}
	return best, nil
}

// LatestVersions returns the newest version in each stage (every stage when
// stages is empty), as MLflow's get-latest-versions does.
func (s *Service) LatestVersions(ctx context.Context, name string, stages []string) ([]Version, error) {
	if _, err := s.store.GetModel(ctx, name); err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		stages = []string{StageNone, StageStaging, StageProduction, StageArchived}
	}
	var out []Version
	for _, st := range stages {
		norm, err := NormalizeStage(st)
		if err != nil {
			return nil, err
		}
		v, err := s.latest(ctx, name, norm)
		if ferry.ErrorCode(err) == ferry.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// MaxVersionsScanned bounds the versions of one model read when looking for
// the latest one or a duplicate package.
const MaxVersionsScanned = 50000

// Blocked is the error of a promotion the policy does not allow yet.
func blocked(format string, args ...any) error {
	return ferry.Errorf(ferry.EUNAUTHORIZED, format, args...)
}

// Promote moves a version to target — a stage ("Production") or an alias
// ("@champion") — when the policy allows it, recording the move in the audit
// trail. When the policy requires an approval that does not exist yet, it
// files a pending request and answers EUNAUTHORIZED saying who must approve;
// a missing check is EUNAUTHORIZED naming the check. archiveExisting moves the
// target stage's other versions to Archived.
func (s *Service) Promote(ctx context.Context, principal, name string, version int, target, reason string, archiveExisting bool) (Version, error) {
	target, err := normalizeTarget(target)
	if err != nil {
		return Version{}, err
	}
	v, err := s.store.GetVersion(ctx, name, version)
	if err != nil {
		return Version{}, err
	}
	req := s.policy.Requirement(name, target)
	if len(req.Checks) > 0 {
		checks, err := s.store.ListChecks(ctx, name, version)
		if err != nil {
			return Version{}, err
		}
		for _, kind := range req.Checks {
			if verdict := latestVerdict(checks, kind); verdict != "pass" {
				msg := fmt.Sprintf("%s version %d cannot move to %s: the policy requires a passing %q check", name, version, target, kind)
				if verdict == "" {
					msg += ", and there is none. Record one (ferry validate, or ferry models check) and try again."
				} else {
					msg += fmt.Sprintf(", and the latest one says %q. Fix the model, re-check it, and try again.", verdict)
				}
				_ = s.store.AppendAudit(ctx, s.event(principal, ActionPromoteBlocked, name, version, v.Stage, target, msg))
				return Version{}, blocked("%s", msg)
			}
		}
	}
	var approval *Request
	if req.Approval {
		reqs, err := s.store.FindRequests(ctx, name, version, target)
		if err != nil {
			return Version{}, err
		}
		for i := range reqs {
			r := &reqs[i]
			if r.Status == RequestApproved && r.DecidedBy != r.RequestedBy {
				approval = r
			}
		}
		if approval == nil {
			pending := false
			for _, r := range reqs {
				pending = pending || r.Status == RequestPending
			}
			if !pending {
				r := Request{Model: name, Version: version, Target: target, RequestedBy: principalOr(principal), RequestedAt: s.millis(), Reason: reason, Status: RequestPending}
				if _, err := s.store.CreateRequest(ctx, r, s.event(principal, ActionRequest, name, version, v.Stage, target, reason)); err != nil {
					return Version{}, err
				}
			}
			return Version{}, blocked("%s version %d cannot move to %s yet: the policy requires an approval by a principal other than the requester. A request is pending; ask a reviewer to run: ferry models approve %s %d --to %s",
				name, version, target, name, version, strings.ToLower(strings.TrimPrefix(target, "@")))
		}
	}
	why := reason
	if approval != nil {
		why = strings.TrimSpace(fmt.Sprintf("%s (approved by %s, request %d)", reason, approval.DecidedBy, approval.ID))
	}
	if alias, ok := strings.CutPrefix(target, "@"); ok {
		if _, err := s.store.SetAlias(ctx, name, alias, version, s.event(principal, ActionSetAlias, name, version, "", target, why)); err != nil {
			return Version{}, err
		}
		return s.store.GetVersion(ctx, name, version)
	}
	return s.store.TransitionStage(ctx, name, version, target, archiveExisting, s.event(principal, ActionTransition, name, version, v.Stage, target, why))
}

func principalOr(p string) string {
	if p == "" {
		return "anonymous"
	}
	return p
}

func latestVerdict(checks []Check, kind string) string {
	verdict := ""
	var at int64 = -1
	for _, c := range checks {
		if c.Kind == kind && c.CreatedAt >= at {
			verdict, at = c.Verdict, c.CreatedAt
		}
	}
	return verdict
}

// normalizeTarget canonicalises "production" to "Production" and checks
// "@alias" names.
func normalizeTarget(target string) (string, error) {
	if alias, ok := strings.CutPrefix(target, "@"); ok {
		return target, ValidateAlias(alias)
	}
	if st, err := NormalizeStage(target); err == nil {
		return st, nil
	}
	if ValidateAlias(target) == nil {
		return "@" + target, nil
	}
	return "", invalid("Promotion target %q is neither a stage (None, Staging, Production, Archived) nor an alias (@name).", target)
}

// Decide approves or rejects the pending request to move a version to target.
// Approving one's own request is EUNAUTHORIZED.
func (s *Service) Decide(ctx context.Context, principal, name string, version int, target string, approve bool, comment string) (Request, error) {
	target, err := normalizeTarget(target)
	if err != nil {
		return Request{}, err
	}
	reqs, err := s.store.FindRequests(ctx, name, version, target)
	if err != nil {
		return Request{}, err
	}
	var pending *Request
	for i := range reqs {
		if reqs[i].Status == RequestPending {
			pending = &reqs[i]
		}
	}
	if pending == nil {
		return Request{}, ferry.Errorf(ferry.ENOTFOUND, "There is no pending request to move %s version %d to %s; it is filed when someone runs: ferry models promote %s %d --to %s",
			name, version, target, name, version, strings.ToLower(strings.TrimPrefix(target, "@")))
	}
	principal = principalOr(principal)
	status, action := RequestRejected, ActionReject
	if approve {
		status, action = RequestApproved, ActionApprove
		if principal == pending.RequestedBy {
			_ = s.store.AppendAudit(ctx, s.event(principal, ActionPromoteBlocked, name, version, "", target, "self-approval refused"))
			return Request{}, blocked("%s requested this promotion and cannot approve it: the policy requires an approval by another principal.", principal)
		}
	}
	return s.store.DecideRequest(ctx, pending.ID, status, principal, comment, s.millis(), s.event(principal, action, name, version, "", target, comment))
}

// RecordCheck records the verdict of a check on a version (e.g. a
// validation); promotion rules read the latest one of each kind.
func (s *Service) RecordCheck(ctx context.Context, principal, name string, version int, kind, verdict, details string) (Check, error) {
	if kind == "" || (verdict != "pass" && verdict != "fail") {
		return Check{}, invalid("A check needs a kind and a verdict of pass or fail (got kind %q, verdict %q).", kind, verdict)
	}
	if _, err := s.store.GetVersion(ctx, name, version); err != nil {
		return Check{}, err
	}
	c := Check{Model: name, Version: version, Kind: kind, Verdict: verdict, Details: details, CreatedBy: principalOr(principal), CreatedAt: s.millis()}
	return s.store.AddCheck(ctx, c, s.event(principal, ActionRecordCheck, name, version, "", kind+":"+verdict, ""))
}

// SetAlias points an alias at a version, under the policy's rules for it.
func (s *Service) SetAlias(ctx context.Context, principal, name, alias string, version int, reason string) (Version, error) {
	return s.Promote(ctx, principal, name, version, "@"+alias, reason, false)
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, principal, name, alias string) error {
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	return s.store.DeleteAlias(ctx, name, alias, s.event(principal, ActionDeleteAlias, name, 0, "@"+alias, "", ""))
}

// History returns a model's audit trail, oldest first.
func (s *Service) History(ctx context.Context, name string) ([]AuditEvent, error) {
	if _, err := s.store.GetModel(ctx, name); err != nil {
		return nil, err
	}
	return s.store.ListAudit(ctx, name)
}
