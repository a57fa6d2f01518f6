package httpapi

import (
	"context"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
)

// proxyScheme is the artifact URI scheme MLflow's clients resolve against the
// tracking server, uploading and downloading through its artifact proxy.
const proxyScheme = "mlflow-artifacts:"

// routeArtifacts registers MLflow's artifact proxy: PUT, GET and DELETE of one
// artifact, and GET of a directory listing with ?path=.
func (s *Server) routeArtifacts() {
	for _, prefix := range []string{"/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"} {
		s.mux.HandleFunc("GET "+prefix, s.listArtifactDir)
		s.mux.HandleFunc("PUT "+prefix+"/{path...}", s.putArtifact)
		s.mux.HandleFunc("GET "+prefix+"/{path...}", s.getArtifact)
		s.mux.HandleFunc("DELETE "+prefix+"/{path...}", s.deleteArtifact)
	}
}

func (s *Server) putArtifact(w http.ResponseWriter, r *http.Request) {
	key, err := blob.CleanObjectKey(r.PathValue("path"))
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	if _, err := s.artifacts.Put(r.Context(), key, r.Body); err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	writeJSON(w, http.StatusOK, empty{})
}

func (s *Server) getArtifact(w http.ResponseWriter, r *http.Request) {
	key, err := blob.CleanObjectKey(r.PathValue("path"))
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	s.sendArtifact(w, r, key)
}

// textArtifacts are the extensions (or, without one, the file names) that
// MLflow's server sends as text/plain.
var textArtifacts = map[string]bool{
	"txt": true, "log": true, "err": true, "cfg": true, "conf": true, "cnf": true, "cf": true, "ini": true,
	"properties": true, "prop": true, "hocon": true, "toml": true, "yaml": true, "yml": true, "xml": true,
	"json": true, "js": true, "py": true, "py3": true, "csv": true, "tsv": true, "md": true, "rst": true,
	"MLmodel": true, "MLproject": true,
}

// artifactContentType is the content type MLflow's server sends a file
// with: text/plain for its text extensions and the MLmodel and MLproject
// files, else by extension, else application/octet-stream.
func artifactContentType(key string) string {
	name := path.Base(key)
	ext := strings.TrimPrefix(path.Ext(name), ".")
	if ext == "" {
		ext = name
	}
	if textArtifacts[ext] {
		return "text/plain"
	}
	if ctype := mime.TypeByExtension(path.Ext(name)); ctype != "" {
		return ctype
	}
	return "application/octet-stream"
}

// sendArtifact streams the artifact at key as an attachment, with the
// content type MLflow's server gives it.
func (s *Server) sendArtifact(w http.ResponseWriter, r *http.Request, key string) {
	rc, info, err := s.artifacts.Get(r.Context(), key)
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", artifactContentType(key))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	if _, err := io.Copy(w, rc); err != nil {
		s.log.WarnContext(r.Context(), "artifact download cut short", "key", key, "err", err)
	}
}

func (s *Server) deleteArtifact(w http.ResponseWriter, r *http.Request) {
	key, err := blob.CleanObjectKey(r.PathValue("path"))
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	if err := s.artifacts.Delete(r.Context(), key); err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	writeJSON(w, http.StatusOK, empty{})
}

type wireFileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize int64  `json:"file_size,omitempty"`
}

// listArtifactDir lists one directory of the proxy, naming entries by their
// base name as MLflow's artifact server does.
func (s *Server) listArtifactDir(w http.ResponseWriter, r *http.Request) {
	dir, err := blob.CleanKey(r.URL.Query().Get("path"))
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	files, err := s.list(r.Context(), dir, func(p string) string { return path.Base(p) })
	if err != nil {
		writeError(w, r, s.log, styleMLflow, err)
		return
	}
	// MLflow leaves "files" out of the answer when there are none.
	writeJSON(w, http.StatusOK, struct {
		Files []wireFileInfo `json:"files,omitempty"`
	}{files})
}

// list lists dir in the artifact store, naming each entry with name(key).
func (s *Server) list(ctx context.Context, dir string, name func(string) string) ([]wireFileInfo, error) {
	entries, err := s.artifacts.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	files := make([]wireFileInfo, 0, len(entries))
	for _, e := range entries {
		files = append(files, wireFileInfo{Path: name(e.Path), IsDir: e.IsDir, FileSize: e.Size})
	}
	return files, nil
}

type listArtifactsReq struct {
	runReq
	Path      string `json:"path"`
	PageToken string `json:"page_token"`
}

type listArtifactsResp struct {
	RootURI string         `json:"root_uri"`
	Files   []wireFileInfo `json:"files,omitempty"`
}

// mlflowListArtifacts lists a run's artifacts under path, naming entries by
// their path relative to the run's artifact root.
func (s *Server) mlflowListArtifacts(ctx context.Context, req *listArtifactsReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	run, err := s.tracking.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	root := run.Info.ArtifactURI
	rootKey, ok := proxiedKey(root)
	if !ok {
		return nil, ferry.Errorf(ferry.EINVALID, "The artifacts of run %s are stored at %s, outside this server; list them there.", id, root)
	}
	sub, err := blob.CleanKey(req.Path)
	if err != nil {
		return nil, err
	}
	files, err := s.list(ctx, blob.Join(rootKey, sub), func(p string) string { return strings.TrimPrefix(p, rootKey+"/") })
	if err != nil {
		return nil, err
	}
	return listArtifactsResp{RootURI: root, Files: files}, nil
}

// proxiedKey returns the artifact-store key of an mlflow-artifacts: URI.
func proxiedKey(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, proxyScheme)
	if !ok {
		return "", false
	}
	if strings.HasPrefix(rest, "//") { // mlflow-artifacts://host:port/path
		i := strings.Index(rest[2:], "/")
		if i < 0 {
			return "", true
		}
		rest = rest[2+i:]
	}
	key, err := blob.CleanKey(strings.TrimPrefix(rest, "/"))
	return key, err == nil
}
