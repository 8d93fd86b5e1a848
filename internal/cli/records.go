package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

const (
	auditEventsPath = "/audit/apis/audit.tkestack.io/v1/events"
	eventGroupPath  = "/event/apis/event.tkestack.io/v1/clusters/"
	// maxPage is the record store's largest page (recordstore.MaxLimit).
	maxPage = 1000
)

// moreHint is what a search says on stderr when it showed one page of several.
const moreHint = "more: use --continue %s or --all"

// rangeFlags are a search's time range: --since, or --start and --end.
type rangeFlags struct {
	since, start, end string
}

func (f *rangeFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "only records newer than this, e.g. 30m, 1h, 7d")
	fl.StringVar(&f.start, "start", "", "only records at or after this time (RFC 3339, e.g. 2026-01-02T10:00:00Z)")
	fl.StringVar(&f.end, "end", "", "only records before this time (RFC 3339)")
	cmd.MarkFlagsMutuallyExclusive("since", "start")
	cmd.MarkFlagsMutuallyExclusive("since", "end")
}

// set puts the range into q as the API's startTime and endTime.
func (f *rangeFlags) set(q url.Values, now time.Time) error {
	if f.since != "" {
		d, err := parseSince(f.since)
		if err != nil {
			return err
		}
		q.Set("startTime", now.Add(-d).UTC().Format(time.RFC3339))
	}
	var start, end time.Time
	for _, t := range []struct {
		flag, val, param string
		into             *time.Time
	}{{"--start", f.start, "startTime", &start}, {"--end", f.end, "endTime", &end}} {
		if t.val == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.val)
		if err != nil {
			return fmt.Errorf("%s %q is not a time: use RFC 3339, e.g. 2026-01-02T10:00:00Z", t.flag, t.val)
		}
		*t.into = v
		q.Set(t.param, v.UTC().Format(time.RFC3339))
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return fmt.Errorf("--end %s is before --start %s", f.end, f.start)
	}
	return nil
}

// parseSince is a Go duration, or whole days ("7d"), which Go's lacks.
func parseSince(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d > 0 {
			return time.Duration(d) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--since %q is not a duration: use e.g. 30m, 1h or 7d", s)
	}
	return d, nil
}

// pageFlags are how a search pages: one page of --limit, from --continue,
// or every page with --all.
type pageFlags struct {
	limit int
	cont  string
	all   bool
}

func (f *pageFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.limit, "limit", 0, fmt.Sprintf("records per page, newest first (default 100, at most %d)", maxPage))
	fl.StringVar(&f.cont, "continue", "", "the token a previous search printed, for its next page")
	fl.BoolVar(&f.all, "all", false, "every page, not only the first")
}

func (f *pageFlags) set(q url.Values) error {
	if f.limit < 0 || f.limit > maxPage {
		return fmt.Errorf("--limit %d: give 1 to %d (page with --continue or --all for more)", f.limit, maxPage)
	}
	if f.limit > 0 {
		q.Set("limit", strconv.Itoa(f.limit))
	}
	if f.cont != "" {
		q.Set("continue", f.cont)
	}
	return nil
}

// setFilters puts the non-empty filters into q.
func setFilters(q url.Values, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
}

// searchPages GETs path with q into a list, following continue tokens with
// all; it returns the token of the next page when there is one left.
func searchPages[L any](ctx context.Context, c *apiclient.Client, path string, q url.Values, all bool,
	next func(*L) *string, merge func(into, page *L)) (*L, string, error) {
	var list *L
	for {
		var page L
		if err := c.Do(ctx, http.MethodGet, path+"?"+q.Encode(), "", nil, &page); err != nil {
			return nil, "", err
		}
		token := *next(&page)
		if list == nil {
			list = &page
		} else {
			merge(list, &page)
		}
		if token == "" || !all {
			*next(list) = token
			return list, token, nil
		}
		q.Set("continue", token)
	}
}

func newAuditCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Search and export the platform's audit records",
		Long: `The platform records every request it serves (its API, the proxy into member
clusters, the console's calls) and every write that reached its control plane by
another path, as audit.k8s.io/v1 Events in its record store: who, what, where,
the answer and how long it took; never request bodies. Platform administrators
search everyone's records; everyone else their own operations.`,
		Example: `  kstack audit search --since 1h
  kstack audit search --user alice --verb delete --since 7d
  kstack audit export --since 24h -f audit.jsonl`,
	}
	cmd.AddCommand(newAuditSearchCmd(o), newAuditExportCmd(o))
	return cmd
}

// auditFilters are the filters of an audit search or export.
type auditFilters struct {
	rangeFlags
	user, cluster, namespace, resource, name, verb, result, tenant string
	code                                                           int
}

func (f *auditFilters) add(cmd *cobra.Command) {
	f.rangeFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "only this user's operations, as recorded: NAME in the default tenant, TENANT:NAME in others")
	fl.StringVar(&f.cluster, "cluster", "", "only requests to this member cluster (ID)")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "only objects of this namespace")
	fl.StringVar(&f.resource, "resource", "", "only this resource, plural as in a path (pods, clusters, ...)")
	fl.StringVar(&f.name, "name", "", "only objects of this name")
	fl.StringVar(&f.verb, "verb", "", "only this verb (get, list, create, update, patch, delete, ...)")
	fl.StringVar(&f.result, "result", "", "success or failure (status code below 400, or not)")
	fl.IntVar(&f.code, "code", 0, "only answers with this HTTP status code, e.g. 403")
	fl.StringVar(&f.tenant, "tenant", "", "only this tenant's records (platform administrators)")
	cmd.MarkFlagsMutuallyExclusive("result", "code")
}

func (f *auditFilters) query(now time.Time) (url.Values, error) {
	q := url.Values{}
	if err := f.rangeFlags.set(q, now); err != nil {
		return nil, err
	}
	if f.result != "" && f.result != "success" && f.result != "failure" {
		return nil, fmt.Errorf("--result %q: use success or failure", f.result)
	}
	if f.code != 0 {
		if f.code < 100 || f.code > 599 {
			return nil, fmt.Errorf("--code %d is not an HTTP status code", f.code)
		}
		q.Set("code", strconv.Itoa(f.code))
	}
	setFilters(q, "user", f.user, "cluster", f.cluster, "namespace", f.namespace, "resource", f.resource,
		"name", f.name, "verb", f.verb, "result", f.result, "tenant", f.tenant)
	return q, nil
}

