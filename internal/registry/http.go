package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

var (
	manifestPathRe = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)
	uploadPathRe   = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/([A-Za-z0-9-]+)$`)
	uploadStartRe  = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/?$`)
)

// serve puts our checks around distribution's App: the filtered
// catalogue, size limits, and clearer error bodies.
func (r *Registry) serve() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		st := &reqState{}
		req = req.WithContext(context.WithValue(req.Context(), stateKey{}, st))
		ow := &overrideWriter{ResponseWriter: w, st: st}
		defer ow.finish()

		if req.URL.Path == "/v2" { // distribution routes only "/v2/"
			req.URL.Path = "/v2/"
		}
		// Distribution reads its parameters (from, mount, digest, _state)
		// with FormValue, and asks for "from" before its access controller
		// runs: left alone, FormValue would parse the body of any POST,
		// PUT or PATCH first (a multipart body spooled to temporary files
		// without limit, a urlencoded one up to 10 MB), for anyone. They
		// are all query parameters: distribution gets the query alone and
		// never parses a body.
		queryOnlyForm(req)
		if req.URL.Path == "/v2/_catalog" {
			req.Body = http.MaxBytesReader(w, req.Body, 0)
			r.serveCatalog(ow, req)
			return
		}
		var uploadRepo, uploadID string
		switch {
		case req.Method == http.MethodPut && manifestPathRe.MatchString(req.URL.Path):
			repo := manifestPathRe.FindStringSubmatch(req.URL.Path)[1]
			req.Body = &limitedBody{ReadCloser: req.Body, declared: req.ContentLength, max: r.cfg.MaxManifestBytes, trip: func(n int64) {
				st.setOverride(http.StatusRequestEntityTooLarge, errcode.ErrorCodeManifestInvalid,
					fmt.Sprintf("manifest is %s, over the registry's limit of %s per manifest", sizeText(n, req.ContentLength), bytesText(r.cfg.MaxManifestBytes)),
					map[string]int64{"limit": r.cfg.MaxManifestBytes})
			}}
			ow.manifestRepo = repo
		case req.Method == http.MethodPost && uploadStartRe.MatchString(req.URL.Path):
			r.dropForeignMount(req, uploadStartRe.FindStringSubmatch(req.URL.Path)[1])
			if req.URL.Query().Get("digest") == "" {
				req.Body = http.MaxBytesReader(w, req.Body, 0)
				break
			}
			// A monolithic upload (POST ?digest=) carries the blob in its
			// body: as much as an upload may hold.
			req.Body = &limitedBody{ReadCloser: req.Body, declared: req.ContentLength, max: r.cfg.MaxBlobBytes, trip: func(n int64) {
				st.blobTooLarge(r.cfg.MaxBlobBytes, fmt.Sprintf("this request's body is %s", sizeText(n, req.ContentLength)))
			}}
		case (req.Method == http.MethodPatch || req.Method == http.MethodPut) && uploadPathRe.MatchString(req.URL.Path):
			m := uploadPathRe.FindStringSubmatch(req.URL.Path)
			uploadRepo, uploadID = m[1], m[2]
			req.Body = &limitedBody{ReadCloser: req.Body, declared: req.ContentLength, max: r.cfg.MaxBlobBytes, trip: func(n int64) {
				st.blobTooLarge(r.cfg.MaxBlobBytes, fmt.Sprintf("this request's body is %s", sizeText(n, req.ContentLength)))
			}}
		default:
			// GET, HEAD, DELETE and everything else carry no body.
			req.Body = http.MaxBytesReader(w, req.Body, 0)
		}
		if r.hooks.beforeApp != nil {
			r.hooks.beforeApp(req)
		}
		r.app.ServeHTTP(ow, req)
		// Only an upload the caller may push to is cancelled: a refused
		// request must not remove someone else's.
		if uploadID != "" && st.cancelUpload() {
			r.cancelUpload(context.WithoutCancel(req.Context()), uploadRepo, uploadID)
		}
	})
}

