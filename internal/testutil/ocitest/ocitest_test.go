package ocitest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The standalone registry takes a push and gives back every blob, and an
// OCI layout holds the image under its tag.
func TestStandalonePushPull(t *testing.T) {
	s := StartStandalone(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	img := RandomImage(t, 2, 4096)
	ref := s.Host + "/ns/app:v1"
	if err := s.Remote.Push(ctx, ref, img); err != nil {
		t.Fatal(err)
	}
	got, err := s.Remote.Pull(ctx, ref)
	if err != nil || got != Digest(t, img) {
		t.Fatalf("pulled %q, %v; pushed %s", got, err, Digest(t, img))
	}
	if _, err := s.Remote.Pull(ctx, s.Host+"/ns/app:nope"); err == nil {
		t.Fatal("pulling a missing tag succeeded")
	}
	tags, err := s.Remote.Tags(ctx, s.Host+"/ns/app")
	if err != nil || strings.Join(tags, ",") != "v1" {
		t.Fatalf("tags %v %v", tags, err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	WriteLayout(t, dir, "v1", img)
	if d, err := LayoutDigest(dir, "v1"); err != nil || d != Digest(t, img) {
		t.Fatalf("layout digest %q %v", d, err)
	}
	if _, err := LayoutDigest(dir, "v2"); err == nil {
		t.Fatal("a missing tag in the layout was found")
	}

	// By hand: a manifest naming a blob never uploaded is refused with
	// MANIFEST_BLOB_UNKNOWN; with the blob it is stored.
	c := NewClient(s.URL, s.Remote)
	cfg := ConfigBlob()
	if r, _, err := c.PutBlob(ctx, "ns/raw", "", cfg); err != nil || r.Status != 201 {
		t.Fatalf("config blob: %v %v", r, err)
	}
	layer := []byte("not uploaded")
	m := Manifest(Descriptor{MediaTypeConfig, DigestOf(cfg), int64(len(cfg))}, Descriptor{MediaTypeLayer, DigestOf(layer), int64(len(layer))})
	if r, err := c.PutManifest(ctx, "ns/raw", "v1", "", MediaTypeManifest, m); err != nil || r.Status != 400 || !strings.Contains(r.Body, "MANIFEST_BLOB_UNKNOWN") {
		t.Fatalf("manifest with an unknown blob: %v %v", r, err)
	}
	if r, _, err := c.PutBlob(ctx, "ns/raw", "", layer); err != nil || r.Status != 201 {
		t.Fatalf("layer blob: %v %v", r, err)
	}
	if r, err := c.PutManifest(ctx, "ns/raw", "v1", "", MediaTypeManifest, m); err != nil || r.Status != 201 {
		t.Fatalf("manifest: %v %v", r, err)
	}
}

// onlyImage turns off every data type of the conformance program but the
// plain image (OCI_FILTER_TEST leaves statuses results.yaml cannot write).
var onlyImage = map[string]string{"OCI_DATA_INDEX": "false", "OCI_DATA_INDEX_LIST": "false", "OCI_DATA_ARTIFACT": "false",
	"OCI_DATA_SUBJECT": "false", "OCI_DATA_SUBJECT_MISSING": "false", "OCI_DATA_ARTIFACT_LIST": "false", "OCI_DATA_SUBJECT_LIST": "false",
	"OCI_DATA_DATA_FIELD": "false", "OCI_DATA_NONDISTRIBUTABLE": "false", "OCI_DATA_CUSTOM_FIELDS": "false", "OCI_DATA_NO_LAYERS": "false",
	"OCI_DATA_EMPTY_BLOB": "false", "OCI_DATA_SHA512": "false",
	// distribution v3.1.2 has no referrers API.
	"OCI_API_REFERRER": "false"}

// The conformance program builds and runs against the standalone
// registry (the plain image and the sha256 blobs), and its results are read
// (the whole suite and the baseline are test/e2e/registry's business).
func TestConformanceRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the conformance program")
	}
	s := StartStandalone(t, "")
	bin := BuildConformance(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := RunConformance(ctx, bin, ConformanceConfig{Registry: s.Host, CAFile: s.CAFile, Repo1: "conformance/repo1", Repo2: "conformance/repo2",
		ResultsDir: t.TempDir(), Env: onlyImage})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("passed %d test cases, failed %v, APIs %v", len(res.Passed()), res.Failed(), res.APIs)
	if len(res.Passed()) < 10 || len(res.Failed()) > 0 || res.PassedCounts()["OCI Conformance Test/image/push/manifest-by-tag"] != 1 {
		t.Fatalf("the image and blobs: passed %v, failed %v\n%s", res.Passed(), res.Failed(), res.Report)
	}
	// Against itself nothing is missing; against a run that passed more,
	// the difference is named.
	if m := res.Missing(res); len(m) > 0 {
		t.Fatalf("missing against itself: %v", m)
	}
	more := &ConformanceResult{Tests: map[string]map[string]int{"OCI Conformance Test/image/push/manifest-by-tag": {"passed": 2}}}
	if m := res.Missing(more); len(m) != 1 || !strings.Contains(m[0], "passed 1 of 2") {
		t.Fatalf("missing against a run that passed twice: %v", m)
	}
}

// skopeo copies an image from an OCI layout into the registry and back out
// into another layout; the digests are equal.
func TestSkopeoRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed")
	}
	s := StartStandalone(t, "")
	img := RandomImage(t, 2, 2048)
	in := filepath.Join(t.TempDir(), "in")
	WriteLayout(t, in, "v1", img)
	if out, err := Skopeo(t, "copy", "--dest-cert-dir", s.CertDir, "oci:"+in+":v1", "docker://"+s.Host+"/ns/sk:v1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	outDir := filepath.Join(t.TempDir(), "out")
	if out, err := Skopeo(t, "copy", "--src-cert-dir", s.CertDir, "docker://"+s.Host+"/ns/sk:v1", "oci:"+outDir+":v1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if d, err := LayoutDigest(outDir, "v1"); err != nil || d != Digest(t, img) {
		t.Fatalf("copied out %q (%v), pushed %s", d, err, Digest(t, img))
	}
	// Without the CA skopeo refuses the registry.
	if out, err := Skopeo(t, "inspect", "docker://"+s.Host+"/ns/sk:v1"); err == nil || !strings.Contains(out, "certificate") {
		t.Fatalf("skopeo without the CA: %v\n%s", err, out)
	}
}
