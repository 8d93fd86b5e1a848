package registry

import (
	"errors"
	"path"
	"regexp"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Distribution's storage layout v2 (registry/storage/paths.go), which its
// path mapper keeps private:
//
//	/docker/registry/v2/blobs/<alg>/<2 hex>/<hex>/data
//	/docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
//	/docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
//	/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//	/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
//	/docker/registry/v2/repositories/<name>/_uploads/<id>/...
//
// and ours, beside them (distribution skips "_" directories it does not
// know, and no repository path component starts with "_"):
//
//	/docker/registry/v2/repositories/<name>/_kstack/deleted/<alg>/<hex>
const (
	storageRoot = "/docker/registry/v2"
	blobsRoot   = storageRoot + "/blobs"
	reposRoot   = storageRoot + "/repositories"
)

func repoDir(repo string) string                       { return reposRoot + "/" + repo }
func manifestsDir(repo string) string                  { return repoDir(repo) + "/_manifests" }
func tagsDir(repo string) string                       { return manifestsDir(repo) + "/tags" }
func tagDir(repo, tag string) string                   { return tagsDir(repo) + "/" + tag }
func tagCurrentLink(repo, tag string) string           { return tagDir(repo, tag) + "/current/link" }
func revisionsDir(repo string) string                  { return manifestsDir(repo) + "/revisions" }
func layersDir(repo string) string                     { return repoDir(repo) + "/_layers" }
func tombstonesDir(repo string) string                 { return repoDir(repo) + "/_kstack/deleted" }
func uploadDirPath(repo, id string) string             { return repoDir(repo) + "/_uploads/" + id }
func uploadDataPath(repo, id string) string            { return uploadDirPath(repo, id) + "/data" }
func digestDir(d digest.Digest) string                 { return string(d.Algorithm()) + "/" + d.Encoded() }
func revisionDir(repo string, d digest.Digest) string  { return revisionsDir(repo) + "/" + digestDir(d) }
func revisionLink(repo string, d digest.Digest) string { return revisionDir(repo, d) + "/link" }
func layerDir(repo string, d digest.Digest) string     { return layersDir(repo) + "/" + digestDir(d) }
func tombstonePath(repo string, d digest.Digest) string {
	return tombstonesDir(repo) + "/" + digestDir(d)
}

func blobDir(d digest.Digest) string {
	e := d.Encoded()
	return blobsRoot + "/" + string(d.Algorithm()) + "/" + e[:2] + "/" + e
}

func blobDataPath(d digest.Digest) string { return blobDir(d) + "/data" }

// digestOfPath returns the digest a storage path is about: a blob's data,
// a repository's layer link, a manifest revision link, or a tag's index
// entry. Touching any of them means a client is using that blob.
func digestOfPath(p string) (digest.Digest, bool) {
	if rest, ok := strings.CutPrefix(p, blobsRoot+"/"); ok {
		parts := strings.Split(rest, "/")
		if len(parts) == 4 && parts[3] == "data" {
			return parseDigest(parts[0], parts[2])
		}
		return "", false
	}
	if !strings.HasPrefix(p, reposRoot+"/") || !strings.HasSuffix(p, "/link") {
		return "", false
	}
	parts := strings.Split(p, "/")
	n := len(parts)
	if n < 5 {
		return "", false
	}
	switch parts[n-4] {
	case "_layers", "revisions", "index":
		return parseDigest(parts[n-3], parts[n-2])
	}
	return "", false
}

func parseDigest(alg, hex string) (digest.Digest, bool) {
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
	if d.Validate() != nil {
		return "", false
	}
	return d, true
}

var nsRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// validRepo: a repository name as distribution accepts it ("ns/name",
// more components allowed), so that it is safe in a storage path.
func validRepo(repo string) bool {
	if !strings.Contains(repo, "/") {
		return false
	}
	named, err := reference.WithName(repo)
	return err == nil && named.Name() == repo
}

func validNamespace(ns string) bool { return nsRe.MatchString(ns) }

var tagRe = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

func validTag(tag string) bool { return tagRe.MatchString(tag) }

func isNotFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}

// repoOfManifestsDir: ".../repositories/<name>/_manifests" → name.
func repoOfManifestsDir(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, reposRoot+"/")
	if !ok || path.Base(rest) != "_manifests" {
		return "", false
	}
	return path.Dir(rest), true
}
