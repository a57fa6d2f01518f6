package xgboost

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

// binNode is one node of a tree in a binModel.
type binNode struct {
	left, right int32 // left -1 for a leaf
	feature     uint32
	defaultLeft bool
	value       float32 // split condition or leaf value
}

// binModel is a model to write in XGBoost's legacy binary format (see
// binary.go for the layout).
type binModel struct {
	noHeader               bool
	base                   float32
	numFeature             uint32
	numClass               int32
	major, minor           uint32
	numTarget              uint32
	objective, booster     string
	treeLeafVector         int32
	trees                  [][]binNode
	info                   []int32
	weights                []float32 // dart only
	attrs                  [][2]string
	extraAttrs             bool
	numTrees, numNodes     int32 // when not 0, written instead of the true counts
	objectiveLen, attrsLen uint64
}

// tinyBinary is tinyDoc without the categorical split: reg:squarederror,
// base_score 0.5, two features, one tree
//
//	0: f0 < 0.5 (missing left) ? 1 : 2
//	1: leaf -1
//	2: f1 < 1.5 (missing right) ? 3 : 4
//	3: leaf 2
//	4: leaf 3
//
// saved by XGBoost 1.7 with the objective as an attribute.
func tinyBinary() binModel {
	return binModel{
		base: 0.5, numFeature: 2, major: 1, minor: 7, numTarget: 1,
		objective: "reg:squarederror", booster: "gbtree",
		trees: [][]binNode{{
			{left: 1, right: 2, feature: 0, defaultLeft: true, value: 0.5},
			{left: -1, right: -1, value: -1},
			{left: 3, right: 4, feature: 1, value: 1.5},
			{left: -1, right: -1, value: 2},
			{left: -1, right: -1, value: 3},
		}},
		info:       []int32{0},
		extraAttrs: true,
		attrs:      [][2]string{{"objective", `{"name":"reg:squarederror"}`}},
	}
}

func (m binModel) bytes() []byte {
	le := binary.LittleEndian
	var out []byte
	u32 := func(v uint32) { out = le.AppendUint32(out, v) }
	u64 := func(v uint64) { out = le.AppendUint64(out, v) }
	str := func(s string, n uint64) {
		if n == 0 {
			n = uint64(len(s))
		}
		u64(n)
		out = append(out, s...)
	}
	if !m.noHeader {
		out = append(out, "binf"...)
	}
	extra := uint32(0)
	if m.extraAttrs {
		extra = 1
	}
	for _, v := range []uint32{math.Float32bits(m.base), m.numFeature, uint32(m.numClass), extra, 0, m.major, m.minor, m.numTarget, 1} {
		u32(v)
	}
	out = append(out, make([]byte, 25*4)...)
	str(m.objective, m.objectiveLen)
	str(m.booster, 0)
	numTrees := uint32(len(m.trees))
	if m.numTrees != 0 {
		numTrees = uint32(m.numTrees)
	}
	u32(numTrees)
	u32(1)
	u32(m.numFeature)
	u32(0)
	u64(0)
	u32(uint32(max(1, m.numClass)))
	u32(0)
	out = append(out, make([]byte, 32*4)...)
	for _, tree := range m.trees {
		numNodes := uint32(len(tree))
		if m.numNodes != 0 {
			numNodes = uint32(m.numNodes)
		}
		for _, v := range []uint32{1, numNodes, 0, 0, m.numFeature, uint32(m.treeLeafVector)} {
			u32(v)
		}
		out = append(out, make([]byte, 31*4)...)
		for i, n := range tree {
			sindex := n.feature
			if n.defaultLeft {
				sindex |= 1 << 31
			}
			for _, v := range []uint32{uint32(i - 1), uint32(n.left), uint32(n.right), sindex, math.Float32bits(n.value)} {
				u32(v)
			}
		}
		out = append(out, make([]byte, 16*len(tree))...)
	}
	for _, g := range m.info {
		u32(uint32(g))
	}
	if m.booster == "dart" && len(m.trees) > 0 {
		u64(uint64(len(m.weights)))
		for _, w := range m.weights {
			u32(math.Float32bits(w))
		}
	}
	if m.extraAttrs {
		n := uint64(len(m.attrs))
		if m.attrsLen != 0 {
			n = m.attrsLen
		}
		u64(n)
		for _, kv := range m.attrs {
			str(kv[0], 0)
			str(kv[1], 0)
		}
	}
	return out
}

