// Package chartimport copies the charts of a third-party chart repository
// (an HTTP repository with an index.yaml) into an Imported chart group of
// the platform's registry: periodically, and on demand. The repository's
// address is one a user gave, so every connection goes through the dial
// policy (no loopback, link-local or platform address unless an
// administrator allowed it), and redirects are not followed.
package chartimport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/repo"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/dialcheck"
)

// Limits of what a repository may hand the platform.
const (
	maxIndexBytes = 64 << 20
	maxChartBytes = 20 << 20
	maxErrors     = 10
	// DefaultInterval is how often a group is synced when it does not say.
	DefaultInterval = time.Hour
)

// PasswordKey is the key of the password in a group's Secret.
const PasswordKey = "password"

// SecretName is the Secret (in the platform's namespace) holding group's
// repository password.
func SecretName(group string) string { return "kstack-chartgroup-" + group }

// Store is where charts are copied to (*chartstore.Store).
type Store interface {
	Has(ctx context.Context, group, name, version string) bool
	Push(ctx context.Context, group string, tgz []byte) (name, version string, err error)
}

// Importer syncs Imported chart groups.
type Importer struct {
	Store Store
	Dial  *dialcheck.Policy
	// Reader reads the groups' password Secrets.
	Reader          client.Reader
	SystemNamespace string
	Log             *slog.Logger
	// Timeout bounds each request to the repository (default 30s).
	Timeout time.Duration

	locks sync.Map // group → *sync.Mutex: one sync of a group at a time
}

// Sync copies what cg's repository's index lists and the group does not
// hold yet. The error is for a repository that could not be read at all
// (unreachable, garbage, credentials); versions that fail one by one are
// counted and listed in the result.
func (im *Importer) Sync(ctx context.Context, cg *registryv1.ChartGroup) (registryv1.ChartSyncResult, error) {
	mu, _ := im.locks.LoadOrStore(cg.Name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	res := registryv1.ChartSyncResult{ChartGroup: cg.Name, Started: metav1.Now()}
	defer func() { res.Finished = metav1.Now() }()
	info := cg.Spec.ImportedInfo
	if cg.Spec.Type != registryv1.Imported || info == nil {
		return res, fmt.Errorf("chart group %s is not imported: only Imported groups (spec.type Imported, spec.importedInfo.addr) sync", cg.Name)
	}
	password, err := im.password(ctx, cg)
	if err != nil {
		return res, err
	}
	hc, err := im.Dial.HTTPClient(nil, im.timeout())
	if err != nil {
		return res, err
	}
	base, err := url.Parse(strings.TrimSuffix(info.Addr, "/") + "/")
	if err != nil {
		return res, fmt.Errorf("spec.importedInfo.addr %q is not a URL: %w", info.Addr, err)
	}
	get := func(u *url.URL, limit int64) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		// Credentials go to the repository's own scheme and host only (as
		// helm does): never to another host, never over http from https.
		if info.Username != "" && u.Host == base.Host && u.Scheme == base.Scheme {
			req.SetBasicAuth(info.Username, password)
		}
		resp, err := hc.Do(req)
		if err != nil {
			var refused *dialcheck.RefusedError
			if errors.As(err, &refused) {
				return nil, fmt.Errorf("%s: %v", u.Redacted(), refused)
			}
			return nil, fmt.Errorf("%s does not answer: %w", u.Redacted(), err)
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			if info.Username == "" {
				return nil, fmt.Errorf("%s asks for credentials (HTTP %d): give the repository's username and password (spec.importedInfo.username and password)", u.Redacted(), resp.StatusCode)
			}
			return nil, fmt.Errorf("%s refused the credentials of user %s (HTTP %d): check the username and password", u.Redacted(), info.Username, resp.StatusCode)
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			return nil, fmt.Errorf("%s redirects (HTTP %d to %s): give the address it redirects to; redirects are not followed", u.Redacted(), resp.StatusCode, resp.Header.Get("Location"))
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("%s answered HTTP %d", u.Redacted(), resp.StatusCode)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", u.Redacted(), err)
		}
		if int64(len(body)) > limit {
			return nil, fmt.Errorf("%s is larger than %d MiB", u.Redacted(), limit>>20)
		}
		return body, nil
	}
	raw, err := get(base.JoinPath("index.yaml"), maxIndexBytes)
	if err != nil {
		return res, err
	}
	idx, err := parseIndex(raw)
	if err != nil {
		return res, fmt.Errorf("%s is not a Helm chart repository: %w", base.JoinPath("index.yaml").Redacted(), err)
	}
	fail := func(format string, a ...any) {
		res.Failed++
		if len(res.Errors) < maxErrors {
			res.Errors = append(res.Errors, fmt.Sprintf(format, a...))
		}
	}
	names := make([]string, 0, len(idx.Entries))
	for n := range idx.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		versions := idx.Entries[name]
		if info.LatestVersions > 0 && len(versions) > info.LatestVersions {
			versions = versions[:info.LatestVersions]
		}
		res.Charts++
		for _, v := range versions {
			if v == nil || v.Metadata == nil || v.Removed {
				continue
			}
			res.Versions++
			if im.Store.Has(ctx, cg.Name, name, v.Version) {
				res.Skipped++
				continue
			}
			if len(v.URLs) == 0 {
				fail("%s %s: the index gives no URL", name, v.Version)
				continue
			}
			u, err := base.Parse(v.URLs[0])
			if err != nil {
				fail("%s %s: URL %q: %v", name, v.Version, v.URLs[0], err)
				continue
			}
			tgz, err := get(u, maxChartBytes)
			if err != nil {
				fail("%s %s: %v", name, v.Version, err)
				continue
			}
			if v.Digest != "" {
				sum := sha256.Sum256(tgz)
				if !strings.EqualFold(hex.EncodeToString(sum[:]), strings.TrimPrefix(v.Digest, "sha256:")) {
					fail("%s %s: the archive's sha256 is not the index's digest %s", name, v.Version, v.Digest)
					continue
				}
			}
			gotName, gotVersion, err := im.Store.Push(ctx, cg.Name, tgz)
			if err != nil {
				fail("%s %s: %v", name, v.Version, err)
				continue
			}
			if gotName != name || gotVersion != v.Version {
				fail("%s %s: the archive holds %s %s (stored as that)", name, v.Version, gotName, gotVersion)
				continue
			}
			res.Copied++
		}
	}
	im.log().Info("chart repository synced", "chartGroup", cg.Name, "repository", base.Redacted(), "charts", res.Charts,
		"versions", res.Versions, "copied", res.Copied, "skipped", res.Skipped, "failed", res.Failed)
	return res, nil
}

