// Package s3 implements blob.Store on a bucket of an S3-compatible object store
// (AWS S3, MinIO, Versity Gateway, Ceph RGW, ...).
//
// A store is a bucket and an optional key prefix: the key "a/b" of the store
// s3://bucket/runs is the object "runs/a/b". Directories are prefixes ending in
// "/", as S3 consoles show them.
//
// The package reads no environment variables: the caller fills Config (the
// composition root maps AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and friends onto it).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
)

const (
	// partSize is the multipart part size for objects of unknown length. Each
	// in-flight Put of a large object buffers one part (and singlePutMax).
	partSize = 16 << 20

	// singlePutMax is the largest object that Put sends in one PUT request
	// rather than as a multipart upload; Put buffers up to this much to find
	// out which one applies.
	singlePutMax = 1 << 20

	// awsEndpoint is used when Config.Endpoint is empty.
	awsEndpoint = "s3.amazonaws.com"
)

// Config says where a store lives and how to reach it.
type Config struct {
	// Endpoint is the server as host[:port], or as an http:// or https://
	// URL whose scheme then decides TLS instead of UseSSL. Empty means AWS S3.
	// A non-empty Endpoint is addressed path-style (host/bucket/key), which
	// every S3-compatible server supports.
	Endpoint string
	Bucket   string
	// Prefix is the key prefix inside the bucket ("" for the whole bucket). It
	// must pass blob.CleanKey and is stored in canonical form.
	Prefix string
	// AccessKey and SecretKey are static credentials; both empty means
	// anonymous requests.
	AccessKey string
	SecretKey string
	Region    string // optional; the server's default when empty
	UseSSL    bool
}

// ParseURL parses s3://bucket[/prefix] into a Config with Bucket, Prefix and
// UseSSL true; the caller adds Endpoint, credentials and Region. It returns an
// EINVALID *ferry.Error for another scheme, an invalid bucket name or prefix, or
// a URL carrying credentials, a port, a query or a fragment.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, ferry.Errorf(ferry.EINVALID, "invalid s3 URL %q: %v", s, errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "s3":
		return Config{}, ferry.Errorf(ferry.EINVALID, "invalid s3 URL %q: scheme must be s3://", s)
	case u.Opaque != "":
		return Config{}, ferry.Errorf(ferry.EINVALID, "invalid s3 URL %q: want s3://bucket/prefix", s)
	case u.User != nil:
		return Config{}, ferry.Errorf(ferry.EINVALID, "invalid s3 URL: credentials do not belong in the URL; pass them separately")
	case u.Port() != "":
		return Config{}, ferry.Errorf(ferry.EINVALID, "invalid s3 URL %q: the host part is the bucket name; set the endpoint separately", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return Config{}, ferry.Errorf(ferry.EINVALID, "invalid s3 URL %q: query and fragment are not supported", s)
	}
	cfg := Config{Bucket: u.Host, UseSSL: true}
	if err := checkBucket(cfg.Bucket); err != nil {
		return Config{}, err
	}
	prefix, err := cleanPrefix(u.Path)
	if err != nil {
		return Config{}, err
	}
	cfg.Prefix = prefix
	return cfg, nil
}

func checkBucket(bucket string) error {
	if bucket == "" {
		return ferry.Errorf(ferry.EINVALID, "s3 bucket name must not be empty")
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return ferry.Errorf(ferry.EINVALID, "invalid s3 bucket name %q: %v", bucket, err)
	}
	return nil
}

func cleanPrefix(p string) (string, error) {
	prefix, err := blob.CleanKey(strings.TrimPrefix(p, "/"))
	if err != nil {
		return "", fmt.Errorf("s3 prefix: %w", err)
	}
	return prefix, nil
}

// Store is a blob.Store on an S3 bucket. It is safe for concurrent use.
//
// Put uploads objects of up to 1 MiB in one request and larger ones as multipart
// uploads with 16 MiB parts; both become visible atomically when complete. A
// failed multipart upload is aborted; if the abort itself fails (for example
// because ctx ended), its parts stay on the server, invisible to List, until a
// bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them.
type Store struct {
	client *minio.Client
	bucket string
	prefix string // canonical key prefix, "" for the bucket root
}

