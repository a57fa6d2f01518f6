package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/wirejson"
)

// Search bounds, as MLflow's model registry has them.
const (
	ModelSearchDefault   = 100
	ModelSearchMax       = 1000
	VersionSearchDefault = 10000
	VersionSearchMax     = 200000
)

// Search is a search of registered models or versions as MLflow's
// search_registered_models and search_model_versions take it.
type Search struct {
	// Filter is conditions joined by AND, each a key, an operator and a
	// quoted string, as MLflow's SQL store takes them. Models: name and
	// tags.<key> with =, !=, LIKE (case-sensitive) or ILIKE. Versions: the
	// same, and run_id with = or !=. A tag key with other characters than
	// letters, digits, _, - and . is quoted in backticks: tags.`my key`.
	Filter string
	// OrderBy are keys with an optional ASC or DESC. Models: name,
	// creation_timestamp (or timestamp), last_updated_timestamp. Versions:
	// name, version_number (or version), creation_timestamp (or timestamp),
	// last_updated_timestamp.
	OrderBy []string
	// MaxResults is the page size; 0 is the default (100 models, 10000
	// versions), more than the maximum (1000, 200000) is EINVALID.
	MaxResults int64
	// PageToken is the next-page token of the previous page of the same search.
	PageToken string
}

// SearchModels runs a registered-model search in the store, one page at a
// time. Each model comes with its latest version per stage. A malformed
// filter, order or token is EINVALID.
func (s *Service) SearchModels(ctx context.Context, q Search) ([]Model, string, error) {
	size, err := pageSize(q.MaxResults, ModelSearchDefault, ModelSearchMax)
	if err != nil {
		return nil, "", err
	}
	conds, err := parseFilter(q.Filter, map[string][]string{"name": stringOps, "tag": stringOps})
	if err != nil {
		return nil, "", err
	}
	order, err := modelOrder(q.OrderBy)
	if err != nil {
		return nil, "", err
	}
	mq := ModelQuery{Where: conds, MaxResults: size, PageToken: q.PageToken, OrderBy: order}
	ms, next, err := s.store.SearchModels(ctx, mq)
	if err != nil {
		return nil, "", err
	}
	if err := s.withLatest(ctx, ms); err != nil {
		return nil, "", err
	}
	return ms, next, nil
}

// SearchVersions runs a model-version search in the store, one page at a
// time. Without order_by, versions come by name, newest first. A malformed
// filter, order or token is EINVALID.
func (s *Service) SearchVersions(ctx context.Context, q Search) ([]Version, string, error) {
	size, err := pageSize(q.MaxResults, VersionSearchDefault, VersionSearchMax)
	if err != nil {
		return nil, "", err
	}
	conds, err := parseFilter(q.Filter, map[string][]string{"name": stringOps, "run_id": {"=", "!="}, "tag": stringOps})
	if err != nil {
		return nil, "", err
	}
	order, err := versionOrder(q.OrderBy)
	if err != nil {
		return nil, "", err
	}
	vq := VersionQuery{Where: conds, MaxResults: size, PageToken: q.PageToken, OrderBy: order}
	return s.store.SearchVersions(ctx, vq)
}

// ListVersions returns a page of the versions q selects, by name and newest
// first. With q.Name set, an unknown model is ENOTFOUND. q.MaxResults 0 is
// VersionSearchDefault; more than VersionSearchMax is EINVALID.
func (s *Service) ListVersions(ctx context.Context, q VersionQuery) ([]Version, string, error) {
	if q.MaxResults < 0 || q.MaxResults > VersionSearchMax {
		return nil, "", invalid("Invalid value %d for parameter 'max_results': it must be between 1 and %d.", q.MaxResults, VersionSearchMax)
	}
	if q.MaxResults == 0 {
		q.MaxResults = VersionSearchDefault
	}
	if q.Name != "" {
		if _, err := s.store.GetModel(ctx, q.Name); err != nil {
			return nil, "", err
		}
	}
	return s.store.SearchVersions(ctx, q)
}

func pageSize(n int64, def, max int) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("Invalid value %d for parameter 'max_results': it must be a positive number.", n)
	case n > int64(max):
		return 0, invalid("Invalid value %d for parameter 'max_results': it must be at most %d.", n, max)
	case n == 0:
		return def, nil
	}
	return int(n), nil
}

// stringOps are the operators of string fields and tags.
var stringOps = []string{"=", "!=", "LIKE", "ILIKE"}

