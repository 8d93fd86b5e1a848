package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kstack/kstack/internal/audit"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
)

// auditInfo is what the pipeline learns of a request on its way (which
// member, which resource), for its audit record.
type auditInfo struct {
	cluster string
	attrs   *attributes.Attributes
}

type auditKey struct{}

// noteAudit tells the request's audit record what the decision point saw.
func noteAudit(ctx context.Context, cluster string, a attributes.Attributes) {
	if i, ok := ctx.Value(auditKey{}).(*auditInfo); ok {
		i.cluster, i.attrs = cluster, &a
	}
}

// audited serves r and then records it, whatever the outcome (refusals
// included): every request the gateway serves leaves one record. user is
// nil when authentication failed.
func (s *Server) audited(w http.ResponseWriter, r *http.Request, user func() *directory.Principal, serve func(http.ResponseWriter, *http.Request)) {
	if s.Audit == nil {
		serve(w, r)
		return
	}
	info := &auditInfo{}
	r = r.WithContext(context.WithValue(r.Context(), auditKey{}, info))
	// A create names its object in the body, or only in the answer
	// (generateName): the answer is kept, up to a bound, to read it.
	sw := &statusWriter{ResponseWriter: w, keep: r.Method == http.MethodPost}
	start := time.Now()
	defer func() {
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		if a := info.attrs; a != nil && a.Verb == "create" && a.Name == "" && a.Subresource == "" && code < 300 {
			created := *a
			created.Name = createdName(sw.kept.Bytes())
			info.attrs = &created
		}
		s.Audit(audit.Entry{
			Received: start, Latency: time.Since(start), User: user(),
			Method: r.Method, URI: r.URL.RequestURI(), SourceIP: audit.SourceIP(r), UserAgent: r.UserAgent(),
			Code: code, Cluster: info.cluster, Attributes: info.attrs, Origin: audit.OriginFrom(r.Context()),
		})
	}()
	serve(sw, r)
}

// statusWriter keeps the response's status code; it passes flushes and
// hijacks (watches, logs -f, exec) through.
type statusWriter struct {
	http.ResponseWriter
	code int
	// keep: the first maxKept bytes of the answer are kept in kept.
	keep bool
	kept bytes.Buffer
}

// maxKept bounds what is kept of a create's answer: an object larger than
// this is recorded without its name.
const maxKept = 1 << 20

// createdName is metadata.name of a created object's answer, JSON or
// Kubernetes protobuf ("" when it is neither, or was too large to keep).
func createdName(body []byte) string {
	if bytes.HasPrefix(body, protobufMagic) {
		return protobufName(body[len(protobufMagic):])
	}
	var obj struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	return obj.Metadata.Name
}

// protobufMagic starts every Kubernetes protobuf body.
var protobufMagic = []byte("k8s\x00")

// protobufName reads the name of a protobuf-encoded object: the body is a
// runtime.Unknown whose raw bytes are the object, and every Kubernetes
// object has its ObjectMeta as field 1, whose field 1 is the name.
func protobufName(body []byte) string {
	var u runtime.Unknown
	if u.Unmarshal(body) != nil {
		return ""
	}
	meta := protoField(u.Raw, 1)
	return string(protoField(meta, 1))
}

// protoField is the first length-delimited field num of msg.
func protoField(msg []byte, num protowire.Number) []byte {
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return nil
		}
		msg = msg[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return nil
			}
			return v
		}
		l = protowire.ConsumeFieldValue(n, typ, msg)
		if l < 0 {
			return nil
		}
		msg = msg[l:]
	}
	return nil
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.keep && w.kept.Len()+len(b) <= maxKept {
		w.kept.Write(b)
	} else {
		w.keep = false
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
