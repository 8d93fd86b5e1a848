package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/inprocess"
)

// The record searches' APIs (internal/auditapi, internal/eventapi).
const (
	auditAPI  = "/audit/apis/audit.tkestack.io/v1/events"
	eventsAPI = "/event/apis/event.tkestack.io/v1/clusters/"
	// recordPage is the page size of the console's record searches.
	recordPage = 50
)

func (s *Server) recordRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/platform/audit", s.authed(s.audit))
	mux.Handle("GET /console/platform/audit/export", s.authed(s.auditExport))
	mux.Handle("GET /console/platform/clusters/{id}/events/export", s.authed(s.eventsExport))
	mux.Handle("POST /console/platform/clusters/{id}/event-persistence", s.authed(s.setEventPersistence))
}

// timeRange is a preset of a search's time range: the last d.
type timeRange struct {
	Value, Label string
	d            time.Duration
}

var timeRanges = []timeRange{
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"custom", "Custom (UTC)", 0},
}

// recordForm is a record search's form as the user filled it in.
type recordForm struct {
	// Range is a preset of timeRanges; Start and End are its custom times.
	Range, Start, End string
	// Values are the filters by the API's parameter names.
	Values map[string]string
	// Errors are the fields' errors; Error is the search's (the API's answer).
	Errors map[string]string
	Error  string
	// Ranges are the presets, for the select.
	Ranges []timeRange
}

// customLayouts are the times a custom range takes: datetime-local inputs
// (taken as UTC, as the form says) and RFC 3339.
var customLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

func parseCustomTime(s string) (time.Time, bool) {
	for _, l := range customLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// readRecordForm reads a search from the page's query: the time range and
// filters. api is the API's query for it, without paging. A preset range
// ends at "at" (Unix seconds) when the query pins it, so that the pages of
// one search cover the same range; now otherwise.
func readRecordForm(q url.Values, filters []string, now time.Time) (f recordForm, api url.Values, at time.Time) {
	f = recordForm{Range: q.Get("range"), Start: strings.TrimSpace(q.Get("start")), End: strings.TrimSpace(q.Get("end")),
		Values: map[string]string{}, Errors: map[string]string{}, Ranges: timeRanges}
	api = url.Values{}
	at = now
	if n, err := strconv.ParseInt(q.Get("at"), 10, 64); err == nil && n > 0 && n <= now.Unix() {
		at = time.Unix(n, 0)
	}
	if f.Range == "" {
		f.Range = "24h"
	}
	switch f.Range {
	case "custom":
		for _, b := range []struct{ field, val, param string }{{"start", f.Start, "startTime"}, {"end", f.End, "endTime"}} {
			if b.val == "" {
				continue
			}
			t, ok := parseCustomTime(b.val)
			if !ok {
				f.Errors[b.field] = fmt.Sprintf("%q is not a time: use 2026-01-02T10:00 (UTC) or RFC 3339", b.val)
				continue
			}
			api.Set(b.param, t.UTC().Format(time.RFC3339))
		}
	default:
		found := false
		for _, r := range timeRanges {
			if r.Value == f.Range && r.d > 0 {
				api.Set("startTime", at.Add(-r.d).UTC().Format(time.RFC3339))
				api.Set("endTime", at.UTC().Format(time.RFC3339))
				found = true
			}
		}
		if !found {
			f.Errors["range"] = "choose one of the ranges"
		}
	}
	for _, k := range filters {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			f.Values[k] = v
			api.Set(k, v)
		}
	}
	return f, api, at
}

// recordResults are a page of a search with its navigation.
type recordResults struct {
	Form recordForm
	// Older is the next page; Newest the first. Export downloads every
	// record of the search as JSON lines through the console.
	Older, Newest, Export string
	Searched              bool
}

