package tracking

import (
	"encoding/base64"
	"encoding/json"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// Limits on what may be logged, as MLflow 2.x sets them.
const (
	MaxEntityKeyLength      = 250
	MaxParamValueLength     = 6000
	MaxTagValueLength       = 8000
	MaxExperimentNameLength = 500
	MaxExperimentTagValue   = 5000
	MaxRunNameLength        = 250
	MaxMetricsPerBatch      = 1000
	MaxParamsTagsPerBatch   = 100
	MaxEntitiesPerBatch     = 1000
	MaxDatasetNameLength    = 500
	MaxDatasetDigestLength  = 36
	MaxDatasetSourceLength  = 65535
	MaxDatasetSchemaLength  = 1048575
	MaxDatasetProfileLength = 16777215
	MaxInputTagKeyLength    = 255
	MaxInputTagValueLength  = 500
)

func invalid(format string, args ...any) error { return ferry.Errorf(ferry.EINVALID, format, args...) }

// validateKey checks a metric, param or tag key the way MLflow does: path-like
// names of letters, digits, underscores, dashes, periods, spaces, colons and
// slashes that do not resolve to another path.
func validateKey(kind, key string) error {
	if key == "" {
		return invalid("Missing value for required parameter 'key' of a %s.", kind)
	}
	if len(key) > MaxEntityKeyLength {
		return invalid("%s name '%s...' had length %d, which exceeded length limit of %d.", strings.ToUpper(kind[:1])+kind[1:], printable(key[:20]), len(key), MaxEntityKeyLength)
	}
	for _, r := range key {
		ok := r == '_' || r == '-' || r == '.' || r == ' ' || r == '/' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return invalid("Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).", kind, printable(key))
		}
	}
	if c := path.Clean(key); c != key || c == "." || strings.HasPrefix(c, "..") || strings.HasPrefix(c, "/") {
		return invalid("Invalid %s name: '%s'. Names cannot resolve to '.' or '..', start with '/' or contain '//'.", kind, key)
	}
	return nil
}

// printable bounds and sanitises a user value for an error message.
func printable(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func validateValue(kind, key, value string, limit int) error {
	if len(value) > limit {
		return invalid("%s value '%s' had length %d, which exceeded length limit of %d.", kind, printable(value), len(value), limit)
	}
	if !utf8.ValidString(value) {
		return invalid("%s '%s' has a value that is not valid UTF-8.", kind, key)
	}
	return nil
}

func validateParam(p Param) error {
	if err := validateKey("param", p.Key); err != nil {
		return err
	}
	return validateValue("Param", p.Key, p.Value, MaxParamValueLength)
}

func validateTag(t Tag) error {
	if err := validateKey("tag", t.Key); err != nil {
		return err
	}
	return validateValue("Tag", t.Key, t.Value, MaxTagValueLength)
}

func validateMetric(m Metric) error {
	return validateKey("metric", m.Key) // NaN and ±Inf are valid values.
}

// validateBatch checks a log-batch request against MLflow's limits and rules.
func validateBatch(metrics []Metric, params []Param, tags []Tag) error {
	switch {
	case len(metrics) > MaxMetricsPerBatch:
		return invalid("A batch logging request can contain at most %d metrics. Got %d metrics. Please split up metrics across multiple requests and try again.", MaxMetricsPerBatch, len(metrics))
	case len(params) > MaxParamsTagsPerBatch:
		return invalid("A batch logging request can contain at most %d params. Got %d params. Please split up params across multiple requests and try again.", MaxParamsTagsPerBatch, len(params))
	case len(tags) > MaxParamsTagsPerBatch:
		return invalid("A batch logging request can contain at most %d tags. Got %d tags. Please split up tags across multiple requests and try again.", MaxParamsTagsPerBatch, len(tags))
	case len(metrics)+len(params)+len(tags) > MaxEntitiesPerBatch:
		return invalid("A batch logging request can contain at most %d total entities. Got %d. Please split up the request and try again.", MaxEntitiesPerBatch, len(metrics)+len(params)+len(tags))
	}
	for _, m := range metrics {
		if err := validateMetric(m); err != nil {
			return err
		}
	}
	seen := make(map[string]string, len(params))
	for _, p := range params {
		if err := validateParam(p); err != nil {
			return err
		}
		if v, ok := seen[p.Key]; ok && v != p.Value {
			return invalid("Duplicate parameter keys have been submitted: ['%s']. Please ensure the request contains only one param value per param key.", p.Key)
		}
		seen[p.Key] = p.Value
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	return nil
}

func validateExperimentName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return invalid("Invalid experiment name: '%s'. Expects a non-empty string.", name)
	case len(name) > MaxExperimentNameLength:
		return invalid("Experiment name '%s' had length %d, which exceeded length limit of %d.", printable(name), len(name), MaxExperimentNameLength)
	case !utf8.ValidString(name):
		return invalid("Experiment name is not valid UTF-8.")
	}
	return nil
}

func validateInputs(inputs []DatasetInput) error {
	for _, in := range inputs {
		d := in.Dataset
		switch {
		case d.Name == "":
			return invalid("Dataset name must not be empty.")
		case d.Digest == "":
			return invalid("Dataset digest must not be empty (dataset '%s').", printable(d.Name))
		case len(d.Name) > MaxDatasetNameLength:
			return invalid("Dataset name exceeded length limit of %d.", MaxDatasetNameLength)
		case len(d.Digest) > MaxDatasetDigestLength:
			return invalid("Dataset digest of '%s' exceeded length limit of %d.", printable(d.Name), MaxDatasetDigestLength)
		case len(d.Source) > MaxDatasetSourceLength:
			return invalid("Dataset source of '%s' exceeded length limit of %d.", printable(d.Name), MaxDatasetSourceLength)
		case len(d.Schema) > MaxDatasetSchemaLength:
			return invalid("Dataset schema of '%s' exceeded length limit of %d.", printable(d.Name), MaxDatasetSchemaLength)
		case len(d.Profile) > MaxDatasetProfileLength:
			return invalid("Dataset profile of '%s' exceeded length limit of %d.", printable(d.Name), MaxDatasetProfileLength)
		}
		for _, t := range in.Tags {
			if t.Key == "" || len(t.Key) > MaxInputTagKeyLength || len(t.Value) > MaxInputTagValueLength {
				return invalid("Input tag '%s' of dataset '%s' must have a key of 1 to %d characters and a value of at most %d.", printable(t.Key), printable(d.Name), MaxInputTagKeyLength, MaxInputTagValueLength)
			}
		}
	}
	return nil
}

// pageToken is the decoded form of a search page token.
type pageToken struct {
	Offset int `json:"offset"`
}

// EncodePageToken returns the token for the page starting at offset.
func EncodePageToken(offset int) string {
	b, _ := json.Marshal(pageToken{Offset: offset})
	return base64.StdEncoding.EncodeToString(b)
}

// DecodePageToken returns the offset a token from EncodePageToken names; "" is
// offset 0. A malformed token is EINVALID.
func DecodePageToken(tok string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return 0, invalid("Invalid page token, could not base64-decode.")
	}
	var p pageToken
	if err := json.Unmarshal(b, &p); err != nil || p.Offset < 0 {
		return 0, invalid("Invalid page token, could not decode its offset.")
	}
	return p.Offset, nil
}
