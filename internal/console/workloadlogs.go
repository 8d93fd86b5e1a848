package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// The "Logs" tab of a workload: the recent lines of every container of its
// pods, read through the member's API as the user, merged by time and
// searched on the server.
const (
	// defaultLogTail is the lines read per container unless asked otherwise.
	defaultLogTail = 200
	// maxLogPods are the pods read (the newest); the rest are counted.
	maxLogPods = 50
	// maxLogStreams are the containers read, over all those pods.
	maxLogStreams = 100
	// logBudget is what one page reads over all its containers: each
	// container's share is its LimitBytes, so a noisy workload costs at
	// most this much memory, however long its lines.
	logBudget = 4 << 20
	// maxContainerBytes caps one container's share of a small workload.
	maxContainerBytes = 1 << 20
	// logReaders read containers' logs at the same time.
	logReaders = 6
)

// logTails are the line counts the page offers.
var logTails = []int{100, 200, 500, 1000}

// logKinds are the workloads that have the tab: those whose pods a
// selector finds.
var logKinds = map[string]bool{"deployments": true, "statefulsets": true, "daemonsets": true, "jobs": true}

// containerLogLimit is each of n containers' share of the page's budget.
func containerLogLimit(n int) int64 {
	if n < 1 {
		n = 1
	}
	return min(int64(logBudget/n), maxContainerBytes)
}

// logSource is one container's log as read: its lines, each with the
// timestamp the runtime gave it (Timestamps=true).
type logSource struct {
	Pod, Container string
	Data           []byte
	// Err is why the log could not be read (shown in place of its lines).
	Err string
	// Truncated: the read stopped at the container's share of the budget.
	Truncated bool
}

// logLine is one line of the merged log.
type logLine struct {
	Time           time.Time
	Pod, Container string
	Text           string
	// Parts are Text cut around the search's matches, to mark them.
	Parts []logPart
}

type logPart struct {
	Text  string
	Match bool
}

// Stamp is the line's time as the page shows it.
func (l logLine) Stamp() string {
	if l.Time.IsZero() {
		return "-"
	}
	return l.Time.UTC().Format("2006-01-02T15:04:05.000Z")
}

// mergedLogs are the lines that match a search, oldest first.
type mergedLogs struct {
	Lines []logLine
	// Total are the lines read; Matched those shown.
	Total, Matched int
	// Counts are each source's lines read, in the sources' order.
	Counts []int
}

// mergeLogs merges the sources' lines by their timestamps (a line without
// one keeps its place after its container's previous line; equal times keep
// the sources' order) and keeps those that contain q, case-insensitively
// (the line's text only, not its pod or container). A truncated source's
// last line, cut in the middle, is dropped.
func mergeLogs(sources []logSource, q string) mergedLogs {
	var out mergedLogs
	lq := strings.ToLower(q)
	out.Counts = make([]int, len(sources))
	for i, src := range sources {
		data := src.Data
		if src.Truncated && len(data) > 0 && data[len(data)-1] != '\n' {
			if j := bytes.LastIndexByte(data, '\n'); j >= 0 {
				data = data[:j+1]
			} else {
				data = nil
			}
		}
		var prev time.Time
		for len(data) > 0 {
			var line []byte
			if j := bytes.IndexByte(data, '\n'); j >= 0 {
				line, data = data[:j], data[j+1:]
			} else {
				line, data = data, nil
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			t, text := splitTimestamp(string(line))
			if t.IsZero() {
				t = prev
			} else {
				prev = t
			}
			out.Counts[i]++
			out.Total++
			parts, ok := matchParts(text, lq)
			if !ok {
				continue
			}
			out.Lines = append(out.Lines, logLine{Time: t, Pod: src.Pod, Container: src.Container, Text: text, Parts: parts})
		}
	}
	sort.SliceStable(out.Lines, func(i, j int) bool { return out.Lines[i].Time.Before(out.Lines[j].Time) })
	out.Matched = len(out.Lines)
	return out
}

// splitTimestamp takes the runtime's RFC 3339 timestamp off a line; a line
// without one is returned whole with a zero time.
func splitTimestamp(line string) (time.Time, string) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		ts, rest = line, ""
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, line
	}
	return t, rest
}