// searchRecords runs the page's search against the API at path into out,
// and fills in the form, its error and the navigation.
func (r *request) searchRecords(path, exportPath string, filters []string, out any, next func() string) recordResults {
	q := r.URL.Query()
	f, api, at := readRecordForm(q, filters, time.Now())
	res := recordResults{Form: f}
	pinned := withQuery(r.URL, "at", strconv.FormatInt(at.Unix(), 10))
	pu, _ := url.Parse(pinned)
	if len(f.Errors) > 0 {
		return res
	}
	res.Export = exportPath + "?" + withoutKeys(pu.Query(), "continue", "tab").Encode()
	api.Set("limit", strconv.Itoa(recordPage))
	if c := q.Get("continue"); c != "" {
		api.Set("continue", c)
		res.Newest = withQuery(withoutKey(r.URL, "at"), "continue", "")
	}
	code, body := r.call(http.MethodGet, path+"?"+api.Encode(), nil)
	if code != http.StatusOK {
		res.Form.Error = statusMessage(code, body)
		return res
	}
	if err := json.Unmarshal(body, out); err != nil {
		res.Form.Error = "the platform's answer could not be read: " + err.Error()
		return res
	}
	res.Searched = true
	if token := next(); token != "" {
		res.Older = withQuery(pu, "continue", token)
	}
	return res
}

func withoutKeys(q url.Values, keys ...string) url.Values {
	for _, k := range keys {
		q.Del(k)
	}
	return q
}

// withoutKey is u without one query parameter.
func withoutKey(u *url.URL, key string) *url.URL {
	c := *u
	c.RawQuery = withoutKeys(u.Query(), key).Encode()
	return &c
}

// auditRow is one audit record as the table shows it.
type auditRow struct {
	Time, User, Verb, Resource, Namespace, Cluster, Code, Via, Source, Latency string
	Failed                                                                     bool
}

func auditRowOf(ev *auditv1.Event) auditRow {
	row := auditRow{Time: ev.RequestReceivedTimestamp.UTC().Format("2006-01-02 15:04:05"), User: ev.User.Username, Verb: ev.Verb,
		Cluster: ev.Annotations["kstack.io/cluster"], Via: ev.Annotations["kstack.io/via"], Latency: ev.Annotations["kstack.io/latency"]}
	if ev.ResponseStatus != nil && ev.ResponseStatus.Code != 0 {
		row.Code = strconv.Itoa(int(ev.ResponseStatus.Code))
		row.Failed = ev.ResponseStatus.Code >= 400
	}
	if len(ev.SourceIPs) > 0 {
		row.Source = ev.SourceIPs[0]
	}
	if ref := ev.ObjectRef; ref != nil && ref.Resource != "" {
		row.Resource, row.Namespace = ref.Resource, ref.Namespace
		if ref.Name != "" {
			row.Resource += "/" + ref.Name
		}
		if ref.Subresource != "" {
			row.Resource += "/" + ref.Subresource
		}
	} else {
		row.Resource, _, _ = strings.Cut(ev.RequestURI, "?")
	}
	return row
}

// auditFilters are the audit page's filters, by the API's names.
var auditFilters = []string{"user", "cluster", "namespace", "resource", "verb", "result"}

type auditData struct {
	recordResults
	Rows []auditRow
	// All: the user sees everyone's records (else their own).
	All bool
}

// audit is the audit page: every user has it; the API decides whose
// records they see.
func (s *Server) audit(w http.ResponseWriter, r *request) {
	var list auditv1.EventList
	d := auditData{All: decision.Admin(r.user) || r.can("", "listAuditEvent", "auditevent:*")}
	d.recordResults = r.searchRecords(auditAPI, Prefix+"/platform/audit/export", auditFilters, &list, func() string { return list.Continue })
	for i := range list.Items {
		d.Rows = append(d.Rows, auditRowOf(&list.Items[i]))
	}
	section := "business"
	if r.can("", "listCluster", "cluster:*") {
		section = "platform"
	}
	r.page(w, "audit", section, "Audit", d)
}

func (s *Server) auditExport(w http.ResponseWriter, r *request) {
	r.export(w, auditAPI+"/export", auditFilters)
}

// eventRow is one persisted event as the table shows it.
type eventRow struct {
	LastSeen, Type, Reason, Object, Namespace, Message string
	Count                                              int32
}

