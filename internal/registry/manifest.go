package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/manifest/manifestlist"
	"github.com/distribution/distribution/v3/manifest/ocischema"
	"github.com/distribution/distribution/v3/manifest/schema2"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestInfo is what the collector and the listings need of a stored
// manifest: its type, and what it references.
type manifestInfo struct {
	mediaType string
	// children: an index's manifests; blobs: an image's config and layers.
	children []v1.Descriptor
	blobs    []v1.Descriptor
}

func (m *manifestInfo) isIndex() bool { return m.children != nil }

// badManifestError: a stored manifest distribution's own decoders cannot
// read (which a manifest distribution accepted should never be). The
// collector then keeps everything its repository links; listings show it
// with what is known.
type badManifestError struct {
	mediaType string // the document's mediaType field, when it has one
	err       error
}

func (e *badManifestError) Error() string { return e.err.Error() }
func (e *badManifestError) Unwrap() error { return e.err }

func isBadManifest(err error) (*badManifestError, bool) {
	var bad *badManifestError
	ok := errors.As(err, &bad)
	return bad, ok
}

// parseManifest decodes a stored manifest with distribution's own decoders
// (distribution.UnmarshalManifest, as a manifest PUT does), deciding its
// type as distribution's manifest store does when it serves it: the
// document's mediaType field; an OCI document without one is an index when
// it has "manifests", else an image manifest.
func parseManifest(p []byte) (*manifestInfo, error) {
	var versioned struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
	}
	if err := json.Unmarshal(p, &versioned); err != nil {
		return nil, &badManifestError{err: fmt.Errorf("not a manifest: %w", err)}
	}
	bad := func(err error) error { return &badManifestError{mediaType: versioned.MediaType, err: err} }
	if versioned.SchemaVersion != 2 {
		return nil, bad(fmt.Errorf("manifest schema version %d: only version 2 is stored", versioned.SchemaVersion))
	}
	mediaType := versioned.MediaType
	switch mediaType {
	case schema2.MediaTypeManifest, manifestlist.MediaTypeManifestList, v1.MediaTypeImageManifest, v1.MediaTypeImageIndex:
	case "":
		mediaType = v1.MediaTypeImageManifest
		if m, _, err := distribution.UnmarshalManifest(v1.MediaTypeImageIndex, p); err == nil {
			if idx, ok := m.(*ocischema.DeserializedImageIndex); ok && idx.Manifests != nil {
				mediaType = v1.MediaTypeImageIndex
			}
		}
	default:
		return nil, bad(fmt.Errorf("unknown manifest media type %q", versioned.MediaType))
	}
	m, _, err := distribution.UnmarshalManifest(mediaType, p)
	if err != nil {
		return nil, bad(fmt.Errorf("%s: %w", mediaType, err))
	}
	info := &manifestInfo{mediaType: mediaType}
	refs := m.References()
	switch m.(type) {
	case *ocischema.DeserializedImageIndex, *manifestlist.DeserializedManifestList:
		info.children = make([]v1.Descriptor, 0, len(refs))
		for _, d := range refs {
			if d.Digest != "" {
				info.children = append(info.children, d)
			}
		}
	default:
		for _, d := range refs {
			if d.Digest != "" {
				info.blobs = append(info.blobs, d)
			}
		}
	}
	return info, nil
}

// manifests reads and parses manifests from the blob store through the
// real driver (no touches), caching them for one listing or collection.
type manifests struct {
	r     *Registry
	cache map[digest.Digest]*manifestInfo
	bad   map[digest.Digest]error
	sizes map[digest.Digest]int64
}

func (r *Registry) manifestReader() *manifests {
	return &manifests{r: r, cache: map[digest.Digest]*manifestInfo{}, bad: map[digest.Digest]error{}, sizes: map[digest.Digest]int64{}}
}

// get returns the manifest, a PathNotFoundError when its blob is gone, or
// a *badManifestError when it cannot be decoded.
func (m *manifests) get(ctx context.Context, d digest.Digest) (*manifestInfo, error) {
	if info, ok := m.cache[d]; ok {
		return info, nil
	}
	if err, ok := m.bad[d]; ok {
		return nil, err
	}
	p, err := m.r.raw.GetContent(ctx, blobDataPath(d))
	if err != nil {
		return nil, err
	}
	info, err := parseManifest(p)
	if err != nil {
		err = fmt.Errorf("manifest %s: %w", d, err)
		m.bad[d] = err
		return nil, err
	}
	m.cache[d] = info
	return info, nil
}

// maxSizeDepth bounds how deep size follows nested indexes (deeper ones
// count as their descriptors state): the recursion stays shallow whatever
// was pushed.
const maxSizeDepth = 8

// size is an image's size: its config and layers as the manifest states
// them; an index's is its images' sizes (a child that cannot be read
// counts as the size its descriptor states). Sizes are remembered, so an
// index naming the same child many times costs one look.
func (m *manifests) size(ctx context.Context, d digest.Digest, depth int) (int64, error) {
	if n, ok := m.sizes[d]; ok {
		return n, nil
	}
	info, err := m.get(ctx, d)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, b := range info.blobs {
		total += b.Size
	}
	for _, c := range info.children {
		n := c.Size
		if depth < maxSizeDepth {
			if got, err := m.size(ctx, c.Digest, depth+1); err == nil {
				n = got
			}
		}
		total += n
	}
	m.sizes[d] = total
	return total, nil
}