// queryOnlyForm makes the request's form its query: FormValue then never
// reads the body.
func queryOnlyForm(req *http.Request) {
	req.Form = req.URL.Query()
	req.PostForm = url.Values{}
	req.MultipartForm = &multipart.Form{Value: map[string][]string{}, File: map[string][]*multipart.FileHeader{}}
}

// dropForeignMount turns a cross-repository mount (?mount=&from=) from a
// namespace the caller may not pull into a plain upload start (202):
// clients then upload the blob, and the answer says nothing about the
// other repository. A mount from a namespace the caller may pull is left
// to distribution: if the token lacks the source's pull scope, its
// challenge names it and the client (docker, the conformance suite) asks
// for a token with both. The difference between the two answers tells
// only what the token endpoint tells anyway: whether the caller may pull
// that namespace, never whether a repository exists.
func (r *Registry) dropForeignMount(req *http.Request, repo string) {
	q := req.URL.Query()
	from := q.Get("from")
	if from == "" || from == repo {
		return
	}
	var c *Caller // anonymous unless a valid token says otherwise
	if tok, ok := bearerToken(req); ok {
		v, err := r.cfg.Auth.Verify(req.Context(), tok)
		if err == nil && v.grants("repository", from, "pull") {
			return
		}
		if err == nil {
			c = v
		}
	}
	if ns, _, ok := strings.Cut(from, "/"); ok && r.cfg.Auth.Allowed(req.Context(), c, ns, "pull") {
		return
	}
	q.Del("from")
	q.Del("mount")
	req.URL.RawQuery = q.Encode()
	req.Form = q
}

type stateKey struct{}

// reqState is shared by our wrapper, our access controller and our
// storage driver for one request: it lets them replace distribution's
// generic error body with one that says what was wrong.
type reqState struct {
	mu       sync.Mutex
	override *errorBody
	cancel   bool // a blob upload went over the limit: cancel it
	// authorized: the access controller granted the request (a refused
	// one never cancels an upload, whatever it sent).
	authorized bool
}

type errorBody struct {
	status  int
	code    errcode.ErrorCode
	message string
	detail  any
}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

func (st *reqState) setOverride(status int, code errcode.ErrorCode, message string, detail any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.override == nil {
		st.override = &errorBody{status: status, code: code, message: message, detail: detail}
	}
}

// refuse sets the answer of a request the access controller refused: it
// replaces whatever was set before (a size error of a body read early).
func (st *reqState) refuse(message string, detail any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.override = &errorBody{status: http.StatusUnauthorized, code: errcode.ErrorCodeUnauthorized, message: message, detail: detail}
}

func (st *reqState) setAuthorized() {
	st.mu.Lock()
	st.authorized = true
	st.mu.Unlock()
}

func (st *reqState) blobTooLarge(limit int64, what string) {
	st.setOverride(http.StatusRequestEntityTooLarge, errcode.ErrorCodeSizeInvalid,
		fmt.Sprintf("blob over the registry's size limit of %s per blob (%s); the upload was cancelled: push a smaller layer, or ask an administrator to raise --registry-max-blob-size", bytesText(limit), what),
		map[string]int64{"limit": limit})
	st.mu.Lock()
	st.cancel = true
	st.mu.Unlock()
}

func (st *reqState) get() *errorBody {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.override
}

// cancelUpload: the upload went over the limit in a request the access
// controller granted.
func (st *reqState) cancelUpload() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cancel && st.authorized
}

var errTooLarge = errors.New("request body over the registry's size limit")

// limitedBody refuses a body declared or found to be over max bytes.
type limitedBody struct {
	io.ReadCloser
	declared, max, n int64
	trip             func(n int64)
	tripped          bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.tripped {
		return 0, errTooLarge
	}
	if b.declared > b.max {
		b.tripped = true
		b.trip(b.declared)
		return 0, errTooLarge
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		b.tripped = true
		b.trip(b.n)
		return 0, errTooLarge
	}
	return n, err
}

