package console

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kstack/kstack/internal/addons/tapp"
)

// kindInfo is how the console lists one kind of a member cluster.
type kindInfo struct {
	Name       string // the URL segment and resource, e.g. "deployments"
	Title      string
	Kind       string
	GVR        schema.GroupVersionResource
	Namespaced bool
	Workload   bool
	// NoName hides the name column (events: their names mean nothing).
	NoName  bool
	Columns []string
	Cells   func(u *unstructured.Unstructured) []cell
}

type cell struct{ Text, Class string }

type table struct {
	Kind    *kindInfo
	Columns []string
	Rows    []tableRow
	// AllNamespaces adds a namespace column (lists across namespaces).
	AllNamespaces bool
}

type tableRow struct {
	Name, Namespace, Link string
	Cells                 []cell
}

func txt(s ...string) []cell {
	out := make([]cell, len(s))
	for i, v := range s {
		out[i] = cell{Text: v}
	}
	return out
}

func str(u *unstructured.Unstructured, path ...string) string {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func num(u *unstructured.Unstructured, path ...string) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

func ageOf(u *unstructured.Unstructured) string {
	t := u.GetCreationTimestamp()
	if t.IsZero() {
		return "-"
	}
	return age(time.Since(t.Time))
}

// images lists the images of a pod template (or a pod's spec).
func images(u *unstructured.Unstructured, path ...string) string {
	cs, _, _ := unstructured.NestedSlice(u.Object, append(path, "containers")...)
	var out []string
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["image"]))
		}
	}
	return strings.Join(out, ", ")
}

// readyCell is "ready / wanted" replicas, marked Ready when all are.
func readyCell(u *unstructured.Unstructured) cell {
	want, ready := num(u, "spec", "replicas"), num(u, "status", "readyReplicas")
	c := cell{Text: ratio(ready, want)}
	if ready == want {
		c.Class = "Ready"
	}
	return c
}

func mapKeys(u *unstructured.Unstructured, path ...string) string {
	m, _, _ := unstructured.NestedMap(u.Object, path...)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// podStatus is the status word kubectl shows for a pod.
func podStatus(u *unstructured.Unstructured) string {
	if u.GetDeletionTimestamp() != nil {
		return "Terminating"
	}
	st := str(u, "status", "phase")
	if r := str(u, "status", "reason"); r != "" {
		st = r
	}
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "containerStatuses")
	for _, c := range cs {
		m, _ := c.(map[string]any)
		state, _ := m["state"].(map[string]any)
		if w, ok := state["waiting"].(map[string]any); ok && w["reason"] != nil {
			st = fmt.Sprint(w["reason"])
		}
		if t, ok := state["terminated"].(map[string]any); ok && t["reason"] != nil && st != "Succeeded" {
			st = fmt.Sprint(t["reason"])
		}
	}
	if st == "" {
		st = "Pending"
	}
	return st
}

func podReady(u *unstructured.Unstructured) (ready, total int, restarts int64) {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "containerStatuses")
	specs, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
	total = len(specs)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if m["ready"] == true {
			ready++
		}
		if n, ok := m["restartCount"].(int64); ok {
			restarts += n
		}
	}
	return
}

func ratio(a, b int64) string { return strconv.FormatInt(a, 10) + "/" + strconv.FormatInt(b, 10) }

var kinds = map[string]*kindInfo{}

func register(k *kindInfo) { kinds[k.Name] = k }

