package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/inprocess"
	"github.com/kstack/kstack/internal/nodeops"
)

func (s *Server) platformRoutes(mux *http.ServeMux) {
	mux.Handle("GET /console/platform", s.authed(s.overview))
	mux.Handle("GET /console/platform/clusters", s.authed(s.clusters))
	mux.Handle("GET /console/platform/clusters/import", s.authed(s.importForm))
	mux.Handle("POST /console/platform/clusters/import", s.authed(s.importCluster))
	mux.Handle("GET /console/platform/clusters/{id}", s.authed(s.clusterDetail))
	mux.Handle("POST /console/platform/clusters/{id}/nodes/{node}/{op}", s.authed(s.nodeOp))
	s.projectRoutes(mux)
	s.identityRoutes(mux)
	s.recordRoutes(mux)
}

// clusterRow is one cluster as the lists show it.
type clusterRow struct {
	ID, Name, Type, Phase, Version, Message string
	Nodes, ReadyNodes                       int32
	Pods                                    int32
	CPU, Memory                             string
	Created                                 time.Time
}

func rowOf(c *platformv1.Cluster) clusterRow {
	row := clusterRow{ID: c.Name, Name: c.Spec.DisplayName, Type: string(c.Spec.Type), Phase: string(c.Status.Phase),
		Version: c.Status.Version, Nodes: c.Status.Nodes.Total, ReadyNodes: c.Status.Nodes.Ready, Pods: c.Status.Pods,
		Created: c.CreationTimestamp.Time}
	if row.Phase == "" {
		row.Phase = "Pending"
	}
	if cpu, ok := c.Status.Resource.Allocatable[corev1.ResourceCPU]; ok {
		row.CPU = cpu.String()
	}
	if m, ok := c.Status.Resource.Allocatable[corev1.ResourceMemory]; ok {
		row.Memory = humanBytes(m)
	}
	for _, cond := range c.Status.Conditions {
		if cond.Status != corev1.ConditionTrue && cond.Message != "" {
			row.Message = cond.Type + ": " + cond.Message
			break
		}
	}
	return row
}

func humanBytes(q resource.Quantity) string {
	v := float64(q.Value())
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if v < 1024 {
			return fmt.Sprintf("%.0f %s", v, u)
		}
		v /= 1024
	}
	return fmt.Sprintf("%.0f PiB", v)
}

// listClusters lists every cluster the user may see, by name.
func (r *request) listClusters() ([]platformv1.Cluster, error) {
	items, err := r.s.Clusters(r.Context(), r.user)
	if err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return items, nil
}

type overviewData struct {
	Clusters, Nodes, ReadyNodes, Pods int32
	ByPhase                           []phaseCount
	CPU, CPUAllocated                 string
	Memory, MemoryAllocated           string
	CPUMeter, MemoryMeter             meterVal
	Problems                          []clusterRow
	// Monitor is the fleet's usage over time (the clusters the user sees).
	Monitor *monitorView
}

type phaseCount struct {
	Phase string
	N     int
}

type meterVal struct{ Value, Max float64 }