// matchParts cuts text around the occurrences of lq (lower case); ok is
// false when lq is not in text. An empty search matches every line whole.
func matchParts(text, lq string) ([]logPart, bool) {
	if lq == "" {
		return []logPart{{Text: text}}, true
	}
	lt := strings.ToLower(text)
	if !strings.Contains(lt, lq) {
		return nil, false
	}
	if len(lt) != len(text) {
		// Lower-casing changed the byte lengths (some Unicode letters): the
		// line matches, but the offsets would not fit the text to mark it.
		return []logPart{{Text: text}}, true
	}
	var parts []logPart
	for {
		i := strings.Index(lt, lq)
		if i < 0 {
			break
		}
		if i > 0 {
			parts = append(parts, logPart{Text: text[:i]})
		}
		parts = append(parts, logPart{Text: text[i : i+len(lq)], Match: true})
		text, lt = text[i+len(lq):], lt[i+len(lq):]
	}
	if text != "" {
		parts = append(parts, logPart{Text: text})
	}
	return parts, true
}

// logStream is one container's line in the page's list of what was read.
type logStream struct {
	Pod, Container, Err string
	Truncated           bool
	Lines               int
}

// workloadLogsData is the Logs tab.
type workloadLogsData struct {
	NS         nsView
	Kind       *kindInfo
	Name       string
	ObjectURL  string
	LogsURL    string
	Q          string
	Tail       int
	Tails      []int
	Logs       mergedLogs
	Streams    []logStream
	Pods       int
	Skipped    int
	LimitBytes int64
	Err        string
}

// Limit is each container's share of the page's budget, readably.
func (d workloadLogsData) Limit() string {
	if d.LimitBytes >= 1<<20 && d.LimitBytes%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", d.LimitBytes>>20)
	}
	return fmt.Sprintf("%d KiB", d.LimitBytes>>10)
}

func workloadLogsURL(cluster, ns, kind, name string) string {
	return nsURL(cluster, ns) + "/" + kind + "/" + url.PathEscape(name) + "/logs"
}

