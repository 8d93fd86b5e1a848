package console

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

func (s *Server) businessRoutes(mux *http.ServeMux) {
	const ns = "/console/business/{cluster}/{ns}"
	mux.Handle("GET /console/business", s.authed(s.business))
	mux.Handle("GET "+ns+"/{$}", s.authed(func(w http.ResponseWriter, r *request) {
		http.Redirect(w, r.Request, nsURL(r.PathValue("cluster"), r.PathValue("ns"))+"/deployments", http.StatusFound)
	}))
	mux.Handle("GET "+ns+"/new", s.authed(s.workloadForm))
	mux.Handle("GET "+ns+"/new/container", s.authed(s.containerFields))
	mux.Handle("POST "+ns+"/new", s.authed(s.createWorkload))
	mux.Handle("GET "+ns+"/yaml", s.authed(s.yamlForm))
	mux.Handle("POST "+ns+"/yaml", s.authed(s.createFromYAML))
	mux.Handle("GET "+ns+"/{kind}", s.authed(s.namespaceKind))
	mux.Handle("GET "+ns+"/{kind}/{name}", s.authed(s.objectDetail))
	mux.Handle("POST "+ns+"/{kind}/{name}/{action}", s.authed(s.objectAction))
	mux.Handle("GET "+ns+"/pods/{name}/logs", s.authed(s.podLogs))
	mux.Handle("GET "+ns+"/{kind}/{name}/logs", s.authed(s.workloadLogs))
	mux.Handle("GET "+ns+"/pods/{name}/shell", s.authed(s.podShell))
	mux.Handle("GET "+ns+"/pods/{name}/exec", s.authed(s.podExec))
	mux.Handle("GET "+ns+"/secrets/{name}/reveal", s.authed(s.revealSecret))
}

func nsURL(cluster, ns string) string {
	return "/console/business/" + url.PathEscape(cluster) + "/" + url.PathEscape(ns)
}

type businessNS struct{ Cluster, Namespace, URL string }

type businessProject struct {
	Name, DisplayName, Role string
	Namespaces              []businessNS
}

func (s *Server) business(w http.ResponseWriter, r *request) {
	p, err := r.portal()
	if err != nil {
		r.fail(w, err)
		return
	}
	var out []businessProject
	for _, prj := range p.Projects {
		bp := businessProject{Name: prj.Name, DisplayName: prj.DisplayName, Role: prj.Role}
		for _, n := range prj.Namespaces {
			cl, ns, _ := strings.Cut(n, "/")
			bp.Namespaces = append(bp.Namespaces, businessNS{cl, ns, nsURL(cl, ns)})
		}
		sort.Slice(bp.Namespaces, func(i, j int) bool { return bp.Namespaces[i].URL < bp.Namespaces[j].URL })
		out = append(out, bp)
	}
	r.page(w, "business", "business", "My projects", out)
}

// nsView is what every namespace page shows above its content.
type nsView struct {
	Cluster, Namespace, Base string
	Kind                     string
	Tabs                     []tab
	CanCreate                bool
}

type tab struct {
	Name, Title, URL string
	Current          bool
}

func (r *request) nsView(kind string) nsView {
	cl, ns := r.PathValue("cluster"), r.PathValue("ns")
	v := nsView{Cluster: cl, Namespace: ns, Base: nsURL(cl, ns), Kind: kind}
	for _, k := range namespaceKinds {
		v.Tabs = append(v.Tabs, tab{Name: k, Title: kinds[k].Title, URL: v.Base + "/" + k, Current: k == kind})
	}
	v.Tabs = append(v.Tabs, tab{Name: "tapps", Title: "TApps", URL: v.Base + "/tapps", Current: kind == "tapps"})
	v.Tabs = append(v.Tabs, tab{Name: "autoscaling", Title: "Autoscaling", URL: v.Base + "/autoscaling", Current: kind == "autoscaling"})
	v.Tabs = append(v.Tabs, tab{Name: "monitoring", Title: "Monitoring", URL: v.Base + "/monitoring", Current: kind == "monitoring"})
	v.CanCreate = r.canMember(cl, http.MethodPost, "/apis/apps/v1/namespaces/"+ns+"/deployments")
	return v
}

