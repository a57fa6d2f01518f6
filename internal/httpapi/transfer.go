package httpapi

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/registry"
)

// Routes that move bytes between a client and the server's stores: staged
// uploads in parts, data assets, and model version packages.

// v1TransferRoutes returns the upload, data asset and package routes.
func (s *Server) v1TransferRoutes() []v1Route {
	return []v1Route{
		v1JSON(s, "POST", "/uploads", "createUpload", "Start an upload: send its parts, then name the upload_id where a file is expected (a data asset version).", http.StatusCreated, s.v1CreateUpload),
		{
			method: "PUT", path: "/uploads/{id}/parts/{n}", op: "uploadPart",
			summary: "Send part n (1-based) of an upload; sending a part again replaces it, so a failed part can be retried.",
			request: v1BinaryType, response: reflect.TypeFor[v1UploadPart](), status: http.StatusOK, handler: s.v1PutUploadPart,
		},
		v1JSON(s, "DELETE", "/uploads/{id}", "deleteUpload", "Discard an upload's parts.", http.StatusOK, s.v1DeleteUpload),
		v1JSON(s, "GET", "/data", "listDataAssets", "List data assets with their latest version.", http.StatusOK, withData(s, s.v1ListAssets)),
		v1JSON(s, "GET", "/data/{name}/versions", "listDataVersions", "List every version of a data asset, newest first.", http.StatusOK, withData(s, s.v1AssetVersions)),
		v1JSON(s, "POST", "/data/{name}/versions", "createDataVersion", "Register an uploaded file as a version of a data asset; the same bytes give the existing version.", http.StatusCreated, withData(s, s.v1CreateAsset)),
		v1JSON(s, "GET", "/data/{name}/versions/{version}", "getDataVersion", "Get a data asset version (a number, or latest).", http.StatusOK, withData(s, s.v1GetAsset)),
		{
			method: "GET", path: "/data/{name}/versions/{version}/content", op: "downloadDataVersion",
			summary:  "Download the bytes of a data asset version.",
			response: v1BinaryType, status: http.StatusOK, handler: s.v1AssetContent,
		},
		{
			method: "GET", path: "/models/{name}/versions/{version}/package", op: "downloadVersionPackage",
			summary:  "Download a version's model package as an uncompressed tar archive; check it against its ferry.json after extracting.",
			response: v1BinaryType, status: http.StatusOK, handler: s.v1VersionPackage,
		},
	}
}

type v1Upload struct {
	UploadID string `json:"upload_id"`
	// PartSize is the part size the server suggests.
	PartSize int64 `json:"part_size"`
}

type v1UploadPart struct {
	Part int   `json:"part"`
	Size int64 `json:"size"`
}

// uploadPartSize is the part size the server suggests to clients.
const uploadPartSize = 16 << 20

func (s *Server) uploads() blob.Uploads { return blob.Uploads{Store: s.artifacts} }

func (s *Server) v1CreateUpload(_ *http.Request, _ *v1NoInput) (v1Upload, error) {
	return v1Upload{UploadID: blob.NewUploadID(), PartSize: uploadPartSize}, nil
}

func (s *Server) v1PutUploadPart(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		writeError(w, r, s.log, styleFerry, ferry.Errorf(ferry.EINVALID, "upload part %q is not a number", r.PathValue("n")))
		return
	}
	size, err := s.uploads().PutPart(r.Context(), r.PathValue("id"), n, r.Body)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	writeJSON(w, http.StatusOK, v1UploadPart{Part: n, Size: size})
}

func (s *Server) v1DeleteUpload(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.uploads().Discard(r.Context(), r.PathValue("id"))
}

// withData answers ENOTFOUND when the server has no data asset registry.
func withData[Req, Resp any](s *Server, fn func(*http.Request, *Req) (Resp, error)) func(*http.Request, *Req) (Resp, error) {
	return func(r *http.Request, req *Req) (Resp, error) {
		if s.data == nil {
			var zero Resp
			return zero, ferry.Errorf(ferry.ENOTFOUND, "This server has no data asset registry.")
		}
		return fn(r, req)
	}
}

type v1AssetList struct {
	Assets []dataset.Asset `json:"assets"`
}

type v1AssetResponse struct {
	Asset   dataset.Asset `json:"asset"`
	Created bool          `json:"created"`
}

type v1CreateAssetRequest struct {
	UploadID    string `json:"upload_id" doc:"The upload holding the file's bytes."`
	Parts       int    `json:"parts" doc:"How many parts the upload has."`
	Source      string `json:"source" doc:"The file's name where it came from; its extension says the format (.csv, .parquet, .jsonl, optionally .gz)."`
	Description string `json:"description,omitempty"`
}

