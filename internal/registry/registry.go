// Package registry embeds distribution v3.1.2 (its handlers and storage
// drivers) as the platform's image registry: token authentication as a
// distribution access controller, a catalogue filtered per caller, size
// limits, listings and deletes for the API, and an online garbage collector
// that runs while pushes go on (docs/adr/0016).
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	s3 "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

// ErrNotFound is wrapped by the errors of listings and deletes that name a
// repository or tag the storage does not hold.
var ErrNotFound = errors.New("not found in the registry")

// Defaults of Config.
const (
	DefaultMaxManifestBytes = 4 << 20
	DefaultMaxBlobBytes     = 10 << 30
	DefaultGCGrace          = time.Hour
	// distributionManifestCap is distribution v3.1.2's own, fixed bound on
	// a manifest PUT body (handlers.maxManifestBodySize).
	distributionManifestCap = 4 << 20
	// s3CopyThreshold is the largest single-request copy the s3 driver
	// allows (its maxChunkSize): gofakes3 ignores UploadPartCopy, so Move
	// must stay a plain CopyObject for every blob it sees.
	s3CopyThreshold = 5 << 30
)

// S3 stores the registry in an S3 bucket (distribution's s3-aws driver).
type S3 struct {
	Endpoint, Region, Bucket, AccessKey, SecretKey, RootDirectory string
	// ForcePathStyle: gofakes3 and MinIO need path-style addressing.
	ForcePathStyle bool
}

// Config configures New.
type Config struct {
	// RootDir is the filesystem storage's root; ignored when S3 is set.
	RootDir string
	S3      *S3
	// Realm is the token endpoint's URL, Service the token's audience
	// ("kstack-registry"); both go into the Bearer challenge.
	Realm   string
	Service string
	Auth    Auth
	// MaxManifestBytes (default 4 MiB, at most 4 MiB: distribution's own
	// cap) and MaxBlobBytes (default 10 GiB) bound what one push stores.
	MaxManifestBytes int64
	MaxBlobBytes     int64
	// GCGrace: blobs touched (stat, read, written, named by a manifest)
	// within it before a collection starts are never swept (default 1h).
	GCGrace time.Duration
	// Secret signs the state of resumable uploads; replicas behind one
	// address need the same one. Random when empty.
	Secret string
	// Log receives distribution's logs (quietly: per-request lines at
	// debug); nil discards them.
	Log *slog.Logger
	// AfterMark, when set, runs between a collection's mark and its sweep:
	// end-to-end tests hold the collection there to push into the race.
	AfterMark func()

	hooks *gcHooks // tests only
}

// Registry is the embedded registry.
type Registry struct {
	cfg     Config
	log     *slog.Logger
	id      string
	app     *handlers.App
	raw     storagedriver.StorageDriver // what the GC and the listings use: no touches
	driver  *gcDriver                   // what distribution uses
	ac      *accessController
	handler http.Handler
	gc      sync.Mutex // one collection at a time
	touches touchTable
	hooks   gcHooks
}

// instances lets distribution's registries (access controllers, storage
// drivers: registered by name, built from configuration parameters) find
// the Registry a configuration belongs to.
var instances sync.Map // id → *Registry

const pluginName = "kstack"

func init() {
	// Both registries are plain maps without locks: register at init only.
	if err := auth.Register(pluginName, func(options map[string]any) (auth.AccessController, error) {
		r, err := lookupInstance(options)
		if err != nil {
			return nil, err
		}
		return r.ac, nil
	}); err != nil {
		panic(err)
	}
	factory.Register(pluginName, driverFactory{})
}

type driverFactory struct{}

func (driverFactory) Create(_ context.Context, parameters map[string]any) (storagedriver.StorageDriver, error) {
	r, err := lookupInstance(parameters)
	if err != nil {
		return nil, err
	}
	return r.driver, nil
}

func lookupInstance(options map[string]any) (*Registry, error) {
	id, _ := options["instance"].(string)
	v, ok := instances.Load(id)
	if !ok {
		return nil, fmt.Errorf("kstack registry instance %q is not registered", id)
	}
	return v.(*Registry), nil
}

// New builds the registry over its storage. It lives until ctx ends.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	raw, err := newStorageDriver(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, log: cfg.Log, raw: raw, id: randomHex(16)}
	if cfg.hooks != nil {
		r.hooks = *cfg.hooks
	}
	if cfg.AfterMark != nil && r.hooks.afterMark == nil {
		r.hooks.afterMark = cfg.AfterMark
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.touches.init()
	r.driver = &gcDriver{StorageDriver: raw, r: r}
	r.ac = &accessController{r: r}
	installLogBridge(cfg.Log)

	instances.Store(r.id, r)
	r.app, err = newApp(ctx, r.distributionConfig())
	if err != nil {
		instances.Delete(r.id)
		return nil, err
	}
	r.handler = r.serve()
	context.AfterFunc(ctx, func() {
		instances.Delete(r.id)
		_ = r.app.Shutdown()
	})
	go r.pruneTouches(ctx)
	return r, nil
}