func (r *request) crumbs() []crumb {
	return []crumb{{"My projects", "/console/business"}, {r.PathValue("cluster") + " / " + r.PathValue("ns"), nsURL(r.PathValue("cluster"), r.PathValue("ns"))}}
}

type listData struct {
	NS    nsView
	Q     string
	Table *table
	Pager pager
	Err   string
	Live  string
}

// namespacedKind is the kind the path names, or a 404 page.
func (r *request) namespacedKind(w http.ResponseWriter) (*kindInfo, bool) {
	k, ok := kinds[r.PathValue("kind")]
	if !ok || !k.Namespaced {
		r.s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("the console has no page for %q", r.PathValue("kind")))
		return nil, false
	}
	return k, true
}

func (s *Server) namespaceKind(w http.ResponseWriter, r *request) {
	k, ok := r.namespacedKind(w)
	if !ok {
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := listData{NS: r.nsView(k.Name), Q: q}
	t, pg, err := r.listKind(ctx, d.NS.Cluster, d.NS.Namespace, k, q)
	if err != nil {
		code, msg := explain(err)
		if code == http.StatusUnauthorized {
			r.fail(w, err)
			return
		}
		d.Err = msg
	}
	d.Table, d.Pager = t, pg
	d.Live = withQuery(r.URL, "fragment", "")
	d.Live += "&fragment=rows"
	if r.URL.Query().Get("fragment") == "rows" {
		r.fragment(w, http.StatusOK, "nslist", "rows", d)
		return
	}
	r.page(w, "nslist", "business", k.Title+" in "+d.NS.Namespace, d, r.crumbs()...)
}

// objectData is an object's page.
type objectData struct {
	NS         nsView
	Kind       *kindInfo
	Name       string
	YAML       string
	Fields     [][2]string
	Problems   []string
	Pods       *table
	Events     *table
	Containers []string
	Replicas   int64
	Scalable   bool
	Images     []containerImage
	CanWrite   bool
	CanDelete  bool
	CanExec    bool
	CanLogs    bool
	CanReveal  bool
	Rollback   bool
	// LogsURL is the workload's Logs tab (its pods' recent lines).
	LogsURL string
	// Monitor is the charts of a pod or workload.
	Monitor *monitorView
	Err     string
	EditErr string
}

type containerImage struct{ Container, Image string }

func (r *request) apiPath(k *kindInfo, ns, name string) string {
	p := "/api/v1"
	if k.GVR.Group != "" {
		p = "/apis/" + k.GVR.Group + "/" + k.GVR.Version
	}
	return p + "/namespaces/" + ns + "/" + k.GVR.Resource + "/" + name
}

func (s *Server) objectDetail(w http.ResponseWriter, r *request) {
	s.renderObject(w, r, "", "")
}

func (s *Server) renderObject(w http.ResponseWriter, r *request, editErr, editYAML string) {
	k, ok := r.namespacedKind(w)
	if !ok {
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	d := objectData{NS: r.nsView(k.Name), Kind: k, Name: r.PathValue("name"), EditErr: editErr}
	dc, err := r.dynamicMember(d.NS.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	u, err := dc.Resource(k.GVR).Namespace(d.NS.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		r.fail(w, err)
		return
	}
	path := r.apiPath(k, d.NS.Namespace, d.Name)
	d.CanWrite = r.canMember(d.NS.Cluster, http.MethodPut, path)
	d.CanDelete = r.canMember(d.NS.Cluster, http.MethodDelete, path)
	if k.Name == "secrets" {
		// Values stay hidden until asked for, and are never in the page's YAML.
		d.CanReveal = r.canMember(d.NS.Cluster, http.MethodGet, path)
		for key := range u.Object["data"].(map[string]any) {
			u.Object["data"].(map[string]any)[key] = "(hidden)"
		}
		delete(u.Object, "stringData")
		if ann := u.GetAnnotations(); ann != nil {
			delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
			u.SetAnnotations(ann)
		}
	}
	u.SetManagedFields(nil)
	y, _ := yaml.Marshal(u.Object)
	d.YAML = string(y)
	if editYAML != "" {
		d.YAML = editYAML
	}
	d.Fields = append(d.Fields, [2]string{"Created", u.GetCreationTimestamp().Format(time.RFC3339)})
	cells := k.Cells(u)
	for i, col := range k.Columns {
		if i < len(cells) {
			d.Fields = append(d.Fields, [2]string{col, cells[i].Text})
		}
	}
	labels := u.GetLabels()
	lk := make([]string, 0, len(labels))
	for key := range labels {
		lk = append(lk, key+"="+labels[key])
	}
	sort.Strings(lk)
	d.Fields = append(d.Fields, [2]string{"Labels", strings.Join(lk, ", ")})
	if k.Workload {
		s.workloadDetail(ctx, r, u, &d)
	}
	if k.Name == "pods" {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
		for _, c := range cs {
			m, _ := c.(map[string]any)
			d.Containers = append(d.Containers, fmt.Sprint(m["name"]))
		}
		d.CanLogs = r.canMember(d.NS.Cluster, http.MethodGet, path+"/log")
		d.CanExec = r.canMember(d.NS.Cluster, http.MethodPost, path+"/exec")
		d.Problems = append(d.Problems, conditionsOf(u)...)
	}
	// Events of this object.
	if ev, err := dc.Resource(kinds["events"].GVR).Namespace(d.NS.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + d.Name, Limit: 100}); err == nil {
		t := &table{Kind: kinds["events"], Columns: kinds["events"].Columns}
		for i := range ev.Items {
			t.Rows = append(t.Rows, tableRow{Name: ev.Items[i].GetName(), Cells: kinds["events"].Cells(&ev.Items[i])})
			if str(&ev.Items[i], "type") == "Warning" && strings.Contains(str(&ev.Items[i], "message"), "quota") {
				d.Problems = append(d.Problems, str(&ev.Items[i], "message"))
			}
		}
		d.Events = t
	}
	if r.URL.Query().Get("fragment") == "status" {
		r.fragment(w, http.StatusOK, "object", "status", d)
		return
	}
	objURL := d.NS.Base + "/" + k.Name + "/" + url.PathEscape(d.Name)
	switch {
	case k.Name == "pods":
		d.Monitor = r.monitorView(objURL, nil, d.NS.Cluster, podCharts(d.NS.Cluster, d.NS.Namespace, d.Name))
	case monitoredWorkloads[k.Name]:
		d.Monitor = r.monitorView(objURL, nil, d.NS.Cluster, workloadCharts(d.NS.Cluster, d.NS.Namespace, k.Kind, d.Name))
	}
	r.page(w, "object", "business", k.Kind+" "+d.Name, d, append(r.crumbs(), crumb{k.Title, d.NS.Base + "/" + k.Name})...)
}

// conditionsOf lists the failing conditions' messages (a Deployment's
// ReplicaFailure carries the quota's refusal).
func conditionsOf(u *unstructured.Unstructured) []string {
	var out []string
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		bad := m["type"] == "ReplicaFailure" && m["status"] == "True" || m["type"] == "Failed" && m["status"] == "True"
		if bad && m["message"] != nil {
			out = append(out, fmt.Sprint(m["message"]))
		}
	}
	return out
}

func (s *Server) workloadDetail(ctx context.Context, r *request, u *unstructured.Unstructured, d *objectData) {
	d.Problems = append(d.Problems, conditionsOf(u)...)
	tmpl := []string{"spec", "template", "spec"}
	if d.Kind.Name == "cronjobs" {
		tmpl = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	cs, _, _ := unstructured.NestedSlice(u.Object, append(tmpl, "containers")...)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		d.Images = append(d.Images, containerImage{fmt.Sprint(m["name"]), fmt.Sprint(m["image"])})
	}
	switch d.Kind.Name {
	case "deployments", "statefulsets":
		d.Scalable = true
		d.Replicas = num(u, "spec", "replicas")
	}
	d.Rollback = d.Kind.Name == "deployments" && d.CanWrite
	if logKinds[d.Kind.Name] {
		d.LogsURL = workloadLogsURL(d.NS.Cluster, d.NS.Namespace, d.Kind.Name, d.Name)
	}
	// Its pods, by the workload's selector.
	sel, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if d.Kind.Name == "jobs" {
		sel = map[string]string{"batch.kubernetes.io/job-name": u.GetName()}
	}
	if d.Kind.Name == "cronjobs" || len(sel) == 0 {
		return
	}
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	dc, err := r.dynamicMember(d.NS.Cluster)
	if err != nil {
		return
	}
	l, err := dc.Resource(kinds["pods"].GVR).Namespace(d.NS.Namespace).List(ctx, metav1.ListOptions{LabelSelector: strings.Join(parts, ","), Limit: 200})
	if err != nil {
		d.Err = err.Error()
		return
	}
	t := &table{Kind: kinds["pods"], Columns: kinds["pods"].Columns}
	for i := range l.Items {
		p := &l.Items[i]
		t.Rows = append(t.Rows, tableRow{Name: p.GetName(), Link: d.NS.Base + "/pods/" + url.PathEscape(p.GetName()), Cells: kinds["pods"].Cells(p)})
	}
	d.Pods = t
}

// objectAction scales, changes an image, rolls back, edits or deletes.
func (s *Server) objectAction(w http.ResponseWriter, r *request) {
	k, ok := r.namespacedKind(w)
	if !ok {
		return
	}
	cl, ns, name, action := r.PathValue("cluster"), r.PathValue("ns"), r.PathValue("name"), r.PathValue("action")
	ctx, cancel := r.timeout()
	defer cancel()
	dc, err := r.dynamicMember(cl)
	if err != nil {
		r.fail(w, err)
		return
	}
	ri := dc.Resource(k.GVR).Namespace(ns)
	back := nsURL(cl, ns) + "/" + k.Name + "/" + url.PathEscape(name)
	var notice string
	switch action {
	case "delete":
		if r.PostFormValue("confirm") != name {
			s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+name+" to confirm the delete")
			return
		}
		prop := metav1.DeletePropagationBackground
		err = ri.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &prop})
		if err == nil {
			s.Log.Info("console delete", "cluster", cl, "namespace", ns, "kind", k.Kind, "name", name, "by", r.user.Name())
			redirect(w, r.Request, nsURL(cl, ns)+"/"+k.Name+"?notice="+url.QueryEscape(k.Kind+" "+name+" deleted"))
			return
		}
	case "scale":
		var n int64
		if _, serr := fmt.Sscanf(strings.TrimSpace(r.PostFormValue("replicas")), "%d", &n); serr != nil || n < 0 || n > 10000 {
			s.fail(w, r.Request, http.StatusUnprocessableEntity, "replicas must be a whole number from 0 to 10000")
			return
		}
		_, err = ri.Patch(ctx, name, types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)), metav1.PatchOptions{}, "scale")
		notice = fmt.Sprintf("Scaled to %d", n)
	case "image":
		container, image := r.PostFormValue("container"), strings.TrimSpace(r.PostFormValue("image"))
		if image == "" || strings.ContainsAny(image, " \t\n") {
			s.fail(w, r.Request, http.StatusUnprocessableEntity, "give an image such as nginx:1.27, without spaces")
			return
		}
		err = setImage(ctx, ri, k, name, container, image)
		notice = "Image of " + container + " set to " + image
	case "rollback":
		err = s.rollback(ctx, r, cl, ns, name)
		notice = "Rolled back to the previous revision"
	case "edit":
		if k.Name == "secrets" {
			// The page's YAML hides the values; saving it would write the mask.
			s.fail(w, r.Request, http.StatusUnprocessableEntity, "the console does not edit Secrets as YAML, since it never shows their values there: create a new Secret from YAML, or use kubectl")
			return
		}
		text := r.PostFormValue("yaml")
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(text), &obj); err != nil {
			s.renderObject(w, r, "The YAML cannot be read: "+err.Error(), text)
			return
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetName() != name || (u.GetNamespace() != "" && u.GetNamespace() != ns) {
			s.renderObject(w, r, fmt.Sprintf("the YAML must keep metadata.name %s and namespace %s", name, ns), text)
			return
		}
		if _, err := ri.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			_, msg := explain(err)
			s.renderObject(w, r, msg, text)
			return
		}
		notice = k.Kind + " " + name + " updated"
	default:
		s.fail(w, r.Request, http.StatusNotFound, "no such action: "+action)
		return
	}
	if err != nil {
		r.fail(w, err)
		return
	}
	s.Log.Info("console action", "action", action, "cluster", cl, "namespace", ns, "kind", k.Kind, "name", name, "by", r.user.Name())
	redirect(w, r.Request, back+"?notice="+url.QueryEscape(notice))
}