// TestTinyBinaryModel checks the reading of each part of the format on
// hand-made models.
func TestTinyBinaryModel(t *testing.T) {
	rows := []struct {
		row  []float32
		want float64 // of tinyBinary
	}{
		{[]float32{0.2, 9}, -0.5},
		{[]float32{nan, 9}, -0.5},
		{[]float32{0.5, 1}, 2.5},
		{[]float32{0.7, nan}, 3.5},
		{[]float32{0.7, 1.5}, 3.5},
	}
	for _, tc := range []struct {
		name string
		edit func(m *binModel)
		want func(tiny float64) float64
	}{
		{"as XGBoost 1.7 writes it", func(*binModel) {}, nil},
		{"without attributes", func(m *binModel) { m.extraAttrs, m.attrs = false, nil }, nil},
		{"trailing bytes are ignored", func(m *binModel) { m.extraAttrs = false; m.attrs = nil; m.info = append(m.info, 7, 7) }, nil},
		{"base_score", func(m *binModel) { m.base = 1.5 }, func(v float64) float64 { return v + 1 }},
		{"dart weights", func(m *binModel) { m.booster, m.weights = "dart", []float32{0.5} }, func(v float64) float64 { return 0.5 + (v-0.5)*0.5 }},
		{"before XGBoost 1.0: no header, version 0", func(m *binModel) { m.noHeader, m.major, m.minor = true, 0, 0 }, nil},
		{"before 1.0, logitraw: base_score is its own margin", func(m *binModel) {
			m.noHeader, m.major, m.minor, m.objective, m.base = true, 0, 0, "binary:logitraw", 0.25
		}, func(v float64) float64 { return v - 0.25 }},
		{"num_target 0 means 1", func(m *binModel) { m.numTarget = 0 }, nil},
		{"a deleted node is skipped", func(m *binModel) {
			tree := m.trees[0]
			m.trees[0] = []binNode{tree[0], tree[1], {left: 4, right: 5, feature: 1, value: 1.5}, {left: -1, right: -1, feature: math.MaxUint32, value: 99}, tree[3], tree[4]}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyBinary()
			tc.edit(&m)
			b, err := Parse(m.bytes())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				want := r.want
				if tc.want != nil {
					want = tc.want(want)
				}
				out := []float64{math.NaN()}
				b.PredictRow(r.row, out)
				if out[0] != want {
					t.Errorf("PredictRow(%v) = %v, want %v", r.row, out[0], want)
				}
			}
		})
	}
	t.Run("multiclass groups from tree_info", func(t *testing.T) {
		m := tinyBinary()
		m.objective, m.numClass, m.base = "multi:softprob", 3, 0
		m.trees = append(m.trees, []binNode{{left: -1, right: -1, value: 7}}, []binNode{{left: -1, right: -1, value: 5}})
		m.info = []int32{2, 0, 0}
		b, err := ParseBinary(m.bytes())
		if err != nil {
			t.Fatal(err)
		}
		margins := make([]float32, 3)
		b.PredictMarginRow([]float32{0.2, 0}, margins)
		if margins[0] != 12 || margins[1] != 0 || margins[2] != -1 {
			t.Errorf("margins %v, want [12 0 -1]", margins)
		}
		if b.Version() != "1.7" || b.NumTrees() != 3 || b.Objective() != "multi:softprob" {
			t.Errorf("version %q, %d trees, objective %q", b.Version(), b.NumTrees(), b.Objective())
		}
	})
}

