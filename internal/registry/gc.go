package registry

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/opencontainers/go-digest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GC collects, while the registry serves pushes and pulls, the blobs no
// manifest references (docs/adr/0016):
//
//   - mark: from every repository's tags and manifest revisions, except
//     revisions whose tag was deleted (DeleteTag leaves a tombstone), mark
//     each manifest and what it references; untagged manifests pushed by
//     digest or left behind when a tag moved are kept, so that workloads
//     pinned by digest keep pulling;
//   - sweep: remove the tombstoned revisions nothing reaches, then the
//     blobs nothing marked, each under its lock and only when no client has
//     touched it since the mark started minus GCGrace, nor written it then.
//
// Uploads in progress (_uploads) are never looked at.
func (r *Registry) GC(ctx context.Context) (registryv1.GCResult, error) {
	if !r.gc.TryLock() {
		return registryv1.GCResult{}, errors.New("registry: a garbage collection is already running; try again when it has finished")
	}
	defer r.gc.Unlock()

	start := r.now()
	cutoff := start.Add(-r.cfg.GCGrace)
	res := registryv1.GCResult{Started: metav1.NewTime(start)}
	// Touches before the cutoff cannot save anything in this collection.
	r.forgetTouchesBefore(cutoff.UnixNano())

	m, err := r.mark(ctx, start)
	if err != nil {
		return res, fmt.Errorf("registry: garbage collection stopped before deleting anything: %w", err)
	}
	if r.hooks.afterMark != nil {
		r.hooks.afterMark()
	}

	revisions, err := r.sweepRevisions(ctx, m, cutoff)
	if err != nil {
		return res, fmt.Errorf("registry: garbage collection, removing deleted tags' manifests: %w", err)
	}
	res.Marked = len(m.marked)
	if err := r.sweepBlobs(ctx, m, cutoff, &res); err != nil {
		return res, fmt.Errorf("registry: garbage collection, removing blobs: %w", err)
	}
	for _, p := range m.staleTombstones {
		// Rewritten since the mark by a DeleteTag: it is not stale.
		if fi, err := r.raw.Stat(ctx, p); err != nil || !fi.ModTime().Before(start) {
			continue
		}
		if err := r.raw.Delete(ctx, p); err != nil && !isNotFound(err) {
			r.log.Warn("registry: garbage collection: removing a stale tombstone", "path", p, "err", err)
		}
	}
	res.Finished = metav1.NewTime(r.now())
	r.log.Info("registry: garbage collection done", "marked", res.Marked, "deleted", res.Deleted,
		"deletedBytes", res.DeletedBytes, "kept", res.Kept, "manifestsRemoved", revisions,
		"took", res.Finished.Sub(start).Round(time.Millisecond).String())
	return res, nil
}

type gcMark struct {
	manifests *manifests
	marked    map[digest.Digest]struct{}
	links     map[digest.Digest][]string // repositories holding a layer link to the blob
	// repoLinks: each repository's layer links and manifest revisions;
	// kept: repositories holding a manifest that cannot be decoded, whose
	// every linked blob is kept.
	repoLinks map[string][]digest.Digest
	kept      map[string]bool
	doomed    []doomedRevision
	// tombstones of manifests alive again (re-tagged, re-pushed) or gone
	staleTombstones []string
}

type doomedRevision struct {
	repo      string
	d         digest.Digest
	tombstone string
}

type fileMeta struct {
	path    string
	modTime time.Time
	size    int64
}

func (r *Registry) mark(ctx context.Context, start time.Time) (*gcMark, error) {
	m := &gcMark{manifests: r.manifestReader(), marked: map[digest.Digest]struct{}{}, links: map[digest.Digest][]string{},
		repoLinks: map[string][]digest.Digest{}, kept: map[string]bool{}}
	repos, err := r.reposUnder(ctx, reposRoot)
	if err != nil {
		return nil, err
	}
	for _, repo := range repos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.markRepo(ctx, m, repo, start); err != nil {
			return nil, fmt.Errorf("repository %s: %w", repo, err)
		}
	}
	return m, nil
}

