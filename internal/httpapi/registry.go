package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// PrincipalHeader names the principal a request acts for: who registers,
// promotes and approves, as the audit trail records it. Until Ferry
// authenticates requests it is taken on trust from this header; a request
// without it acts as "anonymous". The Go client sets it from
// client.WithPrincipal, the CLI from --as, FERRY_PRINCIPAL or the local user.
const PrincipalHeader = "X-Ferry-Principal"

// anonymous is the principal of a request that names none.
const anonymous = "anonymous"

// principalOf returns the principal of r: the PrincipalHeader value, or
// "anonymous". A value that is not printable UTF-8 of at most 256 bytes is
// EINVALID.
func principalOf(r *http.Request) (string, error) {
	p := strings.TrimSpace(r.Header.Get(PrincipalHeader))
	if p == "" {
		return anonymous, nil
	}
	if len(p) > 256 || !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) {
		return "", ferry.Errorf(ferry.EINVALID, "Invalid %s header: a principal is printable UTF-8 text of at most 256 bytes.", PrincipalHeader)
	}
	return p, nil
}

// Search bounds, as MLflow's model registry has them.
const (
	modelSearchDefault   = 100
	modelSearchMax       = 1000
	versionSearchDefault = 10000
	versionSearchMax     = 200000
	// storePage is the page size used when reading every match from the store.
	storePage = 1000
)

// routeRegistry registers MLflow's model-registry REST API under both of the
// prefixes MLflow serves it on. The request and response shapes, methods and
// error codes are those of MLflow's model_registry.proto.
func (s *Server) routeRegistry() {
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		h := func(method, path string, fn http.HandlerFunc) { s.mux.HandleFunc(method+" "+prefix+path, fn) }
		h("POST", "registered-models/create", mlflowRegistry(s, s.mlflowCreateModel))
		h("GET", "registered-models/get", mlflowRegistry(s, s.mlflowGetModel))
		h("POST", "registered-models/rename", mlflowRegistry(s, s.mlflowRenameModel))
		h("PATCH", "registered-models/update", mlflowRegistry(s, s.mlflowUpdateModel))
		h("DELETE", "registered-models/delete", mlflowRegistry(s, s.mlflowDeleteModel))
		h("GET", "registered-models/search", mlflowRegistry(s, s.mlflowSearchModels))
		h("GET", "registered-models/get-latest-versions", mlflowRegistry(s, s.mlflowLatestVersions))
		h("POST", "registered-models/get-latest-versions", mlflowRegistry(s, s.mlflowLatestVersions))
		h("POST", "registered-models/set-tag", mlflowRegistry(s, s.mlflowSetModelTag))
		h("DELETE", "registered-models/delete-tag", mlflowRegistry(s, s.mlflowDeleteModelTag))
		h("POST", "registered-models/alias", mlflowRegistry(s, s.mlflowSetAlias))
		h("DELETE", "registered-models/alias", mlflowRegistry(s, s.mlflowDeleteAlias))
		h("GET", "registered-models/alias", mlflowRegistry(s, s.mlflowGetByAlias))
		h("POST", "model-versions/create", mlflowRegistry(s, s.mlflowCreateVersion))
		h("GET", "model-versions/get", mlflowRegistry(s, s.mlflowGetVersion))
		h("PATCH", "model-versions/update", mlflowRegistry(s, s.mlflowUpdateVersion))
		h("DELETE", "model-versions/delete", mlflowRegistry(s, s.mlflowDeleteVersion))
		h("GET", "model-versions/search", mlflowRegistry(s, s.mlflowSearchVersions))
		h("POST", "model-versions/transition-stage", mlflowRegistry(s, s.mlflowTransitionStage))
		h("GET", "model-versions/get-download-uri", mlflowRegistry(s, s.mlflowDownloadURI))
		h("POST", "model-versions/set-tag", mlflowRegistry(s, s.mlflowSetVersionTag))
		h("DELETE", "model-versions/delete-tag", mlflowRegistry(s, s.mlflowDeleteVersionTag))
	}
}