// workloadLogs is the Logs tab of a Deployment, StatefulSet, DaemonSet or
// Job: the last lines of each container of its pods (found by its
// selector), merged by time, searched.
func (s *Server) workloadLogs(w http.ResponseWriter, r *request) {
	k, ok := r.namespacedKind(w)
	if !ok {
		return
	}
	if !logKinds[k.Name] {
		s.fail(w, r.Request, http.StatusNotFound, k.Title+" have no logs tab: open one of their pods")
		return
	}
	d := workloadLogsData{NS: r.nsView(k.Name), Kind: k, Name: r.PathValue("name"), Tails: logTails, Tail: defaultLogTail,
		Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	d.ObjectURL = d.NS.Base + "/" + k.Name + "/" + url.PathEscape(d.Name)
	d.LogsURL = workloadLogsURL(d.NS.Cluster, d.NS.Namespace, k.Name, d.Name)
	if n, err := strconv.Atoi(r.URL.Query().Get("tail")); err == nil {
		for _, t := range logTails {
			if t == n {
				d.Tail = n
			}
		}
	}
	cs, err := r.member(d.NS.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	sel, err := workloadSelector(ctx, cs, k.Name, d.NS.Namespace, d.Name)
	if err != nil {
		r.fail(w, err)
		return
	}
	crumbs := append(r.crumbs(), crumb{k.Title, d.NS.Base + "/" + k.Name}, crumb{d.Name, d.ObjectURL})
	title := "Logs of " + k.Kind + " " + d.Name
	pods, err := cs.CoreV1().Pods(d.NS.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String(), Limit: 500})
	if err != nil {
		code, msg := explain(err)
		if code == http.StatusUnauthorized {
			r.fail(w, err)
			return
		}
		d.Err = "listing the pods: " + msg
		r.page(w, "workloadlogs", "business", title, d, crumbs...)
		return
	}
	items := pods.Items
	d.Pods = len(items)
	// The newest pods are read: the others are older replicas, or gone soon.
	sort.SliceStable(items, func(i, j int) bool {
		return items[j].CreationTimestamp.Before(&items[i].CreationTimestamp)
	})
	if len(items) > maxLogPods {
		d.Skipped, items = len(items)-maxLogPods, items[:maxLogPods]
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	var want []logSource
	for _, p := range items {
		for _, c := range p.Spec.Containers {
			want = append(want, logSource{Pod: p.Name, Container: c.Name})
		}
	}
	if len(want) > maxLogStreams {
		for i := maxLogStreams; i < len(want); i++ {
			want[i].Err = fmt.Sprintf("not read: the page reads at most %d containers", maxLogStreams)
		}
	}
	d.LimitBytes = containerLogLimit(min(len(want), maxLogStreams))
	sources := readLogs(ctx, cs, d.NS.Namespace, want, int64(d.Tail), d.LimitBytes)
	d.Logs = mergeLogs(sources, d.Q)
	for i, src := range sources {
		d.Streams = append(d.Streams, logStream{Pod: src.Pod, Container: src.Container, Err: src.Err, Truncated: src.Truncated, Lines: d.Logs.Counts[i]})
	}
	r.page(w, "workloadlogs", "business", title, d, crumbs...)
}

// workloadSelector is the selector of a workload's pods.
func workloadSelector(ctx context.Context, cs kubernetes.Interface, kind, ns, name string) (labels.Selector, error) {
	var ls *metav1.LabelSelector
	switch kind {
	case "deployments":
		o, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		ls = o.Spec.Selector
	case "statefulsets":
		o, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		ls = o.Spec.Selector
	case "daemonsets":
		o, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		ls = o.Spec.Selector
	case "jobs":
		o, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		ls = o.Spec.Selector
		if ls == nil {
			ls = &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/job-name": name}}
		}
	default:
		return nil, fmt.Errorf("%s have no pods of their own to read", kind)
	}
	if ls == nil {
		return nil, fmt.Errorf("%s has no selector: its pods cannot be found", name)
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("the selector of %s: %w", name, err)
	}
	if sel.Empty() {
		// An empty selector would read every pod of the namespace.
		return nil, fmt.Errorf("%s has an empty selector: its pods cannot be told from the others", name)
	}
	return sel, nil
}

// readLogs reads the last tail lines, with timestamps, of each wanted
// container (those without an Err yet), at most limit bytes each.
func readLogs(ctx context.Context, cs kubernetes.Interface, ns string, want []logSource, tail, limit int64) []logSource {
	out := make([]logSource, len(want))
	copy(out, want)
	sem := make(chan struct{}, logReaders)
	var wg sync.WaitGroup
	for i := range out {
		if out[i].Err != "" {
			continue
		}
		wg.Add(1)
		go func(src *logSource) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			src.Data, src.Truncated, src.Err = readLog(ctx, cs, ns, src.Pod, src.Container, tail, limit)
		}(&out[i])
	}
	wg.Wait()
	return out
}

func readLog(ctx context.Context, cs kubernetes.Interface, ns, pod, container string, tail, limit int64) ([]byte, bool, string) {
	opts := &corev1.PodLogOptions{Container: container, TailLines: &tail, Timestamps: true, LimitBytes: &limit}
	rc, err := cs.CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		_, msg := explain(err)
		return nil, false, msg
	}
	defer rc.Close()
	// The member should stop at LimitBytes; the console does regardless.
	data, err := io.ReadAll(io.LimitReader(rc, limit))
	truncated := int64(len(data)) >= limit
	if err != nil {
		return data, truncated, "reading the log: " + err.Error()
	}
	return data, truncated, ""
}