type resourceClient interface {
	Get(ctx context.Context, name string, o metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error)
	Update(ctx context.Context, u *unstructured.Unstructured, o metav1.UpdateOptions, sub ...string) (*unstructured.Unstructured, error)
}

// setImage sets one container's image. The workload's controllers write
// its status meanwhile, so a conflict is read again and retried: the
// change asked for is the same on the newer object.
func setImage(ctx context.Context, ri resourceClient, k *kindInfo, name, container, image string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		return setImageOnce(ctx, ri, k, name, container, image)
	})
}

func setImageOnce(ctx context.Context, ri resourceClient, k *kindInfo, name, container, image string) error {
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	path := []string{"spec", "template", "spec", "containers"}
	if k.Name == "cronjobs" {
		path = []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
	}
	cs, _, _ := unstructured.NestedSlice(u.Object, path...)
	found := false
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if m["name"] == container {
			m["image"], found = image, true
		}
	}
	if !found {
		return fmt.Errorf("%s %s has no container %q", k.Kind, name, container)
	}
	if err := unstructured.SetNestedSlice(u.Object, cs, path...); err != nil {
		return err
	}
	_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
	return err
}

// rollback puts a Deployment's previous revision's pod template back, as
// `kubectl rollout undo` does.
func (s *Server) rollback(ctx context.Context, r *request, cl, ns, name string) error {
	cs, err := r.member(cl)
	if err != nil {
		return err
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return err
	}
	rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return err
	}
	current := dep.Annotations["deployment.kubernetes.io/revision"]
	var prev *appsv1.ReplicaSet
	var prevRev int
	for i := range rss.Items {
		rs := &rss.Items[i]
		if !metav1.IsControlledBy(rs, dep) {
			continue
		}
		rev := rs.Annotations["deployment.kubernetes.io/revision"]
		var n int
		_, _ = fmt.Sscanf(rev, "%d", &n)
		if rev != current && n > prevRev {
			prev, prevRev = rs, n
		}
	}
	if prev == nil {
		return fmt.Errorf("deployment %s has no earlier revision to roll back to", name)
	}
	tmpl := prev.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	dep.Spec.Template = *tmpl
	_, err = cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
	return err
}