func newAuditSearchCmd(o *Options) *cobra.Command {
	var f auditFilters
	var pf pageFlags
	var output string
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search the audit records, newest first",
		Long: `Searches the audit records, newest first, one page at a time (100 records unless
--limit): when there are more, it says so on stderr with the token for
--continue; --all reads every page. The table shows when, who, what (resource,
name and namespace), where (the member cluster, or "-" for the platform's own
API), the answer's status code, how the request came (api, proxy, console or
apiserver), from where, and how long it took. -o json|yaml prints the
audit.k8s.io/v1 EventList.`,
		Example: `  kstack audit search --since 1h
  kstack audit search --cluster cls-ab12cd34 --namespace web --verb delete --since 7d
  kstack audit search --start 2026-01-02T00:00:00Z --end 2026-01-03T00:00:00Z --result failure --all
  kstack audit search --user alice -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			if err := pf.set(q); err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			list, more, err := searchPages(cmd.Context(), c, auditEventsPath, q, pf.all,
				func(l *auditv1.EventList) *string { return &l.Continue },
				func(into, page *auditv1.EventList) { into.Items = append(into.Items, page.Items...) })
			if err != nil {
				return err
			}
			if err := o.show(output, list, []string{"TIME", "USER", "VERB", "RESOURCE", "CLUSTER", "CODE", "VIA", "SOURCE", "LATENCY"}, auditRows(list.Items)); err != nil {
				return err
			}
			if more != "" {
				o.warn(moreHint, more)
			}
			return nil
		},
	}
	f.add(cmd)
	pf.add(cmd)
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func auditRows(items []auditv1.Event) [][]string {
	rows := make([][]string, 0, len(items))
	for _, ev := range items {
		code, source := "-", "-"
		if ev.ResponseStatus != nil && ev.ResponseStatus.Code != 0 {
			code = strconv.Itoa(int(ev.ResponseStatus.Code))
		}
		if len(ev.SourceIPs) > 0 {
			source = ev.SourceIPs[0]
		}
		rows = append(rows, []string{
			ev.RequestReceivedTimestamp.UTC().Format(time.RFC3339), dash(ev.User.Username), ev.Verb, auditObject(&ev),
			dash(ev.Annotations["kstack.io/cluster"]), code, dash(ev.Annotations["kstack.io/via"]), source,
			dash(ev.Annotations["kstack.io/latency"]),
		})
	}
	return rows
}

// auditObject is what a request was about: resource/name[/subresource]
// and its namespace, or the path of a request about no object.
func auditObject(ev *auditv1.Event) string {
	ref := ev.ObjectRef
	if ref == nil || ref.Resource == "" {
		if p, _, _ := strings.Cut(ev.RequestURI, "?"); p != "" {
			return p
		}
		return "-"
	}
	s := ref.Resource
	if ref.Name != "" {
		s += "/" + ref.Name
	}
	if ref.Subresource != "" {
		s += "/" + ref.Subresource
	}
	if ref.Namespace != "" {
		s += " (" + ref.Namespace + ")"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newAuditExportCmd(o *Options) *cobra.Command {
	var f auditFilters
	var file string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the audit records as JSON lines",
		Long: `Writes every audit record the filters match, newest first, one audit.k8s.io/v1
Event per line (JSON lines), to stdout or to the file -f names. An export
stops at a million records; narrow the time range for more.`,
		Example: `  kstack audit export --since 24h > audit.jsonl
  kstack audit export --user alice --since 7d -f alice.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			return o.export(cmd.Context(), auditEventsPath+"/export?"+q.Encode(), file)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file instead of stdout")
	return cmd
}

// export streams path's JSON lines to file, or stdout. A file is written
// only once the platform has accepted the search.
func (o *Options) export(ctx context.Context, path, file string) error {
	c, err := newAPIClient(o)
	if err != nil {
		return err
	}
	body, err := c.Stream(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	if file == "" {
		_, err = io.Copy(o.Out, body)
		return err
	}
	fh, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	cw := &countWriter{w: fh}
	_, err = io.Copy(cw, body)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("the export to %s broke off after %d records: %w", file, cw.lines, err)
	}
	o.warn("%d records written to %s", cw.lines, file)
	return nil
}

// countWriter counts the lines written through it.
type countWriter struct {
	w     io.Writer
	lines int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.lines += strings.Count(string(p), "\n")
	return c.w.Write(p)
}

func newEventCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "event",
		Aliases: []string{"events"},
		Short:   "Search the persisted Kubernetes events of a cluster",
		Long: `A cluster keeps its Kubernetes events for an hour. With event persistence on
('kstack cluster event-persistence ID --enable'), the platform keeps them in its
record store, searchable by namespace, object, reason and time. Project members
see the events of their projects' namespaces only.`,
		Example: `  kstack cluster event-persistence cls-ab12cd34 --enable
  kstack event search cls-ab12cd34 --namespace web --since 24h
  kstack event export cls-ab12cd34 --since 7d -f events.jsonl`,
	}
	cmd.AddCommand(newEventSearchCmd(o), newEventExportCmd(o))
	return cmd
}

// eventFilters are the filters of an event search or export.
type eventFilters struct {
	rangeFlags
	namespace, kind, name, reason, source string
}

