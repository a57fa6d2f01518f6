package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/testenv"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestApplyToAPIServer applies every rendered manifest to a real
// kube-apiserver (over etcd) with server-side apply and strict field
// validation, reads each object back and checks that the server kept every
// field as rendered; a second apply changes nothing. The InferenceService
// goes in after a CRD made from the recorded KServe schema excerpt.
//
// It needs FERRY_KUBE_APISERVER, the path of a kube-apiserver binary
// (testdata/apiserver/build.sh builds one from the Go module proxy), and
// etcd on PATH or at FERRY_ETCD (Debian: apt-get install etcd-server);
// without FERRY_KUBE_APISERVER it is skipped (under CI, it fails).
func TestApplyToAPIServer(t *testing.T) {
	bin := os.Getenv("FERRY_KUBE_APISERVER")
	if bin == "" {
		testenv.Unavailable(t, "FERRY_KUBE_APISERVER is unset: build kube-apiserver with testdata/apiserver/build.sh (or source .ci/kube.sh) to run this test")
	}
	etcd, err := exec.LookPath(cmpOr(os.Getenv("FERRY_ETCD"), "etcd"))
	if err != nil {
		t.Fatalf("etcd: %v (Debian: apt-get install etcd-server)", err)
	}
	api := startAPIServer(t, bin, etcd)

	e, deps := fixture()
	plain, err := Render(e, deps, Options{ImageRepository: repo, Namespace: "ml"})
	if err != nil {
		t.Fatal(err)
	}
	isvc, err := Render(e, deps, Options{Format: FormatKServe, ImageRepository: repo, Namespace: "ml"})
	if err != nil {
		t.Fatal(err)
	}
	api.apply(t, File{Name: "ml.namespace.yaml", Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: ml}\n")})
	api.apply(t, File{Name: "crd.yaml", Data: kserveCRD(t)})
	api.waitEstablished(t, "inferenceservices.serving.kserve.io")

	t.Run("strict validation is on", func(t *testing.T) {
		for _, f := range []File{plain[1], isvc[0]} {
			bad := f
			bad.Data = []byte(strings.Replace(string(f.Data), "\nspec:\n", "\nspec:\n  replicaz: 1\n", 1))
			status, body := api.tryApply(t, bad)
			if status < 400 || !strings.Contains(string(body), "spec.replicaz: field not declared in schema") {
				t.Errorf("%s with an unknown field: %d %s; want it rejected", f.Name, status, body)
			}
		}
	})
	for _, f := range append(plain, isvc...) {
		t.Run(f.Name, func(t *testing.T) {
			first := api.apply(t, f)
			got := api.get(t, f)
			var sent any
			if err := yaml.Unmarshal(f.Data, &sent); err != nil {
				t.Fatal(err)
			}
			for _, p := range missing("", sent, map[string]any(got)) {
				t.Errorf("the server did not keep %s as rendered", p)
			}
			if again := api.apply(t, f); again.rv() != first.rv() {
				t.Errorf("second apply changed resourceVersion %s → %s", first.rv(), again.rv())
			}
			if !hasApplyManager(got) {
				t.Errorf("managedFields record no Apply by ferry: %v", got["metadata"])
			}
			raw, _ := json.Marshal(got)
			switch {
			case strings.HasSuffix(f.Name, ".deployment.yaml"):
				var d appsv1.Deployment
				mustJSON(t, raw, &d)
				if *d.Spec.Replicas < 1 || !strings.HasPrefix(d.Spec.Template.Spec.Containers[0].Image, repo+"/churn:") {
					t.Errorf("deployment read back: replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
				}
			case strings.HasSuffix(f.Name, ".service.yaml"):
				var s corev1.Service
				mustJSON(t, raw, &s)
				if s.Spec.ClusterIP == "" {
					t.Errorf("service read back without a cluster IP")
				}
			case strings.HasSuffix(f.Name, ".horizontalpodautoscaler.yaml"):
				var h autoscalingv2.HorizontalPodAutoscaler
				mustJSON(t, raw, &h)
				if h.Spec.MaxReplicas < *h.Spec.MinReplicas {
					t.Errorf("hpa read back %d..%d", *h.Spec.MinReplicas, h.Spec.MaxReplicas)
				}
			}
		})
	}
}

// missing returns the paths of sent whose value got lacks or differs: got
// may hold more (defaults, status), never less.
func missing(path string, sent, got any) []string {
	switch s := sent.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{cmpOr(path, ".")}
		}
		var out []string
		for k, v := range s {
			out = append(out, missing(path+"."+k, v, g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(s) {
			return []string{path}
		}
		var out []string
		for i := range s {
			out = append(out, missing(fmt.Sprintf("%s[%d]", path, i), s[i], g[i])...)
		}
		return out
	default:
		if !reflect.DeepEqual(sent, got) {
			return []string{fmt.Sprintf("%s (sent %v, got %v)", path, sent, got)}
		}
		return nil
	}
}

func hasApplyManager(obj map[string]any) bool {
	meta, _ := obj["metadata"].(map[string]any)
	mfs, _ := meta["managedFields"].([]any)
	for _, m := range mfs {
		if m, ok := m.(map[string]any); ok && m["manager"] == "ferry" && m["operation"] == "Apply" {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, data []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
}

// kserveCRD is a CustomResourceDefinition for InferenceService whose schema
// is the recorded excerpt, its pruned subtrees left open.
func kserveCRD(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/kserve/inferenceservice-v1beta1.schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := yaml.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "inferenceservices.serving.kserve.io"},
		"spec": map[string]any{
			"group": "serving.kserve.io",
			"names": map[string]any{"kind": "InferenceService", "listKind": "InferenceServiceList", "plural": "inferenceservices", "singular": "inferenceservice", "shortNames": []string{"isvc"}},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": "v1beta1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": openPruned(schema)},
			}},
		},
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// openPruned replaces every x-ferry-pruned subtree by one the API server
// accepts anything in.
func openPruned(node any) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	if m["x-ferry-pruned"] == true {
		if m["type"] == "object" || m["type"] == "array" {
			return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
		}
		return map[string]any{"type": m["type"]}
	}
	out := map[string]any{}
	for k, v := range m {
		switch k {
		case "properties":
			props := map[string]any{}
			for name, sub := range v.(map[string]any) {
				props[name] = openPruned(sub)
			}
			out[k] = props
		case "items", "additionalProperties":
			out[k] = openPruned(v)
		default:
			out[k] = v
		}
	}
	return out
}

// apiServer is a kube-apiserver with its etcd, both children of the test.
type apiServer struct {
	url    string
	token  string
	client *http.Client
}

type object map[string]any

func (o object) rv() string {
	meta, _ := o["metadata"].(map[string]any)
	rv, _ := meta["resourceVersion"].(string)
	return rv
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs name with args until the test ends, its output in
// dir/log; the log is shown when the test fails.
func startProcess(t *testing.T, dir, log, name string, args ...string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(f.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s (tail):\n%s", log, b)
		}
	})
}

func startAPIServer(t *testing.T, bin, etcd string) *apiServer {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(saKey, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	token := rand.Text()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,ferry-test,1,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	startProcess(t, dir, "etcd.log", etcd, "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	port := freePort(t)
	certs := filepath.Join(dir, "certs")
	startProcess(t, dir, "kube-apiserver.log", bin,
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--cert-dir", certs, "--token-auth-file", tokens, "--authorization-mode", "AlwaysAllow",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey, "--service-cluster-ip-range", "10.0.0.0/24",
		"--disable-admission-plugins", "ServiceAccount")
	api := &apiServer{
		url:   fmt.Sprintf("https://127.0.0.1:%d", port),
		token: token,
		// The self-signed certificate is written to certs once the server
		// listens; the readiness poll cannot verify it before that.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
	}
	// Poll /readyz: the server gives no other signal that it is ready.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, body := api.do(t, http.MethodGet, "/readyz", "", nil)
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 3 minutes: %d %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return api
}

// do sends one request; a connection error is status 0.
func (a *apiServer) do(t *testing.T, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, a.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// path is the REST path of the object f declares.
func objectPath(t *testing.T, f File) string {
	t.Helper()
	var o struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(f.Data, &o); err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	plural := map[string]string{
		"Namespace": "namespaces", "CustomResourceDefinition": "customresourcedefinitions",
		"Deployment": "deployments", "Service": "services", "HorizontalPodAutoscaler": "horizontalpodautoscalers",
		"InferenceService": "inferenceservices",
	}[o.Kind]
	if plural == "" {
		t.Fatalf("%s: kind %s unknown to the test", f.Name, o.Kind)
	}
	p := "/apis/" + o.APIVersion
	if o.APIVersion == "v1" {
		p = "/api/v1"
	}
	if o.Metadata.Namespace != "" {
		p += "/namespaces/" + o.Metadata.Namespace
	}
	return p + "/" + plural + "/" + o.Metadata.Name
}

// apply server-side applies f as field manager ferry, rejecting unknown
// and duplicate fields, and returns the object as stored.
func (a *apiServer) apply(t *testing.T, f File) object {
	t.Helper()
	status, body := a.tryApply(t, f)
	if status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("apply %s: %d %s", f.Name, status, body)
	}
	var o object
	mustJSON(t, body, &o)
	return o
}

func (a *apiServer) tryApply(t *testing.T, f File) (int, []byte) {
	t.Helper()
	return a.do(t, http.MethodPatch, objectPath(t, f)+"?fieldManager=ferry&fieldValidation=Strict&force=true", "application/apply-patch+yaml", f.Data)
}

func (a *apiServer) get(t *testing.T, f File) object {
	t.Helper()
	status, body := a.do(t, http.MethodGet, objectPath(t, f), "", nil)
	if status != http.StatusOK {
		t.Fatalf("get %s: %d %s", f.Name, status, body)
	}
	var o object
	mustJSON(t, body, &o)
	return o
}

// waitEstablished polls the CRD until the server serves its resource.
func (a *apiServer) waitEstablished(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := a.do(t, http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, "", nil)
		var crd struct {
			Status struct {
				Conditions []struct{ Type, Status, Message string }
			}
		}
		if status == http.StatusOK && json.Unmarshal(body, &crd) == nil {
			for _, c := range crd.Status.Conditions {
				if c.Type == "Established" && c.Status == "True" {
					return
				}
				if c.Type == "NonStructuralSchema" && c.Status == "True" {
					t.Fatalf("CRD %s: %s", name, c.Message)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not established after a minute: %d %s", name, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