// mlflowRegistry adapts a registry handler as mlflow does, and also reads a
// DELETE request without a body from its query string, as some MLflow
// clients send it.
func mlflowRegistry[Req any](s *Server, fn func(*http.Request, *Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		var err error
		if r.Method == http.MethodDelete && r.ContentLength == 0 && r.URL.RawQuery != "" {
			err = decodeQuery(r, &req)
		} else {
			err = s.decodeRequest(r, &req)
		}
		if err != nil {
			writeError(w, r, s.log, styleMLflow, err)
			return
		}
		resp, err := fn(r, &req)
		if err != nil {
			writeError(w, r, s.log, styleMLflow, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// MLflow's wire shapes of the model registry.

type wireModelAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type wireModelVersion struct {
	Name                 string    `json:"name"`
	Version              string    `json:"version"`
	CreationTimestamp    int64     `json:"creation_timestamp"`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp"`
	UserID               string    `json:"user_id"`
	CurrentStage         string    `json:"current_stage"`
	Description          string    `json:"description"`
	Source               string    `json:"source"`
	RunID                string    `json:"run_id"`
	Status               string    `json:"status"`
	StatusMessage        string    `json:"status_message"`
	Tags                 []wireTag `json:"tags,omitempty"`
	RunLink              string    `json:"run_link"`
	Aliases              []string  `json:"aliases,omitempty"`
}

type wireRegisteredModel struct {
	Name                 string             `json:"name"`
	CreationTimestamp    int64              `json:"creation_timestamp"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp"`
	Description          string             `json:"description"`
	LatestVersions       []wireModelVersion `json:"latest_versions,omitempty"`
	Tags                 []wireTag          `json:"tags,omitempty"`
	Aliases              []wireModelAlias   `json:"aliases,omitempty"`
}

func toRegistryTags(in []wireTag) []registry.Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]registry.Tag, len(in))
	for i, t := range in {
		out[i] = registry.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromRegistryTags(in []registry.Tag) []wireTag {
	if len(in) == 0 {
		return nil
	}
	out := make([]wireTag, len(in))
	for i, t := range in {
		out[i] = wireTag{Key: t.Key, Value: t.Value}
	}
	return out
}

func toWireModelVersion(v registry.Version) wireModelVersion {
	return wireModelVersion{
		Name: v.Name, Version: strconv.Itoa(v.Version), CreationTimestamp: v.CreationTime, LastUpdatedTimestamp: v.LastUpdatedTime,
		UserID: v.UserID, CurrentStage: v.Stage, Description: v.Description, Source: v.Source, RunID: v.RunID,
		Status: v.Status, StatusMessage: v.StatusMessage, Tags: fromRegistryTags(v.Tags), Aliases: sortedStrings(v.Aliases),
	}
}

func toWireRegisteredModel(m registry.Model, latest []registry.Version) wireRegisteredModel {
	w := wireRegisteredModel{
		Name: m.Name, CreationTimestamp: m.CreationTime, LastUpdatedTimestamp: m.LastUpdatedTime,
		Description: m.Description, Tags: fromRegistryTags(m.Tags),
	}
	for _, v := range latest {
		w.LatestVersions = append(w.LatestVersions, toWireModelVersion(v))
	}
	for _, a := range sortedAliases(m.Aliases) {
		w.Aliases = append(w.Aliases, wireModelAlias{Alias: a, Version: strconv.Itoa(m.Aliases[a])})
	}
	return w
}

func sortedAliases(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func sortedStrings(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// Shared logic of both APIs.

// parseVersion reads a model version number.
func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 0, ferry.Errorf(ferry.EINVALID, "Invalid model version %q: a version is a positive integer such as 3.", clip(s))
	}
	return n, nil
}

// event builds an audit event for the writes the registry service does not
// wrap (rename, delete), which the store appends in the same transaction.
func event(principal, action, name string, version int, from, to string) registry.AuditEvent {
	return registry.AuditEvent{
		Time: time.Now().UnixMilli(), Principal: principal, Action: action,
		Model: name, Version: version, From: from, To: to,
	}
}

// latestPerStage returns, for each stage in MLflow's order, the newest
// version of name in that stage, reading the versions once.
func (s *Server) latestPerStage(ctx context.Context, name string, stages []string) ([]registry.Version, error) {
	if len(stages) == 0 {
		stages = []string{registry.StageNone, registry.StageStaging, registry.StageProduction, registry.StageArchived}
	}
	want := make([]string, 0, len(stages))
	for _, st := range stages {
		norm, err := registry.NormalizeStage(st)
		if err != nil {
			return nil, err
		}
		want = append(want, norm)
	}
	all, err := s.allVersions(ctx, registry.VersionQuery{Name: name})
	if err != nil {
		return nil, err
	}
	best := map[string]registry.Version{}
	for _, v := range all {
		if b, ok := best[v.Stage]; !ok || v.Version > b.Version {
			best[v.Stage] = v
		}
	}
	var out []registry.Version
	seen := map[string]bool{}
	for _, st := range want {
		if v, ok := best[st]; ok && !seen[st] {
			seen[st] = true
			out = append(out, v)
		}
	}
	return out, nil
}

// allVersions reads every version q selects, page by page.
func (s *Server) allVersions(ctx context.Context, q registry.VersionQuery) ([]registry.Version, error) {
	var all []registry.Version
	q.MaxResults = storePage
	for {
		page, next, err := s.models.Store().SearchVersions(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" || len(all) >= versionSearchMax {
			return all, nil
		}
		q.PageToken = next
	}
}

// modelWithLatest returns a registered model with its latest versions.
func (s *Server) modelWithLatest(ctx context.Context, name string) (registry.Model, []registry.Version, error) {
	m, err := s.models.GetModel(ctx, name)
	if err != nil {
		return m, nil, err
	}
	latest, err := s.latestPerStage(ctx, m.Name, nil)
	return m, latest, err
}

// filterCond is one "key op 'value'" condition of a search filter.
type filterCond struct {
	key, op, value string
}

// parseFilter reads a filter of conditions joined by AND, each a key from
// allowed, one of that key's operators, and a quoted string. It is the
// subset of MLflow's registry search grammar Ferry supports.
func parseFilter(filter string, allowed map[string][]string) ([]filterCond, error) {
	bad := func(format string, args ...any) error {
		return ferry.Errorf(ferry.EINVALID, "Invalid filter %q: %s", clip(filter), fmt.Sprintf(format, args...))
	}
	var conds []filterCond
	rest := strings.TrimSpace(filter)
	for rest != "" {
		// key
		i := strings.IndexFunc(rest, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.') })
		if i < 0 {
			i = len(rest)
		}
		key := strings.ToLower(rest[:i])
		ops, ok := allowed[key]
		if !ok {
			keys := make([]string, 0, len(allowed))
			for k := range allowed {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, bad("only %s can be searched here, not %q.", strings.Join(keys, " and "), clip(rest[:i]))
		}
		rest = strings.TrimSpace(rest[i:])
		// operator
		op := ""
		for _, o := range []string{"!=", "=", "ILIKE", "LIKE"} {
			if len(rest) >= len(o) && strings.EqualFold(rest[:len(o)], o) {
				op = o
				break
			}
		}
		if op == "" || !contains(ops, op) {
			return nil, bad("%s supports the operator(s) %s.", key, strings.Join(ops, ", "))
		}
		rest = strings.TrimSpace(rest[len(op):])
		// 'value'
		if rest == "" || (rest[0] != '\'' && rest[0] != '"') {
			return nil, bad("the value compared with %s must be a quoted string, such as '%s'.", key, "churn")
		}
		q := rest[0]
		var val strings.Builder
		j := 1
		for ; j < len(rest); j++ {
			if rest[j] == q {
				if j+1 < len(rest) && rest[j+1] == q { // '' escapes a quote
					val.WriteByte(q)
					j++
					continue
				}
				break
			}
			val.WriteByte(rest[j])
		}
		if j >= len(rest) {
			return nil, bad("a quoted string is not closed.")
		}
		conds = append(conds, filterCond{key: key, op: op, value: val.String()})
		rest = strings.TrimSpace(rest[j+1:])
		if rest == "" {
			break
		}
		if len(rest) < 4 || !strings.EqualFold(rest[:4], "and ") {
			return nil, bad("join conditions with AND.")
		}
		rest = strings.TrimSpace(rest[4:])
		if rest == "" {
			return nil, bad("a condition must follow AND.")
		}
	}
	return conds, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// modelSearch is a registered-model search of either API.
type modelSearch struct {
	filter     string
	orderBy    []string
	maxResults int64
	pageToken  string
}

// searchModels runs a registered-model search: filter on the name (=, LIKE
// case-sensitive, ILIKE not), order by name, creation_timestamp (or
// timestamp) or last_updated_timestamp, at most 1000 per page.
func (s *Server) searchModels(ctx context.Context, q modelSearch) ([]registry.Model, string, error) {
	switch {
	case q.maxResults < 0:
		return nil, "", ferry.Errorf(ferry.EINVALID, "Invalid value %d for parameter 'max_results': it must be a positive number.", q.maxResults)
	case q.maxResults > modelSearchMax:
		return nil, "", ferry.Errorf(ferry.EINVALID, "Invalid value %d for parameter 'max_results': it must be at most %d.", q.maxResults, modelSearchMax)
	case q.maxResults == 0:
		q.maxResults = modelSearchDefault
	}
	conds, err := parseFilter(q.filter, map[string][]string{"name": {"=", "LIKE", "ILIKE"}})
	if err != nil {
		return nil, "", err
	}
	order, err := modelOrder(q.orderBy)
	if err != nil {
		return nil, "", err
	}
	mq := registry.ModelQuery{MaxResults: int(q.maxResults), PageToken: q.pageToken, OrderBy: order}
	for _, c := range conds {
		if c.op == "=" {
			// An exact name is a lookup; it needs no LIKE escaping.
			if mq.NameLike != "" || len(conds) > 1 {
				return nil, "", ferry.Errorf(ferry.EINVALID, "Invalid filter %q: give one condition on name.", clip(q.filter))
			}
			m, err := s.models.GetModel(ctx, c.value)
			if ferry.ErrorCode(err) == ferry.ENOTFOUND {
				return nil, "", nil
			} else if err != nil {
				return nil, "", err
			}
			return []registry.Model{m}, "", nil
		}
		if mq.NameLike != "" || len(conds) > 1 {
			return nil, "", ferry.Errorf(ferry.EINVALID, "Invalid filter %q: give one condition on name.", clip(q.filter))
		}
		if c.op == "LIKE" {
			mq.NameLike = c.value
			break
		}
		// ILIKE: the stores' LIKE is case-sensitive, so match here, over
		// every model in order, and page by offset.
		offset, err := decodeOffset(q.pageToken)
		if err != nil {
			return nil, "", err
		}
		match := likeMatcher(c.value)
		var all []registry.Model
		mq.MaxResults, mq.PageToken = modelSearchMax, ""
		for {
			page, next, err := s.models.Store().SearchModels(ctx, mq)
			if err != nil {
				return nil, "", err
			}
			for _, m := range page {
				if match(m.Name) {
					all = append(all, m)
				}
			}
			if next == "" {
				break
			}
			mq.PageToken = next
		}
		out, next := pageOf(all, offset, int(q.maxResults))
		return out, next, nil
	}
	return s.models.Store().SearchModels(ctx, mq)
}

// likeMatcher returns a case-insensitive matcher of a SQL LIKE pattern: '%'
// matches any run of characters, '_' any one character.
func likeMatcher(pattern string) func(string) bool {
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, r := range pattern {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re := regexp.MustCompile(b.String()) // every character is quoted or a wildcard
	return re.MatchString
}

// decodeOffset reads a page token of the searches that page by offset.
func decodeOffset(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	n, perr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
	if err != nil || perr != nil || !strings.HasPrefix(string(raw), "offset:") || n < 0 {
		return 0, ferry.Errorf(ferry.EINVALID, "Invalid page_token %q: pass the next_page_token of the previous page, with the same filter and order_by.", clip(token))
	}
	return n, nil
}

// pageOf returns the page of all at offset and the next page's token.
func pageOf[T any](all []T, offset, size int) ([]T, string) {
	offset = min(offset, len(all))
	end := offset + size
	if end >= len(all) {
		return all[offset:], ""
	}
	return all[offset:end], base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
}

// modelOrder canonicalises registered-model order_by clauses.
func modelOrder(in []string) ([]string, error) {
	var out []string
	for _, o := range in {
		f := strings.Fields(o)
		if len(f) == 0 {
			continue
		}
		key := strings.ToLower(f[0])
		switch key {
		case "name", "creation_timestamp", "last_updated_timestamp":
		case "timestamp":
			key = "creation_timestamp"
		default:
			return nil, ferry.Errorf(ferry.EINVALID, "Invalid order_by clause %q: order by name, creation_timestamp or last_updated_timestamp, with ASC or DESC.", clip(o))
		}
		dir := "ASC"
		if len(f) == 2 && (strings.EqualFold(f[1], "ASC") || strings.EqualFold(f[1], "DESC")) {
			dir = strings.ToUpper(f[1])
		} else if len(f) != 1 {
			return nil, ferry.Errorf(ferry.EINVALID, "Invalid order_by clause %q: order by name, creation_timestamp or last_updated_timestamp, with ASC or DESC.", clip(o))
		}
		out = append(out, key+" "+dir)
	}
	return out, nil
}

// versionSearch is a model-version search of either API.
type versionSearch struct {
	filter     string
	orderBy    []string
	maxResults int64
	pageToken  string
}

// searchVersions runs a model-version search: filter on name and run_id
// (=), order by name, version_number, creation_timestamp or
// last_updated_timestamp. Without order_by, pages are the store's; with it,
// every match is read and sorted, and page tokens are offsets into that
// order.
func (s *Server) searchVersions(ctx context.Context, q versionSearch) ([]registry.Version, string, error) {
	switch {
	case q.maxResults < 0:
		return nil, "", ferry.Errorf(ferry.EINVALID, "Invalid value %d for parameter 'max_results': it must be a positive number.", q.maxResults)
	case q.maxResults > versionSearchMax:
		return nil, "", ferry.Errorf(ferry.EINVALID, "Invalid value %d for parameter 'max_results': it must be at most %d.", q.maxResults, versionSearchMax)
	case q.maxResults == 0:
		q.maxResults = versionSearchDefault
	}
	conds, err := parseFilter(q.filter, map[string][]string{"name": {"="}, "run_id": {"="}})
	if err != nil {
		return nil, "", err
	}
	var vq registry.VersionQuery
	for _, c := range conds {
		field := &vq.Name
		if c.key == "run_id" {
			field = &vq.RunID
		}
		if *field != "" && *field != c.value {
			return nil, "", nil // two different values: nothing matches
		}
		*field = c.value
	}
	less, err := versionOrder(q.orderBy)
	if err != nil {
		return nil, "", err
	}
	if less == nil {
		vq.MaxResults, vq.PageToken = int(q.maxResults), q.pageToken
		return s.models.Store().SearchVersions(ctx, vq)
	}
	offset, err := decodeOffset(q.pageToken)
	if err != nil {
		return nil, "", err
	}
	all, err := s.allVersions(ctx, vq)
	if err != nil {
		return nil, "", err
	}
	sort.SliceStable(all, func(i, j int) bool { return less(all[i], all[j]) })
	out, next := pageOf(all, offset, int(q.maxResults))
	return out, next, nil
}

// versionOrder turns order_by clauses into a comparison; nil for none.
func versionOrder(in []string) (func(a, b registry.Version) bool, error) {
	type clause struct {
		cmp  func(a, b registry.Version) int
		desc bool
	}
	var clauses []clause
	for _, o := range in {
		f := strings.Fields(o)
		if len(f) == 0 {
			continue
		}
		var c clause
		switch strings.ToLower(f[0]) {
		case "name":
			c.cmp = func(a, b registry.Version) int { return strings.Compare(a.Name, b.Name) }
		case "version_number", "version":
			c.cmp = func(a, b registry.Version) int { return a.Version - b.Version }
		case "creation_timestamp", "timestamp":
			c.cmp = func(a, b registry.Version) int { return cmp64(a.CreationTime, b.CreationTime) }
		case "last_updated_timestamp":
			c.cmp = func(a, b registry.Version) int { return cmp64(a.LastUpdatedTime, b.LastUpdatedTime) }
		default:
			return nil, ferry.Errorf(ferry.EINVALID, "Invalid order_by clause %q: order by name, version_number, creation_timestamp or last_updated_timestamp, with ASC or DESC.", clip(o))
		}
		switch {
		case len(f) == 1:
		case len(f) == 2 && strings.EqualFold(f[1], "ASC"):
		case len(f) == 2 && strings.EqualFold(f[1], "DESC"):
			c.desc = true
		default:
			return nil, ferry.Errorf(ferry.EINVALID, "Invalid order_by clause %q: order by name, version_number, creation_timestamp or last_updated_timestamp, with ASC or DESC.", clip(o))
		}
		clauses = append(clauses, c)
	}
	if len(clauses) == 0 {
		return nil, nil
	}
	return func(a, b registry.Version) bool {
		for _, c := range clauses {
			if d := c.cmp(a, b); d != 0 {
				return (d < 0) != c.desc
			}
		}
		// MLflow's tiebreak: name ascending, then version descending.
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version > b.Version
	}, nil
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// registerSource normalises a model-version source: an
// mlflow-artifacts://host:port/path URI, as MLflow's clients resolve runs:/
// URIs against a proxying server, becomes mlflow-artifacts:/path.
func registerSource(source string) string {
	if strings.HasPrefix(source, proxyScheme+"//") {
		if key, ok := proxiedKey(source); ok {
			return proxyScheme + "/" + key
		}
	}
	return source
}

// MLflow registered-model handlers.

type mlflowModelReq struct {
	Name        string    `json:"name"`
	NewName     string    `json:"new_name"`
	Description *string   `json:"description"`
	Tags        []wireTag `json:"tags"`
	Key         string    `json:"key"`
	Value       *string   `json:"value"`
}

type mlflowModelResp struct {
	RegisteredModel wireRegisteredModel `json:"registered_model"`
}

func (s *Server) mlflowModelResponse(ctx context.Context, name string) (any, error) {
	m, latest, err := s.modelWithLatest(ctx, name)
	if err != nil {
		return nil, err
	}
	return mlflowModelResp{toWireRegisteredModel(m, latest)}, nil
}

func (s *Server) mlflowCreateModel(r *http.Request, req *mlflowModelReq) (any, error) {
	principal, err := principalOf(r)
	if err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	desc := ""
	if req.Description != nil {
		desc = *req.Description
	}
	m, err := s.models.CreateModel(r.Context(), principal, req.Name, desc, toRegistryTags(req.Tags))
	if err != nil {
		return nil, err
	}
	return mlflowModelResp{toWireRegisteredModel(m, nil)}, nil
}

func (s *Server) mlflowGetModel(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	return s.mlflowModelResponse(r.Context(), req.Name)
}

// renameModel renames a registered model, recording who did it.
func (s *Server) renameModel(r *http.Request, name, newName string) error {
	principal, err := principalOf(r)
	if err != nil {
		return err
	}
	if err := registry.ValidateModelName(newName); err != nil {
		return err
	}
	return s.models.Store().RenameModel(r.Context(), name, newName, event(principal, registry.ActionRenameModel, name, 0, name, newName))
}

func (s *Server) mlflowRenameModel(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("new_name", req.NewName); err != nil {
		return nil, err
	}
	if err := s.renameModel(r, req.Name, req.NewName); err != nil {
		return nil, err
	}
	return s.mlflowModelResponse(r.Context(), req.NewName)
}

func (s *Server) mlflowUpdateModel(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if req.Description != nil {
		if err := s.models.Store().UpdateModel(r.Context(), req.Name, *req.Description, time.Now().UnixMilli()); err != nil {
			return nil, err
		}
	}
	return s.mlflowModelResponse(r.Context(), req.Name)
}

// deleteModel deletes a registered model and its versions, recording who did it.
func (s *Server) deleteModel(r *http.Request, name string) error {
	principal, err := principalOf(r)
	if err != nil {
		return err
	}
	return s.models.Store().DeleteModel(r.Context(), name, event(principal, registry.ActionDeleteModel, name, 0, name, ""))
}

func (s *Server) mlflowDeleteModel(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	return empty{}, s.deleteModel(r, req.Name)
}

type mlflowSearchModelsReq struct {
	Filter     string    `json:"filter"`
	MaxResults flexInt64 `json:"max_results"`
	OrderBy    []string  `json:"order_by"`
	PageToken  string    `json:"page_token"`
}

type mlflowSearchModelsResp struct {
	RegisteredModels []wireRegisteredModel `json:"registered_models,omitempty"`
	NextPageToken    string                `json:"next_page_token,omitempty"`
}

func (s *Server) mlflowSearchModels(r *http.Request, req *mlflowSearchModelsReq) (any, error) {
	ms, next, err := s.searchModels(r.Context(), modelSearch{filter: req.Filter, orderBy: req.OrderBy, maxResults: int64(req.MaxResults), pageToken: req.PageToken})
	if err != nil {
		return nil, err
	}
	resp := mlflowSearchModelsResp{NextPageToken: next}
	for _, m := range ms {
		latest, err := s.latestPerStage(r.Context(), m.Name, nil)
		if err != nil {
			return nil, err
		}
		resp.RegisteredModels = append(resp.RegisteredModels, toWireRegisteredModel(m, latest))
	}
	return resp, nil
}

type mlflowLatestReq struct {
	Name   string   `json:"name"`
	Stages []string `json:"stages"`
}

type mlflowVersionsResp struct {
	ModelVersions []wireModelVersion `json:"model_versions,omitempty"`
	NextPageToken string             `json:"next_page_token,omitempty"`
}

func (s *Server) mlflowLatestVersions(r *http.Request, req *mlflowLatestReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if _, err := s.models.GetModel(r.Context(), req.Name); err != nil {
		return nil, err
	}
	vs, err := s.latestPerStage(r.Context(), req.Name, req.Stages)
	if err != nil {
		return nil, err
	}
	var resp mlflowVersionsResp
	for _, v := range vs {
		resp.ModelVersions = append(resp.ModelVersions, toWireModelVersion(v))
	}
	return resp, nil
}

func (s *Server) mlflowSetModelTag(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, required("value", "")
	}
	return empty{}, s.models.Store().SetModelTag(r.Context(), req.Name, registry.Tag{Key: req.Key, Value: *req.Value})
}

func (s *Server) mlflowDeleteModelTag(r *http.Request, req *mlflowModelReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return empty{}, s.models.Store().DeleteModelTag(r.Context(), req.Name, req.Key)
}

type mlflowAliasReq struct {
	Name    string   `json:"name"`
	Alias   string   `json:"alias"`
	Version idString `json:"version"`
}

func (s *Server) mlflowSetAlias(r *http.Request, req *mlflowAliasReq) (any, error) {
	principal, err := principalOf(r)
	if err != nil {
		return nil, err
	}
	for _, f := range [][2]string{{"name", req.Name}, {"alias", req.Alias}, {"version", string(req.Version)}} {
		if err := required(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	version, err := parseVersion(string(req.Version))
	if err != nil {
		return nil, err
	}
	if err := registry.ValidateAlias(req.Alias); err != nil {
		return nil, err
	}
	if _, err := s.models.SetAlias(r.Context(), principal, req.Name, req.Alias, version, ""); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) mlflowDeleteAlias(r *http.Request, req *mlflowAliasReq) (any, error) {
	principal, err := principalOf(r)
	if err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("alias", req.Alias); err != nil {
		return nil, err
	}
	return empty{}, s.models.DeleteAlias(r.Context(), principal, req.Name, req.Alias)
}

type mlflowVersionResp struct {
	ModelVersion wireModelVersion `json:"model_version"`
}

// versionByAlias returns the version an alias points at.
func (s *Server) versionByAlias(ctx context.Context, name, alias string) (registry.Version, error) {
	if err := registry.ValidateAlias(alias); err != nil {
		return registry.Version{}, err
	}
	n, err := s.models.Store().GetAlias(ctx, name, alias)
	if err != nil {
		return registry.Version{}, err
	}
	return s.models.Store().GetVersion(ctx, name, n)
}

func (s *Server) mlflowGetByAlias(r *http.Request, req *mlflowAliasReq) (any, error) {
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("alias", req.Alias); err != nil {
		return nil, err
	}
	v, err := s.versionByAlias(r.Context(), req.Name, req.Alias)
	if err != nil {
		return nil, err
	}
	return mlflowVersionResp{toWireModelVersion(v)}, nil
}

// MLflow model-version handlers.

type mlflowCreateVersionReq struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"`
	RunID       string    `json:"run_id"`
	Tags        []wireTag `json:"tags"`
	RunLink     string    `json:"run_link"`
	Description string    `json:"description"`
}

func (s *Server) mlflowCreateVersion(r *http.Request, req *mlflowCreateVersionReq) (any, error) {
	principal, err := principalOf(r)
	if err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("source", req.Source); err != nil {
		return nil, err
	}
	v, err := s.models.RegisterVersion(r.Context(), principal, req.Name, registerSource(req.Source), req.RunID, req.Description, toRegistryTags(req.Tags), false)
	if err != nil {
		return nil, err
	}
	return mlflowVersionResp{toWireModelVersion(v)}, nil
}

type mlflowVersionReq struct {
	Name                    string   `json:"name"`
	Version                 idString `json:"version"`
	Description             *string  `json:"description"`
	Stage                   string   `json:"stage"`
	ArchiveExistingVersions bool     `json:"archive_existing_versions"`
	Key                     string   `json:"key"`
	Value                   *string  `json:"value"`
}

// nameVersion checks and returns the request's name and version.
func (req *mlflowVersionReq) nameVersion() (string, int, error) {
	if err := required("name", req.Name); err != nil {
		return "", 0, err
	}
	if err := required("version", string(req.Version)); err != nil {
		return "", 0, err
	}
	v, err := parseVersion(string(req.Version))
	return req.Name, v, err
}

func (s *Server) mlflowVersionResponse(ctx context.Context, name string, version int) (any, error) {
	v, err := s.models.Store().GetVersion(ctx, name, version)
	if err != nil {
		return nil, err
	}
	return mlflowVersionResp{toWireModelVersion(v)}, nil
}

func (s *Server) mlflowGetVersion(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	return s.mlflowVersionResponse(r.Context(), name, version)
}

func (s *Server) mlflowUpdateVersion(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if req.Description != nil {
		if err := s.models.Store().UpdateVersion(r.Context(), name, version, *req.Description, time.Now().UnixMilli()); err != nil {
			return nil, err
		}
	}
	return s.mlflowVersionResponse(r.Context(), name, version)
}

// deleteVersion deletes a model version, recording who did it.
func (s *Server) deleteVersion(r *http.Request, name string, version int) error {
	principal, err := principalOf(r)
	if err != nil {
		return err
	}
	return s.models.Store().DeleteVersion(r.Context(), name, version, event(principal, registry.ActionDeleteVersion, name, version, strconv.Itoa(version), ""))
}

func (s *Server) mlflowDeleteVersion(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	return empty{}, s.deleteVersion(r, name, version)
}

type mlflowSearchVersionsReq struct {
	Filter     string    `json:"filter"`
	MaxResults flexInt64 `json:"max_results"`
	OrderBy    []string  `json:"order_by"`
	PageToken  string    `json:"page_token"`
}

func (s *Server) mlflowSearchVersions(r *http.Request, req *mlflowSearchVersionsReq) (any, error) {
	vs, next, err := s.searchVersions(r.Context(), versionSearch{filter: req.Filter, orderBy: req.OrderBy, maxResults: int64(req.MaxResults), pageToken: req.PageToken})
	if err != nil {
		return nil, err
	}
	resp := mlflowVersionsResp{NextPageToken: next}
	for _, v := range vs {
		resp.ModelVersions = append(resp.ModelVersions, toWireModelVersion(v))
	}
	return resp, nil
}

func (s *Server) mlflowTransitionStage(r *http.Request, req *mlflowVersionReq) (any, error) {
	principal, err := principalOf(r)
	if err != nil {
		return nil, err
	}
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if err := required("stage", req.Stage); err != nil {
		return nil, err
	}
	stage, err := registry.NormalizeStage(req.Stage)
	if err != nil {
		return nil, err
	}
	v, err := s.models.Promote(r.Context(), principal, name, version, stage, "", req.ArchiveExistingVersions)
	if err != nil {
		return nil, err
	}
	return mlflowVersionResp{toWireModelVersion(v)}, nil
}

func (s *Server) mlflowDownloadURI(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	v, err := s.models.Store().GetVersion(r.Context(), name, version)
	if err != nil {
		return nil, err
	}
	return map[string]string{"artifact_uri": downloadURI(v)}, nil
}

// downloadURI is where a client downloads a version's package from: the
// registry's own copy, through this server's artifact proxy.
func downloadURI(v registry.Version) string {
	return proxyScheme + "/" + v.StorageURI
}

func (s *Server) mlflowSetVersionTag(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, required("value", "")
	}
	return empty{}, s.models.Store().SetVersionTag(r.Context(), name, version, registry.Tag{Key: req.Key, Value: *req.Value})
}

func (s *Server) mlflowDeleteVersionTag(r *http.Request, req *mlflowVersionReq) (any, error) {
	name, version, err := req.nameVersion()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return empty{}, s.models.Store().DeleteVersionTag(r.Context(), name, version, req.Key)
}

// The /api/v1 registry routes. v1Routes lists them in its table.

// v1RegistryRoutes returns the registry's routes of the native API. They are
// in the table (and so in the OpenAPI document) whether or not the server
// has a registry; without one they answer ENOTFOUND.
func (s *Server) v1RegistryRoutes() []v1Route {
	return []v1Route{
		v1JSON(s, "GET", "/models", "searchModels", "List and search registered models.", http.StatusOK, withRegistry(s, s.v1SearchModels)),
		v1JSON(s, "POST", "/models", "createModel", "Register a model name.", http.StatusCreated, withRegistry(s, s.v1CreateModel)),
		v1JSON(s, "GET", "/models/{name}", "getModel", "Get a registered model with its aliases and latest version per stage.", http.StatusOK, withRegistry(s, s.v1GetModel)),
		v1JSON(s, "PATCH", "/models/{name}", "updateModel", "Rename a registered model or change its description.", http.StatusOK, withRegistry(s, s.v1UpdateModel)),
		v1JSON(s, "DELETE", "/models/{name}", "deleteModel", "Delete a registered model and its versions.", http.StatusOK, withRegistry(s, s.v1DeleteModel)),
		v1JSON(s, "POST", "/models/{name}/versions", "registerVersion", "Register a new version from a model package stored by this server; the model is created when absent.", http.StatusCreated, withRegistry(s, s.v1RegisterVersion)),
		v1JSON(s, "GET", "/models/{name}/versions", "listVersions", "List a registered model's versions.", http.StatusOK, withRegistry(s, s.v1ListVersions)),
		v1JSON(s, "GET", "/models/{name}/versions/{version}", "getVersion", "Get a model version.", http.StatusOK, withRegistry(s, s.v1GetVersion)),
		v1JSON(s, "DELETE", "/models/{name}/versions/{version}", "deleteVersion", "Delete a model version.", http.StatusOK, withRegistry(s, s.v1DeleteVersion)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/promote", "promoteVersion", "Move a version to a stage or an alias, as the promotion policy allows; 403 EUNAUTHORIZED says what is missing.", http.StatusOK, withRegistry(s, s.v1Promote)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/approve", "approvePromotion", "Approve the pending request to promote a version; the requester cannot approve it.", http.StatusOK, withRegistry(s, s.v1Approve)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/reject", "rejectPromotion", "Reject the pending request to promote a version.", http.StatusOK, withRegistry(s, s.v1Reject)),
		v1JSON(s, "POST", "/models/{name}/versions/{version}/checks", "recordCheck", "Record the verdict of a check, such as a validation, on a version.", http.StatusCreated, withRegistry(s, s.v1RecordCheck)),
		v1JSON(s, "GET", "/models/{name}/versions/{version}/lineage", "getVersionLineage", "Trace a version to its run, commit and datasets.", http.StatusOK, withRegistry(s, s.v1VersionLineage)),
		v1JSON(s, "PUT", "/models/{name}/aliases/{alias}", "setAlias", "Point an alias at a version, as the promotion policy allows.", http.StatusOK, withRegistry(s, s.v1SetAlias)),
		v1JSON(s, "DELETE", "/models/{name}/aliases/{alias}", "deleteAlias", "Delete an alias.", http.StatusOK, withRegistry(s, s.v1DeleteAlias)),
		v1JSON(s, "GET", "/models/{name}/history", "getModelHistory", "A registered model's audit trail, oldest first.", http.StatusOK, withRegistry(s, s.v1History)),
		v1JSON(s, "GET", "/resolve", "resolveModelURI", "Find the version a models:/ URI names.", http.StatusOK, withRegistry(s, s.v1Resolve)),
		v1JSON(s, "GET", "/lineage", "searchLineage", "Find the versions made from a run or a dataset.", http.StatusOK, withRegistry(s, s.v1SearchLineage)),
	}
}

// withRegistry answers ENOTFOUND when the server has no registry.
func withRegistry[Req, Resp any](s *Server, fn func(*http.Request, *Req) (Resp, error)) func(*http.Request, *Req) (Resp, error) {
	return func(r *http.Request, req *Req) (Resp, error) {
		if s.models == nil {
			var zero Resp
			return zero, ferry.Errorf(ferry.ENOTFOUND, "This server has no model registry.")
		}
		return fn(r, req)
	}
}

// Native shapes: versions are numbers, aliases a map, and a version carries
// its package digest, storage and lineage.

type v1ModelVersion struct {
	Name                 string    `json:"name"`
	Version              int       `json:"version"`
	CreationTimestamp    int64     `json:"creation_timestamp" doc:"Milliseconds since the Unix epoch."`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp" doc:"Milliseconds since the Unix epoch."`
	UserID               string    `json:"user_id" doc:"The principal who registered it."`
	CurrentStage         string    `json:"current_stage" doc:"None, Staging, Production or Archived."`
	Description          string    `json:"description"`
	Source               string    `json:"source" doc:"Where it was registered from: runs:/<run_id>/<path> or an mlflow-artifacts: URI."`
	RunID                string    `json:"run_id"`
	Status               string    `json:"status" doc:"READY once registered."`
	StatusMessage        string    `json:"status_message,omitempty"`
	Tags                 []wireTag `json:"tags,omitempty"`
	Aliases              []string  `json:"aliases,omitempty" doc:"The aliases pointing at this version."`
	ModelDigest          string    `json:"model_digest" doc:"The package's content digest, sha256:..."`
	ArtifactURI          string    `json:"artifact_uri" doc:"The registry's own copy of the package, as an mlflow-artifacts: URI of this server."`
	GitCommit            string    `json:"git_commit,omitempty"`
	GitDirty             bool      `json:"git_dirty,omitempty"`
	DatasetDigests       []string  `json:"dataset_digests,omitempty" doc:"Digests of the datasets it was trained on."`
}

type v1RegisteredModel struct {
	Name                 string           `json:"name"`
	CreationTimestamp    int64            `json:"creation_timestamp" doc:"Milliseconds since the Unix epoch."`
	LastUpdatedTimestamp int64            `json:"last_updated_timestamp" doc:"Milliseconds since the Unix epoch."`
	Description          string           `json:"description"`
	Tags                 []wireTag        `json:"tags,omitempty"`
	Aliases              map[string]int   `json:"aliases,omitempty" doc:"Alias names and the versions they point at."`
	LatestVersions       []v1ModelVersion `json:"latest_versions,omitempty" doc:"The newest version in each stage."`
}

type v1AuditEvent struct {
	ID        int64  `json:"id"`
	Time      int64  `json:"time" doc:"Milliseconds since the Unix epoch."`
	Principal string `json:"principal"`
	Action    string `json:"action" doc:"create_model, create_version, set_alias, transition_stage, request_promotion, approve, reject, record_check, promotion_blocked, ..."`
	Model     string `json:"model"`
	Version   int    `json:"version,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type v1PromotionRequest struct {
	ID          int64  `json:"id"`
	Model       string `json:"model"`
	Version     int    `json:"version"`
	Target      string `json:"target" doc:"A stage such as Production, or @alias."`
	RequestedBy string `json:"requested_by"`
	RequestedAt int64  `json:"requested_at"`
	Reason      string `json:"reason,omitempty"`
	Status      string `json:"status" doc:"pending, approved or rejected."`
	DecidedBy   string `json:"decided_by,omitempty"`
	DecidedAt   int64  `json:"decided_at,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

type v1Check struct {
	ID        int64  `json:"id"`
	Model     string `json:"model"`
	Version   int    `json:"version"`
	Kind      string `json:"kind"`
	Verdict   string `json:"verdict" doc:"pass or fail."`
	Details   any    `json:"details,omitempty"`
	CreatedBy string `json:"created_by"`
	CreatedAt int64  `json:"created_at"`
}

type v1LineageDataset struct {
	Digest string `json:"digest"`
	Name   string `json:"name,omitempty" doc:"The dataset's name, when the run recorded it as an input."`
	Source string `json:"source,omitempty"`
}

type v1Lineage struct {
	Version   v1ModelVersion     `json:"version"`
	Run       *wireRun           `json:"run,omitempty" doc:"The run that made the version; absent when it names none or the run was removed."`
	GitCommit string             `json:"git_commit,omitempty"`
	GitDirty  bool               `json:"git_dirty"`
	Datasets  []v1LineageDataset `json:"datasets"`
}

func toV1ModelVersion(v registry.Version) v1ModelVersion {
	return v1ModelVersion{
		Name: v.Name, Version: v.Version, CreationTimestamp: v.CreationTime, LastUpdatedTimestamp: v.LastUpdatedTime,
		UserID: v.UserID, CurrentStage: v.Stage, Description: v.Description, Source: v.Source, RunID: v.RunID,
		Status: v.Status, StatusMessage: v.StatusMessage, Tags: fromRegistryTags(v.Tags), Aliases: sortedStrings(v.Aliases),
		ModelDigest: v.ModelDigest, ArtifactURI: downloadURI(v), GitCommit: v.GitCommit, GitDirty: v.GitDirty,
		DatasetDigests: v.DatasetDigests,
	}
}

func toV1RegisteredModel(m registry.Model, latest []registry.Version) v1RegisteredModel {
	out := v1RegisteredModel{
		Name: m.Name, CreationTimestamp: m.CreationTime, LastUpdatedTimestamp: m.LastUpdatedTime,
		Description: m.Description, Tags: fromRegistryTags(m.Tags),
	}
	if len(m.Aliases) > 0 {
		out.Aliases = m.Aliases
	}
	for _, v := range latest {
		out.LatestVersions = append(out.LatestVersions, toV1ModelVersion(v))
	}
	return out
}

func toV1Request(r registry.Request) v1PromotionRequest {
	return v1PromotionRequest{
		ID: r.ID, Model: r.Model, Version: r.Version, Target: r.Target, RequestedBy: r.RequestedBy, RequestedAt: r.RequestedAt,
		Reason: r.Reason, Status: r.Status, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, Comment: r.Comment,
	}
}

func toV1Check(c registry.Check) v1Check {
	out := v1Check{ID: c.ID, Model: c.Model, Version: c.Version, Kind: c.Kind, Verdict: c.Verdict, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt}
	if c.Details != "" {
		var d any
		if json.Unmarshal([]byte(c.Details), &d) == nil {
			out.Details = d
		} else {
			out.Details = c.Details
		}
	}
	return out
}

// v1 requests and responses.

type v1ModelsQuery struct {
	Filter     string    `json:"filter,omitempty" doc:"A filter on the name: \"name LIKE 'churn%'\", \"name ILIKE '%fraud%'\" or \"name = 'churn'\"."`
	OrderBy    []string  `json:"order_by,omitempty" doc:"Sort keys: name, creation_timestamp or last_updated_timestamp with ASC or DESC; repeat the parameter for several."`
	MaxResults flexInt64 `json:"max_results,omitempty" doc:"The page size (default 100, at most 1000)."`
	PageToken  string    `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

type v1ModelList struct {
	RegisteredModels []v1RegisteredModel `json:"registered_models"`
	NextPageToken    string              `json:"next_page_token,omitempty" doc:"Present when there are more results; pass it as page_token."`
}

type v1CreateModelRequest struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Tags        []wireTag `json:"tags,omitempty"`
}

type v1UpdateModelRequest struct {
	Name        string  `json:"name,omitempty" doc:"A new name; absent or empty keeps the name."`
	Description *string `json:"description,omitempty" doc:"A new description; absent keeps it."`
}

type v1ModelResponse struct {
	RegisteredModel v1RegisteredModel `json:"registered_model"`
}

type v1RegisterVersionRequest struct {
	Source      string    `json:"source" doc:"The model package: runs:/<run_id>/<path> or an mlflow-artifacts: URI on this server."`
	RunID       string    `json:"run_id,omitempty" doc:"The run that made it, when source does not name one; default the package's lineage."`
	Description string    `json:"description,omitempty"`
	Tags        []wireTag `json:"tags,omitempty"`
}

type v1VersionResponse struct {
	ModelVersion v1ModelVersion `json:"model_version"`
}

type v1VersionsQuery struct {
	MaxResults flexInt64 `json:"max_results,omitempty" doc:"The page size (default 10000)."`
	PageToken  string    `json:"page_token,omitempty" doc:"The next_page_token of the previous page."`
}

type v1VersionList struct {
	ModelVersions []v1ModelVersion `json:"model_versions"`
	NextPageToken string           `json:"next_page_token,omitempty" doc:"Present when there are more results; pass it as page_token."`
}

type v1PromoteRequest struct {
	Target          string `json:"target" doc:"A stage (production, staging, archived, none; any case) or an alias (@champion)."`
	Reason          string `json:"reason,omitempty" doc:"Why; recorded in the audit trail."`
	ArchiveExisting bool   `json:"archive_existing,omitempty" doc:"Move the stage's other versions to Archived."`
}

type v1DecideRequest struct {
	Target  string `json:"target" doc:"The target of the pending request: a stage or @alias."`
	Comment string `json:"comment,omitempty"`
}

type v1DecisionResponse struct {
	Request v1PromotionRequest `json:"request"`
}

type v1CheckRequest struct {
	Kind    string `json:"kind" doc:"The kind of check, such as validation; promotion rules name kinds."`
	Verdict string `json:"verdict" doc:"pass or fail."`
	Details any    `json:"details,omitempty" doc:"Any JSON value, kept with the check."`
}

type v1CheckResponse struct {
	Check v1Check `json:"check"`
}

type v1SetAliasRequest struct {
	Version flexInt64 `json:"version" doc:"The version the alias points at."`
	Reason  string    `json:"reason,omitempty" doc:"Why; recorded in the audit trail."`
}

type v1HistoryResponse struct {
	Events []v1AuditEvent `json:"events"`
}

type v1ResolveQuery struct {
	URI string `json:"uri" doc:"models:/name/3, models:/name@alias, models:/name@latest or models:/name/Production."`
}

type v1LineageQuery struct {
	RunID   string `json:"run_id,omitempty" doc:"Versions registered from this run."`
	Dataset string `json:"dataset,omitempty" doc:"Versions trained on the dataset with this digest (sha256:...)."`
}

// v1 handlers.

func (s *Server) v1ModelResponse(ctx context.Context, name string) (v1ModelResponse, error) {
	m, latest, err := s.modelWithLatest(ctx, name)
	if err != nil {
		return v1ModelResponse{}, err
	}
	return v1ModelResponse{toV1RegisteredModel(m, latest)}, nil
}

func (s *Server) v1SearchModels(r *http.Request, req *v1ModelsQuery) (v1ModelList, error) {
	ms, next, err := s.searchModels(r.Context(), modelSearch{filter: req.Filter, orderBy: req.OrderBy, maxResults: int64(req.MaxResults), pageToken: req.PageToken})
	if err != nil {
		return v1ModelList{}, err
	}
	out := v1ModelList{RegisteredModels: make([]v1RegisteredModel, 0, len(ms)), NextPageToken: next}
	for _, m := range ms {
		latest, err := s.latestPerStage(r.Context(), m.Name, nil)
		if err != nil {
			return v1ModelList{}, err
		}
		out.RegisteredModels = append(out.RegisteredModels, toV1RegisteredModel(m, latest))
	}
	return out, nil
}

func (s *Server) v1CreateModel(r *http.Request, req *v1CreateModelRequest) (v1ModelResponse, error) {
	principal, err := principalOf(r)
	if err != nil {
		return v1ModelResponse{}, err
	}
	if err := requiredField("name", req.Name); err != nil {
		return v1ModelResponse{}, err
	}
	m, err := s.models.CreateModel(r.Context(), principal, req.Name, req.Description, toRegistryTags(req.Tags))
	if err != nil {
		return v1ModelResponse{}, err
	}
	return v1ModelResponse{toV1RegisteredModel(m, nil)}, nil
}

func (s *Server) v1GetModel(r *http.Request, _ *v1NoInput) (v1ModelResponse, error) {
	return s.v1ModelResponse(r.Context(), r.PathValue("name"))
}

func (s *Server) v1UpdateModel(r *http.Request, req *v1UpdateModelRequest) (v1ModelResponse, error) {
	name := r.PathValue("name")
	if req.Name != "" && req.Name != name {
		if err := s.renameModel(r, name, req.Name); err != nil {
			return v1ModelResponse{}, err
		}
		name = req.Name
	}
	if req.Description != nil {
		if err := s.models.Store().UpdateModel(r.Context(), name, *req.Description, time.Now().UnixMilli()); err != nil {
			return v1ModelResponse{}, err
		}
	}
	return s.v1ModelResponse(r.Context(), name)
}

func (s *Server) v1DeleteModel(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.deleteModel(r, r.PathValue("name"))
}

func (s *Server) v1RegisterVersion(r *http.Request, req *v1RegisterVersionRequest) (v1VersionResponse, error) {
	principal, err := principalOf(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	if err := requiredField("source", req.Source); err != nil {
		return v1VersionResponse{}, err
	}
	v, err := s.models.RegisterVersion(r.Context(), principal, r.PathValue("name"), registerSource(req.Source), req.RunID, req.Description, toRegistryTags(req.Tags), true)
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResponse{toV1ModelVersion(v)}, nil
}

func (s *Server) v1ListVersions(r *http.Request, req *v1VersionsQuery) (v1VersionList, error) {
	name := r.PathValue("name")
	if _, err := s.models.GetModel(r.Context(), name); err != nil {
		return v1VersionList{}, err
	}
	max := int(req.MaxResults)
	switch {
	case max < 0 || max > versionSearchMax:
		return v1VersionList{}, ferry.Errorf(ferry.EINVALID, "Invalid value %d for parameter 'max_results': it must be between 1 and %d.", max, versionSearchMax)
	case max == 0:
		max = versionSearchDefault
	}
	vs, next, err := s.models.Store().SearchVersions(r.Context(), registry.VersionQuery{Name: name, MaxResults: max, PageToken: req.PageToken})
	if err != nil {
		return v1VersionList{}, err
	}
	out := v1VersionList{ModelVersions: make([]v1ModelVersion, 0, len(vs)), NextPageToken: next}
	for _, v := range vs {
		out.ModelVersions = append(out.ModelVersions, toV1ModelVersion(v))
	}
	return out, nil
}

// pathVersion reads the {name} and {version} of r's path.
func pathVersion(r *http.Request) (string, int, error) {
	v, err := parseVersion(r.PathValue("version"))
	return r.PathValue("name"), v, err
}

func (s *Server) v1GetVersion(r *http.Request, _ *v1NoInput) (v1VersionResponse, error) {
	name, version, err := pathVersion(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	v, err := s.models.Store().GetVersion(r.Context(), name, version)
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResponse{toV1ModelVersion(v)}, nil
}

func (s *Server) v1DeleteVersion(r *http.Request, _ *v1NoInput) (empty, error) {
	name, version, err := pathVersion(r)
	if err != nil {
		return empty{}, err
	}
	return empty{}, s.deleteVersion(r, name, version)
}

func (s *Server) v1Promote(r *http.Request, req *v1PromoteRequest) (v1VersionResponse, error) {
	principal, err := principalOf(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	name, version, err := pathVersion(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	if err := requiredField("target", req.Target); err != nil {
		return v1VersionResponse{}, err
	}
	v, err := s.models.Promote(r.Context(), principal, name, version, req.Target, req.Reason, req.ArchiveExisting)
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResponse{toV1ModelVersion(v)}, nil
}

func (s *Server) v1Decide(r *http.Request, req *v1DecideRequest, approve bool) (v1DecisionResponse, error) {
	principal, err := principalOf(r)
	if err != nil {
		return v1DecisionResponse{}, err
	}
	name, version, err := pathVersion(r)
	if err != nil {
		return v1DecisionResponse{}, err
	}
	if err := requiredField("target", req.Target); err != nil {
		return v1DecisionResponse{}, err
	}
	d, err := s.models.Decide(r.Context(), principal, name, version, req.Target, approve, req.Comment)
	if err != nil {
		return v1DecisionResponse{}, err
	}
	return v1DecisionResponse{toV1Request(d)}, nil
}

func (s *Server) v1Approve(r *http.Request, req *v1DecideRequest) (v1DecisionResponse, error) {
	return s.v1Decide(r, req, true)
}

func (s *Server) v1Reject(r *http.Request, req *v1DecideRequest) (v1DecisionResponse, error) {
	return s.v1Decide(r, req, false)
}

func (s *Server) v1RecordCheck(r *http.Request, req *v1CheckRequest) (v1CheckResponse, error) {
	principal, err := principalOf(r)
	if err != nil {
		return v1CheckResponse{}, err
	}
	name, version, err := pathVersion(r)
	if err != nil {
		return v1CheckResponse{}, err
	}
	details := ""
	if req.Details != nil {
		b, err := json.Marshal(req.Details)
		if err != nil {
			return v1CheckResponse{}, ferry.Errorf(ferry.EINVALID, "Field 'details' must be a JSON value.")
		}
		details = string(b)
	}
	c, err := s.models.RecordCheck(r.Context(), principal, name, version, req.Kind, req.Verdict, details)
	if err != nil {
		return v1CheckResponse{}, err
	}
	return v1CheckResponse{toV1Check(c)}, nil
}

func (s *Server) v1SetAlias(r *http.Request, req *v1SetAliasRequest) (v1VersionResponse, error) {
	principal, err := principalOf(r)
	if err != nil {
		return v1VersionResponse{}, err
	}
	name, alias := r.PathValue("name"), r.PathValue("alias")
	if err := registry.ValidateAlias(alias); err != nil {
		return v1VersionResponse{}, err
	}
	if req.Version <= 0 {
		return v1VersionResponse{}, ferry.Errorf(ferry.EINVALID, "Missing value for required field 'version': the version number the alias points at.")
	}
	v, err := s.models.SetAlias(r.Context(), principal, name, alias, int(req.Version), req.Reason)
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResponse{toV1ModelVersion(v)}, nil
}

func (s *Server) v1DeleteAlias(r *http.Request, _ *v1NoInput) (empty, error) {
	principal, err := principalOf(r)
	if err != nil {
		return empty{}, err
	}
	return empty{}, s.models.DeleteAlias(r.Context(), principal, r.PathValue("name"), r.PathValue("alias"))
}

func (s *Server) v1History(r *http.Request, _ *v1NoInput) (v1HistoryResponse, error) {
	evs, err := s.models.History(r.Context(), r.PathValue("name"))
	if err != nil {
		return v1HistoryResponse{}, err
	}
	out := v1HistoryResponse{Events: make([]v1AuditEvent, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, v1AuditEvent{
			ID: e.ID, Time: e.Time, Principal: e.Principal, Action: e.Action, Model: e.Model,
			Version: e.Version, From: e.From, To: e.To, Reason: e.Reason,
		})
	}
	return out, nil
}

func (s *Server) v1Resolve(r *http.Request, req *v1ResolveQuery) (v1VersionResponse, error) {
	if err := requiredField("uri", req.URI); err != nil {
		return v1VersionResponse{}, err
	}
	v, err := s.models.Resolve(r.Context(), req.URI)
	if err != nil {
		return v1VersionResponse{}, err
	}
	return v1VersionResponse{toV1ModelVersion(v)}, nil
}

func (s *Server) v1VersionLineage(r *http.Request, _ *v1NoInput) (v1Lineage, error) {
	name, version, err := pathVersion(r)
	if err != nil {
		return v1Lineage{}, err
	}
	v, err := s.models.Store().GetVersion(r.Context(), name, version)
	if err != nil {
		return v1Lineage{}, err
	}
	out := v1Lineage{Version: toV1ModelVersion(v), GitCommit: v.GitCommit, GitDirty: v.GitDirty, Datasets: []v1LineageDataset{}}
	var run tracking.Run
	if v.RunID != "" {
		run, err = s.tracking.GetRun(r.Context(), v.RunID)
		switch ferry.ErrorCode(err) {
		case "":
			w := toWireRun(run)
			out.Run = &w
		case ferry.ENOTFOUND:
		default:
			return v1Lineage{}, err
		}
	}
	for _, d := range v.DatasetDigests {
		ds := v1LineageDataset{Digest: d}
		for _, in := range run.Inputs {
			if sameDigest(d, in.Dataset.Digest) {
				ds.Name, ds.Source = in.Dataset.Name, in.Dataset.Source
				break
			}
		}
		out.Datasets = append(out.Datasets, ds)
	}
	return out, nil
}

// sameDigest reports whether a run input's digest names the dataset of a
// version's lineage digest: equal, or the first hex digits of it that fit
// MLflow's 36-character limit on dataset digests.
func sameDigest(lineage, input string) bool {
	if lineage == input {
		return true
	}
	hex := strings.TrimPrefix(lineage, "sha256:")
	return len(input) >= 12 && strings.HasPrefix(hex, strings.TrimPrefix(input, "sha256:"))
}

func (s *Server) v1SearchLineage(r *http.Request, req *v1LineageQuery) (v1VersionList, error) {
	if req.RunID == "" && req.Dataset == "" {
		return v1VersionList{}, ferry.Errorf(ferry.EINVALID, "Give run_id=<run id> or dataset=<digest> to find the versions made from it.")
	}
	vs, err := s.allVersions(r.Context(), registry.VersionQuery{RunID: req.RunID, Dataset: req.Dataset})
	if err != nil {
		return v1VersionList{}, err
	}
	out := v1VersionList{ModelVersions: make([]v1ModelVersion, 0, len(vs))}
	for _, v := range vs {
		out.ModelVersions = append(out.ModelVersions, toV1ModelVersion(v))
	}
	return out, nil
}
