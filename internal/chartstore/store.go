// Package chartstore reads and writes Helm charts in the platform's
// registry, where a chart group's charts are OCI artifacts at
// <group>/<chart>:<version> (as helm push stores them). It talks to the
// registry in process, as the platform itself, through Helm's own registry
// client, so what it reads and writes is exactly what helm pull and push
// see. Who may read what is decided before it is called.
package chartstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
)

// ErrNotFound is wrapped by the errors for a chart or version that the
// group does not hold.
var ErrNotFound = errors.New("not found")

// Registry is what the store uses of the registry (*registry.Registry).
type Registry interface {
	Repositories(ctx context.Context, ns string) ([]registryv1.Repository, error)
	Tags(ctx context.Context, repo string) ([]registryv1.Tag, error)
	DeleteTag(ctx context.Context, repo, tag string) error
	DeleteRepository(ctx context.Context, repo string) error
	// Internal serves requests in process, as the platform.
	Internal() http.RoundTripper
}

// Store reads and writes charts.
type Store struct {
	reg    Registry
	client *helmregistry.Client
	// Host is the registry's host:port as clients name it (pull references).
	Host string

	mu    sync.Mutex
	metas map[string]*chart.Metadata // by manifest digest
}

// internalHost names the registry on the in-process transport.
const internalHost = "kstack-registry.internal"

// New is a store over reg; host is what clients call the registry.
func New(reg Registry, host string) (*Store, error) {
	c, err := helmregistry.NewClient(
		helmregistry.ClientOptHTTPClient(&http.Client{Transport: reg.Internal()}),
		helmregistry.ClientOptPlainHTTP(),
		helmregistry.ClientOptEnableCache(false),
		// Never challenged in process; set so that no credentials file is read.
		helmregistry.ClientOptBasicAuth("kstack-system", "in-process"),
	)
	if err != nil {
		return nil, err
	}
	return &Store{reg: reg, client: c, Host: host, metas: map[string]*chart.Metadata{}}, nil
}

// ref is a version's reference (helm's client writes a version's '+' as
// '_', which OCI tags allow).
func ref(group, name, version string) string {
	return internalHost + "/" + group + "/" + name + ":" + version
}

// Pull is what clients pull a chart by: oci://<registry>/<group>/<name>.
func (s *Store) Pull(group, name string) string { return "oci://" + s.Host + "/" + group + "/" + name }

// versions are a chart's tags that are versions, newest first.
func (s *Store) versions(ctx context.Context, group, name string) ([]registryv1.Tag, error) {
	tags, err := s.reg.Tags(ctx, group+"/"+name)
	if err != nil {
		return nil, fmt.Errorf("chart %s/%s: %w", group, name, errors.Join(ErrNotFound, err))
	}
	type tv struct {
		t registryv1.Tag
		v *semver.Version
	}
	var out []tv
	for _, t := range tags {
		t.Name = strings.ReplaceAll(t.Name, "_", "+")
		v, err := semver.StrictNewVersion(t.Name)
		if err != nil {
			continue // not a chart version (helm push tags only versions)
		}
		out = append(out, tv{t, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v.GreaterThan(out[j].v) })
	res := make([]registryv1.Tag, len(out))
	for i := range out {
		res[i] = out[i].t
	}
	return res, nil
}

// meta is a version's Chart.yaml, read from the artifact's config once per
// manifest digest.
func (s *Store) meta(group, name string, t registryv1.Tag) (*chart.Metadata, error) {
	s.mu.Lock()
	m := s.metas[t.Digest]
	s.mu.Unlock()
	if m != nil {
		return m, nil
	}
	// The config alone (the chart's layer is not fetched): Pull needs a
	// layer to ask for, and a provenance file may be missing.
	res, err := s.client.Pull(ref(group, name, t.Name), helmregistry.PullOptWithChart(false),
		helmregistry.PullOptWithProv(true), helmregistry.PullOptIgnoreMissingProv(true))
	if err != nil {
		return nil, fmt.Errorf("reading chart %s/%s %s: %w", group, name, t.Name, err)
	}
	if res.Chart == nil || res.Chart.Meta == nil {
		return nil, fmt.Errorf("chart %s/%s %s: the artifact has no chart metadata", group, name, t.Name)
	}
	s.mu.Lock()
	if len(s.metas) > 4096 {
		s.metas = map[string]*chart.Metadata{}
	}
	s.metas[t.Digest] = res.Chart.Meta
	s.mu.Unlock()
	return res.Chart.Meta, nil
}

// Charts lists the charts of group, with their newest version's metadata.
// Repositories without a version (not charts) are left out.
func (s *Store) Charts(ctx context.Context, group string) ([]registryv1.Chart, error) {
	repos, err := s.reg.Repositories(ctx, group)
	if err != nil {
		return nil, err
	}
	out := []registryv1.Chart{}
	for _, r := range repos {
		vs, err := s.versions(ctx, group, r.Name)
		if err != nil || len(vs) == 0 {
			continue
		}
		c := registryv1.Chart{Name: r.Name, ChartGroup: group, LatestVersion: vs[0].Name, Versions: len(vs), PushedAt: r.PushedAt, Pull: s.Pull(group, r.Name)}
		if m, err := s.meta(group, r.Name, vs[0]); err == nil {
			c.AppVersion, c.Description, c.Icon = m.AppVersion, m.Description, m.Icon
		}
		out = append(out, c)
	}
	return out, nil
}

// Versions lists a chart's versions, newest first.
func (s *Store) Versions(ctx context.Context, group, name string) ([]registryv1.ChartVersion, error) {
	vs, err := s.versions(ctx, group, name)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("chart %s/%s: %w", group, name, ErrNotFound)
	}
	out := make([]registryv1.ChartVersion, 0, len(vs))
	for _, t := range vs {
		v := registryv1.ChartVersion{Version: t.Name, Digest: t.Digest, Size: t.Size, PushedAt: t.PushedAt}
		if m, err := s.meta(group, name, t); err == nil {
			v.AppVersion, v.Description = m.AppVersion, m.Description
		}
		out = append(out, v)
	}
	return out, nil
}

