package ocitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Client speaks the registry protocol by hand: the Docker token dance and
// single requests, so that tests see every status, header and message that
// real clients hide behind retries and fallbacks.
type Client struct {
	// Base is "https://host:port".
	Base string
	HTTP *http.Client
}

// NewClient is a Client of the registry at base trusting r's roots.
func NewClient(base string, r Remote) *Client {
	return &Client{Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Timeout: 5 * time.Minute, Transport: r.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is one answer.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

func (r Response) String() string {
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(r.Body))
}

// Do sends one request; path is absolute ("/v2/...") or a full URL (an
// upload's Location). token, when set, is sent as a Bearer token.
func (c *Client) Do(ctx context.Context, method, path, token string, header http.Header, body []byte) (Response, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.Base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}, nil
}

var challengeParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// Challenge is the registry's answer to an anonymous GET /v2/: its realm
// and service ("" both when it asks for no token).
func (c *Client) Challenge(ctx context.Context) (realm, service string, err error) {
	r, err := c.Do(ctx, "GET", "/v2/", "", nil, nil)
	if err != nil {
		return "", "", err
	}
	h := r.Header.Get("WWW-Authenticate")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(strings.ToLower(h), "bearer ") {
		return "", "", fmt.Errorf("GET /v2/: %s, WWW-Authenticate %q: no Bearer challenge", r, h)
	}
	for _, m := range challengeParam.FindAllStringSubmatch(h, -1) {
		switch m[1] {
		case "realm":
			realm = m[2]
		case "service":
			service = m[2]
		}
	}
	if realm == "" {
		return "", "", fmt.Errorf("challenge %q names no realm", h)
	}
	return realm, service, nil
}

// TokenAnswer is the token endpoint's answer.
type TokenAnswer struct {
	Response
	Token string
}

// Token asks the registry's token endpoint (as docker and skopeo do: GET
// with basic auth, one scope parameter per scope) for a token. username ""
// asks anonymously. Scopes look like "repository:ns/repo:pull,push".
func (c *Client) Token(ctx context.Context, username, password string, scopes ...string) (TokenAnswer, error) {
	realm, service, err := c.Challenge(ctx)
	if err != nil {
		return TokenAnswer{}, err
	}
	q := url.Values{}
	if service != "" {
		q.Set("service", service)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", realm+"?"+q.Encode(), nil)
	if err != nil {
		return TokenAnswer{}, err
	}
	if username != "" || password != "" {
		req.SetBasicAuth(username, password)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return TokenAnswer{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := TokenAnswer{Response: Response{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}}
	if resp.StatusCode == http.StatusOK {
		var tok struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(data, &tok); err != nil {
			return a, fmt.Errorf("token answer %q: %w", data, err)
		}
		a.Token = tok.Token
		if a.Token == "" {
			a.Token = tok.AccessToken
		}
	}
	return a, nil
}

// Digest is the sha256 digest of data ("sha256:…").
func DigestOf(data []byte) string {
	h := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(h[:])
}

// PutBlob uploads data to repo (monolithic: POST then PUT ?digest=) and
// returns the final answer (201 when stored) and the digest.
func (c *Client) PutBlob(ctx context.Context, repo, token string, data []byte) (Response, string, error) {
	dg := DigestOf(data)
	r, err := c.Do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/", token, nil, nil)
	if err != nil {
		return r, dg, err
	}
	if r.Status != http.StatusAccepted {
		return r, dg, nil
	}
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = c.Base + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	r, err = c.Do(ctx, "PUT", loc+sep+"digest="+url.QueryEscape(dg), token,
		http.Header{"Content-Type": {"application/octet-stream"}}, data)
	return r, dg, err
}

// PutManifest stores manifest under ref (a tag or a digest) in repo.
func (c *Client) PutManifest(ctx context.Context, repo, ref, token, mediaType string, manifest []byte) (Response, error) {
	return c.Do(ctx, "PUT", "/v2/"+repo+"/manifests/"+ref, token, http.Header{"Content-Type": {mediaType}}, manifest)
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// Manifest is an OCI image manifest of config and layers.
func Manifest(config Descriptor, layers ...Descriptor) []byte {
	if layers == nil {
		layers = []Descriptor{}
	}
	data, _ := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        Descriptor   `json:"config"`
		Layers        []Descriptor `json:"layers"`
	}{2, MediaTypeManifest, config, layers})
	return data
}

// Media types of the OCI image spec.
const (
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// ConfigBlob is a small valid image config (a random label makes it unique).
func ConfigBlob() []byte {
	var nonce [8]byte
	_, _ = io.ReadFull(randReader, nonce[:])
	return []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"ocitest.nonce":"%x"}},"rootfs":{"type":"layers","diff_ids":[]}}`, nonce))
}
