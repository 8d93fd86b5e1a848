package logagent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

type lokiSink struct {
	url        string
	tenant     string
	user, pass string
	labels     map[string]string
	metadata   bool
	hc         *http.Client
}

func newLoki(l *LokiSink, password string) (*lokiSink, error) {
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("loki url %q: not an http(s) URL", l.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/loki/api/v1/push"
	u.RawPath = ""
	return &lokiSink{url: u.String(), tenant: l.TenantID, user: l.Username, pass: password,
		labels: l.Labels, metadata: l.StructuredMetadata, hc: &http.Client{Timeout: deliveryTimeout}}, nil
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

// labelsOf are a record's stream labels: cluster, namespace, pod, container
// and rule (a host file, with no pod, gets node and filename instead), plus
// the sink's own labels. Few labels on purpose: each combination is a Loki
// stream, and node or file would multiply them.
func (l *lokiSink) labelsOf(r *Record) map[string]string {
	m := make(map[string]string, 8+len(l.labels))
	for k, v := range l.labels {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("cluster", r.Cluster)
	set("namespace", r.Namespace)
	set("pod", r.Pod)
	set("container", r.Container)
	set("rule", r.Rule)
	if r.Pod == "" {
		set("node", r.Node)
		set("filename", r.File)
	}
	return m
}

func (l *lokiSink) deliver(ctx context.Context, items []*item) (int, int, error, error) {
	// Group by stream, keeping the order of lines within each.
	streams := map[string]*lokiStream{}
	var order []string
	for _, it := range items {
		r, err := it.record()
		if err != nil {
			return 0, 0, nil, err
		}
		labels := l.labelsOf(r)
		k := labelKey(labels)
		s := streams[k]
		if s == nil {
			s = &lokiStream{Stream: labels}
			streams[k] = s
			order = append(order, k)
		}
		v := []any{strconv.FormatInt(r.Time.UnixNano(), 10), r.Message}
		if l.metadata {
			md := map[string]string{}
			for k, v := range map[string]string{"node": r.Node, "stream": r.Stream, "file": r.File,
				"workload_kind": r.WorkloadKind, "workload_name": r.WorkloadName} {
				if v != "" {
					md[k] = v
				}
			}
			v = append(v, md)
		}
		s.Values = append(s.Values, v)
	}
	push := struct {
		Streams []*lokiStream `json:"streams"`
	}{}
	for _, k := range order {
		push.Streams = append(push.Streams, streams[k])
	}
	body, err := json.Marshal(push)
	if err != nil {
		return 0, 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if l.tenant != "" {
		req.Header.Set("X-Scope-OrgID", l.tenant)
	}
	if l.user != "" {
		req.SetBasicAuth(l.user, l.pass)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return len(items), 0, nil, nil
	}
	err = fmt.Errorf("%s: %s: %s", redact(l.url), resp.Status, snippet(b))
	if retryable(resp.StatusCode) {
		return 0, 0, nil, err
	}
	// 4xx: Loki refused the lines (too old, too long, limits): retrying
	// would block the queue forever.
	return len(items), len(items), err, nil
}

func (l *lokiSink) close() { l.hc.CloseIdleConnections() }

func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}