// TestBinaryErrors checks that broken, hostile and unsupported legacy binary
// models are refused with the right code and a message that says what is
// wrong, without allocating what they declare.
func TestBinaryErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(m *binModel)
		code     string
		contains string
	}{
		{"gblinear", func(m *binModel) { m.booster = "gblinear" }, ferry.ENOTIMPLEMENTED, "gblinear"},
		{"unknown objective", func(m *binModel) { m.objective = "survival:cox" }, ferry.ENOTIMPLEMENTED, "survival:cox"},
		{"several targets", func(m *binModel) { m.numTarget = 2 }, ferry.ENOTIMPLEMENTED, "num_target 2"},
		{"vector leaves", func(m *binModel) { m.treeLeafVector = 2 }, ferry.ENOTIMPLEMENTED, "vector leaves"},
		{"no features", func(m *binModel) { m.numFeature = 0 }, ferry.EINVALID, "num_feature is missing or 0"},
		{"too many features", func(m *binModel) { m.numFeature = math.MaxUint32 }, ferry.EINVALID, "num_feature 4294967295 is out of range"},
		{"negative num_class", func(m *binModel) { m.numClass = -1 }, ferry.EINVALID, "num_class -1 is out of range"},
		{"multi-class without num_class", func(m *binModel) { m.objective = "multi:softmax" }, ferry.EINVALID, "needs num_class"},
		{"logistic base_score not a probability", func(m *binModel) { m.objective, m.base = "binary:logistic", 1.5 }, ferry.EINVALID, "base_score 1.5"},
		{"huge objective name", func(m *binModel) { m.objectiveLen = math.MaxUint64 }, ferry.EINVALID, "the length of the objective's name is 18446744073709551615"},
		{"huge num_trees", func(m *binModel) { m.numTrees = math.MaxInt32 }, ferry.EINVALID, "num_trees 2147483647 is out of range"},
		{"negative num_trees", func(m *binModel) { m.numTrees = -1 }, ferry.EINVALID, "num_trees -1 is out of range"},
		{"huge num_nodes", func(m *binModel) { m.numNodes = math.MaxInt32 }, ferry.EINVALID, "tree 0's num_nodes 2147483647 is out of range"},
		{"group out of range", func(m *binModel) { m.info = []int32{1} }, ferry.EINVALID, "tree_info[0] = 1 is not a group in [0, 1)"},
		{"no tree_info", func(m *binModel) { m.info, m.extraAttrs = nil, false }, ferry.EINVALID, "tree_info needs 4 bytes"},
		{"dart weights missing", func(m *binModel) { m.booster = "dart" }, ferry.EINVALID, "weight_drop has 0 entries for 1 trees"},
		{"huge attribute count", func(m *binModel) { m.attrsLen = 1 << 60 }, ferry.EINVALID, "the number of attributes is 1152921504606846976"},
		{"cycle", func(m *binModel) { m.trees[0][2].left = 0 }, ferry.EINVALID, "reached twice"},
		{"shared subtree", func(m *binModel) { m.trees[0][2].left = 1 }, ferry.EINVALID, "reached twice"},
		{"child out of range", func(m *binModel) { m.trees[0][2].right = 5 }, ferry.EINVALID, "want indices in [0, 5)"},
		{"feature out of range", func(m *binModel) { m.trees[0][2].feature = 2 }, ferry.EINVALID, "splits on feature"},
		{"not a model", func(m *binModel) { m.noHeader, m.numFeature = true, 1<<30 }, ferry.EINVALID, "not an XGBoost model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyBinary()
			tc.edit(&m)
			b, err := Parse(m.bytes())
			if err == nil {
				t.Fatalf("Parse succeeded (%d trees), want %s", b.NumTrees(), tc.code)
			}
			if got := ferry.ErrorCode(err); got != tc.code {
				t.Errorf("code %s, want %s (%v)", got, tc.code, err)
			}
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, tc.contains) {
				t.Errorf("message %q does not contain %q", msg, tc.contains)
			}
		})
	}
}

// TestBinaryTruncated cuts a model XGBoost wrote after every byte: each
// prefix is refused with EINVALID, never a panic.
func TestBinaryTruncated(t *testing.T) {
	for _, name := range []string{"bin_binary_dart.xgb", "bin_v0_binary_logistic.xgb"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			for n := range len(data) {
				if _, err := ParseBinary(data[:n]); ferry.ErrorCode(err) != ferry.EINVALID {
					t.Fatalf("the first %d of %d bytes: %v, want EINVALID", n, len(data), err)
				}
			}
			if _, err := ParseBinary(data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchmarkLoadBinary measures decoding a legacy binary model against
// models of the same size in JSON and UBJSON (the fixtures: 20 trees of
// depth 4 for binary_logistic, 30 of depth 3 for multi_softprob; the binary
// ones are trained on other samples of the same data). Recorded on the
// shared 2-core AMD EPYC of issue 10 (go test -bench LoadBinary -benchtime
// 2s -count 3, best of 3):
//
//	bin_binary_logistic.xgb    27 µs   41.6 kB  326 allocs
//	bin_multi_softprob.xgb     36 µs   42.9 kB  465 allocs
//	binary_logistic.json      729 µs  314.5 kB 2948 allocs
//	binary_logistic_ubj.ubj   123 µs  108.9 kB  642 allocs
//	multi_softprob.json       730 µs  352.1 kB 3844 allocs
func BenchmarkLoadBinary(b *testing.B) {
	for _, name := range []string{"bin_binary_logistic.xgb", "bin_multi_softprob.xgb", "binary_logistic.json", "binary_logistic_ubj.ubj", "multi_softprob.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWideModel loads a 400-byte model that declares 2^29-1 features: it
// loads and is served without allocating anything per feature.
func TestWideModel(t *testing.T) {
	m := tinyBinary()
	m.numFeature = maxFeatures - 1
	data := m.bytes()
	var b *Booster
	var err error
	if grew := allocs(func() {
		if b, err = ParseBinary(data); err == nil {
			_ = NewModel(b, nil).Metadata()
		}
	}); grew > 1<<20 {
		t.Errorf("loading and serving allocated %d bytes", grew)
	}
	if err != nil {
		t.Fatal(err)
	}
	if b.NumFeature() != maxFeatures-1 {
		t.Errorf("NumFeature = %d", b.NumFeature())
	}
}