func (s *Server) v1ListAssets(r *http.Request, _ *v1NoInput) (v1AssetList, error) {
	as, err := s.data.List(r.Context())
	return v1AssetList{Assets: nonNil(as)}, err
}

func (s *Server) v1AssetVersions(r *http.Request, _ *v1NoInput) (v1AssetList, error) {
	as, err := s.data.Versions(r.Context(), r.PathValue("name"))
	return v1AssetList{Assets: nonNil(as)}, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) v1CreateAsset(r *http.Request, req *v1CreateAssetRequest) (v1AssetResponse, error) {
	if err := requiredField("upload_id", req.UploadID); err != nil {
		return v1AssetResponse{}, err
	}
	if err := requiredField("source", req.Source); err != nil {
		return v1AssetResponse{}, err
	}
	ctx := r.Context()
	src, _, err := s.uploads().Open(ctx, req.UploadID, req.Parts)
	if err != nil {
		return v1AssetResponse{}, err
	}
	defer src.Close()
	a, created, err := s.data.Import(ctx, r.PathValue("name"), src, dataset.CreateOptions{Description: req.Description, Source: req.Source})
	if err != nil {
		return v1AssetResponse{}, err
	}
	if err := s.uploads().Discard(ctx, req.UploadID); err != nil {
		s.log.WarnContext(ctx, "upload not discarded", "upload_id", req.UploadID, "err", err)
	}
	return v1AssetResponse{Asset: a, Created: created}, nil
}

// assetOf returns the data asset version the route's {name} and {version} name.
func (s *Server) assetOf(r *http.Request) (dataset.Asset, error) {
	ref := "data:/" + r.PathValue("name") + "/" + r.PathValue("version")
	name, version, err := dataset.ParseRef(ref)
	if err != nil {
		return dataset.Asset{}, err
	}
	return s.data.Get(r.Context(), name, version)
}

func (s *Server) v1GetAsset(r *http.Request, _ *v1NoInput) (v1AssetResponse, error) {
	a, err := s.assetOf(r)
	return v1AssetResponse{Asset: a}, err
}

func (s *Server) v1AssetContent(w http.ResponseWriter, r *http.Request) {
	if s.data == nil {
		writeError(w, r, s.log, styleFerry, ferry.Errorf(ferry.ENOTFOUND, "This server has no data asset registry."))
		return
	}
	a, err := s.assetOf(r)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	rc, err := s.data.Open(r.Context(), a)
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Ferry-Digest", a.Digest)
	if _, err := io.Copy(w, rc); err != nil {
		s.log.WarnContext(r.Context(), "data download cut short", "asset", a.Name, "err", err)
	}
}

func (s *Server) v1VersionPackage(w http.ResponseWriter, r *http.Request) {
	if s.models == nil {
		writeError(w, r, s.log, styleFerry, ferry.Errorf(ferry.ENOTFOUND, "This server has no model registry."))
		return
	}
	ctx := r.Context()
	v, err := s.models.Resolve(ctx, "models:/"+r.PathValue("name")+"/"+r.PathValue("version"))
	if err != nil {
		writeError(w, r, s.log, styleFerry, err)
		return
	}
	aw := &archiveWriter{w: w, digest: v.ModelDigest}
	if err := s.models.ExportVersion(ctx, v, aw); err != nil {
		if !aw.started { // the fetch failed: answer with the error
			writeError(w, r, s.log, styleFerry, err)
			return
		}
		s.log.WarnContext(ctx, "package download cut short", "model", v.Name, "version", v.Version, "err", err)
	}
}

// archiveWriter sends a package archive's headers with its first bytes, so
// that an error before any byte is still answered as an error.
type archiveWriter struct {
	w       http.ResponseWriter
	digest  string
	started bool
}

func (a *archiveWriter) Write(p []byte) (int, error) {
	if !a.started {
		a.started = true
		a.w.Header().Set("Content-Type", "application/x-tar")
		a.w.Header().Set("X-Ferry-Model-Digest", a.digest)
	}
	return a.w.Write(p)
}

// registerUpload registers the package directory the upload req names (a tar
// archive as model.WriteArchive writes it) as a new version of name.
func (s *Server) registerUpload(ctx context.Context, name string, req *v1RegisterVersionRequest) (registry.Version, error) {
	src, _, err := s.uploads().Open(ctx, req.UploadID, req.Parts)
	if err != nil {
		return registry.Version{}, err
	}
	defer src.Close()
	v, err := s.models.RegisterArchive(ctx, name, src, req.Source, req.Description, toRegistryTags(req.Tags))
	if err != nil {
		return v, err
	}
	if err := s.uploads().Discard(ctx, req.UploadID); err != nil {
		s.log.WarnContext(ctx, "upload not discarded", "upload_id", req.UploadID, "err", err)
	}
	return v, nil
}
