package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/distribution/distribution/v3/manifest/manifestlist"
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

// parseManifest reads the manifest types distribution v3.1.2 stores,
// deciding the type as its manifest store does (the mediaType field; an
// OCI document without one is an index when it has "manifests").
func parseManifest(p []byte) (*manifestInfo, error) {
	var m struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Config        *v1.Descriptor  `json:"config"`
		Layers        []v1.Descriptor `json:"layers"`
		Manifests     []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, fmt.Errorf("not a manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schema version %d: only version 2 is stored", m.SchemaVersion)
	}
	info := &manifestInfo{mediaType: m.MediaType}
	index := false
	switch m.MediaType {
	case manifestlist.MediaTypeManifestList, v1.MediaTypeImageIndex:
		index = true
	case schema2.MediaTypeManifest, v1.MediaTypeImageManifest:
	case "":
		index = m.Manifests != nil
		info.mediaType = v1.MediaTypeImageManifest
		if index {
			info.mediaType = v1.MediaTypeImageIndex
		}
	default:
		return nil, fmt.Errorf("unknown manifest media type %q", m.MediaType)
	}
	if index {
		info.children = m.Manifests
		if info.children == nil {
			info.children = []v1.Descriptor{}
		}
		return info, nil
	}
	if m.Config != nil && m.Config.Digest != "" {
		info.blobs = append(info.blobs, *m.Config)
	}
	info.blobs = append(info.blobs, m.Layers...)
	return info, nil
}

// manifests reads and parses manifests from the blob store through the
// real driver (no touches), caching them for one listing or collection.
type manifests struct {
	r     *Registry
	cache map[digest.Digest]*manifestInfo
}

func (r *Registry) manifestReader() *manifests {
	return &manifests{r: r, cache: map[digest.Digest]*manifestInfo{}}
}

// get returns the manifest, or a PathNotFoundError when its blob is gone.
func (m *manifests) get(ctx context.Context, d digest.Digest) (*manifestInfo, error) {
	if info, ok := m.cache[d]; ok {
		return info, nil
	}
	p, err := m.r.raw.GetContent(ctx, blobDataPath(d))
	if err != nil {
		return nil, err
	}
	info, err := parseManifest(p)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d, err)
	}
	m.cache[d] = info
	return info, nil
}

// size is an image's size: its config and layers as the manifest states
// them; an index's is its images' sizes (a child that cannot be read
// counts as the size its descriptor states).
func (m *manifests) size(ctx context.Context, d digest.Digest, depth int) (int64, error) {
	info, err := m.get(ctx, d)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, b := range info.blobs {
		total += b.Size
	}
	for _, c := range info.children {
		n, err := int64(0), error(nil)
		if depth < 4 {
			n, err = m.size(ctx, c.Digest, depth+1)
		}
		if err != nil || depth >= 4 {
			n = c.Size
		}
		total += n
	}
	return total, nil
}