func (s *Server) overview(w http.ResponseWriter, r *request) {
	items, err := r.listClusters()
	if err != nil {
		r.fail(w, err)
		return
	}
	var d overviewData
	phases := map[string]int{}
	var cpu, cpuAlloc, mem, memAlloc resource.Quantity
	for i := range items {
		c := &items[i]
		row := rowOf(c)
		d.Clusters++
		phases[row.Phase]++
		d.Nodes += c.Status.Nodes.Total
		d.ReadyNodes += c.Status.Nodes.Ready
		d.Pods += c.Status.Pods
		add := func(sum *resource.Quantity, l corev1.ResourceList, name corev1.ResourceName) {
			if q, ok := l[name]; ok {
				sum.Add(q)
			}
		}
		add(&cpu, c.Status.Resource.Allocatable, corev1.ResourceCPU)
		add(&cpuAlloc, c.Status.Resource.Allocated, corev1.ResourceCPU)
		add(&mem, c.Status.Resource.Allocatable, corev1.ResourceMemory)
		add(&memAlloc, c.Status.Resource.Allocated, corev1.ResourceMemory)
		if row.Phase != string(platformv1.ClusterRunning) || row.ReadyNodes < row.Nodes {
			if len(d.Problems) < 20 {
				d.Problems = append(d.Problems, row)
			}
		}
	}
	for p, n := range phases {
		d.ByPhase = append(d.ByPhase, phaseCount{p, n})
	}
	sort.Slice(d.ByPhase, func(i, j int) bool { return d.ByPhase[i].Phase < d.ByPhase[j].Phase })
	d.CPU, d.CPUAllocated = cpu.String(), cpuAlloc.String()
	d.Memory, d.MemoryAllocated = humanBytes(mem), humanBytes(memAlloc)
	d.CPUMeter = meterVal{Value: cpuAlloc.AsApproximateFloat64(), Max: max(cpu.AsApproximateFloat64(), 1e-9)}
	d.MemoryMeter = meterVal{Value: memAlloc.AsApproximateFloat64(), Max: max(mem.AsApproximateFloat64(), 1)}
	d.Monitor = r.monitorView(Prefix+"/platform", nil, "", fleetCharts())
	r.page(w, "overview", "platform", "Overview", d)
}

type clustersData struct {
	Q, Live   string
	Rows      []clusterRow
	Pager     pager
	CanImport bool
}

func (s *Server) clusters(w http.ResponseWriter, r *request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := clustersData{Q: q, CanImport: r.can("", "createCluster", "cluster:*")}
	items, err := r.listClusters()
	if err != nil {
		r.fail(w, err)
		return
	}
	rows := make([]clusterRow, 0, len(items))
	for i := range items {
		row := rowOf(&items[i])
		if matches(q, row.ID, row.Name, row.Phase, row.Version, row.Type) {
			rows = append(rows, row)
		}
	}
	d.Rows, d.Pager = pageOf(r.Request, rows)
	d.Live = withQuery(r.URL, "fragment", "") + "&fragment=rows"
	if r.URL.Query().Get("fragment") == "rows" {
		r.fragment(w, http.StatusOK, "clusters", "rows", d)
		return
	}
	r.page(w, "clusters", "platform", "Clusters", d)
}

// importData is the import form, with what was typed and what was wrong.
type importData struct {
	Mode, Name, Kubeconfig, Server, CA, Token string
	Errors                                    map[string]string
	Error                                     string
}

func (s *Server) importForm(w http.ResponseWriter, r *request) {
	if !r.can("", "createCluster", "cluster:*") {
		s.fail(w, r.Request, http.StatusForbidden, "you may not import clusters")
		return
	}
	r.page(w, "import", "platform", "Import a cluster", importData{Mode: "kubeconfig", Errors: map[string]string{}},
		crumb{"Clusters", "/console/platform/clusters"})
}

// importField says which field of the form an import error is about.
func importField(mode, msg string) string {
	m := strings.ToLower(msg)
	switch {
	case mode == "kubeconfig" && (strings.Contains(m, "kubeconfig") || strings.Contains(m, "context")):
		return "kubeconfig"
	case strings.Contains(m, "display name"):
		return "name"
	case strings.Contains(m, "credential") || strings.Contains(m, "token") || strings.Contains(m, "unauthorized") || strings.Contains(m, "forbidden"):
		if mode == "kubeconfig" {
			return "kubeconfig"
		}
		return "token"
	case strings.Contains(m, "ca certificate") || strings.Contains(m, "x509") || strings.Contains(m, "certificate"):
		if mode == "kubeconfig" {
			return "kubeconfig"
		}
		return "ca"
	case strings.Contains(m, "address") || strings.Contains(m, "reach") || strings.Contains(m, "https"):
		if mode == "kubeconfig" {
			return "kubeconfig"
		}
		return "server"
	}
	return ""
}

