package gbdt

import (
	"math"
	"slices"
	"sync"

	"github.com/ferry-ml/ferry/internal/parallel"
)

// Tree growth. One grower is reused for every tree of a training run so that
// its buffers are allocated once:
//
//   - rows holds the row indexes of the rows in the current sample; every
//     node of the tree owns a contiguous segment of it, kept in ascending row
//     order by stable partitioning (scratch is the partition buffer);
//   - ordGrad[i] is the gradient of rows[i], gathered when a node's
//     histogram is to be built, so histogram loops read gradients
//     sequentially (LightGBM's "ordered gradients");
//   - a histogram is 256 (gradient, hessian) float64 sums per feature; only
//     the smaller child of a split is built from rows, the larger one is its
//     parent's histogram minus the smaller one's, computed in place.
//
// Work is spread over goroutines by (node, feature) for histograms and split
// search and by (node, fixed block of rows) for partitioning. Every sum is
// taken in one fixed order (rows ascending within a node, bins ascending,
// features ascending, blocks ascending), so the trees do not depend on the
// number of goroutines.

type histBin struct{ g, h float64 }

// histStride is the histogram entries per feature: 255 value bins and the
// missing bin fit in 256.
const histStride = 256

// splitInfo is the best split found for a node (or for one feature of it).
type splitInfo struct {
	gain        float64
	feature     int
	bin         int // numeric: bins 0..bin go left
	defaultLeft bool
	gl, hl      float64   // sums of the left child
	catLeft     [4]uint64 // categorical: bins that go left, missing bin included when defaultLeft
}

func (s *splitInfo) valid() bool { return s.feature >= 0 }

type growNode struct {
	id         int32
	begin, end int
	depth      int
	g, h       float64
	hist       []histBin // len features*histStride; nil when not built
	split      splitInfo
	isSplit    bool
}

type grower struct {
	p       Params
	bf      []binnedFeature
	rows    []uint32
	scratch []uint32
	ordGrad []gpair
	pool    [][]histBin
	copies  sync.Pool // *histCopies, scratch of histogram tasks

	// per tree
	grad   []gpair
	feats  []int
	leaves []*growNode
	evals  []splitInfo
}

func newGrower(bf []binnedFeature, n int, p Params) *grower {
	return &grower{
		p:       p,
		bf:      bf,
		rows:    make([]uint32, n),
		scratch: make([]uint32, n),
		ordGrad: make([]gpair, n),
		copies:  sync.Pool{New: func() any { return new(histCopies) }},
	}
}

func (g *grower) getHist() []histBin {
	if k := len(g.pool); k > 0 {
		h := g.pool[k-1]
		g.pool = g.pool[:k-1]
		return h
	}
	return make([]histBin, len(g.bf)*histStride)
}

func (g *grower) putHist(h []histBin) {
	if h != nil {
		g.pool = append(g.pool, h)
	}
}

func (g *grower) weight(gs, hs float64) float64 {
	d := hs + g.p.Lambda
	if d <= 0 {
		return 0
	}
	return -gs / d
}

