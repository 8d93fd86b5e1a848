package audit

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/recordstore"
)

type sink struct {
	recs []recordstore.Record
	full bool
}

func (s *sink) Add(r recordstore.Record) error {
	if s.full {
		return errors.New("full")
	}
	s.recs = append(s.recs, r)
	return nil
}

func TestRecorder(t *testing.T) {
	s := &sink{}
	r := &Recorder{Policy: MustDefault(), Sink: s}
	alice := &directory.Principal{Username: "alice", Tenant: "t1", Groups: []string{"team"}}
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	secret := attributes.Attributes{Verb: "get", Kind: "secret", Plural: "secrets", Namespace: "web", Name: "db-password"}
	r.Record(Entry{Received: at, Latency: 12 * time.Millisecond, User: alice, Method: "GET", URI: "/api/v1/namespaces/web/secrets/db-password",
		SourceIP: "192.0.2.1", UserAgent: "kubectl", Code: 200, Cluster: "cls-a", Attributes: &secret})
	watch := attributes.Attributes{Verb: "watch", Kind: "pod", Plural: "pods"}
	r.Record(Entry{Received: at, User: alice, Method: "GET", URI: "/api/v1/pods?watch=true", Code: 200, Cluster: "cls-a", Attributes: &watch})
	r.Record(Entry{Received: at, Method: "GET", URI: "/version", Code: 200, Attributes: &attributes.Attributes{Verb: "get", NonResource: true}})
	r.Record(Entry{Received: at, Method: "POST", URI: "/platform/apis/x", Code: 401, SourceIP: "198.51.100.1"})
	if len(s.recs) != 2 {
		t.Fatalf("%d records, want 2 (watches and discovery are not kept): %+v", len(s.recs), s.recs)
	}
	rec := s.recs[0]
	if rec.Kind != Kind || rec.User != "t1:alice" || rec.Tenant != "t1" || rec.Cluster != "cls-a" || rec.Namespace != "web" ||
		rec.Resource != "secrets" || rec.Name != "db-password" || rec.Verb != "get" || rec.Code != 200 || !rec.Time.Equal(at) {
		t.Errorf("record %+v", rec)
	}
	var ev auditv1.Event
	if err := json.Unmarshal(rec.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Level != auditv1.LevelMetadata || ev.RequestObject != nil || ev.ResponseObject != nil || ev.ObjectRef.Name != "db-password" ||
		ev.Annotations[AnnotationVia] != ViaProxy || ev.Annotations[AnnotationLatency] != "12ms" || ev.SourceIPs[0] != "192.0.2.1" {
		t.Errorf("event %+v", ev)
	}
	if unauth := s.recs[1]; unauth.User != "" || unauth.Code != 401 || unauth.Verb != "create" || unauth.Tenant != "" {
		t.Errorf("a failed authentication recorded as %+v", unauth)
	}
	s.full = true
	r.Record(Entry{Received: at, User: alice, Method: "DELETE", URI: "/x", Code: 200})
	if r.Refused() != 1 {
		t.Errorf("refused = %d, want 1", r.Refused())
	}
}

func TestPolicyFile(t *testing.T) {
	p, err := ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  resources: [{group: \"\", resources: [\"configmaps\"]}]\n- level: RequestResponse\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	r := &Recorder{Policy: p, Sink: s}
	cm := attributes.Attributes{Verb: "create", Kind: "configmap", Plural: "configmaps", Namespace: "web"}
	sec := attributes.Attributes{Verb: "create", Kind: "secret", Plural: "secrets", Namespace: "web"}
	r.Record(Entry{Received: time.Now(), User: &directory.Principal{Username: "u"}, Method: "POST", Code: 201, Attributes: &cm})
	r.Record(Entry{Received: time.Now(), User: &directory.Principal{Username: "u"}, Method: "POST", Code: 201, Attributes: &sec})
	if len(s.recs) != 1 || s.recs[0].Resource != "secrets" || s.recs[0].Tenant != apigroup.DefaultTenant {
		t.Fatalf("records %+v", s.recs)
	}
	var ev auditv1.Event
	_ = json.Unmarshal(s.recs[0].Data, &ev)
	if ev.Level != auditv1.LevelMetadata {
		t.Errorf("level %s: RequestResponse must be recorded as Metadata (no bodies)", ev.Level)
	}
	if _, err := ParsePolicy([]byte("kind: Nope")); err == nil || !strings.Contains(err.Error(), "not a valid") {
		t.Errorf("a bad policy: %v", err)
	}
}

func TestReceiver(t *testing.T) {
	s := &sink{}
	rc := &Receiver{Sink: s}
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	ev := func(verb, user string, groups []string, stage auditv1.Stage) auditv1.Event {
		e := auditv1.Event{Verb: verb, Stage: stage, User: authn(user), RequestReceivedTimestamp: micro(at), StageTimestamp: micro(at.Add(3 * time.Millisecond)),
			ObjectRef: &auditv1.ObjectReference{Resource: "configmaps", Namespace: "default", Name: "note"}, ResponseStatus: &statusCode}
		if groups != nil {
			e.ImpersonatedUser = ptr(authn("alice"))
			e.ImpersonatedUser.Groups = groups
		}
		e.RequestObject = raw(`{"data":{"password":"hunter2"}}`)
		return e
	}
	list := auditv1.EventList{Items: []auditv1.Event{
		ev("create", "kstack-admin", nil, auditv1.StageResponseComplete),
		ev("create", "kstack-platform", []string{apigroup.ProxyGroup}, auditv1.StageResponseComplete),
		ev("list", "kstack-platform", nil, auditv1.StageResponseComplete),
		ev("delete", "kstack-admin", nil, auditv1.StageRequestReceived),
	}}
	body, _ := json.Marshal(list)
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/apiserver-audit", strings.NewReader(string(body))))
	if w.Code != http.StatusOK || len(s.recs) != 1 {
		t.Fatalf("%d, %d records, want the break-glass write alone: %+v", w.Code, len(s.recs), s.recs)
	}
	rec := s.recs[0]
	if rec.User != "kstack-admin" || rec.Cluster != GlobalCluster || rec.Name != "note" || rec.Tenant != "" || strings.Contains(string(rec.Data), "hunter2") {
		t.Errorf("record %+v %s", rec, rec.Data)
	}
	w = httptest.NewRecorder()
	rc.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/apiserver-audit", strings.NewReader("not json")))
	if w.Code != http.StatusBadRequest {
		t.Errorf("a bad batch: %d", w.Code)
	}
}