func (s *Server) importCluster(w http.ResponseWriter, r *request) {
	d := importData{Mode: r.PostFormValue("mode"), Name: strings.TrimSpace(r.PostFormValue("name")),
		Kubeconfig: r.PostFormValue("kubeconfig"), Server: strings.TrimSpace(r.PostFormValue("server")),
		CA: r.PostFormValue("ca"), Token: strings.TrimSpace(r.PostFormValue("token")), Errors: map[string]string{}}
	body := map[string]any{"displayName": d.Name}
	switch d.Mode {
	case "kubeconfig":
		if strings.TrimSpace(d.Kubeconfig) == "" {
			d.Errors["kubeconfig"] = "paste the cluster's kubeconfig"
		}
		body["kubeconfig"] = d.Kubeconfig
	case "token":
		if d.Server == "" {
			d.Errors["server"] = "give the API server's address, e.g. https://10.0.0.1:6443"
		}
		if strings.TrimSpace(d.CA) == "" {
			d.Errors["ca"] = "paste the CA certificate (PEM) that signs the API server's certificate"
		}
		if d.Token == "" {
			d.Errors["token"] = "give a token the platform can use, e.g. a ServiceAccount's"
		}
		body["server"], body["caCert"], body["token"] = d.Server, []byte(d.CA), d.Token
	default:
		d.Mode = "kubeconfig"
		d.Error = "choose how to connect: a kubeconfig, or an address with a CA and a token"
	}
	d.Token = "" // never sent back to the page
	if len(d.Errors) > 0 || d.Error != "" {
		r.fragment(w, http.StatusOK, "import", "form", d)
		return
	}
	data, _ := json.Marshal(body)
	code, out := r.call(http.MethodPost, "/platform/apis/platform.tkestack.io/v1/clusterimports", data)
	if code != http.StatusCreated {
		msg := statusMessage(code, out)
		if f := importField(d.Mode, msg); f != "" {
			d.Errors[f] = msg
		} else {
			d.Error = msg
		}
		r.fragment(w, http.StatusOK, "import", "form", d)
		return
	}
	var cls platformv1.Cluster
	_ = json.Unmarshal(out, &cls)
	redirect(w, r.Request, "/console/platform/clusters/"+url.PathEscape(cls.Name)+"?notice="+url.QueryEscape("Cluster "+cls.Name+" imported"))
}

// call sends one request to the platform's API as the user and returns
// the status and body.
func (r *request) call(method, path string, body []byte) (int, []byte) {
	return r.callContent(method, path, "application/json", body)
}

// callContent is call with a body of another type (a merge patch).
func (r *request) callContent(method, path, contentType string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), method, inprocess.Host+path, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, nil
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := r.transport().RoundTrip(req)
	if err != nil {
		return http.StatusBadGateway, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, out
}

// transport serves requests through the gateway's routing as the user.
func (r *request) transport() http.RoundTripper {
	return &inprocess.Transport{Serve: func(w http.ResponseWriter, req *http.Request) { r.s.Serve(w, req, r.user) }, Log: r.s.Log}
}

type nodeRow struct {
	Name, Status, Roles, Version, CPU, Memory string
	Labels                                    []string
	Taints                                    []string
	Unschedulable                             bool
}

type clusterDetailData struct {
	Cluster   clusterRow
	Tab       string
	Nodes     []nodeRow
	CanNodeOp bool
	Table     *table
	Pager     pager
	Err       string
	// Events is the "persisted events" tab: the record store's search.
	Events *eventSearch
	// Monitor is the "monitoring" tab: charts, collection status, switch.
	Monitor *clusterMonitor
}

