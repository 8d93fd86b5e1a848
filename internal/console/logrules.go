package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	"github.com/kstack/kstack/internal/auth/decision"
)

// systemNamespace is the platform's own namespace (platform.SystemNamespace,
// which this package cannot import), where cluster rules live.
const systemNamespace = "kstack-system"

// The log collection rules (logagent.tkestack.io/v1 LogCollector) of a
// project, in the business console, and every rule, in the platform
// console. Rules are made and deleted through the platform's API as the
// user, so its admission decides (paths, namespaces, sinks), and says why
// next to the form.
func (s *Server) logRuleRoutes(mux *http.ServeMux) {
	const prj = "/console/business/projects/{project}/logrules"
	mux.Handle("GET "+prj, s.authed(s.projectLogRules))
	mux.Handle("POST "+prj, s.authed(s.createLogRule))
	mux.Handle("POST "+prj+"/{name}/delete", s.authed(s.deleteLogRule))
	mux.Handle("GET /console/platform/logrules", s.authed(s.allLogRules))
	mux.Handle("POST /console/platform/logrules", s.authed(s.createLogRule))
	mux.Handle("POST /console/platform/logrules/{namespace}/{name}/delete", s.authed(s.deleteLogRule))
}

func projectLogRulesURL(project string) string {
	return Prefix + "/business/projects/" + url.PathEscape(project) + "/logrules"
}

const platformLogRulesURL = Prefix + "/platform/logrules"

// logRulesData is a page of rules with the form of a new one.
type logRulesData struct {
	// Project is the project whose rules these are; empty on the platform
	// console's page, which lists every rule the user may see (All).
	Project, ProjectName string
	All                  bool
	// Base is the page's URL: the form posts to it.
	Base      string
	Rows      []logRuleRow
	Err       string
	CanCreate bool
	CanDelete bool
	Form      ruleForm
}

// logRuleRow is one rule as the table shows it.
type logRuleRow struct {
	Name, Home, Project, Cluster, Namespace, Input string
	// Details are the workloads or files the rule reads.
	Details         []string
	Outputs         []outputRow
	Phase, Message  string
	Updated         string
	ClusterRule     bool
	DeleteURL       string
	ProjectRulesURL string
}

// outputRow is one output of a rule with what the agents report of it.
type outputRow struct {
	Name, Type, Target, Username string
	// PasswordKept: the platform holds a password for it (never shown).
	PasswordKept bool
	Reported     bool
	Delivered    int64
	Queued       int64
	Dropped      int64
	Healthy      bool
	LastError    string
	LastErrorAt  string
}

func ruleRowOf(lc *logagentv1.LogCollector) logRuleRow {
	s := &lc.Spec
	row := logRuleRow{Name: lc.Name, Home: lc.Namespace, Project: s.ProjectName, Cluster: s.ClusterName, Namespace: s.Namespace,
		Input: string(s.Input.Type), Phase: lc.Status.Phase, Message: lc.Status.Message}
	if row.Phase == "" {
		row.Phase = "Pending"
	}
	row.ClusterRule = s.Namespace == "" || s.Input.Type == logagentv1.InputHostFile
	if row.Project == "" && !row.ClusterRule {
		row.Project = lc.Namespace
	}
	if row.Project != "" {
		row.ProjectRulesURL = projectLogRulesURL(row.Project)
	}
	if t := lc.Status.LastUpdateTime; t != nil {
		row.Updated = t.UTC().Format("2006-01-02 15:04:05")
	}
	for _, wl := range s.Input.Workloads {
		row.Details = append(row.Details, wl.Kind+"/"+wl.Name)
	}
	for _, f := range s.Input.ContainerFiles {
		row.Details = append(row.Details, fmt.Sprintf("%s/%s, container %s: %s", f.Workload.Kind, f.Workload.Name, f.Container, f.Path))
	}
	row.Details = append(row.Details, s.Input.HostFiles...)
	for _, o := range s.Outputs {
		or := outputRow{Name: o.Name, Type: o.Type}
		var c *logagentv1.Credentials
		switch {
		case o.Kafka != nil:
			or.Target = strings.Join(o.Kafka.Brokers, ", ") + " · topic " + o.Kafka.Topic
			c = &o.Kafka.Credentials
		case o.Elasticsearch != nil:
			or.Target = strings.Join(o.Elasticsearch.Addresses, ", ") + " · index " + o.Elasticsearch.Index
			c = &o.Elasticsearch.Credentials
		case o.Loki != nil:
			or.Target = o.Loki.URL
			if o.Loki.TenantID != "" {
				or.Target += " · tenant " + o.Loki.TenantID
			}
			c = &o.Loki.Credentials
		}
		if c != nil {
			// The password itself is never served; only whether one is kept.
			or.Username, or.PasswordKept = c.Username, c.PasswordSecret != "" || c.Password != ""
		}
		for _, st := range lc.Status.Outputs {
			if st.Name == o.Name {
				or.Reported, or.Delivered, or.Queued, or.Dropped, or.Healthy, or.LastError = true, st.Delivered, st.Queued, st.Dropped, st.Healthy, st.LastError
				if st.LastErrorTime != nil {
					or.LastErrorAt = st.LastErrorTime.UTC().Format("2006-01-02 15:04:05")
				}
			}
		}
		row.Outputs = append(row.Outputs, or)
	}
	return row
}

