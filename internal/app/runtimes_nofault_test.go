//go:build !failpoint

package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/failpoint/fault"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// TestFaultFlavorUnknown: a normal build registers a fault package (it is
// only files) but cannot serve it: no runtime has its flavor.
func TestFaultFlavorUnknown(t *testing.T) {
	ctx := context.Background()
	b := testbackend.Open(t, "")
	v, err := fault.Register(ctx, b.Registry, "credit", "../runtime/lightgbm/testdata/mlflow", fault.Config{ErrorRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Models.Load(ctx, v)
	if err == nil {
		m.Close()
		t.Fatal("a normal build loaded a fault package")
	}
	if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), "no runtime in this build serves the package's flavors [ferry_fault]") {
		t.Errorf("error %v (%s), want EINVALID naming the flavor", err, ferry.ErrorCode(err))
	}
}
