// Package audit records who did what on the platform: one audit.k8s.io/v1
// Event for every request the gateway serves (the platform API, the proxy
// into members, the console's calls), and for every write that reached the
// platform's kube-apiserver by another path (its audit webhook backend:
// controllers, break-glass). Bodies are never recorded, so no Secret's
// content is. Records go to the record store through its queue-backed
// writer, so a slow or absent store never delays a request.
package audit

import (
	"encoding/json"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/recordstore"
)

// Kind is the record store's kind for audit records.
const Kind = "audit"

// Annotations the platform adds to the events it records.
const (
	AnnotationTenant  = "kstack.io/tenant"
	AnnotationCluster = "kstack.io/cluster"
	AnnotationVia     = "kstack.io/via"
	AnnotationLatency = "kstack.io/latency"
	AnnotationProject = "kstack.io/project"
)

// Ways a request reached the platform (the kstack.io/via annotation).
const (
	ViaAPI       = "api"
	ViaProxy     = "proxy"
	ViaConsole   = "console"
	ViaAPIServer = "apiserver"
)

// Sink takes records without blocking (recordstore.Writer).
type Sink interface {
	Add(r recordstore.Record) error
}

// Entry is what the gateway knows of one request it served.
type Entry struct {
	Received time.Time
	Latency  time.Duration
	// User is the caller; nil when authentication failed.
	User      *directory.Principal
	Method    string
	URI       string
	SourceIP  string
	UserAgent string
	Code      int
	// Cluster is the member the request went to ("" for the platform API).
	Cluster string
	// Attributes are what the decision point saw, when the request got
	// that far (nil: the path alone is known).
	Attributes *attributes.Attributes
	// Origin is set when an in-process caller (the console) made the request.
	Origin *Origin
}

// Recorder turns the gateway's entries into records under a policy.
type Recorder struct {
	Policy *Policy
	Sink   Sink
	// refused counts entries the sink's queue had no room for.
	refused atomic.Int64
}

// Refused is how many records the record store's queue refused since start.
func (r *Recorder) Refused() int64 { return r.refused.Load() }

// Record records e if the policy keeps it.
func (r *Recorder) Record(e Entry) {
	ev, rec, ok := r.build(e)
	if !ok {
		return
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	rec.Data = data
	if err := r.Sink.Add(rec); err != nil {
		r.refused.Add(1)
	}
}

// build makes the event and its record's index fields; ok is false when the
// policy keeps nothing of it.
func (r *Recorder) build(e Entry) (*auditv1.Event, recordstore.Record, bool) {
	a := e.Attributes
	var ui authnv1.UserInfo
	tenant := ""
	if e.User != nil {
		ui = authnv1.UserInfo{Username: e.User.Name(), Groups: e.User.Groups}
		tenant = TenantOf(e.User)
		ui.Extra = map[string]authnv1.ExtraValue{AnnotationTenant: {tenant}}
	}
	level := r.Policy.Level(authorizerAttributes(e, ui))
	if level == auditinternal.LevelNone {
		return nil, recordstore.Record{}, false
	}
	via := ViaAPI
	if e.Cluster != "" {
		via = ViaProxy
	}
	src, agent := e.SourceIP, e.UserAgent
	if e.Origin != nil {
		via, src, agent = e.Origin.Via, e.Origin.SourceIP, e.Origin.UserAgent
	}
	ev := &auditv1.Event{
		TypeMeta:                 metav1.TypeMeta{APIVersion: auditv1.SchemeGroupVersion.String(), Kind: "Event"},
		Level:                    auditv1.LevelMetadata,
		AuditID:                  types.UID(uuid.NewString()),
		Stage:                    auditv1.StageResponseComplete,
		RequestURI:               e.URI,
		Verb:                     verbOf(e),
		User:                     ui,
		UserAgent:                agent,
		ResponseStatus:           &metav1.Status{Code: int32(e.Code)},
		RequestReceivedTimestamp: metav1.NewMicroTime(e.Received),
		StageTimestamp:           metav1.NewMicroTime(e.Received.Add(e.Latency)),
		Annotations: map[string]string{
			AnnotationVia:     via,
			AnnotationLatency: e.Latency.Round(time.Microsecond).String(),
		},
	}
	if src != "" {
		ev.SourceIPs = []string{src}
	}
	if tenant != "" {
		ev.Annotations[AnnotationTenant] = tenant
	}
	if e.Cluster != "" {
		ev.Annotations[AnnotationCluster] = e.Cluster
	}
	rec := recordstore.Record{
		Kind: Kind, Time: e.Received, Tenant: tenant, User: ui.Username, Cluster: e.Cluster,
		Verb: ev.Verb, Code: e.Code,
	}
	if a != nil && !a.NonResource {
		ev.ObjectRef = &auditv1.ObjectReference{
			Resource: plural(a), Namespace: a.Namespace, Name: a.Name, APIGroup: a.APIGroup, Subresource: a.Subresource,
		}
		rec.Namespace, rec.Resource, rec.Name = a.Namespace, ev.ObjectRef.Resource, a.Name
		if a.Project != "" {
			ev.Annotations[AnnotationProject] = a.Project
			rec.Project = a.Project
		}
	}
	return ev, rec, true
}

// verbOf is the Kubernetes verb, or for a request that never got
// attributes (refused before them) the method in lower case.
func verbOf(e Entry) string {
	if e.Attributes != nil && e.Attributes.Verb != "" {
		return e.Attributes.Verb
	}
	switch e.Method {
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return "unknown"
}

// plural is the resource as Kubernetes names it in a path: the attributes
// keep the singular kind, and the URI the plural.
func plural(a *attributes.Attributes) string {
	if p := a.Plural; p != "" {
		return p
	}
	return a.Kind
}

// authorizerAttributes is e as the audit policy's rule checker reads it.
func authorizerAttributes(e Entry, ui authnv1.UserInfo) authorizer.Attributes {
	rec := authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: ui.Username, Groups: ui.Groups},
		Verb: verbOf(e),
		Path: pathOf(e.URI),
	}
	if a := e.Attributes; a != nil && !a.NonResource {
		rec.ResourceRequest = true
		rec.APIGroup, rec.Resource, rec.Subresource = a.APIGroup, plural(a), a.Subresource
		rec.Namespace, rec.Name = a.Namespace, a.Name
	}
	return rec
}

func pathOf(uri string) string {
	for i := 0; i < len(uri); i++ {
		if uri[i] == '?' {
			return uri[:i]
		}
	}
	return uri
}

// SourceIP is the host part of a request's remote address. Proxies'
// forwarding headers are not trusted: nothing sits in front of the gateway
// that the platform could vouch for.
func SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LatencyOf reads the latency annotation back (for tables).
func LatencyOf(ev *auditv1.Event) time.Duration {
	d, err := time.ParseDuration(ev.Annotations[AnnotationLatency])
	if err != nil {
		return 0
	}
	return d
}

// TenantOf is the tenant p's records are kept under.
func TenantOf(p *directory.Principal) string {
	if p.Tenant == "" {
		return apigroup.DefaultTenant
	}
	return p.Tenant
}