// workloadKinds are the kinds the workload form makes, in menu order.
var workloadKinds = []string{"deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "tapps"}

// namespaceKinds are the tabs of a namespace, in order.
var namespaceKinds = []string{"deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "pods", "services", "ingresses", "configmaps", "secrets", "persistentvolumeclaims", "events"}

func init() {
	apps := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: r}
	}
	core := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: r}
	}
	register(&kindInfo{Name: "namespaces", Title: "Namespaces", Kind: "Namespace", GVR: core("namespaces"),
		Columns: []string{"Status", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			st := str(u, "status", "phase")
			return []cell{{Text: st, Class: st}, {Text: ageOf(u)}}
		}})
	register(&kindInfo{Name: "deployments", Title: "Deployments", Kind: "Deployment", GVR: apps("deployments"), Namespaced: true, Workload: true,
		Columns: []string{"Ready", "Up to date", "Available", "Images", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			c := readyCell(u)
			return append([]cell{c}, txt(fmt.Sprint(num(u, "status", "updatedReplicas")), fmt.Sprint(num(u, "status", "availableReplicas")), images(u, "spec", "template", "spec"), ageOf(u))...)
		}})
	register(&kindInfo{Name: "statefulsets", Title: "StatefulSets", Kind: "StatefulSet", GVR: apps("statefulsets"), Namespaced: true, Workload: true,
		Columns: []string{"Ready", "Images", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			return txt(ratio(num(u, "status", "readyReplicas"), num(u, "spec", "replicas")), images(u, "spec", "template", "spec"), ageOf(u))
		}})
	register(&kindInfo{Name: "daemonsets", Title: "DaemonSets", Kind: "DaemonSet", GVR: apps("daemonsets"), Namespaced: true, Workload: true,
		Columns: []string{"Desired", "Ready", "Images", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			return txt(fmt.Sprint(num(u, "status", "desiredNumberScheduled")), fmt.Sprint(num(u, "status", "numberReady")), images(u, "spec", "template", "spec"), ageOf(u))
		}})
	register(&kindInfo{Name: "jobs", Title: "Jobs", Kind: "Job", GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Namespaced: true, Workload: true,
		Columns: []string{"Completions", "Status", "Images", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			want := num(u, "spec", "completions")
			if want == 0 {
				want = 1
			}
			st := "Running"
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["status"] == "True" && (m["type"] == "Complete" || m["type"] == "Failed") {
					st = fmt.Sprint(m["type"])
				}
			}
			return []cell{{Text: ratio(num(u, "status", "succeeded"), want)}, {Text: st, Class: st}, {Text: images(u, "spec", "template", "spec")}, {Text: ageOf(u)}}
		}})
	register(&kindInfo{Name: "cronjobs", Title: "CronJobs", Kind: "CronJob", GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, Namespaced: true, Workload: true,
		Columns: []string{"Schedule", "Suspended", "Last schedule", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			last := str(u, "status", "lastScheduleTime")
			if t, err := time.Parse(time.RFC3339, last); err == nil {
				last = age(time.Since(t)) + " ago"
			}
			return txt(str(u, "spec", "schedule"), fmt.Sprint(str(u, "spec", "suspend") == "true"), last, ageOf(u))
		}})
	// TApps are objects of the TApp add-on's CRD: their tab is the TApp
	// pages' (tapp.go), which say so when the cluster has no add-on.
	register(&kindInfo{Name: "tapps", Title: "TApps", Kind: "TApp", GVR: tapp.GVR, Namespaced: true, Workload: true,
		Columns: []string{"Ready", "Status", "Templates", "Images", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			c := readyCell(u)
			st := str(u, "status", "appStatus")
			tmpls := "default"
			if pool := mapKeys(u, "spec", "templatePool"); pool != "" {
				tmpls += ", " + pool
			}
			return []cell{c, {Text: st, Class: st}, {Text: tmpls}, {Text: images(u, "spec", "template", "spec")}, {Text: ageOf(u)}}
		}})
	register(&kindInfo{Name: "pods", Title: "Pods", Kind: "Pod", GVR: core("pods"), Namespaced: true,
		Columns: []string{"Status", "Ready", "Restarts", "Node", "IP", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			st := podStatus(u)
			ready, total, restarts := podReady(u)
			return []cell{{Text: st, Class: st}, {Text: fmt.Sprintf("%d/%d", ready, total)}, {Text: fmt.Sprint(restarts)},
				{Text: str(u, "spec", "nodeName")}, {Text: str(u, "status", "podIP")}, {Text: ageOf(u)}}
		}})
	register(&kindInfo{Name: "services", Title: "Services", Kind: "Service", GVR: core("services"), Namespaced: true,
		Columns: []string{"Type", "Cluster IP", "Ports", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			ps, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
			var ports []string
			for _, p := range ps {
				m, _ := p.(map[string]any)
				s := fmt.Sprintf("%v/%v", m["port"], m["protocol"])
				if np, ok := m["nodePort"]; ok {
					s = fmt.Sprintf("%v:%v/%v", m["port"], np, m["protocol"])
				}
				ports = append(ports, s)
			}
			return txt(str(u, "spec", "type"), str(u, "spec", "clusterIP"), strings.Join(ports, ", "), ageOf(u))
		}})
	register(&kindInfo{Name: "ingresses", Title: "Ingresses", Kind: "Ingress", GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, Namespaced: true,
		Columns: []string{"Hosts", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
			var hosts []string
			for _, r := range rules {
				m, _ := r.(map[string]any)
				if h, ok := m["host"].(string); ok {
					hosts = append(hosts, h)
				}
			}
			return txt(strings.Join(hosts, ", "), ageOf(u))
		}})
	register(&kindInfo{Name: "configmaps", Title: "ConfigMaps", Kind: "ConfigMap", GVR: core("configmaps"), Namespaced: true,
		Columns: []string{"Keys", "Age"},
		Cells:   func(u *unstructured.Unstructured) []cell { return txt(mapKeys(u, "data"), ageOf(u)) }})
	register(&kindInfo{Name: "secrets", Title: "Secrets", Kind: "Secret", GVR: core("secrets"), Namespaced: true,
		Columns: []string{"Type", "Keys", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			// Only the keys: values are shown on the Secret's page when asked.
			return txt(str(u, "type"), mapKeys(u, "data"), ageOf(u))
		}})
	register(&kindInfo{Name: "persistentvolumeclaims", Title: "PVCs", Kind: "PersistentVolumeClaim", GVR: core("persistentvolumeclaims"), Namespaced: true,
		Columns: []string{"Status", "Volume", "Capacity", "Storage class", "Age"},
		Cells: func(u *unstructured.Unstructured) []cell {
			st := str(u, "status", "phase")
			return []cell{{Text: st, Class: st}, {Text: str(u, "spec", "volumeName")}, {Text: str(u, "status", "capacity", "storage")}, {Text: str(u, "spec", "storageClassName")}, {Text: ageOf(u)}}
		}})
	register(&kindInfo{Name: "events", Title: "Events", Kind: "Event", GVR: core("events"), Namespaced: true, NoName: true,
		Columns: []string{"Type", "Reason", "Object", "Message", "Last seen"},
		Cells: func(u *unstructured.Unstructured) []cell {
			last := str(u, "lastTimestamp")
			if last == "" {
				last = str(u, "eventTime")
			}
			if t, err := time.Parse(time.RFC3339, last); err == nil {
				last = age(time.Since(t)) + " ago"
			}
			typ := str(u, "type")
			cls := ""
			if typ == "Warning" {
				cls = "Failed"
			}
			return []cell{{Text: typ, Class: cls}, {Text: str(u, "reason")}, {Text: str(u, "involvedObject", "kind") + "/" + str(u, "involvedObject", "name")}, {Text: str(u, "message")}, {Text: last}}
		}})
}

