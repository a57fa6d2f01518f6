package serving

import (
	"context"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// VersionResolver serves registered versions to RegistryHandler through a
// runtime.VersionLoader: names and references become models:/ URIs, and a
// loaded version's package is removed when its model is closed.
type VersionResolver struct{ Loader *runtime.VersionLoader }

// Resolve implements Resolver.
func (r VersionResolver) Resolve(ctx context.Context, name, ref string) (string, error) {
	v, err := r.Loader.Versions.Resolve(ctx, versionURI(name, ref))
	if err != nil {
		return "", err
	}
	return strconv.Itoa(v.Version), nil
}

// Load implements Resolver.
func (r VersionResolver) Load(ctx context.Context, name, version string) (runtime.Model, *model.Signature, error) {
	l, err := r.Loader.LoadVersion(ctx, versionURI(name, version))
	if err != nil {
		return nil, nil, err
	}
	return l, l.Signature(), nil
}

// versionURI is the models:/ URI of ref of name: "" is the latest version,
// "@alias" an alias, anything else a version number or stage.
func versionURI(name, ref string) string {
	switch {
	case ref == "":
		return "models:/" + name + "@latest"
	case strings.HasPrefix(ref, "@"):
		return "models:/" + name + ref
	}
	return "models:/" + name + "/" + ref
}