func (r *Registry) markRepo(ctx context.Context, m *gcMark, repo string, start time.Time) error {
	tags, err := r.readTags(ctx, repo)
	if err != nil {
		return err
	}
	revs, err := r.digestFiles(ctx, revisionsDir(repo), true)
	if err != nil {
		return err
	}
	tombs, err := r.digestFiles(ctx, tombstonesDir(repo), false)
	if err != nil {
		return err
	}
	layers, err := r.digestFiles(ctx, layersDir(repo), true)
	if err != nil {
		return err
	}
	for d := range layers {
		m.links[d] = append(m.links[d], repo)
		m.repoLinks[repo] = append(m.repoLinks[repo], d)
	}
	for d := range revs {
		m.repoLinks[repo] = append(m.repoLinks[repo], d)
	}

	reached := map[digest.Digest]bool{}
	for _, t := range tags {
		if err := r.markManifest(ctx, m, repo, t.digest, reached); err != nil {
			return err
		}
	}
	for d, rev := range revs {
		// A revision written again after its tag was deleted (pushed again
		// by digest) is alive again.
		if tomb, ok := tombs[d]; ok && rev.modTime.Before(tomb.modTime) {
			continue
		}
		if err := r.markManifest(ctx, m, repo, d, reached); err != nil {
			return err
		}
	}
	if m.kept[repo] {
		// Everything it links is kept: its deleted tags' manifests wait,
		// with their tombstones, until the odd manifest is gone.
		return nil
	}
	for d, tomb := range tombs {
		_, hasRev := revs[d]
		switch {
		case reached[d] || !hasRev:
			// Tombstones written after the mark started may be a DeleteTag
			// racing with us: leave them for the next collection.
			if tomb.modTime.Before(start) {
				m.staleTombstones = append(m.staleTombstones, tomb.path)
			}
		default:
			m.doomed = append(m.doomed, doomedRevision{repo: repo, d: d, tombstone: tomb.path})
		}
	}
	return nil
}

// markManifest marks a manifest of repo, and what it references, through
// any depth of nested indexes: content addressing rules out cycles, and
// reached stops the walk at what was seen. A manifest that cannot be
// decoded keeps everything its repository links, and the collection goes
// on; only a storage error stops it.
func (r *Registry) markManifest(ctx context.Context, m *gcMark, repo string, d digest.Digest, reached map[digest.Digest]bool) error {
	todo := []digest.Digest{d}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if reached[d] {
			continue
		}
		reached[d] = true
		m.marked[d] = struct{}{}
		info, err := m.manifests.get(ctx, d)
		if err != nil {
			if isNotFound(err) {
				// A revision whose manifest blob is gone: nothing to mark.
				r.log.Debug("registry: garbage collection: manifest blob missing", "repository", repo, "digest", d)
				continue
			}
			if _, bad := isBadManifest(err); bad {
				r.keepRepository(m, repo, err)
				continue
			}
			// Without knowing what it references, deleting anything is unsafe.
			return fmt.Errorf("reading manifest %s: %w", d, err)
		}
		for _, b := range info.blobs {
			m.marked[b.Digest] = struct{}{}
		}
		for _, c := range info.children {
			if !reached[c.Digest] {
				todo = append(todo, c.Digest)
			}
		}
	}
	return nil
}

// keepRepository marks every blob repo links (layers and manifest
// revisions): what an undecodable manifest references is among them,
// since distribution links into the repository whatever a manifest it
// accepts names.
func (r *Registry) keepRepository(m *gcMark, repo string, why error) {
	if m.kept[repo] {
		return
	}
	m.kept[repo] = true
	r.log.Warn("registry: garbage collection: a manifest cannot be read; keeping every blob of its repository", "repository", repo, "err", why)
	for _, d := range m.repoLinks[repo] {
		m.marked[d] = struct{}{}
	}
}