// listKind lists one page of kind k in cluster (and namespace), through
// the proxy as the user. Without a search it is the API server's own
// pagination (limit and continue); a search scans pages of 500 until it
// has a page of matches, at most 20,000 objects.
func (r *request) listKind(ctx context.Context, cluster, namespace string, k *kindInfo, q string) (*table, pager, error) {
	dc, err := r.dynamicMember(cluster)
	if err != nil {
		return nil, pager{}, err
	}
	ri := dc.Resource(k.GVR)
	var lister interface {
		List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error)
	} = ri
	if k.Namespaced && namespace != "" {
		lister = ri.Namespace(namespace)
	}
	t := &table{Kind: k, Columns: k.Columns, AllNamespaces: k.Namespaced && namespace == ""}
	if q != "" && k.Name == "pods" && namespace != "" && r.s.PodNames != nil {
		if names, ok, err := r.s.PodNames(ctx, r.user, cluster, namespace); err != nil {
			return nil, pager{}, apierrors.NewForbidden(k.GVR.GroupResource(), "", err)
		} else if ok {
			return r.searchByNames(ctx, cluster, namespace, k, q, names, lister)
		}
	}
	opts := metav1.ListOptions{Limit: pageSize, Continue: r.URL.Query().Get("continue"), LabelSelector: r.URL.Query().Get("selector")}
	if q != "" {
		opts.Limit = 500
	}
	var pg pager
	for scanned := 0; ; {
		l, err := lister.List(ctx, opts)
		if err != nil {
			return nil, pager{}, err
		}
		for i := range l.Items {
			u := &l.Items[i]
			if !matches(q, u.GetName()) || len(t.Rows) >= pageSize {
				continue
			}
			row := tableRow{Name: u.GetName(), Namespace: u.GetNamespace(), Cells: k.Cells(u)}
			if k.Name != "events" {
				ns := u.GetNamespace()
				if ns == "" {
					ns = u.GetName()
				}
				row.Link = "/console/business/" + url.PathEscape(cluster) + "/" + url.PathEscape(ns) + "/" + k.Name
				if k.Name != "namespaces" {
					row.Link += "/" + url.PathEscape(u.GetName())
				}
			}
			t.Rows = append(t.Rows, row)
		}
		scanned += len(l.Items)
		opts.Continue = l.GetContinue()
		if q == "" {
			pg.Shown = plural(len(t.Rows), "item", "items")
			if n := l.GetRemainingItemCount(); n != nil && *n > 0 {
				pg.Shown += fmt.Sprintf(", %d more", *n)
			}
			if opts.Continue != "" {
				pg.Next = withQuery(r.URL, "continue", opts.Continue)
			}
			break
		}
		if len(t.Rows) >= pageSize || opts.Continue == "" || scanned >= 20000 {
			pg.Shown = plural(len(t.Rows), "match", "matches")
			if len(t.Rows) >= pageSize {
				pg.Shown = fmt.Sprintf("the first %d matches: narrow the search", pageSize)
			}
			break
		}
	}
	if r.URL.Query().Get("continue") != "" {
		pg.Prev = withQuery(r.URL, "continue", "")
	}
	return t, pg, nil
}