// overrideWriter passes distribution's response through, except that an
// error answer is replaced by the request's override when one is set, and
// MANIFEST_BLOB_UNKNOWN answers to a manifest PUT get a message naming the
// digest.
type overrideWriter struct {
	http.ResponseWriter
	st           *reqState
	manifestRepo string

	wrote, swallow bool
	buffer         *bytes.Buffer
	status         int
}

func (o *overrideWriter) WriteHeader(code int) {
	if o.wrote || code < 200 {
		if code < 200 && !o.wrote {
			o.ResponseWriter.WriteHeader(code)
		}
		return
	}
	o.wrote = true
	if eb := o.st.get(); eb != nil && code >= 400 {
		o.swallow = true
		writeError(o.ResponseWriter, eb)
		return
	}
	if o.manifestRepo != "" && code == http.StatusBadRequest {
		o.buffer, o.status = &bytes.Buffer{}, code
		return
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *overrideWriter) Write(p []byte) (int, error) {
	if !o.wrote {
		o.WriteHeader(http.StatusOK)
	}
	switch {
	case o.swallow:
		return len(p), nil
	case o.buffer != nil:
		return o.buffer.Write(p)
	}
	return o.ResponseWriter.Write(p)
}

func (o *overrideWriter) Flush() {
	if o.swallow || o.buffer != nil {
		return
	}
	if f, ok := o.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (o *overrideWriter) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// finish writes a buffered manifest error, with the messages rewritten.
func (o *overrideWriter) finish() {
	if o.buffer == nil {
		return
	}
	body := o.buffer.Bytes()
	var env struct {
		Errors []map[string]any `json:"errors"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Errors) > 0 {
		for _, e := range env.Errors {
			if e["code"] == errcode.ErrorCodeManifestBlobUnknown.String() {
				e["message"] = fmt.Sprintf("manifest references %v, which repository %s does not hold: push that blob (or manifest) to this repository first, then the manifest", e["detail"], o.manifestRepo)
			}
		}
		if b, err := json.Marshal(env); err == nil {
			body = append(b, '\n')
		}
	}
	h := o.ResponseWriter.Header()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	o.ResponseWriter.WriteHeader(o.status)
	_, _ = o.ResponseWriter.Write(body)
}

func writeError(w http.ResponseWriter, eb *errorBody) {
	e := map[string]any{"code": eb.code.String(), "message": eb.message}
	if eb.detail != nil {
		e["detail"] = eb.detail
	}
	b, _ := json.Marshal(map[string]any{"errors": []any{e}})
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Del("Docker-Content-Digest")
	w.WriteHeader(eb.status)
	_, _ = w.Write(b)
}

// cancelUpload removes an upload refused for its size: its data (an
// unfinished multipart upload on S3) and its directory.
func (r *Registry) cancelUpload(ctx context.Context, repo, id string) {
	if !validRepo(repo) {
		return
	}
	if fw, err := r.raw.Writer(ctx, uploadDataPath(repo, id), true); err == nil {
		_ = fw.Cancel(ctx)
		_ = fw.Close()
	}
	if err := r.raw.Delete(ctx, uploadDirPath(repo, id)); err != nil && !isNotFound(err) {
		r.log.Warn("registry: removing an upload refused for its size", "repository", repo, "upload", id, "err", err)
	}
}

func bytesText(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	var s string
	switch {
	case n >= gib && n%gib == 0:
		s = fmt.Sprintf("%d GiB", n/gib)
	case n >= mib && n%mib == 0:
		s = fmt.Sprintf("%d MiB", n/mib)
	case n >= kib && n%kib == 0:
		s = fmt.Sprintf("%d KiB", n/kib)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%s (%d bytes)", s, n)
}

// sizeText: the declared size when there was one, else what was read.
func sizeText(n, declared int64) string {
	if declared > 0 && declared == n {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("at least %d bytes", n)
}
