package registry

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// Runs is what the registry needs from tracking: the run a version comes
// from (named by its ID or a unique prefix of it), or the MLflow 3 logged
// model; *tracking.Service is one.
type Runs interface {
	GetRun(ctx context.Context, id string) (tracking.Run, error)
	ResolveRunID(ctx context.Context, ref string) (string, error)
	GetLoggedModel(ctx context.Context, id string) (tracking.LoggedModel, error)
}

// Service is the registry stage's API and the only way in to its use cases.
// Every method that changes state acts for the principal its context carries
// (auth.PrincipalFrom) and records it in the audit trail, in the same store
// transaction as the change. It is safe for concurrent use.
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

// event builds the audit event of an action by ctx's principal. It is the
// only place events are built.
func (s *Service) event(ctx context.Context, action, name string, version int, from, to, reason string) AuditEvent {
	return AuditEvent{Time: s.millis(), Principal: auth.PrincipalFrom(ctx), Action: action, Model: name, Version: version, From: from, To: to, Reason: reason}
}

// CreateModel registers a model name; a taken name is ECONFLICT.
func (s *Service) CreateModel(ctx context.Context, name, description string, tags []Tag) (Model, error) {
	if err := ValidateModelName(name); err != nil {
		return Model{}, err
	}
	now := s.millis()
	m := Model{Name: name, Description: description, CreationTime: now, LastUpdatedTime: now, Tags: tags}
	if err := s.store.CreateModel(ctx, m, s.event(ctx, ActionCreateModel, name, 0, "", name, "")); err != nil {
		return Model{}, err
	}
	return s.store.GetModel(ctx, name)
}

// GetModel returns a registered model with its aliases and latest version
// per stage; an unknown name is ENOTFOUND.
func (s *Service) GetModel(ctx context.Context, name string) (Model, error) {
	m, err := s.store.GetModel(ctx, name)
	if err != nil {
		return Model{}, err
	}
	ms := []Model{m}
	if err := s.withLatest(ctx, ms); err != nil {
		return Model{}, err
	}
	return ms[0], nil
}

// RenameModel renames a registered model, its versions, requests and checks.
// A taken new name is ECONFLICT; an unknown name ENOTFOUND.
func (s *Service) RenameModel(ctx context.Context, name, newName string) (Model, error) {
	if err := ValidateModelName(newName); err != nil {
		return Model{}, err
	}
	if err := s.store.RenameModel(ctx, name, newName, s.event(ctx, ActionRenameModel, name, 0, name, newName, "")); err != nil {
		return Model{}, err
	}
	return s.GetModel(ctx, newName)
}

// SetModelDescription replaces a registered model's description.
func (s *Service) SetModelDescription(ctx context.Context, name, description string) (Model, error) {
	if err := s.store.UpdateModel(ctx, name, description, s.millis()); err != nil {
		return Model{}, err
	}
	return s.GetModel(ctx, name)
}

// DeleteModel deletes a registered model with its versions, aliases,
// requests and checks; its audit trail is kept.
func (s *Service) DeleteModel(ctx context.Context, name string) error {
	return s.store.DeleteModel(ctx, name, s.event(ctx, ActionDeleteModel, name, 0, name, "", ""))
}

// SetModelTag sets a tag of a registered model.
func (s *Service) SetModelTag(ctx context.Context, name string, t Tag) error {
	return s.store.SetModelTag(ctx, name, t)
}

// DeleteModelTag deletes a tag of a registered model; a missing tag is
// ENOTFOUND.
func (s *Service) DeleteModelTag(ctx context.Context, name, key string) error {
	return s.store.DeleteModelTag(ctx, name, key)
}

// GetVersion returns a model version; an unknown model or version is
// ENOTFOUND.
func (s *Service) GetVersion(ctx context.Context, name string, version int) (Version, error) {
	return s.store.GetVersion(ctx, name, version)
}

// SetVersionDescription replaces a version's description.
func (s *Service) SetVersionDescription(ctx context.Context, name string, version int, description string) (Version, error) {
	if err := s.store.UpdateVersion(ctx, name, version, description, s.millis()); err != nil {
		return Version{}, err
	}
	return s.store.GetVersion(ctx, name, version)
}

