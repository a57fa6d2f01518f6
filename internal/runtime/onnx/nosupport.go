//go:build !onnx || !cgo

package onnx

import (
	"context"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Supported reports whether this build has the ONNX runtime: false, since it
// was built without the onnx tag or without cgo.
const Supported = false

// Load fails in this build with an ENOTIMPLEMENTED error carrying
// NoSupportMessage; see the package documentation.
func Load(ctx context.Context, pkg *model.Package, opts ...Option) (runtime.Model, error) {
	return nil, errorf(ferry.ENOTIMPLEMENTED, "%s", NoSupportMessage)
}