// sweepRevisions removes tombstoned revisions nothing reaches, unless a
// client touched them (a pull by digest, a push of the same manifest)
// since the cutoff: those stay, with what they reference, for the next
// collection.
func (r *Registry) sweepRevisions(ctx context.Context, m *gcMark, cutoff time.Time) (int, error) {
	removed := 0
	var keep []doomedRevision
	for _, dr := range m.doomed {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		ok, err := r.deleteIfUntouched(dr.d, cutoff, func() error {
			if err := r.raw.Delete(ctx, revisionDir(dr.repo, dr.d)); err != nil && !isNotFound(err) {
				return err
			}
			if err := r.raw.Delete(ctx, dr.tombstone); err != nil && !isNotFound(err) {
				return err
			}
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("manifest %s of %s: %w", dr.d, dr.repo, err)
		}
		if ok {
			removed++
		} else {
			keep = append(keep, dr)
		}
	}
	for _, dr := range keep {
		if err := r.markManifest(ctx, m, dr.repo, dr.d, map[digest.Digest]bool{}); err != nil {
			return removed, fmt.Errorf("manifest %s of %s: %w", dr.d, dr.repo, err)
		}
	}
	return removed, nil
}

func (r *Registry) sweepBlobs(ctx context.Context, m *gcMark, cutoff time.Time, res *registryv1.GCResult) error {
	// Collect first, delete after: deleting while the driver walks
	// confuses its listing.
	var candidates []fileMeta
	err := r.raw.Walk(ctx, blobsRoot, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() || path.Base(fi.Path()) != "data" {
			return nil
		}
		d, ok := digestOfPath(fi.Path())
		if !ok {
			return nil
		}
		if _, marked := m.marked[d]; !marked {
			candidates = append(candidates, fileMeta{path: fi.Path(), modTime: fi.ModTime(), size: fi.Size()})
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return err
	}
	for _, c := range candidates {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, _ := digestOfPath(c.path)
		// Written within the grace: an upload whose manifest may still
		// come (this also holds for other replicas sharing the storage).
		if !c.modTime.Before(cutoff) {
			res.Kept++
			continue
		}
		ok, err := r.deleteIfUntouched(d, cutoff, func() error {
			if err := r.raw.Delete(ctx, blobDir(d)); err != nil && !isNotFound(err) {
				return err
			}
			for _, repo := range m.links[d] {
				if err := r.raw.Delete(ctx, layerDir(repo, d)); err != nil && !isNotFound(err) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		if ok {
			res.Deleted++
			res.DeletedBytes += c.size
		} else {
			res.Kept++
		}
	}
	return nil
}

// deleteIfUntouched runs del under d's lock unless d was touched since the
// cutoff. A touch waits for the lock, so it lands either before the check
// (and the blob stays) or after the delete (and the client sees it gone).
func (r *Registry) deleteIfUntouched(d digest.Digest, cutoff time.Time, del func() error) (bool, error) {
	s := r.touches.stripe(d)
	s.lock.Lock()
	defer s.lock.Unlock()
	if at, ok := s.get(d); ok && at >= cutoff.UnixNano() {
		return false, nil
	}
	if r.hooks.beforeDelete != nil {
		r.hooks.beforeDelete(d)
	}
	return true, del()
}

type tagRef struct {
	name   string
	digest digest.Digest
	link   string
}

// readTags reads a repository's tags and the manifests they point at.
func (r *Registry) readTags(ctx context.Context, repo string) ([]tagRef, error) {
	entries, err := r.raw.List(ctx, tagsDir(repo))
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var tags []tagRef
	for _, e := range entries {
		name := path.Base(e)
		link := tagCurrentLink(repo, name)
		p, err := r.raw.GetContent(ctx, link)
		if err != nil {
			if isNotFound(err) {
				continue // being written or deleted
			}
			return nil, err
		}
		d, err := digest.Parse(strings.TrimSpace(string(p)))
		if err != nil {
			return nil, fmt.Errorf("tag %s: bad link %q: %w", name, p, err)
		}
		tags = append(tags, tagRef{name: name, digest: d, link: link})
	}
	return tags, nil
}

// digestFiles lists <dir>/<alg>/<hex>[/link] files by digest.
func (r *Registry) digestFiles(ctx context.Context, dir string, link bool) (map[digest.Digest]fileMeta, error) {
	out := map[digest.Digest]fileMeta{}
	err := r.raw.Walk(ctx, dir, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			return nil
		}
		rel := strings.TrimPrefix(fi.Path(), dir+"/")
		parts := strings.Split(rel, "/")
		if link {
			if len(parts) != 3 || parts[2] != "link" {
				return nil
			}
		} else if len(parts) != 2 {
			return nil
		}
		if d, ok := parseDigest(parts[0], parts[1]); ok {
			out[d] = fileMeta{path: fi.Path(), modTime: fi.ModTime(), size: fi.Size()}
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	return out, nil
}

// reposUnder lists the repositories at or below dir.
func (r *Registry) reposUnder(ctx context.Context, dir string) ([]string, error) {
	var repos []string
	err := r.raw.Walk(ctx, dir, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			return nil
		}
		base := path.Base(fi.Path())
		if repo, ok := repoOfManifestsDir(fi.Path()); ok {
			repos = append(repos, repo)
			return storagedriver.ErrSkipDir
		}
		if strings.HasPrefix(base, "_") {
			return storagedriver.ErrSkipDir
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	return repos, nil
}