func (f *eventFilters) add(cmd *cobra.Command) {
	f.rangeFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.namespace, "namespace", "n", "", "only events of this namespace")
	fl.StringVar(&f.kind, "kind", "", "only events about objects of this kind, e.g. Pod")
	fl.StringVar(&f.name, "name", "", "only events about objects of this name")
	fl.StringVar(&f.reason, "reason", "", "only events of this reason, e.g. FailedScheduling")
	fl.StringVar(&f.source, "source", "", "only events reported by this component, e.g. kubelet")
}

func (f *eventFilters) query(now time.Time) (url.Values, error) {
	q := url.Values{}
	if err := f.rangeFlags.set(q, now); err != nil {
		return nil, err
	}
	setFilters(q, "namespace", f.namespace, "kind", f.kind, "name", f.name, "reason", f.reason, "source", f.source)
	return q, nil
}

func newEventSearchCmd(o *Options) *cobra.Command {
	var f eventFilters
	var pf pageFlags
	var output string
	cmd := &cobra.Command{
		Use:   "search CLUSTER",
		Short: "Search a cluster's persisted events, newest first",
		Long: `Searches the events the platform kept of a cluster with event persistence on,
newest first, one page at a time (100 events unless --limit): when there are
more, it says so on stderr with the token for --continue; --all reads every
page. -o json|yaml prints the v1 EventList.`,
		Example: `  kstack event search cls-ab12cd34 --since 1h
  kstack event search cls-ab12cd34 --namespace web --kind Pod --reason BackOff --all
  kstack event search cls-ab12cd34 --start 2026-01-02T00:00:00Z -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			if err := pf.set(q); err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			list, more, err := searchPages(cmd.Context(), c, eventGroupPath+url.PathEscape(args[0])+"/events", q, pf.all,
				func(l *corev1.EventList) *string { return &l.Continue },
				func(into, page *corev1.EventList) { into.Items = append(into.Items, page.Items...) })
			if err != nil {
				return err
			}
			if err := o.show(output, list, []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "NAMESPACE", "COUNT", "MESSAGE"}, eventRows(list.Items)); err != nil {
				return err
			}
			if more != "" {
				o.warn(moreHint, more)
			}
			return nil
		},
	}
	f.add(cmd)
	pf.add(cmd)
	outputFlag(cmd, &output)
	return cmd
}

// eventTime is when an event was last seen, whichever of its times the
// reporter filled.
func eventTime(ev *corev1.Event) time.Time {
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		return ev.Series.LastObservedTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.FirstTimestamp.IsZero():
		return ev.FirstTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}

func eventRows(items []corev1.Event) [][]string {
	rows := make([][]string, 0, len(items))
	for i := range items {
		ev := &items[i]
		count := ev.Count
		if ev.Series != nil && ev.Series.Count > count {
			count = ev.Series.Count
		}
		if count == 0 {
			count = 1
		}
		when := "-"
		if t := eventTime(ev); !t.IsZero() {
			when = t.UTC().Format(time.RFC3339)
		}
		obj := strings.ToLower(ev.InvolvedObject.Kind) + "/" + ev.InvolvedObject.Name
		rows = append(rows, []string{when, dash(ev.Type), dash(ev.Reason), obj, dash(ev.Namespace), strconv.Itoa(int(count)),
			strings.Join(strings.Fields(ev.Message), " ")})
	}
	return rows
}

func newEventExportCmd(o *Options) *cobra.Command {
	var f eventFilters
	var file string
	cmd := &cobra.Command{
		Use:   "export CLUSTER",
		Short: "Export a cluster's persisted events as JSON lines",
		Long: `Writes every persisted event of the cluster that the filters match, newest
first, one v1 Event per line (JSON lines), to stdout or to the file -f names.`,
		Example: `  kstack event export cls-ab12cd34 --since 24h > events.jsonl
  kstack event export cls-ab12cd34 --namespace web -f web-events.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			return o.export(cmd.Context(), eventGroupPath+url.PathEscape(args[0])+"/events/export?"+q.Encode(), file)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file instead of stdout")
	return cmd
}
