package dataset

import (
	"fmt"
	"slices"
)

// Schema describes the columns of a frame: names, kinds and, for categorical
// columns, optionally the known levels. It encodes to JSON and YAML with
// snake_case keys.
type Schema struct {
	Columns []ColumnSchema `json:"columns" yaml:"columns"`
}

// ColumnSchema describes one column.
type ColumnSchema struct {
	Name   string   `json:"name" yaml:"name"`
	Kind   Kind     `json:"kind" yaml:"kind"`
	Levels []string `json:"levels,omitempty" yaml:"levels,omitempty"` // categorical only, first-seen order
}

// maxSchemaLevels is the largest number of levels Schema records for a
// column; a column with more (an identifier, free text) records none.
const maxSchemaLevels = 1000

// Schema returns the schema of f. Categorical columns list their levels when
// they have at most 1000 of them.
func (f *Frame) Schema() Schema {
	s := Schema{Columns: make([]ColumnSchema, len(f.Columns))}
	for i, c := range f.Columns {
		s.Columns[i] = ColumnSchema{Name: c.Name, Kind: c.Kind}
		if c.Kind == KindCategorical && len(c.Levels) <= maxSchemaLevels {
			s.Columns[i].Levels = slices.Clone(c.Levels)
		}
	}
	return s
}

// Column returns the schema of the named column and whether there is one.
func (s Schema) Column(name string) (ColumnSchema, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return ColumnSchema{}, false
}

// DiffKind classifies a Difference.
type DiffKind string

// The kinds of schema difference.
const (
	DiffMissing   DiffKind = "missing"    // expected, not there
	DiffExtra     DiffKind = "extra"      // there, not expected
	DiffRenamed   DiffKind = "renamed"    // a missing and an extra column of the same kind at the same position
	DiffKindType  DiffKind = "type"       // the same name, another kind
	DiffNewLevels DiffKind = "new_levels" // categorical values the expected schema does not list
)

// Difference is one way in which a schema differs from the expected one.
type Difference struct {
	Kind    DiffKind `json:"kind" yaml:"kind"`
	Column  string   `json:"column" yaml:"column"`                         // the expected column's name (the actual one for extra)
	NewName string   `json:"new_name,omitempty" yaml:"new_name,omitempty"` // renamed: the actual name
	Message string   `json:"message" yaml:"message"`
}

// Compare returns how other differs from s, s being what is expected (say the
// training data) and other what was found (say a scoring batch), in the order
// of s's columns followed by other's extra columns; nil when they match. A
// column of s missing from other and a column of other missing from s, both
// at the same position and of the same kind, are reported as one rename.
// Column order is not compared. New levels are reported only when both
// schemas list levels for a categorical column.
func (s Schema) Compare(other Schema) []Difference {
	var diffs []Difference
	renamedTo := map[string]string{} // extra name → expected name
	for i, c := range s.Columns {
		oc, ok := other.Column(c.Name)
		if !ok {
			if i < len(other.Columns) {
				cand := other.Columns[i]
				if _, known := s.Column(cand.Name); !known && cand.Kind == c.Kind {
					renamedTo[cand.Name] = c.Name
					diffs = append(diffs, Difference{Kind: DiffRenamed, Column: c.Name, NewName: cand.Name,
						Message: fmt.Sprintf("column '%s' (%s) seems renamed to '%s'", c.Name, c.Kind, cand.Name)})
					continue
				}
			}
			diffs = append(diffs, Difference{Kind: DiffMissing, Column: c.Name,
				Message: fmt.Sprintf("column '%s' (%s) is missing", c.Name, c.Kind)})
			continue
		}
		if oc.Kind != c.Kind {
			diffs = append(diffs, Difference{Kind: DiffKindType, Column: c.Name,
				Message: fmt.Sprintf("column '%s' is %s, expected %s", c.Name, oc.Kind, c.Kind)})
			continue
		}
		if c.Kind == KindCategorical && len(c.Levels) > 0 && len(oc.Levels) > 0 {
			known := make(map[string]bool, len(c.Levels))
			for _, l := range c.Levels {
				known[l] = true
			}
			var fresh []string
			for _, l := range oc.Levels {
				if !known[l] {
					fresh = append(fresh, l)
				}
			}
			if len(fresh) > 0 {
				shown := fresh
				if len(shown) > 5 {
					shown = shown[:5]
				}
				msg := fmt.Sprintf("column '%s' has %d new values: %q", c.Name, len(fresh), shown)
				if len(fresh) > len(shown) {
					msg = fmt.Sprintf("column '%s' has %d new values, among them %q", c.Name, len(fresh), shown)
				}
				diffs = append(diffs, Difference{Kind: DiffNewLevels, Column: c.Name, Message: msg})
			}
		}
	}
	for _, oc := range other.Columns {
		if _, ok := s.Column(oc.Name); ok || renamedTo[oc.Name] != "" {
			continue
		}
		diffs = append(diffs, Difference{Kind: DiffExtra, Column: oc.Name,
			Message: fmt.Sprintf("column '%s' (%s) is not expected", oc.Name, oc.Kind)})
	}
	return diffs
}
