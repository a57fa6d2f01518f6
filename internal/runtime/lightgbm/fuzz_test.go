package lightgbm_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/lightgbm"
)

// FuzzParseLightGBM feeds arbitrary bytes to Parse: it must return a model or
// an EINVALID error, never panic or hang;
// a model it returns must score rows of awkward values without panicking.
func FuzzParseLightGBM(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(constantModel("multiclassova num_class:2 sigmoid:1", 2, 0.5, -0.5)))
	f.Add([]byte(constantModel("", 1, 1)))
	f.Add([]byte(linearModel))
	values := []float64{math.NaN(), 0, -1, 0.5, 1e-36, 2, 33, 1e10, math.Inf(-1)}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := lightgbm.Parse(data)
		if err != nil {
			if code := ferry.ErrorCode(err); code != ferry.EINVALID {
				t.Fatalf("code %s: %v", code, err)
			}
			return
		}
		m := lightgbm.New(b)
		md := m.Metadata()
		n := len(values)
		inputs := make([]runtime.Tensor, len(md.Inputs))
		for j, spec := range md.Inputs {
			in := runtime.Tensor{Name: spec.Name, Datatype: spec.Datatype, Shape: []int64{int64(n)}}
			for i := range n {
				v := values[(i+j)%n]
				if spec.Datatype == runtime.BYTES {
					in.Str = append(in.Str, []string{"", "0", "x", "1"}[i%4])
				} else {
					in.FP64 = append(in.FP64, v)
				}
			}
			inputs[j] = in
		}
		out, err := m.Predict(context.Background(), inputs)
		if err != nil {
			t.Fatalf("predict: %v", err)
		}
		if len(out) != 1 || len(out[0].FP64) != n*b.NumOutputs() {
			t.Fatalf("outputs %+v for %d rows of %d outputs", out, n, b.NumOutputs())
		}
	})
}

// linearModel is a small linear tree (linear_tree=true): leaf 0 is
// 0.5 + 2·y, leaf 1 is -1 + 0.5·x - 3·y, each its leaf_value when a feature
// of its model is NaN.
const linearModel = `tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=regression
feature_names=x y
feature_infos=[0:1] [0:1]

Tree=0
num_leaves=2
num_cat=0
split_feature=0
threshold=0.5
decision_type=10
left_child=-1
right_child=-2
leaf_value=1 2
is_linear=1
leaf_const=0.5 -1
num_features=1 2
leaf_features=1  0 1 
leaf_coeff=2  0.5 -3 
shrinkage=1


end of trees
`