func (s *Server) clusterDetail(w http.ResponseWriter, r *request) {
	id := r.PathValue("id")
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	var cls platformv1.Cluster
	if err := c.Get(r.Context(), client.ObjectKey{Name: id}, &cls); err != nil {
		r.fail(w, err)
		return
	}
	d := clusterDetailData{Cluster: rowOf(&cls), Tab: r.URL.Query().Get("tab")}
	if d.Tab == "" {
		d.Tab = "nodes"
	}
	ctx, cancel := r.timeout()
	defer cancel()
	switch d.Tab {
	case "nodes":
		cs, err := r.member(id)
		if err != nil {
			r.fail(w, err)
			return
		}
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 500})
		if err != nil {
			_, d.Err = explain(err)
			break
		}
		d.CanNodeOp = r.canMember(id, http.MethodPatch, "/api/v1/nodes/x")
		for _, n := range nodes.Items {
			d.Nodes = append(d.Nodes, nodeRowOf(&n))
		}
	case "namespaces", "workloads", "events":
		k := map[string]string{"namespaces": "namespaces", "workloads": "deployments", "events": "events"}[d.Tab]
		t, pg, err := r.listKind(ctx, id, "", kinds[k], "")
		if err != nil {
			_, d.Err = explain(err)
			break
		}
		d.Table, d.Pager = t, pg
	case "persisted-events":
		d.Events = r.persistedEvents(&cls)
	case "monitoring":
		d.Monitor = r.clusterMonitoring(&cls)
	default:
		s.fail(w, r.Request, http.StatusNotFound, "no such tab: "+d.Tab)
		return
	}
	r.page(w, "cluster", "platform", "Cluster "+cls.Name, d, crumb{"Clusters", "/console/platform/clusters"})
}

func nodeRowOf(n *corev1.Node) nodeRow {
	row := nodeRow{Name: n.Name, Status: "NotReady", Version: n.Status.NodeInfo.KubeletVersion, Unschedulable: n.Spec.Unschedulable}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			row.Status = "Ready"
		}
	}
	if q, ok := n.Status.Allocatable[corev1.ResourceCPU]; ok {
		row.CPU = q.String()
	}
	if q, ok := n.Status.Allocatable[corev1.ResourceMemory]; ok {
		row.Memory = humanBytes(q)
	}
	var roles []string
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok {
			roles = append(roles, r)
		}
		row.Labels = append(row.Labels, k+"="+n.Labels[k])
	}
	row.Roles = strings.Join(roles, ",")
	for _, t := range n.Spec.Taints {
		row.Taints = append(row.Taints, t.ToString())
	}
	return row
}

// nodeOp cordons, uncordons, drains, labels or taints a node, through the
// proxy as the user (the member's audit log names them).
func (s *Server) nodeOp(w http.ResponseWriter, r *request) {
	id, node, op := r.PathValue("id"), r.PathValue("node"), r.PathValue("op")
	cs, err := r.member(id)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	changes := strings.Fields(r.PostFormValue("changes"))
	// Bad input is the user's to fix (422), not the cluster's failure.
	var perr error
	switch op {
	case "labels":
		_, _, perr = nodeops.ParseLabels(changes)
	case "taints":
		_, _, perr = nodeops.ParseTaints(changes)
	}
	if perr != nil {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, perr.Error())
		return
	}
	var done string
	switch op {
	case "cordon", "uncordon":
		err = nodeops.Cordon(ctx, cs, node, op == "cordon")
		done = node + " " + op + "ed"
	case "drain":
		err = nodeops.Drain(ctx, cs, node, nodeops.DrainOptions{DeleteEmptyDirData: true, Timeout: 25 * time.Second, Out: io.Discard})
		done = node + " drained"
	case "labels":
		err = nodeops.Label(ctx, cs, node, changes)
		done = "labels of " + node + " changed"
	case "taints":
		err = nodeops.Taint(ctx, cs, node, changes)
		done = "taints of " + node + " changed"
	default:
		s.fail(w, r.Request, http.StatusNotFound, "no such node operation: "+op)
		return
	}
	if err != nil {
		r.fail(w, err)
		return
	}
	s.Log.Info("console node operation", "cluster", id, "node", node, "op", op, "by", r.user.Name())
	redirect(w, r.Request, "/console/platform/clusters/"+url.PathEscape(id)+"?tab=nodes&notice="+url.QueryEscape(done))
}