// parseFilter reads a filter of conditions joined by AND, each a key from
// allowed ("tag" allows tags.<key>), one of that key's operators, and a
// quoted string. It is the subset of MLflow's registry search grammar
// Ferry supports.
func parseFilter(filter string, allowed map[string][]string) ([]Cond, error) {
	bad := func(format string, args ...any) error {
		return invalid("Invalid filter %q: %s", wirejson.Clip(filter), fmt.Sprintf(format, args...))
	}
	var conds []Cond
	rest := strings.TrimSpace(filter)
	for rest != "" {
		c, after, err := parseKey(rest)
		if err != nil {
			return nil, bad("%s", err)
		}
		ops, ok := allowed[c.Field]
		if !ok {
			keys := make([]string, 0, len(allowed))
			for k := range allowed {
				if k == "tag" {
					k = "tags.<key>"
				}
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, bad("only %s can be searched here, not %q.", strings.Join(keys, ", "), wirejson.Clip(rest[:len(rest)-len(after)]))
		}
		rest = strings.TrimSpace(after)
		// operator
		op := ""
		for _, o := range []string{"!=", "=", "ILIKE", "LIKE"} {
			if len(rest) >= len(o) && strings.EqualFold(rest[:len(o)], o) {
				op = o
				break
			}
		}
		what := c.Field
		if c.Field == "tag" {
			what = "a tag"
		}
		if op == "" || !contains(ops, op) {
			return nil, bad("%s supports the operator(s) %s.", what, strings.Join(ops, ", "))
		}
		c.Op = op
		rest = strings.TrimSpace(rest[len(op):])
		// 'value'
		if rest == "" || (rest[0] != '\'' && rest[0] != '"') {
			return nil, bad("the value compared with %s must be a quoted string, such as '%s'.", what, "churn")
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
		c.Value = val.String()
		conds = append(conds, c)
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

// parseKey reads the key at the start of s: an attribute name (lower-cased,
// an "attribute." prefix dropped) or tags.<key> / tag.<key>, the key plain
// or in backticks. It returns the condition with Field (and Key) set and
// the rest of s.
func parseKey(s string) (Cond, string, error) {
	word := func(s string) int {
		i := strings.IndexFunc(s, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-')
		})
		if i < 0 {
			return len(s)
		}
		return i
	}
	lower := strings.ToLower(s)
	for _, p := range []string{"tags.", "tag."} {
		if !strings.HasPrefix(lower, p) {
			continue
		}
		rest := s[len(p):]
		if strings.HasPrefix(rest, "`") {
			end := strings.IndexByte(rest[1:], '`')
			if end < 0 {
				return Cond{}, "", fmt.Errorf("a backtick-quoted tag key is not closed.")
			}
			return Cond{Field: "tag", Key: rest[1 : end+1]}, rest[end+2:], nil
		}
		i := word(rest)
		if i == 0 {
			return Cond{}, "", fmt.Errorf("a tag key must follow %q.", p)
		}
		return Cond{Field: "tag", Key: rest[:i]}, rest[i:], nil
	}
	i := word(s)
	return Cond{Field: strings.TrimPrefix(strings.TrimPrefix(lower[:i], "attributes."), "attribute.")}, s[i:], nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// canonicalOrder checks order_by clauses against keys (alias → canonical
// key) and returns them as "key ASC" or "key DESC". what names the keys in
// the error message.
func canonicalOrder(in []string, keys map[string]string, what string) ([]string, error) {
	var out []string
	for _, o := range in {
		f := strings.Fields(o)
		if len(f) == 0 {
			continue
		}
		bad := invalid("Invalid order_by clause %q: order by %s, with ASC or DESC.", wirejson.Clip(o), what)
		key, ok := keys[strings.ToLower(f[0])]
		if !ok {
			return nil, bad
		}
		dir := "ASC"
		switch {
		case len(f) == 1:
		case len(f) == 2 && (strings.EqualFold(f[1], "ASC") || strings.EqualFold(f[1], "DESC")):
			dir = strings.ToUpper(f[1])
		default:
			return nil, bad
		}
		out = append(out, key+" "+dir)
	}
	return out, nil
}

func modelOrder(in []string) ([]string, error) {
	return canonicalOrder(in, map[string]string{
		"name": "name", "creation_timestamp": "creation_timestamp", "timestamp": "creation_timestamp",
		"last_updated_timestamp": "last_updated_timestamp",
	}, "name, creation_timestamp or last_updated_timestamp")
}

func versionOrder(in []string) ([]string, error) {
	return canonicalOrder(in, map[string]string{
		"name": "name", "version_number": "version_number", "version": "version_number",
		"creation_timestamp": "creation_timestamp", "timestamp": "creation_timestamp",
		"last_updated_timestamp": "last_updated_timestamp",
	}, "name, version_number, creation_timestamp or last_updated_timestamp")
}

// EncodePageToken returns the page token of the registry searches that
// starts at offset.
func EncodePageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

// DecodePageToken returns the offset of a token from EncodePageToken; "" is
// 0. Anything else is EINVALID.
func DecodePageToken(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	n, perr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
	if err != nil || perr != nil || !strings.HasPrefix(string(raw), "offset:") || n < 0 {
		return 0, ferry.Errorf(ferry.EINVALID, "Invalid page_token %q: pass the next_page_token of the previous page, with the same filter and order_by.", wirejson.Clip(token))
	}
	return n, nil
}
