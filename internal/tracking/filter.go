package tracking

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// This file parses MLflow's search grammar (mlflow/utils/search_utils.py) into
// the AST of search.go:
//
//	filter     = [ comparison { AND comparison } ]
//	comparison = identifier operator operand
//	identifier = [ entity "." ] key
//	key        = plain | "quoted" | `quoted`
//	operator   = "=" | "!=" | ">" | ">=" | "<" | "<=" | LIKE | ILIKE
//	           | IN | NOT IN | IS NULL | IS NOT NULL
//	operand    = number | 'string' | "string" | "(" string { "," string } ")"
//	order_by   = identifier [ ASC | DESC ]
//
// Keywords, entity prefixes and ASC/DESC are case-insensitive; keys and values are
// not. A plain key is a run of ASCII letters, digits and _ . - / : and takes
// everything after the first "." of the identifier, so tags.mlflow.runName has
// key mlflow.runName. Inside quotes, a doubled quote or a backslash before the
// quote or another backslash stands for that character; any other backslash is
// kept, so LIKE escapes such as '50\%' reach the store unchanged.

// Operator sets, in the order error messages list them. Never mutated.
var (
	numericOps  = []string{"=", "!=", ">", ">=", "<", "<="}
	stringOps   = []string{"=", "!=", "LIKE", "ILIKE"}
	nullableOps = []string{"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
	listOps     = []string{"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
)

// numberPattern is the literal syntax of numbers: no hex, underscores, NaN or Inf.
var numberPattern = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// rule says which operators a left-hand side takes and whether its operand is
// a number; IN and NOT IN take a list, IS [NOT] NULL none, others a string.
type rule struct {
	ops     []string
	numeric bool
}

// attrSpec is a searchable attribute: its canonical key and its rule.
type attrSpec struct {
	key  string
	rule rule
}

// grammar is the part of the search language that differs between runs and
// experiments. Its maps are lookup tables that are never mutated.
type grammar struct {
	entities      map[string]Entity // entity prefix, lower case
	entityHint    string            // the valid prefixes, for error messages
	tagOps        []string          // operators of params and tags
	filterAttrs   map[string]attrSpec
	orderEntities []Entity
	orderAttrs    map[string]string // attribute or alias -> canonical key
}

var runEntities = map[string]Entity{
	"metric": EntityMetric, "metrics": EntityMetric,
	"param": EntityParam, "params": EntityParam, "parameter": EntityParam, "parameters": EntityParam,
	"tag": EntityTag, "tags": EntityTag,
	"attribute": EntityAttribute, "attributes": EntityAttribute, "attr": EntityAttribute, "run": EntityAttribute,
	"dataset": EntityDataset, "datasets": EntityDataset,
}

var runGrammar = &grammar{
	entities:   runEntities,
	entityHint: "metrics, params, tags, attributes or datasets",
	tagOps:     nullableOps,
	filterAttrs: map[string]attrSpec{
		"run_id":          {"run_id", rule{listOps, false}},
		"run_name":        {"run_name", rule{stringOps, false}},
		"status":          {"status", rule{stringOps, false}},
		"user_id":         {"user_id", rule{stringOps, false}},
		"artifact_uri":    {"artifact_uri", rule{stringOps, false}},
		"lifecycle_stage": {"lifecycle_stage", rule{stringOps, false}},
		"start_time":      {"start_time", rule{numericOps, true}},
		"end_time":        {"end_time", rule{numericOps, true}},
		// MLflow's aliases.
		"created":  {"start_time", rule{numericOps, true}},
		"Created":  {"start_time", rule{numericOps, true}},
		"run name": {"run_name", rule{stringOps, false}},
		"Run name": {"run_name", rule{stringOps, false}},
		"Run Name": {"run_name", rule{stringOps, false}},
	},
	orderEntities: []Entity{EntityMetric, EntityParam, EntityTag, EntityAttribute},
	orderAttrs: map[string]string{
		"start_time": "start_time", "end_time": "end_time", "created": "start_time", "Created": "start_time",
		"run_name": "run_name", "run name": "run_name", "Run name": "run_name", "Run Name": "run_name",
		"run_id": "run_id", "status": "status", "user_id": "user_id", "artifact_uri": "artifact_uri",
		"experiment_id": "experiment_id",
	},
}

var experimentGrammar = &grammar{
	entities: map[string]Entity{
		"attribute": EntityAttribute, "attributes": EntityAttribute, "attr": EntityAttribute,
		"tag": EntityTag, "tags": EntityTag,
	},
	entityHint: "attributes or tags",
	tagOps:     stringOps,
	filterAttrs: map[string]attrSpec{
		"name":             {"name", rule{stringOps, false}},
		"creation_time":    {"creation_time", rule{numericOps, true}},
		"last_update_time": {"last_update_time", rule{numericOps, true}},
	},
	orderEntities: []Entity{EntityAttribute},
	orderAttrs: map[string]string{
		"name": "name", "experiment_id": "experiment_id",
		"creation_time": "creation_time", "last_update_time": "last_update_time",
	},
}

var loggedModelGrammar = &grammar{
	entities: map[string]Entity{
		"attribute": EntityAttribute, "attributes": EntityAttribute, "attr": EntityAttribute,
		"param": EntityParam, "params": EntityParam,
		"tag": EntityTag, "tags": EntityTag,
	},
	entityHint: "attributes, params or tags",
	tagOps:     stringOps,
	filterAttrs: map[string]attrSpec{
		"name":                   {"name", rule{stringOps, false}},
		"model_id":               {"model_id", rule{listOps, false}},
		"model_type":             {"model_type", rule{stringOps, false}},
		"status":                 {"status", rule{stringOps, false}},
		"source_run_id":          {"source_run_id", rule{listOps, false}},
		"creation_timestamp":     {"creation_timestamp", rule{numericOps, true}},
		"last_updated_timestamp": {"last_updated_timestamp", rule{numericOps, true}},
		// MLflow's aliases.
		"creation_time":     {"creation_timestamp", rule{numericOps, true}},
		"last_updated_time": {"last_updated_timestamp", rule{numericOps, true}},
	},
	orderEntities: []Entity{EntityAttribute},
	orderAttrs: map[string]string{
		"name": "name", "model_id": "model_id", "model_type": "model_type", "status": "status",
		"source_run_id": "source_run_id", "creation_timestamp": "creation_timestamp", "creation_time": "creation_timestamp",
		"last_updated_timestamp": "last_updated_timestamp", "last_updated_time": "last_updated_timestamp",
	},
}

// datasetKeys are the searchable fields of a run's dataset inputs.
var datasetKeys = []string{"name", "digest", "context"}

// ParseRunFilter parses a search_runs filter such as
//
//	metrics.acc > 0.9 and params.lr = '0.1' and tags.`x y` LIKE 'a%'
//
// into a conjunction of comparisons with canonical keys (created is start_time,
// "Run name" is run_name) and operators in upper case. An empty or blank filter
// is an empty Filter. Any malformed filter is a *ferry.Error with code EINVALID
// whose message names the problem, what was expected and where.
func ParseRunFilter(s string) (Filter, error) { return runGrammar.parseFilter(s) }

// ParseExperimentFilter parses a search_experiments filter: attributes name,
// creation_time and last_update_time (prefix optional) and tags. Errors are as
// for ParseRunFilter.
func ParseExperimentFilter(s string) (Filter, error) { return experimentGrammar.parseFilter(s) }

// ParseLoggedModelFilter parses a search_logged_models filter over the
// attributes name, model_id, model_type, status, source_run_id,
// creation_timestamp and last_updated_timestamp (prefix optional), params and
// tags, e.g. "source_run_id = 'abc' AND name = 'model'". Errors are as for
// ParseRunFilter.
func ParseLoggedModelFilter(s string) (Filter, error) { return loggedModelGrammar.parseFilter(s) }

// ParseLoggedModelOrderBy parses one order_by field name of a logged-model
// search ("creation_timestamp", "attributes.name") with its direction.
func ParseLoggedModelOrderBy(field string, ascending bool) (OrderBy, error) {
	ob, err := loggedModelGrammar.orderBy(field)
	ob.Ascending = ascending
	return ob, err
}

// ParseRunOrderBy parses search_runs order_by items such as "metrics.acc DESC"
// or "attributes.start_time". Terms ascend unless DESC is given. Attributes are
// start_time (alias created), end_time, run_name, run_id, status, user_id,
// artifact_uri and experiment_id. A malformed item is EINVALID.
func ParseRunOrderBy(list []string) ([]OrderBy, error) { return runGrammar.parseOrderBy(list) }

// ParseExperimentOrderBy parses search_experiments order_by items over the
// attributes name, experiment_id, creation_time and last_update_time (prefix
// optional). A malformed item is EINVALID.
func ParseExperimentOrderBy(list []string) ([]OrderBy, error) {
	return experimentGrammar.parseOrderBy(list)
}

// ParseViewType parses a view type: "" is ACTIVE_ONLY; ACTIVE_ONLY, DELETED_ONLY
// and ALL in any case, or their proto enum numbers 1, 2 and 3. Anything else is
// EINVALID.
func ParseViewType(s string) (ViewType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "ACTIVE_ONLY", "1":
		return ViewActiveOnly, nil
	case "DELETED_ONLY", "2":
		return ViewDeletedOnly, nil
	case "ALL", "3":
		return ViewAll, nil
	}
	return "", ferry.Errorf(ferry.EINVALID, "Invalid view type '%s': expected ACTIVE_ONLY, DELETED_ONLY or ALL.", clipForMessage(s))
}

func (g *grammar) parseFilter(s string) (Filter, error) {
	sc, err := newFilterScanner("filter", s)
	if err != nil || sc.atEnd() {
		return nil, err
	}
	var f Filter
	for {
		c, err := g.comparison(sc)
		if err != nil {
			return nil, err
		}
		f = append(f, c)
		if sc.atEnd() {
			return f, nil
		}
		at := sc.pos
		switch strings.ToUpper(sc.word()) {
		case "AND":
		case "OR":
			return nil, sc.fail(at, "OR is not supported, expected AND to combine comparisons")
		default:
			return nil, sc.fail(at, "expected AND or the end of the filter, found %s", sc.describe(at))
		}
	}
}

// comparison parses one "identifier operator operand" term.
func (g *grammar) comparison(sc *filterScanner) (Comparison, error) {
	at := sc.peekPos()
	e, key, err := g.identifier(sc)
	if err != nil {
		return Comparison{}, err
	}
	lhs := describeLHS(e, key)
	key, r, msg := g.resolve(e, key)
	if msg != "" {
		return Comparison{}, sc.fail(at, "%s", msg)
	}
	c := Comparison{Entity: e, Key: key}
	at = sc.peekPos()
	if c.Op, err = sc.operator(); err != nil {
		return Comparison{}, err
	}
	if !slices.Contains(r.ops, c.Op) {
		return Comparison{}, sc.fail(at, "operator %s is not valid for %s, expected one of %s", c.Op, lhs, strings.Join(r.ops, ", "))
	}
	switch {
	case c.Op == "IS NULL" || c.Op == "IS NOT NULL":
	case c.Op == "IN" || c.Op == "NOT IN":
		c.Values, err = sc.list(lhs)
	case r.numeric:
		c.Num, err = sc.number(lhs)
		c.IsNum = true
	default:
		c.Str, err = sc.str(lhs)
	}
	return c, err
}

// identifier parses "[entity.]key" and returns the entity and the raw key; a
// key without prefix is an attribute, as in MLflow.
func (g *grammar) identifier(sc *filterScanner) (Entity, string, error) {
	at := sc.peekPos()
	if sc.atQuote() {
		key, err := sc.quoted()
		if err == nil && key == "" {
			err = sc.fail(at, "empty key")
		}
		return EntityAttribute, key, err
	}
	run := sc.run(isPlainKeyChar)
	if run == "" {
		return "", "", sc.fail(at, "expected an identifier such as metrics.<key>, params.<key>, tags.<key> or attributes.<key>, found %s", sc.describe(at))
	}
	prefix, key, dotted := strings.Cut(run, ".")
	if !dotted {
		return EntityAttribute, run, nil
	}
	e, ok := g.entities[strings.ToLower(prefix)]
	if !ok {
		return "", "", sc.fail(at, "unknown entity type '%s', expected %s", prefix, g.entityHint)
	}
	if key == "" {
		if !sc.atQuote() {
			return "", "", sc.fail(sc.pos, "expected a key after '%s.', plain or quoted with \" or `", prefix)
		}
		var err error
		if key, err = sc.quoted(); err != nil {
			return "", "", err
		}
		if key == "" {
			return "", "", sc.fail(at, "empty key after '%s.'", prefix)
		}
	}
	return e, key, nil
}

// resolve returns the canonical key and rule of a filter's left-hand side, or a
// message saying why it is not searchable.
func (g *grammar) resolve(e Entity, key string) (string, rule, string) {
	switch e {
	case EntityMetric:
		return key, rule{numericOps, true}, ""
	case EntityParam, EntityTag:
		return key, rule{g.tagOps, false}, ""
	case EntityDataset:
		if !slices.Contains(datasetKeys, key) {
			return "", rule{}, fmt.Sprintf("unknown dataset key '%s', expected one of %s", key, strings.Join(datasetKeys, ", "))
		}
		return key, rule{listOps, false}, ""
	}
	spec, ok := g.filterAttrs[key]
	if !ok {
		var names []string
		for k, v := range g.filterAttrs {
			if k == v.key {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		return "", rule{}, fmt.Sprintf("unknown attribute '%s', expected one of %s (keys of other entities need a prefix: %s)", key, strings.Join(names, ", "), g.entityHint)
	}
	return spec.key, spec.rule, ""
}

func (g *grammar) parseOrderBy(list []string) ([]OrderBy, error) {
	var out []OrderBy
	for _, item := range list {
		ob, err := g.orderBy(item)
		if err != nil {
			return nil, err
		}
		out = append(out, ob)
	}
	return out, nil
}

// orderBy parses one "identifier [ASC|DESC]" item.
func (g *grammar) orderBy(item string) (OrderBy, error) {
	sc, err := newFilterScanner("order_by clause", item)
	if err != nil {
		return OrderBy{}, err
	}
	at := sc.peekPos()
	e, key, err := g.identifier(sc)
	if err != nil {
		return OrderBy{}, err
	}
	if !slices.Contains(g.orderEntities, e) {
		return OrderBy{}, sc.fail(at, "cannot order by %s", describeLHS(e, key))
	}
	if e == EntityAttribute {
		canon, ok := g.orderAttrs[key]
		if !ok {
			var names []string
			for k, v := range g.orderAttrs {
				if k == v {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			return OrderBy{}, sc.fail(at, "cannot order by attribute '%s', expected one of %s", key, strings.Join(names, ", "))
		}
		key = canon
	}
	ob := OrderBy{Entity: e, Key: key, Ascending: true}
	if sc.atEnd() {
		return ob, nil
	}
	at = sc.peekPos()
	switch strings.ToUpper(sc.word()) {
	case "ASC":
	case "DESC":
		ob.Ascending = false
	default:
		return OrderBy{}, sc.fail(at, "expected ASC, DESC or the end of the clause, found %s", sc.describe(at))
	}
	if !sc.atEnd() {
		at = sc.peekPos()
		return OrderBy{}, sc.fail(at, "expected the end of the clause, found %s", sc.describe(at))
	}
	return ob, nil
}

// describeLHS names a left-hand side for messages, e.g. "metric 'acc'".
func describeLHS(e Entity, key string) string { return fmt.Sprintf("%s '%s'", e, key) }

// filterScanner reads tokens from a filter or order_by clause. Positions are
// byte offsets into src; messages report them as 1-based character positions.
type filterScanner struct {
	what string // "filter" or "order_by clause", for messages
	src  string
	pos  int
}

// newFilterScanner returns a scanner over s, or EINVALID if s is not valid UTF-8
// or holds a NUL, which no store can compare.
func newFilterScanner(what, s string) (*filterScanner, error) {
	sc := &filterScanner{what: what, src: s}
	if !utf8.ValidString(s) {
		return nil, ferry.Errorf(ferry.EINVALID, "Invalid %s: it is not valid UTF-8.", what)
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, sc.fail(i, "NUL characters are not allowed")
	}
	return sc, nil
}

// fail returns an EINVALID error for the token at byte offset at.
func (sc *filterScanner) fail(at int, format string, args ...any) error {
	where := "at the end"
	if at < len(sc.src) {
		where = fmt.Sprintf("at position %d", utf8.RuneCountInString(sc.src[:at])+1)
	}
	return ferry.Errorf(ferry.EINVALID, "Invalid %s '%s': %s %s.", sc.what, clipForMessage(sc.src), fmt.Sprintf(format, args...), where)
}

// describe quotes the token at byte offset at, for "found ..." in messages.
func (sc *filterScanner) describe(at int) string {
	if at >= len(sc.src) {
		return "nothing"
	}
	rest := sc.src[at:]
	end := strings.IndexFunc(rest, unicode.IsSpace)
	if end <= 0 {
		end = len(rest)
	}
	const limit = 24
	if end <= limit {
		return "'" + rest[:end] + "'"
	}
	end = limit
	for !utf8.RuneStart(rest[end]) {
		end--
	}
	return "'" + rest[:end] + "...'"
}

func (sc *filterScanner) skipSpace() {
	for sc.pos < len(sc.src) {
		r, n := utf8.DecodeRuneInString(sc.src[sc.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		sc.pos += n
	}
}

// peekPos skips white space and returns the offset of the next token.
func (sc *filterScanner) peekPos() int { sc.skipSpace(); return sc.pos }

// atEnd reports whether only white space is left.
func (sc *filterScanner) atEnd() bool { return sc.peekPos() >= len(sc.src) }

func (sc *filterScanner) atQuote() bool {
	if sc.atEnd() {
		return false
	}
	c := sc.src[sc.pos]
	return c == '\'' || c == '"' || c == '`'
}

// run returns the longest run of ASCII bytes satisfying ok at the position.
func (sc *filterScanner) run(ok func(byte) bool) string {
	start := sc.pos
	for sc.pos < len(sc.src) && ok(sc.src[sc.pos]) {
		sc.pos++
	}
	return sc.src[start:sc.pos]
}

// word returns the next keyword-like token (letters, digits, underscores).
func (sc *filterScanner) word() string { sc.skipSpace(); return sc.run(isWordChar) }

// quoted reads a string in ', " or ` quotes and returns it unescaped.
func (sc *filterScanner) quoted() (string, error) {
	start := sc.pos
	q := sc.src[sc.pos]
	sc.pos++
	var b strings.Builder
	for sc.pos < len(sc.src) {
		c := sc.src[sc.pos]
		next := byte(0)
		if sc.pos+1 < len(sc.src) {
			next = sc.src[sc.pos+1]
		}
		switch {
		case c == '\\' && (next == q || next == '\\'):
			b.WriteByte(next)
			sc.pos += 2
		case c == q && next == q:
			b.WriteByte(q)
			sc.pos += 2
		case c == q:
			sc.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			sc.pos++
		}
	}
	return "", sc.fail(start, "unterminated %c-quoted string starting", q)
}

// operator reads a comparison operator and returns it in upper case with single
// spaces, e.g. "NOT IN".
func (sc *filterScanner) operator() (string, error) {
	at := sc.peekPos()
	const expected = "expected a comparison operator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL)"
	if sym := sc.run(func(c byte) bool { return strings.IndexByte("=!<>", c) >= 0 }); sym != "" {
		if !slices.Contains(numericOps, sym) {
			return "", sc.fail(at, "unknown operator '%s', %s", sym, expected)
		}
		return sym, nil
	}
	switch w := strings.ToUpper(sc.word()); w {
	case "LIKE", "ILIKE", "IN":
		return w, nil
	case "NOT":
		if at2 := sc.peekPos(); !strings.EqualFold(sc.word(), "IN") {
			return "", sc.fail(at2, "expected IN after NOT, found %s", sc.describe(at2))
		}
		return "NOT IN", nil
	case "IS":
		at2 := sc.peekPos()
		w2 := strings.ToUpper(sc.word())
		if w2 == "NULL" {
			return "IS NULL", nil
		}
		if w2 == "NOT" {
			at2 = sc.peekPos()
			if strings.EqualFold(sc.word(), "NULL") {
				return "IS NOT NULL", nil
			}
		}
		return "", sc.fail(at2, "expected NULL or NOT NULL after IS, found %s", sc.describe(at2))
	}
	return "", sc.fail(at, "%s, found %s", expected, sc.describe(at))
}

// number reads a numeric literal, the operand of lhs.
func (sc *filterScanner) number(lhs string) (float64, error) {
	at := sc.peekPos()
	if sc.atQuote() {
		return 0, sc.fail(at, "expected a number for %s, found a quoted string %s (remove the quotes)", lhs, sc.describe(at))
	}
	tok := sc.run(func(c byte) bool {
		return !isASCIISpace(c) && strings.IndexByte("()',\"`", c) < 0
	})
	if tok == "" {
		return 0, sc.fail(at, "expected a number for %s, found %s", lhs, sc.describe(at))
	}
	if !numberPattern.MatchString(tok) {
		return 0, sc.fail(at, "expected a number for %s, found '%s'", lhs, tok)
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return 0, sc.fail(at, "number '%s' for %s is out of range", tok, lhs)
	}
	return v, nil
}

// str reads a quoted string, the operand of lhs.
func (sc *filterScanner) str(lhs string) (string, error) {
	at := sc.peekPos()
	if sc.atEnd() || sc.src[at] == '`' || !sc.atQuote() {
		return "", sc.fail(at, "expected a string in single or double quotes for %s (e.g. 'my-value'), found %s", lhs, sc.describe(at))
	}
	return sc.quoted()
}

// list reads a non-empty parenthesised list of quoted strings, the operand of lhs.
func (sc *filterScanner) list(lhs string) ([]string, error) {
	at := sc.peekPos()
	if sc.atEnd() || sc.src[at] != '(' {
		return nil, sc.fail(at, "expected a parenthesised list of quoted strings for %s, e.g. ('a', 'b'), found %s", lhs, sc.describe(at))
	}
	sc.pos++
	if at := sc.peekPos(); at < len(sc.src) && sc.src[at] == ')' {
		return nil, sc.fail(at, "expected a non-empty list of quoted strings for %s", lhs)
	}
	var vals []string
	for {
		v, err := sc.str(lhs)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		at := sc.peekPos()
		if at >= len(sc.src) || (sc.src[at] != ',' && sc.src[at] != ')') {
			return nil, sc.fail(at, "expected ',' or ')' in the list for %s, found %s", lhs, sc.describe(at))
		}
		sc.pos++
		if sc.src[at] == ')' {
			return vals, nil
		}
	}
}

func isWordChar(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func isPlainKeyChar(c byte) bool { return isWordChar(c) || strings.IndexByte(".-/:", c) >= 0 }

func isASCIISpace(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') }

// clipForMessage bounds a user string echoed in an error message.
func clipForMessage(s string) string {
	const limit = 200
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "..."
}