func (cfg *Config) complete() error {
	if cfg.Auth == nil {
		return errors.New("registry: Config.Auth is nil: the registry needs the token service to verify tokens")
	}
	if cfg.Realm == "" || cfg.Service == "" {
		return errors.New("registry: Config.Realm (the token endpoint's URL) and Config.Service (the token audience) are required")
	}
	if u, err := url.Parse(cfg.Realm); err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("registry: Config.Realm %q is not an absolute URL such as https://host:port/registry/token", cfg.Realm)
	}
	if cfg.S3 == nil && cfg.RootDir == "" {
		return errors.New("registry: set Config.RootDir (filesystem storage) or Config.S3")
	}
	if cfg.S3 != nil && cfg.S3.Bucket == "" {
		return errors.New("registry: Config.S3.Bucket is empty")
	}
	if cfg.MaxManifestBytes == 0 {
		cfg.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if cfg.MaxManifestBytes < 0 || cfg.MaxManifestBytes > distributionManifestCap {
		return fmt.Errorf("registry: MaxManifestBytes %d: want 1 to %d bytes (distribution v3.1.2 refuses larger manifests itself)", cfg.MaxManifestBytes, distributionManifestCap)
	}
	if cfg.MaxBlobBytes == 0 {
		cfg.MaxBlobBytes = DefaultMaxBlobBytes
	}
	if cfg.MaxBlobBytes < 0 {
		return fmt.Errorf("registry: MaxBlobBytes %d: want a positive number of bytes", cfg.MaxBlobBytes)
	}
	if cfg.GCGrace == 0 {
		cfg.GCGrace = DefaultGCGrace
	}
	if cfg.GCGrace < 0 {
		return fmt.Errorf("registry: GCGrace %s: want a positive duration", cfg.GCGrace)
	}
	if cfg.Secret == "" {
		cfg.Secret = randomHex(32)
	}
	return nil
}

func newStorageDriver(ctx context.Context, cfg Config) (storagedriver.StorageDriver, error) {
	if cfg.S3 == nil {
		return filesystem.FromParameters(map[string]any{"rootdirectory": cfg.RootDir})
	}
	s := cfg.S3
	params := map[string]any{
		"bucket":                     s.Bucket,
		"region":                     s.Region,
		"regionendpoint":             s.Endpoint,
		"forcepathstyle":             s.ForcePathStyle,
		"accesskey":                  s.AccessKey,
		"secretkey":                  s.SecretKey,
		"rootdirectory":              s.RootDirectory,
		"multipartcopythresholdsize": int64(s3CopyThreshold),
		"loglevel":                   "off",
	}
	if s.Region == "" {
		params["region"] = "us-east-1" // any name: a custom endpoint ignores it
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("registry: S3 endpoint %q is not a URL such as https://s3.example.com", s.Endpoint)
		}
		params["secure"] = u.Scheme != "http"
	}
	d, err := s3.FromParameters(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("registry: S3 storage: %w", err)
	}
	return d, nil
}

func (r *Registry) distributionConfig() *configuration.Configuration {
	c := &configuration.Configuration{}
	c.Storage = configuration.Storage{
		pluginName: configuration.Parameters{"instance": r.id},
		"delete":   configuration.Parameters{"enabled": true},
		// Redirects would hand clients storage URLs (and, for S3, signed
		// ones): everything goes through the registry.
		"redirect": configuration.Parameters{"disable": true},
		// No "cache": a cached stat would answer a HEAD without touching
		// the blob, and would report blobs the collector has removed.
	}
	c.Auth = configuration.Auth{pluginName: configuration.Parameters{"instance": r.id}}
	c.HTTP.Secret = r.cfg.Secret
	c.Catalog.MaxEntries = maxCatalogEntries
	c.Tags.MaxTags = 1000
	return c
}

// newApp calls handlers.NewApp, which panics on configuration errors.
func newApp(ctx context.Context, c *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("registry: distribution refused its configuration: %v", p)
		}
	}()
	return handlers.NewApp(ctx, c), nil
}

// Handler serves /v2 and /v2/... (the gateway passes the full path).
func (r *Registry) Handler() http.Handler { return r.handler }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