// DeleteVersion deletes a model version with its aliases, requests and
// checks. Its number is not reused.
func (s *Service) DeleteVersion(ctx context.Context, name string, version int) error {
	return s.store.DeleteVersion(ctx, name, version, s.event(ctx, ActionDeleteVersion, name, version, strconv.Itoa(version), "", ""))
}

// SetVersionTag sets a tag of a version.
func (s *Service) SetVersionTag(ctx context.Context, name string, version int, t Tag) error {
	return s.store.SetVersionTag(ctx, name, version, t)
}

// DeleteVersionTag deletes a tag of a version; a missing tag is ENOTFOUND.
func (s *Service) DeleteVersionTag(ctx context.Context, name string, version int, key string) error {
	return s.store.DeleteVersionTag(ctx, name, version, key)
}

// VersionByAlias returns the version an alias points at; an invalid alias is
// EINVALID, an unknown one ENOTFOUND.
func (s *Service) VersionByAlias(ctx context.Context, name, alias string) (Version, error) {
	if err := ValidateAlias(alias); err != nil {
		return Version{}, err
	}
	n, err := s.store.GetAlias(ctx, name, alias)
	if err != nil {
		return Version{}, err
	}
	return s.store.GetVersion(ctx, name, n)
}

// stageRank orders stages as MLflow lists them.
func stageRank(stage string) int {
	switch stage {
	case StageNone:
		return 0
	case StageStaging:
		return 1
	case StageProduction:
		return 2
	}
	return 3
}

// withLatest fills the Latest versions of ms with one store query.
func (s *Service) withLatest(ctx context.Context, ms []Model) error {
	if len(ms) == 0 {
		return nil
	}
	names := make([]string, len(ms))
	idx := make(map[string]int, len(ms))
	for i, m := range ms {
		names[i], idx[m.Name] = m.Name, i
	}
	vs, err := s.store.LatestVersions(ctx, names)
	if err != nil {
		return err
	}
	sort.Slice(vs, func(i, j int) bool { return stageRank(vs[i].Stage) < stageRank(vs[j].Stage) })
	for _, v := range vs {
		if i, ok := idx[v.Name]; ok {
			ms[i].Latest = append(ms[i].Latest, v)
		}
	}
	return nil
}

// LatestVersions returns the newest version in each of stages (every stage
// when empty), in the order asked, as MLflow's get-latest-versions does. An
// unknown model is ENOTFOUND, an unknown stage EINVALID.
func (s *Service) LatestVersions(ctx context.Context, name string, stages []string) ([]Version, error) {
	want := make([]string, 0, len(stages))
	for _, st := range stages {
		norm, err := NormalizeStage(st)
		if err != nil {
			return nil, err
		}
		want = append(want, norm)
	}
	m, err := s.GetModel(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return m.Latest, nil
	}
	var out []Version
	seen := map[string]bool{}
	for _, st := range want {
		for _, v := range m.Latest {
			if v.Stage == st && !seen[st] {
				seen[st] = true
				out = append(out, v)
			}
		}
	}
	return out, nil
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
		return s.VersionByAlias(ctx, name, alias)
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
	vs, _, err := s.store.SearchVersions(ctx, VersionQuery{Name: name, Stage: stage, MaxResults: 1})
	if err != nil {
		return Version{}, err
	}
	if len(vs) == 0 {
		if _, err := s.store.GetModel(ctx, name); err != nil {
			return Version{}, err
		}
		where := ""
		if stage != "" {
			where = " in stage " + stage
		}
		return Version{}, ferry.Errorf(ferry.ENOTFOUND, "Registered model '%s' has no versions%s.", name, where)
	}
	return vs[0], nil
}

// History returns a model's audit trail, oldest first.
func (s *Service) History(ctx context.Context, name string) ([]AuditEvent, error) {
	if _, err := s.store.GetModel(ctx, name); err != nil {
		return nil, err
	}
	return s.store.ListAudit(ctx, name)
}