// grow builds one tree on grad. sample lists the rows of this round's
// sample in ascending order, or is nil for every row. feats lists the
// features the tree may split on, ascending.
func (g *grower) grow(grad []gpair, sample []uint32, feats []int) tree {
	g.grad, g.feats, g.leaves = grad, feats, g.leaves[:0]
	m := len(grad)
	identity := sample == nil
	if identity {
		for i := range m {
			g.rows[i] = uint32(i)
		}
	} else {
		m = len(sample)
		copy(g.rows, sample)
		parallel.For(g.p.NumThreads, numBlocks(m), func(b int) {
			for i := b * blockSize; i < min((b+1)*blockSize, m); i++ {
				g.ordGrad[i] = grad[g.rows[i]]
			}
		})
	}
	var t tree
	root := &growNode{id: t.addNode(), begin: 0, end: m}
	root.hist = g.getHist()
	g.buildHists([]*growNode{root}, []*growNode{nil}, identity)
	// node sums: the histogram of the first allowed feature, bins in order
	h := root.hist[feats[0]*histStride:]
	for b := 0; b <= g.bf[feats[0]].numBins; b++ {
		root.g += h[b].g
		root.h += h[b].h
	}
	t.Value[root.id] = float32(g.weight(root.g, root.h) * g.p.LearningRate)
	t.Hess[root.id] = root.h
	g.evaluate([]*growNode{root})

	leafwise := g.p.MaxLeaves > 0
	numLeaves := 1
	frontier := []*growNode{root}
	all := []*growNode{root}
	for len(frontier) > 0 {
		var batch []*growNode
		if leafwise {
			if numLeaves >= g.p.MaxLeaves {
				break
			}
			best := -1
			for i, n := range frontier {
				if n.split.valid() && (best < 0 || n.split.gain > frontier[best].split.gain) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			batch = []*growNode{frontier[best]}
			frontier = slices.Delete(frontier, best, best+1)
		} else {
			for _, n := range frontier {
				if n.split.valid() {
					batch = append(batch, n)
				} else {
					g.putHist(n.hist)
					n.hist = nil
				}
			}
			frontier = frontier[:0]
			if len(batch) == 0 {
				break
			}
		}
		numLeaves += len(batch)
		noMore := leafwise && numLeaves >= g.p.MaxLeaves
		children := g.applySplits(&t, batch, noMore)
		for _, c := range children {
			all = append(all, c)
			if c.hist != nil {
				frontier = append(frontier, c)
			}
		}
	}
	for _, n := range all {
		g.putHist(n.hist)
		n.hist = nil
		if !n.isSplit {
			g.leaves = append(g.leaves, n)
		}
	}
	return t
}

// buildHists builds the histograms of nodes from their rows; when sub[i] is
// not nil it holds the parent's histogram and becomes nodes[i]'s sibling's by
// subtraction. identity means nodes is the root over rows 0..n-1 in order.
func (g *grower) buildHists(nodes, sub []*growNode, identity bool) {
	nf := len(g.feats)
	parallel.For(g.p.NumThreads, len(nodes)*nf, func(t int) {
		n, s := nodes[t/nf], sub[t/nf]
		j := g.feats[t%nf]
		nb := g.bf[j].numBins + 1
		h := (*[histStride]histBin)(n.hist[j*histStride : (j+1)*histStride])
		clear(h[:nb])
		col := g.bf[j].bins
		tmp := g.copies.Get().(*histCopies)
		if identity {
			histIdentity(h, col, g.grad, tmp)
		} else {
			histRows(h, col, g.rows[n.begin:n.end], g.ordGrad[n.begin:n.end], tmp)
		}
		g.copies.Put(tmp)
		if s != nil {
			sh := s.hist[j*histStride : j*histStride+nb]
			for b := range sh {
				sh[b].g -= h[b].g
				sh[b].h -= h[b].h
			}
		}
	})
}

// Rows in a node often share a bin with their neighbours (the data may be
// sorted by time, and a month or an hour then comes in long runs), so one
// histogram entry would be updated back to back, each addition waiting for
// the previous one. Nodes with at least multiRows rows are therefore summed
// into four interleaved copies (row i into copy i%4) that are added up at
// the end, bin by bin in copy order. Which loop runs depends only on the
// node's row count, so sums stay independent of the number of goroutines.
const multiRows = 2048

type histCopies [4][histStride]histBin

func histIdentity(h *[histStride]histBin, col []uint8, grad []gpair, tmp *histCopies) {
	grad = grad[:len(col)]
	if len(col) < multiRows {
		for i, b := range col {
			gp := grad[i]
			h[b].g += float64(gp.g)
			h[b].h += float64(gp.h)
		}
		return
	}
	nb := len(h)
	for c := range tmp {
		clear(tmp[c][:nb])
	}
	i := 0
	for ; i+4 <= len(col); i += 4 {
		b0, b1, b2, b3 := col[i], col[i+1], col[i+2], col[i+3]
		g0, g1, g2, g3 := grad[i], grad[i+1], grad[i+2], grad[i+3]
		tmp[0][b0].g += float64(g0.g)
		tmp[0][b0].h += float64(g0.h)
		tmp[1][b1].g += float64(g1.g)
		tmp[1][b1].h += float64(g1.h)
		tmp[2][b2].g += float64(g2.g)
		tmp[2][b2].h += float64(g2.h)
		tmp[3][b3].g += float64(g3.g)
		tmp[3][b3].h += float64(g3.h)
	}
	for ; i < len(col); i++ {
		b := col[i]
		tmp[0][b].g += float64(grad[i].g)
		tmp[0][b].h += float64(grad[i].h)
	}
	mergeCopies(h, tmp)
}

func histRows(h *[histStride]histBin, col []uint8, rows []uint32, og []gpair, tmp *histCopies) {
	og = og[:len(rows)]
	if len(rows) < multiRows {
		for i, r := range rows {
			b := col[r]
			gp := og[i]
			h[b].g += float64(gp.g)
			h[b].h += float64(gp.h)
		}
		return
	}
	for c := range tmp {
		clear(tmp[c][:])
	}
	i := 0
	for ; i+4 <= len(rows); i += 4 {
		b0, b1, b2, b3 := col[rows[i]], col[rows[i+1]], col[rows[i+2]], col[rows[i+3]]
		g0, g1, g2, g3 := og[i], og[i+1], og[i+2], og[i+3]
		tmp[0][b0].g += float64(g0.g)
		tmp[0][b0].h += float64(g0.h)
		tmp[1][b1].g += float64(g1.g)
		tmp[1][b1].h += float64(g1.h)
		tmp[2][b2].g += float64(g2.g)
		tmp[2][b2].h += float64(g2.h)
		tmp[3][b3].g += float64(g3.g)
		tmp[3][b3].h += float64(g3.h)
	}
	for ; i < len(rows); i++ {
		b := col[rows[i]]
		tmp[0][b].g += float64(og[i].g)
		tmp[0][b].h += float64(og[i].h)
	}
	mergeCopies(h, tmp)
}

func mergeCopies(h *[histStride]histBin, tmp *histCopies) {
	for b := range h {
		h[b].g += tmp[0][b].g + tmp[1][b].g + tmp[2][b].g + tmp[3][b].g
		h[b].h += tmp[0][b].h + tmp[1][b].h + tmp[2][b].h + tmp[3][b].h
	}
}

// evaluate finds the best split of every node, one task per (node, feature),
// reduced over features in ascending order.
func (g *grower) evaluate(nodes []*growNode) {
	nf := len(g.feats)
	if cap(g.evals) < len(nodes)*nf {
		g.evals = make([]splitInfo, len(nodes)*nf)
	}
	res := g.evals[:len(nodes)*nf]
	parallel.For(g.p.NumThreads, len(nodes)*nf, func(t int) {
		n := nodes[t/nf]
		j := g.feats[t%nf]
		res[t] = splitInfo{feature: -1, gain: math.Inf(-1)}
		if g.bf[j].categorical {
			g.evalCategorical(n, j, &res[t])
		} else {
			g.evalNumeric(n, j, &res[t])
		}
	})
	minGain := max(g.p.Gamma, 1e-6)
	for i, n := range nodes {
		best := splitInfo{feature: -1, gain: math.Inf(-1)}
		for _, s := range res[i*nf : (i+1)*nf] {
			if s.valid() && s.gain > best.gain {
				best = s
			}
		}
		if best.valid() && !(best.gain > minGain) {
			best.feature = -1
		}
		n.split = best
	}
}

func (g *grower) evalNumeric(n *growNode, j int, best *splitInfo) {
	f := &g.bf[j]
	nb := f.numBins
	h := n.hist[j*histStride : j*histStride+nb+1]
	gm, hm := h[nb].g, h[nb].h
	G, H := n.g, n.h
	lam, mcw := g.p.Lambda, g.p.MinChildWeight
	parent := G * G / (H + lam)
	var gl, hl float64
	for b := 0; b < nb-1; b++ {
		if h[b].h == 0 && h[b].g == 0 {
			if b > 0 {
				continue // same split as the previous bin
			}
		}
		gl += h[b].g
		hl += h[b].h
		// missing values right
		gr, hr := G-gl, H-hl
		if hl >= mcw && hr >= mcw && hl > 0 && hr > 0 {
			gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent
			if gain > best.gain {
				dl := false
				if hm == 0 {
					dl = hl >= hr // no missing here: send them to the bigger child
				}
				*best = splitInfo{gain: gain, feature: j, bin: b, defaultLeft: dl, gl: gl, hl: hl}
			}
		}
		if hm > 0 { // missing values left
			gl2, hl2 := gl+gm, hl+hm
			gr2, hr2 := G-gl2, H-hl2
			if hl2 >= mcw && hr2 >= mcw && hl2 > 0 && hr2 > 0 {
				gain := gl2*gl2/(hl2+lam) + gr2*gr2/(hr2+lam) - parent
				if gain > best.gain {
					*best = splitInfo{gain: gain, feature: j, bin: b, defaultLeft: true, gl: gl2, hl: hl2}
				}
			}
		}
	}
}

// evalCategorical is XGBoost's partition split search: it sorts the
// feature's categories by leaf weight −G/(H+λ), taken as 0 for a category
// whose hessian sum in the node is below MinChildWeight (one absent from the
// node included, so small and absent categories sit in the middle of the
// order; ties by lower bin), and tries every set of fewer than
// MaxCatThreshold categories taken from either end of that order against
// the rest, with missing values on either side. Categories absent from the
// node go to the default side with missing values (XGBoost sends them where
// their place in the order puts them; that changes no training row's route
// and keeps the category lists of the model short).
func (g *grower) evalCategorical(n *growNode, j int, best *splitInfo) {
	f := &g.bf[j]
	nb := f.numBins
	h := n.hist[j*histStride : j*histStride+nb+1]
	gm, hm := h[nb].g, h[nb].h
	G, H := n.g, n.h
	lam, mcw := g.p.Lambda, g.p.MinChildWeight
	parent := G * G / (H + lam)
	var buf [histStride]uint8
	cats := buf[:nb]
	for b := range cats {
		cats[b] = uint8(b)
	}
	m := nb
	weight := func(b uint8) float64 {
		if h[b].h < mcw || h[b].h <= 0 {
			return 0
		}
		return -h[b].g / (h[b].h + lam)
	}
	slices.SortFunc(cats, func(a, b uint8) int {
		ra, rb := weight(a), weight(b)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return int(a) - int(b)
	})
	// fewer than MaxCatThreshold on one side, as XGBoost; all of them only
	// against missing values
	maxK := min(g.p.MaxCatThreshold-1, m)
	bestDir, bestK := -1, 0
	for dir := 0; dir < 2; dir++ {
		var gs, hs float64
		for k := 1; k <= maxK; k++ {
			if dir == 1 && k == m {
				break // the same set as forward
			}
			b := cats[k-1]
			if dir == 1 {
				b = cats[m-k]
			}
			gs += h[b].g
			hs += h[b].h
			// the set left, missing values with the rest
			if gr, hr := G-gs, H-hs; (k < m || hm > 0) && hs >= mcw && hr >= mcw && hr > 0 {
				gain := gs*gs/(hs+lam) + gr*gr/(hr+lam) - parent
				if gain > best.gain {
					dl := false
					if hm == 0 {
						dl = hs >= hr
					}
					*best = splitInfo{gain: gain, feature: j, defaultLeft: dl, gl: gs, hl: hs}
					bestDir, bestK = dir, k
				}
			}
			// the set and missing values left
			if hm > 0 && k < m {
				gl, hl := gs+gm, hs+hm
				gr, hr := G-gl, H-hl
				if hl >= mcw && hr >= mcw && hr > 0 {
					gain := gl*gl/(hl+lam) + gr*gr/(hr+lam) - parent
					if gain > best.gain {
						*best = splitInfo{gain: gain, feature: j, defaultLeft: true, gl: gl, hl: hl}
						bestDir, bestK = dir, k
					}
				}
			}
		}
	}
	if bestDir < 0 {
		return
	}
	var mask [4]uint64
	set := func(b int) { mask[b>>6] |= 1 << (b & 63) }
	for k := 1; k <= bestK; k++ {
		b := cats[k-1]
		if bestDir == 1 {
			b = cats[m-k]
		}
		if h[b].h > 0 {
			set(int(b))
		}
	}
	if best.defaultLeft {
		// missing values and categories absent from this node go left
		set(nb)
		for b := 0; b < nb; b++ {
			if h[b].h <= 0 {
				set(b)
			}
		}
	}
	best.catLeft = mask
}

// goLeft is the bin routing table of a split.
func (g *grower) goLeft(s *splitInfo) *[256]bool {
	var t [256]bool
	f := &g.bf[s.feature]
	if f.categorical {
		for b := range 256 {
			t[b] = s.catLeft[b>>6]&(1<<(b&63)) != 0
		}
		return &t
	}
	for b := 0; b <= s.bin; b++ {
		t[b] = true
	}
	t[f.numBins] = s.defaultLeft
	return &t
}

type partTask struct {
	node   int // index in batch
	lo, hi int
	nl     int
	lOff   int // where this block's left rows go
	rOff   int // where its right rows go
}

// applySplits records the batch's splits in t, partitions their rows,
// builds the children's histograms where the children may split again and
// finds their best splits. It returns the new children.
func (g *grower) applySplits(t *tree, batch []*growNode, noMore bool) []*growNode {
	// routing tables and tasks, in batch order then block order
	routes := make([]*[256]uint8, len(batch))
	var tasks []partTask
	for i, n := range batch {
		routes[i] = new([256]uint8)
		for b, left := range g.goLeft(&n.split) {
			if left {
				routes[i][b] = 1
			}
		}
		for lo := n.begin; lo < n.end; lo += blockSize {
			tasks = append(tasks, partTask{node: i, lo: lo, hi: min(lo+blockSize, n.end)})
		}
	}
	parallel.For(g.p.NumThreads, len(tasks), func(k int) {
		tk := &tasks[k]
		n := batch[tk.node]
		route := routes[tk.node]
		col := g.bf[n.split.feature].bins
		rows := g.rows[tk.lo:tk.hi]
		out := g.scratch[tk.lo:tk.hi]
		// branch-free: write the row to both free ends, keep one
		nl, nr := 0, len(out)
		for _, r := range rows {
			l := int(route[col[r]])
			out[nl] = r
			out[nr-1] = r
			nl += l
			nr -= 1 - l
		}
		tk.nl = nl
	})
	// offsets, children, and which child's histogram to build
	leftRows := make([]int, len(batch))
	for _, tk := range tasks {
		leftRows[tk.node] += tk.nl
	}
	lOff := make([]int, len(batch))
	rOff := make([]int, len(batch))
	for i, n := range batch {
		lOff[i] = n.begin
		rOff[i] = n.begin + leftRows[i]
	}
	for k := range tasks {
		tk := &tasks[k]
		tk.lOff, tk.rOff = lOff[tk.node], rOff[tk.node]
		lOff[tk.node] += tk.nl
		rOff[tk.node] += tk.hi - tk.lo - tk.nl
	}
	children := make([]*growNode, 0, 2*len(batch))
	gatherLeft := make([]int8, len(batch)) // 1 left, -1 right, 0 none
	var build, sub []*growNode
	for i, n := range batch {
		s := &n.split
		n.isSplit = true
		l := &growNode{begin: n.begin, end: n.begin + leftRows[i], depth: n.depth + 1, g: s.gl, h: s.hl}
		r := &growNode{begin: l.end, end: n.end, depth: n.depth + 1, g: n.g - s.gl, h: n.h - s.hl}
		l.id, r.id = t.addNode(), t.addNode()
		t.setSplit(n.id, g, s, l.id, r.id)
		t.Value[l.id] = float32(g.weight(l.g, l.h) * g.p.LearningRate)
		t.Value[r.id] = float32(g.weight(r.g, r.h) * g.p.LearningRate)
		t.Hess[l.id], t.Hess[r.id] = l.h, r.h
		children = append(children, l, r)
		need := func(c *growNode) bool {
			return !noMore && (g.p.MaxDepth == 0 || c.depth < g.p.MaxDepth) &&
				c.end-c.begin >= 2 && c.h >= 2*g.p.MinChildWeight && c.h > 0
		}
		needL, needR := need(l), need(r)
		if !needL && !needR {
			g.putHist(n.hist)
			n.hist = nil
			continue
		}
		small, large := l, r
		gatherLeft[i] = 1
		if r.end-r.begin < l.end-l.begin {
			small, large = r, l
			gatherLeft[i] = -1
		}
		small.hist = g.getHist()
		build = append(build, small)
		if (small == l && needR) || (small == r && needL) {
			large.hist = n.hist
			sub = append(sub, large)
		} else {
			g.putHist(n.hist)
			sub = append(sub, nil)
		}
		n.hist = nil
	}
	parallel.For(g.p.NumThreads, len(tasks), func(k int) {
		tk := &tasks[k]
		nl := tk.nl
		src := g.scratch[tk.lo:tk.hi]
		copy(g.rows[tk.lOff:tk.lOff+nl], src[:nl])
		right := g.rows[tk.rOff : tk.rOff+len(src)-nl]
		for i := range right { // right rows were written back to front
			right[i] = src[len(src)-1-i]
		}
		switch gatherLeft[tk.node] {
		case 1:
			og := g.ordGrad[tk.lOff : tk.lOff+nl]
			for i, r := range g.rows[tk.lOff : tk.lOff+nl] {
				og[i] = g.grad[r]
			}
		case -1:
			og := g.ordGrad[tk.rOff : tk.rOff+len(right)]
			for i, r := range right {
				og[i] = g.grad[r]
			}
		}
	})
	if len(build) > 0 {
		g.buildHists(build, sub, false)
	}
	var withHist []*growNode
	for i, c := range build {
		if need := !noMore && (g.p.MaxDepth == 0 || c.depth < g.p.MaxDepth) && c.end-c.begin >= 2 && c.h >= 2*g.p.MinChildWeight && c.h > 0; need {
			withHist = append(withHist, c)
		} else {
			g.putHist(c.hist)
			c.hist = nil
		}
		if sub[i] != nil {
			withHist = append(withHist, sub[i])
		}
	}
	// evaluate in id order so that results do not depend on which child was built
	slices.SortFunc(withHist, func(a, b *growNode) int { return int(a.id - b.id) })
	g.evaluate(withHist)
	return children
}

// updateMargins adds the leaves of the tree just grown to the margins of the
// rows that fell in them.
func (g *grower) updateMargins(t *tree, margin []float64, k, c int) {
	parallel.For(g.p.NumThreads, len(g.leaves), func(i int) {
		n := g.leaves[i]
		v := float64(t.Value[n.id])
		for _, r := range g.rows[n.begin:n.end] {
			margin[int(r)*k+c] += v
		}
	})
}