// revealSecret shows a Secret's values, when asked, to who may read it.
func (s *Server) revealSecret(w http.ResponseWriter, r *request) {
	cs, err := r.member(r.PathValue("cluster"))
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	sec, err := cs.CoreV1().Secrets(r.PathValue("ns")).Get(ctx, r.PathValue("name"), metav1.GetOptions{})
	if err != nil {
		r.fail(w, err)
		return
	}
	var kv [][2]string
	for k, v := range sec.Data {
		kv = append(kv, [2]string{k, string(v)})
	}
	sort.Slice(kv, func(i, j int) bool { return kv[i][0] < kv[j][0] })
	r.fragment(w, http.StatusOK, "object", "secretvalues", kv)
}

// podLogs streams a container's log as server-sent events, one line per
// event; the page inserts each as text.
func (s *Server) podLogs(w http.ResponseWriter, r *request) {
	cs, err := r.member(r.PathValue("cluster"))
	if err != nil {
		r.fail(w, err)
		return
	}
	container := r.URL.Query().Get("container")
	if container != "" && len(validation.IsDNS1123Label(container)) > 0 {
		s.fail(w, r.Request, http.StatusBadRequest, "invalid container name")
		return
	}
	tail := int64(500)
	req := cs.CoreV1().Pods(r.PathValue("ns")).GetLogs(r.PathValue("name"), &corev1.PodLogOptions{Container: container, Follow: true, TailLines: &tail})
	stream, err := req.Stream(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	if err != nil {
		_, msg := explain(err)
		fmt.Fprintf(w, "retry: 10000\nevent: end\ndata: %s\n\n", oneLine(msg))
		flush()
		return
	}
	defer stream.Close()
	fmt.Fprint(w, "retry: 3000\nevent: status\ndata: Following\n\n")
	flush()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stream)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-r.Context().Done():
				return
			}
		}
	}()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				fmt.Fprint(w, "event: end\ndata: The log ended\n\n")
				flush()
				return
			}
			fmt.Fprintf(w, "data: %s\n\n", oneLine(l))
			flush()
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flush()
		case <-r.Context().Done():
			return
		}
	}
}