// ruleForm is the "New rule" form as the user filled it in. Passwords are
// never put back into it.
type ruleForm struct {
	Name string
	// Target is PROJECT/CLUSTER/NAMESPACE (NAMESPACE empty: every
	// namespace of the cluster, a cluster rule).
	Target    string
	Input     string
	Workloads string
	// A ContainerFile rule's file.
	FileKind, FileWorkload, FileContainer, FilePath string
	// A HostFile rule's globs, one per line.
	HostFiles string
	// The outputs: each one whose fields are filled in.
	KafkaBrokers, KafkaTopic, KafkaUser string
	ESAddresses, ESIndex, ESUser        string
	LokiURL, LokiTenant, LokiUser       string

	Errors map[string]string
	Error  string

	// The choices.
	Targets       []ruleTarget
	Inputs        []string
	WorkloadKinds []string
}

type ruleTarget struct{ Value, Label string }

// HostFileOffered: the form offers HostFile rules (to administrators).
func (f ruleForm) HostFileOffered() bool {
	for _, in := range f.Inputs {
		if in == string(logagentv1.InputHostFile) {
			return true
		}
	}
	return false
}

// ruleWorkloadKinds are the kinds a rule may name (the API's enum).
var ruleWorkloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "TApp"}

// canonicalKind is the API's spelling of a kind typed in any case.
func canonicalKind(k string) string {
	for _, c := range ruleWorkloadKinds {
		if strings.EqualFold(c, k) {
			return c
		}
	}
	return k
}

