// Package client is the Go client of Ferry's REST API (/api/v1). The ferry CLI
// uses it against remote servers, and a Go training program can use it to log
// runs in a few lines:
//
//	c, _ := client.New("http://127.0.0.1:5000")
//	run, _ := c.StartRun(ctx, "churn", client.RunOptions{Name: "baseline"})
//	run.LogParams(ctx, map[string]string{"lr": "0.1"})
//	run.LogMetric(ctx, "loss", 0.42, 1)
//	run.End(ctx, client.StatusFinished)
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one Ferry server.
type Client struct {
	base      *url.URL
	http      *http.Client
	principal string // sent as X-Ferry-Principal; see WithPrincipal
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send requests through hc.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a Client for the server at baseURL, such as
// "http://127.0.0.1:5000".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want http://host:port or https://host:port", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 5 * time.Minute}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// Error is an error the server answered with.
type Error struct {
	Status  int    // HTTP status
	Code    string // Ferry's error code, such as ENOTFOUND
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsNotFound reports whether err is the server's "not found" answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "ENOTFOUND"
}

// do sends a request with an optional JSON body and decodes a JSON answer into
// out (when out is not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, query, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns the response of a 2xx answer; any other
// answer becomes an *Error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body io.Reader, ctype string) (*http.Response, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if c.principal != "" {
		req.Header.Set(principalHeader, c.principal)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
		e.Error.Code = "EINTERNAL"
		e.Error.Message = fmt.Sprintf("%s %s: server answered %s", method, path, resp.Status)
	}
	return nil, &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
}

func pathEscape(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}