// oneLine keeps an event's data on one line (SSE splits on newlines).
func oneLine(s string) string {
	return strings.NewReplacer("\r", "", "\n", " ").Replace(s)
}

func (s *Server) podShell(w http.ResponseWriter, r *request) {
	d := objectData{NS: r.nsView("pods"), Kind: kinds["pods"], Name: r.PathValue("name")}
	container := r.URL.Query().Get("container")
	if container != "" && len(validation.IsDNS1123Label(container)) > 0 {
		s.fail(w, r.Request, http.StatusBadRequest, "invalid container name")
		return
	}
	d.Containers = []string{container}
	r.page(w, "shell", "business", "Shell in "+d.Name, d, append(r.crumbs(), crumb{"Pods", d.NS.Base + "/pods"}, crumb{d.Name, d.NS.Base + "/pods/" + url.PathEscape(d.Name)})...)
}

// podExec hands the browser's websocket to the proxy's exec, as the user:
// the decision point and the member's audit log see them, not the console.
func (s *Server) podExec(w http.ResponseWriter, r *request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.fail(w, r.Request, http.StatusBadRequest, "the shell needs a websocket")
		return
	}
	// A websocket is not covered by CSRF tokens: insist on our own origin.
	if r.Header.Get("Origin") != "https://"+r.Host {
		s.fail(w, r.Request, http.StatusForbidden, "the shell may only be opened from the console's own pages")
		return
	}
	q := url.Values{"stdin": {"true"}, "stdout": {"true"}, "stderr": {"false"}, "tty": {"true"}}
	cmd := r.URL.Query().Get("command")
	if cmd == "" {
		cmd = "sh"
	}
	q["command"] = []string{cmd}
	if c := r.URL.Query().Get("container"); c != "" {
		q.Set("container", c)
	}
	req := r.Request.Clone(r.Context())
	req.URL = &url.URL{Path: "/apis/platform.tkestack.io/v1/clusters/" + r.PathValue("cluster") + "/proxy/api/v1/namespaces/" + r.PathValue("ns") + "/pods/" + r.PathValue("name") + "/exec", RawQuery: q.Encode()}
	req.RequestURI = req.URL.RequestURI()
	req.Header.Del("Cookie")
	req.Header.Del("Origin")
	s.Log.Info("console shell", "cluster", r.PathValue("cluster"), "namespace", r.PathValue("ns"), "pod", r.PathValue("name"), "by", r.user.Name())
	s.Serve(w, req, r.user)
}
