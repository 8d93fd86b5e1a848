package registry

import (
	"context"
	"fmt"
	"sort"
	"strings"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/opencontainers/go-digest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Repositories lists the repositories of namespace ns with their tag
// count, size (each tagged image once: config and layers) and last push.
// Pull is left empty for the caller to fill. A namespace without
// repositories lists none.
func (r *Registry) Repositories(ctx context.Context, ns string) ([]registryv1.Repository, error) {
	if !validNamespace(ns) {
		return nil, fmt.Errorf("registry: %q is not a valid namespace name (lower-case letters and digits, separated by '.', '_' or '-')", ns)
	}
	repos, err := r.reposUnder(ctx, repoDir(ns))
	if err != nil {
		return nil, fmt.Errorf("registry: listing namespace %s: %w", ns, err)
	}
	sort.Strings(repos)
	ms := r.manifestReader()
	out := make([]registryv1.Repository, 0, len(repos))
	for _, repo := range repos {
		tags, err := r.tags(ctx, repo, ms)
		if err != nil {
			return nil, err
		}
		item := registryv1.Repository{Name: strings.TrimPrefix(repo, ns+"/"), Namespace: ns, Tags: len(tags)}
		counted := map[string]bool{}
		for _, t := range tags {
			if !counted[t.Digest] {
				counted[t.Digest] = true
				item.Size += t.Size
			}
			if t.PushedAt != nil && (item.PushedAt == nil || item.PushedAt.Before(t.PushedAt)) {
				item.PushedAt = t.PushedAt
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// Tags lists the tags of repo ("ns/name"), sorted by name, with the
// manifest's digest, media type, image size and when the tag was last
// pointed at it. Pull is left empty for the caller to fill.
func (r *Registry) Tags(ctx context.Context, repo string) ([]registryv1.Tag, error) {
	if err := r.checkRepo(ctx, repo); err != nil {
		return nil, err
	}
	return r.tags(ctx, repo, r.manifestReader())
}

func (r *Registry) tags(ctx context.Context, repo string, ms *manifests) ([]registryv1.Tag, error) {
	refs, err := r.readTags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("registry: listing the tags of %s: %w", repo, err)
	}
	out := make([]registryv1.Tag, 0, len(refs))
	for _, t := range refs {
		item := registryv1.Tag{Name: t.name, Digest: t.digest.String()}
		if fi, err := r.raw.Stat(ctx, t.link); err == nil {
			at := metav1.NewTime(fi.ModTime())
			item.PushedAt = &at
		}
		info, err := ms.get(ctx, t.digest)
		switch bad, isBad := isBadManifest(err); {
		case err == nil:
			item.MediaType = info.mediaType
			item.Size, _ = ms.size(ctx, t.digest, 0)
		case isBad:
			// One odd manifest does not hide the repository: the tag is
			// listed with what is known of it.
			item.MediaType = bad.mediaType
			r.log.Debug("registry: listing a tag whose manifest cannot be read", "repository", repo, "tag", t.name, "err", err)
		case !isNotFound(err):
			return nil, fmt.Errorf("registry: tag %s:%s: %w", repo, t.name, err)
		}
		out = append(out, item)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *Registry) checkRepo(ctx context.Context, repo string) error {
	if !validRepo(repo) {
		return fmt.Errorf("registry: repository %q: %w (not a valid repository name: \"namespace/name\", lower-case)", repo, ErrNotFound)
	}
	if _, err := r.raw.Stat(ctx, manifestsDir(repo)); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("registry: repository %s: %w", repo, ErrNotFound)
		}
		return fmt.Errorf("registry: repository %s: %w", repo, err)
	}
	return nil
}

// DeleteTag removes a tag at once. When no other tag of the repository
// points at its manifest, the manifest (and an index's images that no
// remaining tag points at) is marked deleted: the next garbage collection
// removes it and whatever only it referenced, unless a client used it
// within the grace period; until then it still pulls by digest.
func (r *Registry) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := r.checkRepo(ctx, repo); err != nil {
		return err
	}
	if !validTag(tag) {
		return fmt.Errorf("registry: tag %s:%s: %w (not a valid tag name)", repo, tag, ErrNotFound)
	}
	tags, err := r.readTags(ctx, repo)
	if err != nil {
		return fmt.Errorf("registry: deleting %s:%s: %w", repo, tag, err)
	}
	var target digest.Digest
	others := map[digest.Digest]bool{}
	for _, t := range tags {
		if t.name == tag {
			target = t.digest
		} else {
			others[t.digest] = true
		}
	}
	if target == "" {
		return fmt.Errorf("registry: tag %s:%s: %w", repo, tag, ErrNotFound)
	}
	if err := r.raw.Delete(ctx, tagDir(repo, tag)); err != nil && !isNotFound(err) {
		return fmt.Errorf("registry: deleting %s:%s: %w", repo, tag, err)
	}
	if others[target] {
		return nil
	}
	doomed := []digest.Digest{target}
	if info, err := r.manifestReader().get(ctx, target); err == nil {
		for _, c := range info.children {
			if !others[c.Digest] {
				doomed = append(doomed, c.Digest)
			}
		}
	}
	for _, d := range doomed {
		// The GC decides: a manifest another tag or index still reaches is
		// kept whatever its tombstone says.
		if err := r.raw.PutContent(ctx, tombstonePath(repo, d), []byte(d.String())); err != nil {
			return fmt.Errorf("registry: tag %s:%s deleted, but marking its manifest %s for collection failed: %w", repo, tag, d, err)
		}
	}
	return nil
}

// DeleteRepository removes a repository at once (its tags, manifests'
// links, layer links, and uploads in progress); the blobs nothing else
// references go at the next garbage collection. Repositories nested under
// it ("ns/app/sub" under "ns/app") stay.
func (r *Registry) DeleteRepository(ctx context.Context, repo string) error {
	if err := r.checkRepo(ctx, repo); err != nil {
		return err
	}
	for _, dir := range []string{manifestsDir(repo), layersDir(repo), repoDir(repo) + "/_uploads", repoDir(repo) + "/_kstack"} {
		if err := r.raw.Delete(ctx, dir); err != nil && !isNotFound(err) {
			return fmt.Errorf("registry: deleting repository %s: %w", repo, err)
		}
	}
	return nil
}

// DeleteNamespace removes every repository under ns/ (nothing to do when
// there is none).
func (r *Registry) DeleteNamespace(ctx context.Context, ns string) error {
	if !validNamespace(ns) {
		return fmt.Errorf("registry: %q is not a valid namespace name", ns)
	}
	if err := r.raw.Delete(ctx, repoDir(ns)); err != nil && !isNotFound(err) {
		return fmt.Errorf("registry: deleting the repositories of namespace %s: %w", ns, err)
	}
	return nil
}
