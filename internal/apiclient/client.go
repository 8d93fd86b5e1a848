// Package apiclient talks to the platform's gateway: as the user logged in
// with `kstack login`, or as the administrator of the platform in a data dir.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
)

// Client is a gateway client.
type Client struct {
	Base  string
	Token string
	// TokenFunc, when set, gives a fresh token for each request (a login
	// whose access token it refreshes).
	TokenFunc func(ctx context.Context) (string, error)
	CAPEM     []byte
	http      *http.Client
}

// NewWithToken returns a client that authenticates with tokens from tf.
func NewWithToken(server string, caPEM []byte, tf func(ctx context.Context) (string, error)) *Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		cfg.RootCAs = pool
	}
	return &Client{Base: server, TokenFunc: tf, CAPEM: caPEM,
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
}

// ClientInfo is how to reach the platform: see platform.ClientInfo.
type ClientInfo struct {
	Server    string
	CAFile    string
	TokenFile string
}

// New returns a client for the platform described by ci.
func New(ci ClientInfo) (*Client, error) {
	var err error
	if err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(ci.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the admin token: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var caPEM []byte
	if ci.CAFile != "" {
		caPEM, err = os.ReadFile(ci.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		cfg.RootCAs = pool
	}
	return &Client{
		Base: ci.Server, Token: strings.TrimSpace(string(tok)), CAPEM: caPEM,
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}},
	}, nil
}

// Do sends a request and decodes the answer into out; a Kubernetes Status
// error becomes its message.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	tok := c.Token
	if c.TokenFunc != nil {
		if tok, err = c.TokenFunc(ctx); err != nil {
			return err
		}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the platform at %s (is `kstack up` running?): %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var st struct{ Message string }
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return &StatusError{Code: resp.StatusCode, Msg: st.Message}
		}
		return &StatusError{Code: resp.StatusCode, Msg: fmt.Sprintf("the platform answered %s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Stream GETs path and returns the body for the caller to read and close,
// with no time limit (an export may take long); a refusal is a StatusError
// as from Do.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return nil, err
	}
	tok := c.Token
	if c.TokenFunc != nil {
		if tok, err = c.TokenFunc(ctx); err != nil {
			return nil, err
		}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.WithTimeout(0).http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the platform at %s (is `kstack up` running?): %w", c.Base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var st struct{ Message string }
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return nil, &StatusError{Code: resp.StatusCode, Msg: st.Message}
		}
		return nil, &StatusError{Code: resp.StatusCode, Msg: fmt.Sprintf("the platform answered %s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	return resp.Body, nil
}

// Import asks the platform to import a cluster.
func (c *Client) Import(ctx context.Context, req platformv1.ImportRequest) (*platformv1.Cluster, error) {
	var cls platformv1.Cluster
	if err := c.Do(ctx, http.MethodPost, "/platform/apis/platform.tkestack.io/v1/clusterimports", "", req, &cls); err != nil {
		return nil, fmt.Errorf("import refused: %w", err)
	}
	return &cls, nil
}

// StatusError is the platform's refusal, with its HTTP status.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }

// IsForbidden reports a 403.
func IsForbidden(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusForbidden
}

// WithTimeout returns a copy of c whose requests may take up to d (long
// operations such as publishing, which wait for workloads).
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	hc := *c.http
	hc.Timeout = d
	cp.http = &hc
	return &cp
}