// fieldsOf splits a list typed with commas, spaces or new lines.
func fieldsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// parseRuleForm reads the form into a rule. project is the page's project
// (empty on the platform's page: the target names it). The rule lives in
// the project's namespace of the platform, or, when it reads every
// namespace or the nodes' files, in the platform's own namespace. Only
// what the console must know to build the object is checked here: the
// rest is the API's to refuse. rule is nil when a field is wrong.
func parseRuleForm(form url.Values, project string) (f ruleForm, rule *logagentv1.LogCollector) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f = ruleForm{Name: get("name"), Target: get("target"), Input: get("input"), Workloads: get("workloads"),
		FileKind: get("file.kind"), FileWorkload: get("file.workload"), FileContainer: get("file.container"), FilePath: get("file.path"),
		HostFiles:    get("hostFiles"),
		KafkaBrokers: get("kafka.brokers"), KafkaTopic: get("kafka.topic"), KafkaUser: get("kafka.username"),
		ESAddresses: get("es.addresses"), ESIndex: get("es.index"), ESUser: get("es.username"),
		LokiURL: get("loki.url"), LokiTenant: get("loki.tenantID"), LokiUser: get("loki.username"),
		Errors: map[string]string{}}
	if f.Input == "" {
		f.Input = string(logagentv1.InputStdout)
	}
	lc := &logagentv1.LogCollector{TypeMeta: metav1.TypeMeta{APIVersion: logagentv1.GroupVersion.String(), Kind: "LogCollector"}}
	if f.Name == "" {
		lc.GenerateName = "lc-"
	} else {
		lc.Name = f.Name
	}
	parts := strings.SplitN(f.Target, "/", 3)
	if len(parts) != 3 || parts[1] == "" {
		f.Errors["target"] = "choose the cluster and namespace whose logs to collect"
	} else {
		if project == "" {
			project = parts[0]
		}
		lc.Spec.ClusterName, lc.Spec.Namespace = parts[1], parts[2]
	}
	lc.Spec.Input.Type = logagentv1.InputType(f.Input)
	switch lc.Spec.Input.Type {
	case logagentv1.InputStdout:
		for i, line := range strings.Split(f.Workloads, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			kind, name, ok := strings.Cut(line, "/")
			if !ok {
				kind, name, ok = strings.Cut(line, " ")
			}
			kind, name = strings.TrimSpace(kind), strings.TrimSpace(name)
			if !ok || kind == "" || name == "" {
				f.Errors["workloads"] = fmt.Sprintf("line %d, %q: write KIND/NAME, e.g. Deployment/shop", i+1, line)
				continue
			}
			lc.Spec.Input.Workloads = append(lc.Spec.Input.Workloads, logagentv1.WorkloadRef{Kind: canonicalKind(kind), Name: name})
		}
	case logagentv1.InputContainerFile:
		lc.Spec.Input.ContainerFiles = []logagentv1.ContainerFileRef{{
			Workload: logagentv1.WorkloadRef{Kind: canonicalKind(f.FileKind), Name: f.FileWorkload}, Container: f.FileContainer, Path: f.FilePath}}
	case logagentv1.InputHostFile:
		lc.Spec.Input.HostFiles = fieldsOf(f.HostFiles)
		// Files on the nodes are the cluster's, whatever the namespace chosen.
		lc.Spec.Namespace = ""
	default:
		f.Errors["input"] = "choose what to collect"
	}
	if f.KafkaBrokers+f.KafkaTopic+f.KafkaUser+form.Get("kafka.password") != "" {
		lc.Spec.Outputs = append(lc.Spec.Outputs, logagentv1.LogOutput{Name: "kafka", Type: "kafka", Kafka: &logagentv1.KafkaOutput{
			Brokers: fieldsOf(f.KafkaBrokers), Topic: f.KafkaTopic,
			Credentials: logagentv1.Credentials{Username: f.KafkaUser, Password: form.Get("kafka.password")}}})
	}
	if f.ESAddresses+f.ESIndex+f.ESUser+form.Get("es.password") != "" {
		lc.Spec.Outputs = append(lc.Spec.Outputs, logagentv1.LogOutput{Name: "elasticsearch", Type: "elasticsearch", Elasticsearch: &logagentv1.ElasticsearchOutput{
			Addresses: fieldsOf(f.ESAddresses), Index: f.ESIndex,
			Credentials: logagentv1.Credentials{Username: f.ESUser, Password: form.Get("es.password")}}})
	}
	if f.LokiURL+f.LokiTenant+f.LokiUser+form.Get("loki.password") != "" {
		lc.Spec.Outputs = append(lc.Spec.Outputs, logagentv1.LogOutput{Name: "loki", Type: "loki", Loki: &logagentv1.LokiOutput{
			URL: f.LokiURL, TenantID: f.LokiTenant,
			Credentials: logagentv1.Credentials{Username: f.LokiUser, Password: form.Get("loki.password")}}})
	}
	// A rule of every namespace, or of the nodes' files, is a cluster rule:
	// it lives in the platform's namespace (and only administrators make it).
	if lc.Spec.Namespace == "" {
		lc.Namespace = systemNamespace
	} else {
		lc.Namespace = project
		if project == "" {
			f.Errors["target"] = "choose a namespace of a project"
		}
	}
	if len(f.Errors) > 0 {
		return f, nil
	}
	return f, lc
}

// projectLogRules is a project's rules (business console).
func (s *Server) projectLogRules(w http.ResponseWriter, r *request) {
	project, ok := r.projectParam(w)
	if !ok {
		return
	}
	s.renderLogRules(w, r, project, nil)
}