// parseIndex reads an index.yaml, newest versions first.
func parseIndex(raw []byte) (*repo.IndexFile, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("the index is empty")
	}
	var idx repo.IndexFile
	if err := yaml.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("the index is not YAML of a chart index: %v", err)
	}
	if idx.APIVersion == "" {
		return nil, errors.New("the index has no apiVersion (a Helm repository's index.yaml starts with apiVersion: v1)")
	}
	for name, vs := range idx.Entries {
		for _, v := range vs {
			if v == nil || v.Metadata == nil {
				continue
			}
			if v.Name == "" {
				v.Name = name
			}
		}
	}
	idx.SortEntries()
	return &idx, nil
}

func (im *Importer) password(ctx context.Context, cg *registryv1.ChartGroup) (string, error) {
	name := cg.Spec.ImportedInfo.PasswordSecret
	if name == "" {
		return "", nil
	}
	var s corev1.Secret
	if err := im.Reader.Get(ctx, client.ObjectKey{Namespace: im.SystemNamespace, Name: name}, &s); err != nil {
		return "", fmt.Errorf("reading the repository's password (Secret %s): %w", name, err)
	}
	return string(s.Data[PasswordKey]), nil
}

func (im *Importer) timeout() time.Duration {
	if im.Timeout > 0 {
		return im.Timeout
	}
	return 30 * time.Second
}

func (im *Importer) log() *slog.Logger {
	if im.Log != nil {
		return im.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Interval is how often cg is synced (0: only on demand).
func Interval(cg *registryv1.ChartGroup) time.Duration {
	if cg.Spec.ImportedInfo == nil || cg.Spec.ImportedInfo.SyncInterval == nil {
		return DefaultInterval
	}
	return cg.Spec.ImportedInfo.SyncInterval.Duration
}
