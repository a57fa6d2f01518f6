package dataset

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSchemaJSONRoundTrip(t *testing.T) {
	s := sampleFrame(t).Schema()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"columns":[{"name":"x","kind":"numeric"},{"name":"c","kind":"categorical","levels":["b","a"]},{"name":"t","kind":"timestamp"}]}`
	if string(b) != want {
		t.Fatalf("JSON %s\nwant %s", b, want)
	}
	var back Schema
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip %+v, want %+v", back, s)
	}
}

func TestSchemaCompare(t *testing.T) {
	base := Schema{Columns: []ColumnSchema{
		{Name: "age", Kind: KindNumeric},
		{Name: "city", Kind: KindCategorical, Levels: []string{"Oslo", "Rome"}},
		{Name: "when", Kind: KindTimestamp},
	}}
	tests := []struct {
		name  string
		other Schema
		want  []Difference
	}{
		{"same", base, nil},
		{"missing column", Schema{Columns: []ColumnSchema{base.Columns[0], base.Columns[1]}},
			[]Difference{{Kind: DiffMissing, Column: "when", Message: "column 'when' (timestamp) is missing"}}},
		{"extra column", Schema{Columns: append(append([]ColumnSchema{}, base.Columns...), ColumnSchema{Name: "id", Kind: KindNumeric})},
			[]Difference{{Kind: DiffExtra, Column: "id", Message: "column 'id' (numeric) is not expected"}}},
		{"type change", Schema{Columns: []ColumnSchema{{Name: "age", Kind: KindCategorical}, base.Columns[1], base.Columns[2]}},
			[]Difference{{Kind: DiffKindType, Column: "age", Message: "column 'age' is categorical, expected numeric"}}},
		{"renamed", Schema{Columns: []ColumnSchema{{Name: "age_years", Kind: KindNumeric}, base.Columns[1], base.Columns[2]}},
			[]Difference{{Kind: DiffRenamed, Column: "age", NewName: "age_years", Message: "column 'age' (numeric) seems renamed to 'age_years'"}}},
		{"not a rename when the kind differs", Schema{Columns: []ColumnSchema{{Name: "label", Kind: KindCategorical}, base.Columns[1], base.Columns[2]}},
			[]Difference{
				{Kind: DiffMissing, Column: "age", Message: "column 'age' (numeric) is missing"},
				{Kind: DiffExtra, Column: "label", Message: "column 'label' (categorical) is not expected"},
			}},
		{"new levels", Schema{Columns: []ColumnSchema{base.Columns[0], {Name: "city", Kind: KindCategorical, Levels: []string{"Rome", "Paris"}}, base.Columns[2]}},
			[]Difference{{Kind: DiffNewLevels, Column: "city", Message: `column 'city' has 1 new values: ["Paris"]`}}},
		{"order does not matter", Schema{Columns: []ColumnSchema{base.Columns[2], base.Columns[0], base.Columns[1]}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base.Compare(tt.other)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Compare =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