// allLogRules is every rule the user may list (platform console).
func (s *Server) allLogRules(w http.ResponseWriter, r *request) {
	s.renderLogRules(w, r, "", nil)
}

// projectParam is the path's project, or a 404.
func (r *request) projectParam(w http.ResponseWriter) (string, bool) {
	p := r.PathValue("project")
	if len(validation.IsDNS1123Label(p)) > 0 {
		r.s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no project %q", p))
		return "", false
	}
	return p, true
}

// renderLogRules shows a page of rules (project's, or all when project is
// empty) and the form; f is the form sent back with what was wrong, which
// an htmx request gets alone.
func (s *Server) renderLogRules(w http.ResponseWriter, r *request, project string, f *ruleForm) {
	admin := decision.Admin(r.user)
	d := logRulesData{Project: project, ProjectName: project, All: project == "", Base: platformLogRulesURL}
	if project != "" {
		d.Base = projectLogRulesURL(project)
		d.CanCreate = r.can(project, "createLogcollector", "namespace:"+project+"/logcollector:*")
		d.CanDelete = r.can(project, "deleteLogcollector", "namespace:"+project+"/logcollector:*")
	} else {
		// Rules made here name any project's namespace, or are cluster rules.
		d.CanCreate, d.CanDelete = admin, admin
	}
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	if f == nil {
		f = &ruleForm{Input: string(logagentv1.InputStdout), FileKind: "Deployment", Errors: map[string]string{}}
	}
	f.Inputs = []string{string(logagentv1.InputStdout), string(logagentv1.InputContainerFile)}
	if admin {
		f.Inputs = append(f.Inputs, string(logagentv1.InputHostFile))
	}
	f.WorkloadKinds = ruleWorkloadKinds[:5]
	if d.CanCreate {
		f.Targets = r.ruleTargets(project, admin, &d)
	}
	d.Form = *f
	if f.Error != "" || len(f.Errors) > 0 {
		if isHTMX(r.Request) {
			r.fragment(w, http.StatusOK, "logrules", "ruleform", d)
			return
		}
	}
	var l logagentv1.LogCollectorList
	var opts []client.ListOption
	if project != "" {
		opts = append(opts, client.InNamespace(project))
	}
	if err := c.List(ctx, &l, opts...); err != nil {
		code, msg := explain(err)
		if code == http.StatusUnauthorized {
			r.fail(w, err)
			return
		}
		d.Err = msg
	}
	sort.Slice(l.Items, func(i, j int) bool {
		a, b := &l.Items[i], &l.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for i := range l.Items {
		row := ruleRowOf(&l.Items[i])
		if d.CanDelete {
			if project != "" {
				row.DeleteURL = d.Base + "/" + url.PathEscape(row.Name) + "/delete"
			} else {
				row.DeleteURL = d.Base + "/" + url.PathEscape(row.Home) + "/" + url.PathEscape(row.Name) + "/delete"
			}
		}
		d.Rows = append(d.Rows, row)
	}
	if project == "" {
		r.page(w, "logrules", "platform", "Log collection", d)
		return
	}
	r.page(w, "logrules", "business", "Log collection of "+d.ProjectName, d, crumb{"My projects", Prefix + "/business"})
}

// ruleTargets are the form's choices of where to collect: the project's
// namespaces (every project's on the platform's page) and, for
// administrators, every namespace of a cluster. It also names the project.
func (r *request) ruleTargets(project string, admin bool, d *logRulesData) []ruleTarget {
	var out []ruleTarget
	clusters := map[string]bool{}
	add := func(prj, cluster, ns string) {
		out = append(out, ruleTarget{Value: prj + "/" + cluster + "/" + ns, Label: ns + " in " + cluster})
		clusters[cluster] = true
	}
	inPortal := false
	if p, err := r.portal(); err == nil && project != "" {
		for _, prj := range p.Projects {
			if prj.Name != project {
				continue
			}
			inPortal = true
			if prj.DisplayName != "" {
				d.ProjectName = prj.DisplayName
			}
			for _, n := range prj.Namespaces {
				cl, ns, _ := strings.Cut(n, "/")
				add(project, cl, ns)
			}
			for _, cl := range prj.Clusters {
				clusters[cl] = true
			}
		}
	}
	if !inPortal {
		// An administrator on a project they are not a member of, or the
		// platform's page: the projects' Namespace objects.
		var nss businessv1.NamespaceList
		var opts []client.ListOption
		if project != "" {
			opts = append(opts, client.InNamespace(project))
		}
		if c, err := r.platform(); err == nil && c.List(r.Context(), &nss, opts...) == nil {
			for _, n := range nss.Items {
				prj := n.Spec.ProjectName
				if prj == "" {
					prj = n.Namespace
				}
				t := ruleTarget{Value: prj + "/" + n.Spec.ClusterName + "/" + n.Spec.Namespace, Label: n.Spec.Namespace + " in " + n.Spec.ClusterName}
				if project == "" {
					t.Label += " (project " + prj + ")"
				}
				out = append(out, t)
				clusters[n.Spec.ClusterName] = true
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	if admin {
		if project == "" && r.s.Clusters != nil {
			if items, err := r.listClusters(); err == nil {
				for i := range items {
					if items[i].Name != "global" {
						clusters[items[i].Name] = true
					}
				}
			}
		}
		names := make([]string, 0, len(clusters))
		for cl := range clusters {
			names = append(names, cl)
		}
		sort.Strings(names)
		for _, cl := range names {
			out = append(out, ruleTarget{Value: project + "/" + cl + "/", Label: "every namespace of " + cl + " (a cluster rule)"})
		}
	}
	return out
}

// createLogRule makes a rule from the form through the platform's API as
// the user: a refusal is shown next to the form, with the API's words.
func (s *Server) createLogRule(w http.ResponseWriter, r *request) {
	project := ""
	if r.PathValue("project") != "" {
		var ok bool
		if project, ok = r.projectParam(w); !ok {
			return
		}
	}
	_ = r.ParseForm()
	f, lc := parseRuleForm(r.PostForm, project)
	if lc != nil {
		err := r.create(lc)
		if err == nil {
			back := platformLogRulesURL
			if project != "" {
				back = projectLogRulesURL(project)
			}
			notice := "Rule " + lc.Name + " created: the cluster's log agents start collecting once it is delivered to them"
			if lc.Namespace == systemNamespace && project != "" {
				notice = "Rule " + lc.Name + " created as a cluster rule (namespace " + systemNamespace + "): the platform console's Log collection page lists it"
			}
			s.Log.Info("console log rule created", "namespace", lc.Namespace, "name", lc.Name, "cluster", lc.Spec.ClusterName, "by", r.user.Name())
			redirect(w, r.Request, back+"?notice="+url.QueryEscape(notice))
			return
		}
		_, f.Error = explain(err)
	}
	if f.Error == "" && len(f.Errors) == 0 {
		f.Error = "the rule could not be made"
	}
	s.renderLogRules(w, r, project, &f)
}

// deleteLogRule deletes a rule once its name is typed to confirm.
func (s *Server) deleteLogRule(w http.ResponseWriter, r *request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	back := platformLogRulesURL
	if r.PathValue("project") != "" {
		var ok bool
		if ns, ok = r.projectParam(w); !ok {
			return
		}
		back = projectLogRulesURL(ns)
	}
	if len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no rule %q in %q", name, ns))
		return
	}
	if r.PostFormValue("confirm") != name {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+name+" to confirm the delete")
		return
	}
	c, err := r.platform()
	if err == nil {
		lc := &logagentv1.LogCollector{}
		lc.Namespace, lc.Name = ns, name
		err = c.Delete(r.Context(), lc)
	}
	if err != nil {
		r.fail(w, err)
		return
	}
	s.Log.Info("console log rule deleted", "namespace", ns, "name", name, "by", r.user.Name())
	redirect(w, r.Request, back+"?notice="+url.QueryEscape("Rule "+name+" deleted: its logs are no longer collected"))
}

// Figures are an output's counts as the table shows them.
func (o outputRow) Figures() string {
	return "delivered " + strconv.FormatInt(o.Delivered, 10) + " · queued " + strconv.FormatInt(o.Queued, 10) + " · dropped " + strconv.FormatInt(o.Dropped, 10)
}
