package xgboost

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ferry-ml/ferry"
)

// XGBoost's legacy binary model format, as XGBoost 1.7 writes it
// (Learner::SaveModel in src/learner.cc, GBTreeModel::Save in
// src/gbm/gbtree_model.cc, Dart::Save in src/gbm/gbtree.cc, RegTree::Save in
// src/tree/tree_model.cc), all little endian:
//
//	"binf"                        the header (absent before XGBoost 1.0)
//	LearnerModelParamLegacy       136 bytes: base_score f32, num_feature u32,
//	                              num_class i32, contain_extra_attrs i32,
//	                              contain_eval_metrics i32, major_version u32,
//	                              minor_version u32, num_target u32,
//	                              boost_from_average i32, 25 reserved i32
//	objective, booster            strings: a u64 length and the bytes
//	GBTreeModelParam              160 bytes: num_trees i32, num_parallel_tree
//	                              i32, num_feature i32, pad i32, num_pbuffer
//	                              i64, num_output_group i32, size_leaf_vector
//	                              i32, 32 reserved i32
//	num_trees trees, each:
//	  TreeParam                   148 bytes: num_roots i32, num_nodes i32,
//	                              num_deleted i32, max_depth i32, num_feature
//	                              u32, size_leaf_vector i32, 31 reserved i32
//	  num_nodes nodes             20 bytes each: parent i32, left child i32 (-1
//	                              for a leaf), right child i32, split index u32
//	                              (top bit: missing values go left), leaf value
//	                              or split condition f32
//	  num_nodes node statistics   16 bytes each (unused for prediction)
//	tree_info                     num_trees i32 (when num_trees > 0)
//	weight_drop (dart only)       a u64 count and that many f32 (when
//	                              num_trees > 0)
//	attributes                    when contain_extra_attrs != 0: a u64 count
//	                              and that many pairs of strings
//
// Models written before XGBoost 1.0 (major_version 0) store base_score as a
// margin, which XGBoost turns back into the objective's output space with the
// objective's transform (except for multi: objectives) when it loads them.
const (
	binaryHeader       = "binf"
	learnerParamSize   = 136
	gbtreeParamSize    = 160
	treeParamSize      = 148
	nodeSize           = 20
	nodeStatSize       = 16
	minBinaryTreeBytes = treeParamSize + nodeSize + nodeStatSize
)

// ParseBinary decodes a model saved in XGBoost's legacy binary format (what
// save_model writes in XGBoost 1.x for a name that does not end in .json or
// .ubj, such as MLflow's model.xgb), with or without the "binf" header.
// Every length and count in the file is checked against the bytes that
// remain before anything is allocated for it. Bytes after the attributes
// are ignored, as XGBoost ignores them. Errors as for LoadFile.
func ParseBinary(data []byte) (*Booster, error) {
	r := &binReader{data: data}
	headed := len(data) >= len(binaryHeader) && string(data[:len(binaryHeader)]) == binaryHeader
	if headed {
		r.off = len(binaryHeader)
	}
	b, err := r.booster()
	if err != nil && !headed && ferry.ErrorCode(err) == ferry.EINVALID {
		return nil, ferry.Errorf(ferry.EINVALID, "the file is not an XGBoost model: not JSON, not UBJSON, and not XGBoost's legacy binary format (read as a legacy binary model without header: %s)", ferry.ErrorMessage(err))
	}
	return b, err
}

// binReader reads the legacy binary format from data, at off.
type binReader struct {
	data []byte
	off  int
}

// fail returns the EINVALID error of a file that breaks the format at the
// current offset.
func (r *binReader) fail(format string, args ...any) error {
	return failAt(r.off, format, args...)
}

// failAt returns the EINVALID error of a file that breaks the format at
// byte off.
func failAt(off int, format string, args ...any) error {
	return invalid(fmt.Sprintf("legacy binary model, byte %d", off), format, args...)
}

// take returns the next n bytes, which what names in the error when the
// file ends first.
func (r *binReader) take(n int, what string) ([]byte, error) {
	if rest := len(r.data) - r.off; n > rest {
		return nil, r.fail("%s needs %d bytes, but the file ends %d bytes later", what, n, rest)
	}
	p := r.data[r.off : r.off+n]
	r.off += n
	return p, nil
}

// count reads a u64 count of items of at least size bytes each and checks
// that the rest of the file can hold that many.
func (r *binReader) count(what string, size int) (int, error) {
	p, err := r.take(8, what)
	if err != nil {
		return 0, err
	}
	n := binary.LittleEndian.Uint64(p)
	if rest := uint64(len(r.data) - r.off); n > rest/uint64(size) {
		return 0, failAt(r.off-8, "%s is %d, but the %d bytes that remain hold at most %d", what, n, rest, rest/uint64(size))
	}
	return int(n), nil
}

// str reads a string: a u64 length and its bytes.
func (r *binReader) str(what string) (string, error) {
	n, err := r.count("the length of "+what, 1)
	if err != nil {
		return "", err
	}
	p, err := r.take(n, what)
	return string(p), err
}

func i32(p []byte, at int) int32 { return int32(binary.LittleEndian.Uint32(p[at:])) }

func u32(p []byte, at int) uint32 { return binary.LittleEndian.Uint32(p[at:]) }

func f32(p []byte, at int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(p[at:])) }

// inRange checks a number read from the parameters at byte at.
func inRange(at int, what string, v int64, lo, hi int64) error {
	if v < lo || v > hi {
		return failAt(at, "%s %d is out of range [%d, %d]", what, v, lo, hi)
	}
	return nil
}