var _ blob.Store = (*Store)(nil)

// New connects to the bucket described by cfg and checks that it exists. It
// returns an EINVALID *ferry.Error for a malformed Config, an ENOTFOUND one when
// the bucket does not exist and an EUNAUTHORIZED one when the server refuses the
// credentials.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := checkBucket(cfg.Bucket); err != nil {
		return nil, err
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, ferry.Errorf(ferry.EINVALID, "s3: set both the access key and the secret key, or neither")
	}
	host, secure, err := parseEndpoint(cfg.Endpoint, cfg.UseSSL)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupPath
	if cfg.Endpoint == "" {
		lookup = minio.BucketLookupAuto
		host = awsEndpoint
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "invalid s3 endpoint %q: %v", cfg.Endpoint, err)
	}
	s := &Store{client: client, bucket: cfg.Bucket, prefix: prefix}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, s.mapErr("open bucket", "", err)
	}
	if !ok {
		return nil, ferry.Errorf(ferry.ENOTFOUND, "s3 bucket %q does not exist", cfg.Bucket)
	}
	return s, nil
}

// parseEndpoint accepts host[:port] or an http(s) URL and returns the host[:port]
// and whether to use TLS.
func parseEndpoint(endpoint string, useSSL bool) (string, bool, error) {
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#@") {
			return "", false, ferry.Errorf(ferry.EINVALID, "invalid s3 endpoint %q: want host[:port] or an http(s) URL", endpoint)
		}
		return endpoint, useSSL, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, ferry.Errorf(ferry.EINVALID, "invalid s3 endpoint %q: %v", endpoint, errors.Unwrap(err))
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, ferry.Errorf(ferry.EINVALID, "invalid s3 endpoint %q: want scheme://host[:port] with no path", endpoint)
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, nil
	case "https":
		return u.Host, true, nil
	}
	return "", false, ferry.Errorf(ferry.EINVALID, "invalid s3 endpoint %q: scheme must be http or https", endpoint)
}

// URL returns s3://bucket[/prefix].
func (s *Store) URL() string {
	u := url.URL{Scheme: "s3", Host: s.bucket}
	if s.prefix != "" {
		u.Path = "/" + s.prefix
	}
	return u.String()
}

// object maps a canonical key to its object name in the bucket.
func (s *Store) object(k string) string { return blob.Join(s.prefix, k) }

// objectKey validates key for Put, Get and Stat and returns it in canonical form
// with its object name, which must fit S3's limit together with the prefix.
func (s *Store) objectKey(key string) (k, name string, err error) {
	if k, err = blob.CleanObjectKey(key); err != nil {
		return "", "", err
	}
	if name = s.object(k); len(name) > blob.MaxKeyLen {
		return "", "", ferry.Errorf(ferry.EINVALID, "invalid key %.64q...: with the store prefix %q it is longer than %d bytes", k, s.prefix, blob.MaxKeyLen)
	}
	return k, name, nil
}

// dirPrefix maps a canonical key to the object-name prefix of everything below
// it: "" for the root of an unprefixed store, else the name and "/".
func (s *Store) dirPrefix(k string) string {
	if name := s.object(k); name != "" {
		return name + "/"
	}
	return ""
}

// Put streams r to the object under key. The error wraps r's error when r
// fails.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	k, name, err := s.objectKey(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3: put %q: %w", k, err)
	}
	r = blob.ContextReader(ctx, r)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: partSize}

	// Small objects, the common case, go up in one request.
	var head bytes.Buffer
	n, err := head.ReadFrom(io.LimitReader(r, singlePutMax+1))
	if err != nil {
		return 0, fmt.Errorf("s3: put %q: %w", k, err)
	}
	var info minio.UploadInfo
	if n <= singlePutMax {
		info, err = s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(head.Bytes()), n, opts)
	} else {
		info, err = s.client.PutObject(ctx, s.bucket, name, io.MultiReader(&head, r), -1, opts)
	}
	if err != nil {
		return 0, s.mapErr("put", k, err)
	}
	return info.Size, nil
}

