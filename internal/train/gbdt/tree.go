package gbdt

import "github.com/ferry-ml/ferry/internal/model/native"

// tree is a native.Tree being grown, with the routes of its splits over
// the training bins.
type tree struct {
	native.Tree
	// route[node] is the set of bins that go left.
	route [][4]uint64
}

// addNode appends a leaf and returns its index.
func (t *tree) addNode() int32 {
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.DefaultLeft = append(t.DefaultLeft, false)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Value = append(t.Value, 0)
	t.Gain = append(t.Gain, 0)
	t.Hess = append(t.Hess, 0)
	t.Cats = append(t.Cats, nil)
	t.route = append(t.route, [4]uint64{})
	return int32(len(t.Feature) - 1)
}

// setSplit makes node id a split of s with children l and r.
func (t *tree) setSplit(id int32, g *grower, s *splitInfo, l, r int32) {
	f := &g.bf[s.feature]
	t.Feature[id] = int32(s.feature)
	t.DefaultLeft[id] = s.defaultLeft
	t.Left[id], t.Right[id] = l, r
	t.Gain[id] = float32(s.gain)
	for b, left := range g.goLeft(s) {
		if left {
			t.route[id][b>>6] |= 1 << (b & 63)
		}
	}
	if !f.categorical {
		t.Threshold[id] = f.upper[s.bin]
		return
	}
	cats := []int32{}
	for b := 0; b < f.numBins; b++ {
		left := s.catLeft[b>>6]&(1<<(b&63)) != 0
		if left != s.defaultLeft {
			cats = append(cats, f.binCode[b])
		}
	}
	t.Cats[id] = cats
}

// leafBins is the leaf reached by row i of binned columns (training only).
func (t *tree) leafBins(cols [][]uint8, i int) int32 {
	node := int32(0)
	for {
		f := t.Feature[node]
		if f < 0 {
			return node
		}
		b := cols[f][i]
		if t.route[node][b>>6]>>(b&63)&1 != 0 {
			node = t.Left[node]
		} else {
			node = t.Right[node]
		}
	}
}
