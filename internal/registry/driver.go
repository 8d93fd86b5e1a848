package registry

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// gcDriver is the storage driver distribution is given: the real one, plus
// a touch record for every blob a request stats, reads, writes or moves into
// place (HEAD and GET of blobs and manifests, upload commits, cross-mounts,
// a manifest PUT's check that its blobs exist, tag and revision links), and
// the blob size limit on uploads. The collector reads and deletes through
// the real driver, so that its own reads are not touches.
type gcDriver struct {
	storagedriver.StorageDriver
	r *Registry
}

func (d *gcDriver) touchPath(p string) {
	if dg, ok := digestOfPath(p); ok {
		d.r.touch(dg)
	}
}

func (d *gcDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	d.touchPath(p)
	return d.StorageDriver.GetContent(ctx, p)
}

func (d *gcDriver) PutContent(ctx context.Context, p string, content []byte) error {
	d.touchPath(p)
	return d.StorageDriver.PutContent(ctx, p, content)
}

func (d *gcDriver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	d.touchPath(p)
	return d.StorageDriver.Reader(ctx, p, offset)
}

func (d *gcDriver) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	d.touchPath(p)
	return d.StorageDriver.Stat(ctx, p)
}

func (d *gcDriver) Move(ctx context.Context, src, dst string) error {
	d.touchPath(dst)
	return d.StorageDriver.Move(ctx, src, dst)
}

func (d *gcDriver) Writer(ctx context.Context, p string, appendTo bool) (storagedriver.FileWriter, error) {
	d.touchPath(p)
	fw, err := d.StorageDriver.Writer(ctx, p, appendTo)
	if err != nil || !isUploadData(p) {
		return fw, err
	}
	return &limitedWriter{FileWriter: fw, max: d.r.cfg.MaxBlobBytes, st: stateFrom(ctx)}, nil
}

func isUploadData(p string) bool {
	return strings.HasPrefix(p, reposRoot+"/") && strings.Contains(p, "/_uploads/") && strings.HasSuffix(p, "/data")
}

// limitedWriter refuses to grow an upload past MaxBlobBytes: whatever the
// chunks, the upload as a whole is bounded.
type limitedWriter struct {
	storagedriver.FileWriter
	max int64
	st  *reqState
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if total := w.FileWriter.Size() + int64(len(p)); total > w.max {
		if w.st != nil {
			w.st.blobTooLarge(w.max, fmt.Sprintf("the upload reached at least %d bytes", total))
		}
		return 0, errTooLarge
	}
	return w.FileWriter.Write(p)
}

// touchTable records when each blob was last touched, in stripes. A
// stripe's lock is the per-blob lock: the sweep holds it across "was the
// blob touched since the cutoff? → delete", and a touch takes it, so a
// touch lands either before the check (the blob stays) or after the delete
// (the client then finds the blob missing and uploads it again).
type touchTable struct {
	seed    maphash.Seed
	stripes [256]touchStripe
}

type touchStripe struct {
	lock    sync.Mutex              // the per-blob lock
	mu      sync.Mutex              // guards touched
	touched map[digest.Digest]int64 // unix nanos
}

func (s *touchStripe) get(d digest.Digest) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.touched[d]
	return at, ok
}

func (s *touchStripe) set(d digest.Digest, at int64) {
	s.mu.Lock()
	s.touched[d] = at
	s.mu.Unlock()
}

func (t *touchTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.stripes {
		t.stripes[i].touched = map[digest.Digest]int64{}
	}
}

func (t *touchTable) stripe(d digest.Digest) *touchStripe {
	return &t.stripes[maphash.String(t.seed, string(d))%uint64(len(t.stripes))]
}

// gcHooks let tests stop the collector at the points the race is about.
type gcHooks struct {
	afterMark    func()              // between mark and sweep
	beforeDelete func(digest.Digest) // in the sweep, lock held, check passed
	touchWaits   func(digest.Digest) // a touch found the blob's lock held
	noTouch      bool                // tests: prove the race test fails without touches
	noLock       bool                // tests: prove the race test fails without the lock
	now          func() time.Time
	// beforeApp runs just before distribution gets a request: tests read
	// the body there, as anything reading it before the access controller
	// would.
	beforeApp func(*http.Request)
}

func (r *Registry) now() time.Time {
	if r.hooks.now != nil {
		return r.hooks.now()
	}
	return time.Now()
}

func (r *Registry) touch(d digest.Digest) {
	if r.hooks.noTouch {
		return
	}
	s := r.touches.stripe(d)
	if r.hooks.noLock {
		s.set(d, r.now().UnixNano())
		return
	}
	if !s.lock.TryLock() {
		if r.hooks.touchWaits != nil {
			r.hooks.touchWaits(d)
		}
		s.lock.Lock()
	}
	s.set(d, r.now().UnixNano())
	s.lock.Unlock()
}

// pruneTouches forgets touches no collection can need: older than the
// grace before now, and older than a running collection's cutoff.
func (r *Registry) pruneTouches(ctx context.Context) {
	every := r.cfg.GCGrace
	if every < time.Minute {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.forgetTouchesBefore(r.pruneCutoff())
		}
	}
}

func (r *Registry) pruneCutoff() int64 {
	// A running collection may need touches older than now minus the
	// grace: wait for it. One that starts later needs none of them.
	r.gc.Lock()
	defer r.gc.Unlock()
	return r.now().Add(-r.cfg.GCGrace).UnixNano()
}

func (r *Registry) forgetTouchesBefore(cutoff int64) {
	for i := range r.touches.stripes {
		s := &r.touches.stripes[i]
		s.mu.Lock()
		for d, at := range s.touched {
			if at < cutoff {
				delete(s.touched, d)
			}
		}
		s.mu.Unlock()
	}
}