// Has reports whether group holds the chart's version.
func (s *Store) Has(ctx context.Context, group, name, version string) bool {
	vs, err := s.versions(ctx, group, name)
	if err != nil {
		return false
	}
	for _, t := range vs {
		if t.Name == version {
			return true
		}
	}
	return false
}

// Load reads a chart version whole. A missing version's error names the
// versions there are.
func (s *Store) Load(ctx context.Context, group, name, version string) (*chart.Chart, string, error) {
	vs, err := s.versions(ctx, group, name)
	if err != nil || len(vs) == 0 {
		return nil, "", fmt.Errorf("chart group %s has no chart %s (see kstack chart list %s): %w", group, name, group, ErrNotFound)
	}
	var names []string
	for _, t := range vs {
		names = append(names, t.Name)
		if t.Name != version {
			continue
		}
		res, err := s.client.Pull(ref(group, name, version), helmregistry.PullOptWithChart(true))
		if err != nil {
			return nil, "", fmt.Errorf("reading chart %s/%s %s: %w", group, name, version, err)
		}
		ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
		if err != nil {
			return nil, "", fmt.Errorf("chart %s/%s %s cannot be loaded: %w", group, name, version, err)
		}
		return ch, t.Digest, nil
	}
	if len(names) > 10 {
		names = append(names[:10], "…")
	}
	return nil, "", fmt.Errorf("chart %s/%s has no version %q (versions: %s): %w", group, name, version, strings.Join(names, ", "), ErrNotFound)
}

// Detail is what a version holds that people read before installing it.
func (s *Store) Detail(ctx context.Context, group, name, version string) (*registryv1.ChartDetail, error) {
	ch, dig, err := s.Load(ctx, group, name, version)
	if err != nil {
		return nil, err
	}
	m := ch.Metadata
	d := &registryv1.ChartDetail{Chart: name, ChartGroup: group, Version: version, AppVersion: m.AppVersion, Description: m.Description,
		Home: m.Home, Icon: m.Icon, Keywords: m.Keywords, ValuesSchema: string(ch.Schema), Digest: dig, Pull: s.Pull(group, name)}
	for _, f := range ch.Raw {
		if f.Name == "values.yaml" {
			d.Values = string(f.Data)
		}
	}
	for _, f := range ch.Files {
		if strings.EqualFold(f.Name, "README.md") || strings.EqualFold(f.Name, "README") || strings.EqualFold(f.Name, "README.txt") {
			d.Readme = string(f.Data)
		}
	}
	return d, nil
}

// Push stores a packaged chart (a .tgz) in group, as helm push does, and
// answers its name and version.
func (s *Store) Push(ctx context.Context, group string, tgz []byte) (name, version string, err error) {
	ch, err := loader.LoadArchive(bytes.NewReader(tgz))
	if err != nil {
		return "", "", fmt.Errorf("not a chart archive: %w", err)
	}
	name, version = ch.Metadata.Name, ch.Metadata.Version
	if _, err := s.client.Push(tgz, ref(group, name, version), helmregistry.PushOptStrictMode(true)); err != nil {
		return name, version, fmt.Errorf("storing chart %s %s in %s: %w", name, version, group, err)
	}
	return name, version, nil
}

// Delete removes one version of a chart ("": every version).
func (s *Store) Delete(ctx context.Context, group, name, version string) error {
	if version == "" {
		return s.reg.DeleteRepository(ctx, group+"/"+name)
	}
	return s.reg.DeleteTag(ctx, group+"/"+name, strings.ReplaceAll(version, "+", "_"))
}
