// Package ocitest is the registry tests' tool box: tiny random OCI images
// (go-containerregistry) written into OCI layouts for skopeo, pushes and
// pulls with a custom TLS root and basic auth, a raw Docker-token client for
// the checks real clients hide, a standalone distribution v3.1.2 registry in
// process (the conformance baseline and the benchmark's reference), and the
// OCI distribution-spec conformance program built from its Go module.
package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var randReader = rand.Reader

// RandomLayer is an uncompressed OCI layer (media type
// application/vnd.oci.image.layer.v1.tar): a real tar holding one file of
// size random bytes. Uncompressed, so that its digest is what is pushed and
// nothing spends time compressing random data.
func RandomLayer(size int64) (v1.Layer, error) {
	var b bytes.Buffer
	b.Grow(int(size) + 3*512)
	tw := tar.NewWriter(&b)
	var nameBytes [8]byte
	_, _ = rand.Read(nameBytes[:])
	if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("random-%x", nameBytes), Size: size, Mode: 0o644, Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return static.NewLayer(b.Bytes(), types.OCIUncompressedLayer), nil
}

// RandomGzipLayer is a gzip-compressed OCI layer (media type
// application/vnd.oci.image.layer.v1.tar+gzip, as images usually are): a
// tar holding one file of size random bytes. skopeo copies it as is
// (uncompressed layers it would compress on the way to a registry).
func RandomGzipLayer(size int64) (v1.Layer, error) {
	u, err := RandomLayer(size)
	if err != nil {
		return nil, err
	}
	rc, err := u.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	diffID, _ := u.Digest()
	return &gzipLayer{gz: z.Bytes(), raw: raw, diffID: diffID, digest: hashOf(z.Bytes())}, nil
}

type gzipLayer struct {
	gz, raw        []byte
	diffID, digest v1.Hash
}

func (l *gzipLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *gzipLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *gzipLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *gzipLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.raw)), nil
}
func (l *gzipLayer) Size() (int64, error)                { return int64(len(l.gz)), nil }
func (l *gzipLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

func hashOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// ImageOf is an OCI image (OCI manifest and config media types) of the
// given layers.
func ImageOf(layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	// A random label: two images of the same layers still differ.
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	cf.Config.Labels = map[string]string{"ocitest.nonce": fmt.Sprintf("%x", nonce)}
	return mutate.ConfigFile(img, cf)
}

// RandomImage is an OCI image of n random gzip layers, each a tar of a
// file of size random bytes.
func RandomImage(t testing.TB, n int, size int64) v1.Image {
	t.Helper()
	var layers []v1.Layer
	for i := 0; i < n; i++ {
		l, err := RandomGzipLayer(size)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := ImageOf(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Digest is the image's manifest digest.
func Digest(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// LayerDigests are the digests of an image's layers, in order.
func LayerDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

// WriteLayout writes img into the OCI layout at dir (made if missing),
// tagged tag: skopeo reads it as oci:DIR:TAG.
func WriteLayout(t testing.TB, dir, tag string, img v1.Image) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
}

// LayoutDigest is the manifest digest of the image tagged tag in the OCI
// layout at dir ("" and an error if there is none).
func LayoutDigest(dir, tag string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return "", err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		return "", err
	}
	for _, m := range idx.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] == tag {
			return m.Digest.String(), nil
		}
	}
	return "", fmt.Errorf("no image tagged %q in %s", tag, dir)
}

// Remote is how a client reaches a registry: the roots it trusts (nil: the
// system's) and its credentials (empty: anonymous).
type Remote struct {
	RootCAs            *x509.CertPool
	Username, Password string
	// RoundTripper, when set, carries every request (a client that keeps
	// its connections across pushes); else each call makes a Transport.
	RoundTripper http.RoundTripper
}

// Transport is a new HTTP transport trusting r's roots.
func (r Remote) Transport() *http.Transport {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: r.RootCAs, MinVersion: tls.VersionTLS12}
	tr.Proxy = nil // tests talk to loopback only
	return tr
}

// Options are go-containerregistry remote options for r.
func (r Remote) Options(ctx context.Context) []remote.Option {
	var auth authn.Authenticator = authn.Anonymous
	if r.Username != "" || r.Password != "" {
		auth = &authn.Basic{Username: r.Username, Password: r.Password}
	}
	var rt http.RoundTripper = r.RoundTripper
	if rt == nil {
		rt = r.Transport()
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(rt), remote.WithAuth(auth),
		// Failures are the tests' subject: no retries hiding them.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1})}
}

// Push pushes img to ref ("host:port/ns/repo:tag").
func (r Remote) Push(ctx context.Context, ref string, img v1.Image) error {
	rf, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	return remote.Write(rf, img, r.Options(ctx)...)
}

// PushLayer uploads one blob to repo ("host:port/ns/repo").
func (r Remote) PushLayer(ctx context.Context, repo string, l v1.Layer) error {
	rp, err := name.NewRepository(repo)
	if err != nil {
		return err
	}
	return remote.WriteLayer(rp, l, r.Options(ctx)...)
}

// Pull fetches the image at ref and reads every blob (config and each
// layer) to the end, checking each digest; it returns the manifest digest.
func (r Remote) Pull(ctx context.Context, ref string) (string, error) {
	rf, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	img, err := remote.Image(rf, r.Options(ctx)...)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return "", err
	}
	for _, l := range ls {
		ld, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", ld, err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", ld, err)
		}
		if h != ld {
			return "", fmt.Errorf("layer %s: read %s", ld, h)
		}
	}
	return d.String(), nil
}

// Tags lists the tags of repo ("host:port/ns/repo").
func (r Remote) Tags(ctx context.Context, repo string) ([]string, error) {
	rp, err := name.NewRepository(repo)
	if err != nil {
		return nil, err
	}
	return remote.List(rp, r.Options(ctx)...)
}

// Catalog lists the repositories of the registry at host.
func (r Remote) Catalog(ctx context.Context, host string) ([]string, error) {
	reg, err := name.NewRegistry(host)
	if err != nil {
		return nil, err
	}
	return remote.Catalog(ctx, reg, r.Options(ctx)...)
}

// ReadBlob reads the blob dg ("sha256:…") of repo ("host:port/ns/repo")
// to the end, checking its digest, and returns its size.
func (r Remote) ReadBlob(ctx context.Context, repo, dg string) (int64, error) {
	ref, err := name.NewDigest(repo + "@" + dg)
	if err != nil {
		return 0, err
	}
	l, err := remote.Layer(ref, r.Options(ctx)...)
	if err != nil {
		return 0, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	h, n, err := v1.SHA256(rc)
	if err != nil {
		return n, err
	}
	if h.String() != dg {
		return n, fmt.Errorf("blob %s read as %s", dg, h)
	}
	return n, nil
}