func eventRowOf(ev *corev1.Event) eventRow {
	row := eventRow{Type: ev.Type, Reason: ev.Reason, Object: strings.ToLower(ev.InvolvedObject.Kind) + "/" + ev.InvolvedObject.Name,
		Namespace: ev.Namespace, Message: ev.Message, Count: max(ev.Count, 1)}
	if ev.Series != nil {
		row.Count = max(row.Count, ev.Series.Count)
	}
	var t time.Time
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		t = ev.Series.LastObservedTime.Time
	case !ev.LastTimestamp.IsZero():
		t = ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		t = ev.EventTime.Time
	default:
		t = ev.FirstTimestamp.Time
	}
	if !t.IsZero() {
		row.LastSeen = t.UTC().Format("2006-01-02 15:04:05")
	}
	return row
}

// eventFilters are the persisted events' filters, by the API's names.
var eventFilters = []string{"namespace", "kind", "name", "reason"}

// eventSearch is the cluster page's "persisted events" tab.
type eventSearch struct {
	recordResults
	Rows []eventRow
	// On: the cluster's event persistence; CanToggle: the user may switch it.
	On, CanToggle bool
}

// persistedEvents searches the record store for cluster's events.
func (r *request) persistedEvents(cls *platformv1.Cluster) *eventSearch {
	var list corev1.EventList
	id := cls.Name
	d := &eventSearch{On: cls.Spec.Features.EventPersistence, CanToggle: r.can("", "patchCluster", "cluster:"+id)}
	base := Prefix + "/platform/clusters/" + url.PathEscape(id) + "/events/export"
	d.recordResults = r.searchRecords(eventsAPI+url.PathEscape(id)+"/events", base, eventFilters, &list, func() string { return list.Continue })
	for i := range list.Items {
		d.Rows = append(d.Rows, eventRowOf(&list.Items[i]))
	}
	return d
}

func (s *Server) eventsExport(w http.ResponseWriter, r *request) {
	r.export(w, eventsAPI+url.PathEscape(r.PathValue("id"))+"/events/export", eventFilters)
}

// export streams the export of the API at path, with the page's search,
// to the browser as a download; a refusal is a page that says why.
func (r *request) export(w http.ResponseWriter, path string, filters []string) {
	f, api, _ := readRecordForm(r.URL.Query(), filters, time.Now())
	if len(f.Errors) > 0 {
		var msgs []string
		for k, v := range f.Errors {
			msgs = append(msgs, k+": "+v)
		}
		sort.Strings(msgs)
		r.failWith(w, http.StatusBadRequest, strings.Join(msgs, "; "))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, inprocess.Host+path+"?"+api.Encode(), nil)
	if err != nil {
		r.s.fail(w, r.Request, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := r.transport().RoundTrip(req)
	if err != nil {
		r.failWith(w, http.StatusBadGateway, err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		r.failWith(w, resp.StatusCode, statusMessage(resp.StatusCode, body))
		return
	}
	for _, h := range []string{"Content-Type", "Content-Disposition"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(http.StatusOK)
	// Flushed as it comes, so a long export starts downloading at once.
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// failWith shows msg on an error page with the user's navigation.
func (r *request) failWith(w http.ResponseWriter, code int, msg string) {
	if isHTMX(r.Request) {
		r.s.fail(w, r.Request, code, msg)
		return
	}
	v := r.view("", http.StatusText(code), nil)
	v.Error = msg
	r.s.execute(w, code, "error", "layout", v)
}

// setEventPersistence switches a cluster's event persistence through the
// platform's API as the user, which decides whether they may.
func (s *Server) setEventPersistence(w http.ResponseWriter, r *request) {
	id := r.PathValue("id")
	on := r.PostFormValue("enable") == "true"
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	// false is sent as such: the field is omitempty in Go.
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"features": map[string]any{"eventPersistence": on}}})
	cls := &platformv1.Cluster{}
	cls.Name = id
	if err := c.Patch(r.Context(), cls, client.RawPatch(types.MergePatchType, patch)); err != nil {
		r.fail(w, err)
		return
	}
	done := "Event persistence is off: the platform keeps no new events of " + id
	if on {
		done = "Event persistence is on: the platform keeps the events of " + id + " from now on"
	}
	s.Log.Info("console event persistence", "cluster", id, "on", on, "by", r.user.Name())
	redirect(w, r.Request, Prefix+"/platform/clusters/"+url.PathEscape(id)+"?tab=persisted-events&notice="+url.QueryEscape(done))
}