// searchByNames shows the objects whose names (from the platform's cache)
// match q, each read through the API as the user, a few at a time.
func (r *request) searchByNames(ctx context.Context, cluster, namespace string, k *kindInfo, q string, names []string, ri interface {
	List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error)
}) (*table, pager, error) {
	var hits []string
	for _, n := range names {
		if matches(q, n) {
			hits = append(hits, n)
		}
	}
	sort.Strings(hits)
	total := len(hits)
	if len(hits) > pageSize {
		hits = hits[:pageSize]
	}
	getter, ok := ri.(interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
	})
	if !ok {
		return nil, pager{}, fmt.Errorf("no way to read %s by name", k.Name)
	}
	objs := make([]*unstructured.Unstructured, len(hits))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, n := range hits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// Gone since the cache saw it, or not readable: left out.
			if u, err := getter.Get(ctx, n, metav1.GetOptions{}); err == nil {
				objs[i] = u
			}
		}()
	}
	wg.Wait()
	t := &table{Kind: k, Columns: k.Columns}
	for _, u := range objs {
		if u != nil {
			t.Rows = append(t.Rows, tableRow{Name: u.GetName(), Namespace: u.GetNamespace(), Cells: k.Cells(u),
				Link: "/console/business/" + url.PathEscape(cluster) + "/" + url.PathEscape(namespace) + "/" + k.Name + "/" + url.PathEscape(u.GetName())})
		}
	}
	pg := pager{Shown: plural(total, "match", "matches")}
	if total > pageSize {
		pg.Shown = fmt.Sprintf("the first %d of %d matches: narrow the search", pageSize, total)
	}
	return t, pg, nil
}