// Get opens the object under key. The returned reader is the body of one GET
// request made under ctx: ctx must stay live until the caller has finished
// reading, and the body is one consistent version of the object.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	k, name, err := s.objectKey(key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	// One plain GET: it surfaces a missing object at once (Client.GetObject is
	// lazy), and its body is one version of the object even while it is being
	// overwritten (Client.GetObject's follow-up range requests would fail with
	// PreconditionFailed instead).
	body, oi, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, blob.Info{}, s.mapErr("get", k, err)
	}
	return body, blob.Info{Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Stat describes the object under key.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	k, name, err := s.objectKey(key)
	if err != nil {
		return blob.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.mapErr("stat", k, err)
	}
	return blob.Info{Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List lists one level below prefix with the "/" delimiter. Object names that
// are not canonical keys (such as "a//b", written by other tools) are left out.
// Where an object and a directory share a name, both are listed, the object
// first.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Entry, error) {
	p, err := blob.CleanKey(prefix)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx) // stops the lister if we return early
	defer cancel()
	lp := s.dirPrefix(p)
	entries := []blob.Entry{}
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: lp}) {
		if oi.Err != nil {
			return nil, s.mapErr("list", p, oi.Err)
		}
		name, isDir := strings.CutSuffix(strings.TrimPrefix(oi.Key, lp), "/")
		full := blob.Join(p, name)
		if name == "" || strings.Contains(name, "/") {
			continue // a directory marker for lp itself, or a name with "//"
		}
		if k, err := blob.CleanKey(full); err != nil || k != full {
			continue
		}
		e := blob.Entry{Path: full, IsDir: isDir}
		if !isDir {
			e.Size = oi.Size
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b blob.Entry) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		switch {
		case a.IsDir == b.IsDir:
			return 0
		case b.IsDir:
			return -1
		}
		return 1
	})
	return entries, nil
}

// Delete removes the object under key and every object under key + "/", with
// batched multi-object deletes.
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := blob.CleanKey(key)
	if err != nil {
		return err
	}
	if k != "" && len(s.object(k)) <= blob.MaxKeyLen { // a longer name cannot exist
		err := s.client.RemoveObject(ctx, s.bucket, s.object(k), minio.RemoveObjectOptions{})
		if err != nil && !isCode(err, "NoSuchKey") {
			return s.mapErr("delete", k, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx) // stops the lister if we return early
	defer cancel()
	var listErr error
	objects := func(yield func(minio.ObjectInfo) bool) {
		opts := minio.ListObjectsOptions{Prefix: s.dirPrefix(k), Recursive: true}
		for oi := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
			if oi.Err != nil {
				listErr = oi.Err
				return
			}
			if !yield(oi) {
				return
			}
		}
	}
	results, err := s.client.RemoveObjectsWithIter(ctx, s.bucket, objects, minio.RemoveObjectsOptions{})
	if err != nil {
		return s.mapErr("delete", k, err)
	}
	for res := range results {
		if res.Err != nil && !isCode(res.Err, "NoSuchKey") {
			return s.mapErr("delete", k, res.Err)
		}
	}
	if listErr != nil {
		return s.mapErr("delete", k, listErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: delete %q: %w", k, err)
	}
	return nil
}

// mapErr turns a client error about key k into the store's error vocabulary;
// errors that users cannot act on are wrapped for the logs.
func (s *Store) mapErr(op, k string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "NoSuchKey", "NotFound":
			return ferry.Errorf(ferry.ENOTFOUND, "blob %q not found", k)
		case "ExistingObjectIsDirectory", "ObjectParentIsFile": // gateways on a file system
			return ferry.Errorf(ferry.ECONFLICT, "cannot store %q: it clashes with an existing object or directory (a parent is an object, or the key is a directory)", k)
		case "NoSuchBucket":
			return ferry.Errorf(ferry.ENOTFOUND, "s3 bucket %q does not exist", s.bucket)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return fmt.Errorf("s3: %s %q: %w: %w", op, k,
				ferry.Errorf(ferry.EUNAUTHORIZED, "access to s3 bucket %q denied: check the credentials and bucket policy", s.bucket), err)
		}
	}
	return fmt.Errorf("s3: %s %q: %w", op, k, err)
}

func isCode(err error, code string) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == code
}