// booster reads a whole model after the header.
func (r *binReader) booster() (*Booster, error) {
	start := r.off
	mp, err := r.take(learnerParamSize, "the learner parameters")
	if err != nil {
		return nil, err
	}
	base, numFeature, numClass := f32(mp, 0), int64(u32(mp, 4)), int64(i32(mp, 8))
	extraAttrs, major, minor, numTarget := i32(mp, 12), u32(mp, 20), u32(mp, 24), int64(u32(mp, 28))
	if err := inRange(start, "num_feature", numFeature, 0, maxFeatures-1); err != nil {
		return nil, err
	}
	if err := inRange(start, "num_class", numClass, 0, maxClasses); err != nil {
		return nil, err
	}
	objName, err := r.str("the objective's name")
	if err != nil {
		return nil, err
	}
	gbName, err := r.str("the booster's name")
	if err != nil {
		return nil, err
	}
	obj, err := newObjective(objName)
	if err != nil {
		return nil, err
	}
	b := &Booster{}
	if major > 0 {
		b.version = fmt.Sprintf("%d.%d", major, minor)
	} else if !obj.multiclass() { // XGBoost: objectives not named multi:*
		base = obj.predTransform32(base)
	}
	if err := b.setup("legacy binary model, learner parameters", int(numFeature), int(numClass), int(numTarget), objName, []float32{base}); err != nil {
		return nil, err
	}
	dart := gbName == "dart"
	if err := supportedBooster(gbName); err != nil {
		return nil, err
	}
	if err := r.trees(b, dart); err != nil {
		return nil, err
	}
	if extraAttrs != 0 {
		if err := r.attributes(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// trees reads the gbtree model (and dart's weights) into b.
func (r *binReader) trees(b *Booster, dart bool) error {
	start := r.off
	p, err := r.take(gbtreeParamSize, "the gbtree model parameters")
	if err != nil {
		return err
	}
	numTrees := int64(i32(p, 0))
	if err := inRange(start, "num_trees", numTrees, 0, int64(len(r.data)-r.off)/minBinaryTreeBytes); err != nil {
		return err
	}
	if err := scalarLeaves(int(i32(p, 28))); err != nil {
		return err
	}
	n := int(numTrees)
	nodes := make([][]byte, n)
	for i := range nodes {
		if nodes[i], err = r.treeNodes(i); err != nil {
			return err
		}
	}
	b.roots = make([]int32, n)
	b.groups = make([]int32, n)
	b.depths = make([]int32, 0, n)
	if n == 0 {
		return nil
	}
	info, err := r.take(4*n, "tree_info")
	if err != nil {
		return err
	}
	for i := range n {
		g := i32(info, 4*i)
		if g < 0 || int(g) >= b.numGroup {
			return invalid("legacy binary model, tree_info", "tree_info[%d] = %d is not a group in [0, %d)", i, g, b.numGroup)
		}
		b.groups[i] = g
	}
	var weights []byte
	if dart {
		if weights, err = r.dartWeights(n); err != nil {
			return err
		}
	}
	for i, nd := range nodes {
		w := float32(1)
		if weights != nil {
			w = f32(weights, 4*i)
		}
		if b.roots[i], err = b.layOut(binaryTree(nd), nil, fmt.Sprintf("legacy binary model, tree %d", i), w); err != nil {
			return err
		}
	}
	return nil
}

// treeNodes reads tree i and returns the bytes of its nodes.
func (r *binReader) treeNodes(i int) ([]byte, error) {
	what := fmt.Sprintf("tree %d", i)
	start := r.off
	tp, err := r.take(treeParamSize, what+"'s parameters")
	if err != nil {
		return nil, err
	}
	n := int64(i32(tp, 4))
	if err := inRange(start, what+"'s num_nodes", n, 1, int64(len(r.data)-r.off)/(nodeSize+nodeStatSize)); err != nil {
		return nil, err
	}
	if err := scalarLeaves(int(i32(tp, 20))); err != nil {
		return nil, err
	}
	nodes, err := r.take(int(n)*nodeSize, what+"'s nodes")
	if err != nil {
		return nil, err
	}
	_, err = r.take(int(n)*nodeStatSize, what+"'s node statistics")
	return nodes, err
}

// binaryTree turns the nodes of a tree into the arrays layOut takes.
func binaryTree(nodes []byte) *treeArrays {
	n := len(nodes) / nodeSize
	a := &treeArrays{
		left: make([]float64, n), right: make([]float64, n), feature: make([]float64, n),
		defaultLeft: make([]float64, n), cond: make([]float32, n),
	}
	for j := range n {
		nd := nodes[j*nodeSize:]
		sindex := u32(nd, 12)
		a.left[j], a.right[j] = float64(i32(nd, 4)), float64(i32(nd, 8))
		a.feature[j], a.defaultLeft[j] = float64(sindex&(1<<31-1)), float64(sindex>>31)
		a.cond[j] = f32(nd, 16)
	}
	return a
}

// dartWeights reads dart's weight_drop, n float32: the weight of each tree.
func (r *binReader) dartWeights(n int) ([]byte, error) {
	c, err := r.count("the number of dart weights", 4)
	if err != nil {
		return nil, err
	}
	if c != n {
		return nil, r.fail("weight_drop has %d entries for %d trees", c, n)
	}
	return r.take(4*n, "weight_drop")
}

// attributes reads and checks the attributes (pairs of strings), which
// prediction does not use.
func (r *binReader) attributes() error {
	n, err := r.count("the number of attributes", 16)
	if err != nil {
		return err
	}
	for i := range n {
		for _, part := range []string{"name", "value"} {
			if _, err := r.str(fmt.Sprintf("attribute %d's %s", i, part)); err != nil {
				return err
			}
		}
	}
	return nil
}
