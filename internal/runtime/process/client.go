package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
)

// This file is a minimal HTTP/1.1 client for the one server the runtime talks
// to: the child it started, on a loopback port. Stage packages do not import
// net/http (DESIGN.md §3), and the child needs little: one request per
// connection (Connection: close), a JSON body with Content-Length, and a
// response framed by Content-Length, chunked encoding or the end of the
// connection.

// maxResponse bounds a response body read into memory.
const maxResponse = 256 << 20

// response is a status code and a body.
type response struct {
	status int
	body   []byte
}

// dialError reports that the connection could not be made, so the request was
// never sent and can be retried.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// roundTrip sends one request to addr and reads the response. ctx bounds the
// whole exchange.
func roundTrip(ctx context.Context, addr, method, path string, body []byte) (response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return response{}, &dialError{err}
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	resp, err := exchange(conn, addr, method, path, body)
	if err != nil {
		if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
			<-ctx.Done() // the connection's deadline is ctx's: it is due
		}
		if ctx.Err() != nil {
			return response{}, ctx.Err()
		}
	}
	return resp, err
}

func exchange(conn net.Conn, addr, method, path string, body []byte) (response, error) {
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry\r\nAccept: application/json\r\nConnection: close\r\n", method, path, addr)
	if body != nil {
		fmt.Fprintf(w, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	w.WriteString("\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return response{}, fmt.Errorf("send request: %w", err)
	}

	tp := textproto.NewReader(bufio.NewReader(conn))
	var status int
	var header textproto.MIMEHeader
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return response{}, fmt.Errorf("read status line: %w", err)
		}
		if status, err = parseStatus(line); err != nil {
			return response{}, err
		}
		if header, err = tp.ReadMIMEHeader(); err != nil {
			return response{}, fmt.Errorf("read header: %w", err)
		}
		if status >= 200 {
			break // 1xx responses (100 Continue) precede the real one
		}
	}
	if method == "HEAD" || status == 204 || status == 304 {
		return response{status: status}, nil
	}

	var r io.Reader = tp.R
	switch {
	case strings.Contains(strings.ToLower(header.Get("Transfer-Encoding")), "chunked"):
		return readChunked(tp, status)
	case header.Get("Content-Length") != "":
		n, err := strconv.ParseInt(strings.TrimSpace(header.Get("Content-Length")), 10, 64)
		if err != nil || n < 0 {
			return response{}, fmt.Errorf("bad Content-Length %q", header.Get("Content-Length"))
		}
		if n > maxResponse {
			return response{}, errTooLarge
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return response{}, fmt.Errorf("read body: %w", err)
		}
		return response{status: status, body: b}, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, maxResponse+1))
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxResponse {
		return response{}, errTooLarge
	}
	return response{status: status, body: b}, nil
}

var errTooLarge = fmt.Errorf("response body larger than %d bytes", maxResponse)

// parseStatus reads "HTTP/1.1 200 OK".
func parseStatus(line string) (int, error) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, fmt.Errorf("malformed status line %q", clip(line))
	}
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || status < 100 || status > 999 {
		return 0, fmt.Errorf("malformed status line %q", clip(line))
	}
	return status, nil
}

// readChunked reads a chunked body and its trailer.
func readChunked(tp *textproto.Reader, status int) (response, error) {
	var body bytes.Buffer
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return response{}, fmt.Errorf("read chunk size: %w", err)
		}
		sizeText, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 {
			return response{}, fmt.Errorf("bad chunk size %q", clip(line))
		}
		if size == 0 {
			if _, err := tp.ReadMIMEHeader(); err != nil && !errors.Is(err, io.EOF) {
				return response{}, fmt.Errorf("read trailer: %w", err)
			}
			return response{status: status, body: body.Bytes()}, nil
		}
		if int64(body.Len())+size > maxResponse {
			return response{}, errTooLarge
		}
		if _, err := io.CopyN(&body, tp.R, size); err != nil {
			return response{}, fmt.Errorf("read chunk: %w", err)
		}
		if crlf, err := tp.ReadLine(); err != nil || crlf != "" {
			return response{}, fmt.Errorf("chunk not followed by CRLF")
		}
	}
}
