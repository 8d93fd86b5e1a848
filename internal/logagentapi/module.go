// Package logagentapi is the logagent.tkestack.io API group: log
// collection rules (LogCollector) and the rendering of kstack's log agent
// for real clusters. Its controller turns a cluster's rules into the
// agent's configuration in that cluster, and the agents' reports into each
// rule's status.
package logagentapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/decision"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/logagent"
	"github.com/kstack/kstack/internal/randomid"
)

const (
	// Group is the API group.
	Group = "logagent.tkestack.io"
	// Prefix is where the gateway serves it.
	Prefix    = "/logagent"
	groupPath = Prefix + "/apis/" + Group + "/v1/"
	// LabelCollector marks the Secret that holds a collector's passwords.
	LabelCollector = "logagent.tkestack.io/collector"
)

// Module is the logagent group.
type Module struct {
	apigroup.Env
	Cache *clustercache.Cache
	// Dial decides which sink addresses users may give.
	Dial *dialcheck.Policy
}

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// Resources: the rules, governed by the policies of the project they live in.
func (m *Module) Resources() []apigroup.Resource {
	return []apigroup.Resource{{
		Kind: "logcollector", TenantScoped: true,
		Project: func(a attributes.Attributes) string { return a.Namespace },
		// Passwords come in whole bodies only, where Admit moves them out.
		Patch: apigroup.PatchAdmins,
	}}
}

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: the agents' configuration in each cluster, and the rules'
// status from the agents' reports.
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{{Name: "log-collector", Setup: func(mgr ctrl.Manager) error {
		return (&Reconciler{Client: mgr.GetClient(), Cache: m.Cache, SystemNamespace: m.SystemNamespace, Log: m.Log}).SetupWithManager(mgr)
	}}}
}

// Routes: the agent's DaemonSet for a real cluster.
func (m *Module) Routes() []apigroup.Route {
	return []apigroup.Route{{Pattern: "GET " + groupPath + "clusters/{cluster}/agent.yaml", Handler: m.renderAgent}}
}

// Admit completes a create or replace: a generated name, the project, and
// the passwords moved into a Secret of the platform (the rule is stored
// without them).
func (m *Module) Admit(ctx context.Context, r *apigroup.Request) error {
	if r.Object == nil {
		return nil
	}
	a := r.Attributes
	if a.Verb == "create" && r.Object.GetName() == "" {
		// The name is made here even with generateName: the passwords'
		// Secret is named after the rule before the rule is stored.
		if g := r.Object.GetGenerateName(); g != "" {
			r.Object.SetName(randomid.New(g, 5))
		} else {
			r.Object.SetName(randomid.New("lc-", 8))
		}
	}
	var lc logagentv1.LogCollector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &lc); err != nil {
		return apigroup.Invalid("not a LogCollector: %v", err)
	}
	if lc.Namespace == "" {
		// The API server stores the rule in the URL's namespace.
		lc.Namespace = a.Namespace
	}
	if lc.Spec.Namespace != "" && a.Namespace != m.SystemNamespace {
		lc.Spec.ProjectName = a.Namespace
	}
	if err := m.moveCredentials(ctx, r.Principal, &lc); err != nil {
		return err
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&lc)
	if err != nil {
		return err
	}
	r.Object.Object = obj
	return nil
}

// moveCredentials puts each output's password into the collector's Secret
// and leaves a reference. A replace without a password keeps the one kept.
func (m *Module) moveCredentials(ctx context.Context, p *directory.Principal, lc *logagentv1.LogCollector) error {
	secretName := passwordSecretName(lc)
	if lc.Namespace == "" {
		return nil // the gateway has not named the namespace; Validate refuses
	}
	data := map[string][]byte{}
	for i := range lc.Spec.Outputs {
		o := &lc.Spec.Outputs[i]
		c := credentialsOf(o)
		if c == nil || c.Password == "" {
			continue
		}
		data[o.Name] = []byte(c.Password)
		c.Password, c.PasswordSecret = "", secretName
	}
	if len(data) == 0 {
		return nil
	}
	sec := &corev1.Secret{}
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: m.SystemNamespace, Name: secretName}, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.SystemNamespace, Name: secretName,
			Labels: map[string]string{LabelCollector: lc.Namespace + "." + lc.Name, apigroup.LabelTenant: tenantOf(lc, p)}}, Data: data}
		err = m.Client.Create(ctx, sec)
	case err == nil:
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		for k, v := range data {
			sec.Data[k] = v
		}
		err = m.Client.Update(ctx, sec)
	}
	if err != nil {
		return apigroup.Refuse(http.StatusServiceUnavailable, "keeping the outputs' passwords: %v", err)
	}
	return nil
}

// passwordSecretName is the Secret of the platform that holds a rule's
// passwords, and the only one its outputs may name.
func passwordSecretName(lc *logagentv1.LogCollector) string {
	return "logcollector-" + lc.Namespace + "-" + lc.Name
}

func tenantOf(lc *logagentv1.LogCollector, p *directory.Principal) string {
	if lc.Spec.TenantID != "" {
		return lc.Spec.TenantID
	}
	if p.Tenant != "" {
		return p.Tenant
	}
	return apigroup.DefaultTenant
}

func credentialsOf(o *logagentv1.LogOutput) *logagentv1.Credentials {
	switch {
	case o.Kafka != nil:
		return &o.Kafka.Credentials
	case o.Elasticsearch != nil:
		return &o.Elasticsearch.Credentials
	case o.Loki != nil:
		return &o.Loki.Credentials
	}
	return nil
}

// Validate checks a rule as it would be stored: its cluster and namespace
// are the tenant's and the caller's to use, cluster rules are the
// platform administrators', paths are where rules may read, outputs are
// well formed and dial only allowed addresses, and no password is stored.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	var lc logagentv1.LogCollector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &lc); err != nil {
		return apigroup.Invalid("not a LogCollector: %v", err)
	}
	p := r.Principal
	s := &lc.Spec
	var cl platformv1.Cluster
	if err := m.Client.Get(ctx, client.ObjectKey{Name: s.ClusterName}, &cl); err != nil || cl.Spec.TenantID != s.TenantID {
		return apigroup.Invalid("spec.clusterName: no cluster %q", s.ClusterName)
	}
	// A namespace rule's cluster is its namespace's: checkNamespace finds
	// the namespace in the project, on that cluster, and the caller able to
	// read its logs. A cluster rule is the platform administrators'.
	clusterRule := s.Namespace == "" || s.Input.Type == logagentv1.InputHostFile
	switch {
	case clusterRule && !decision.Admin(p):
		return apigroup.Refuse(http.StatusForbidden, "a cluster rule (every namespace, or files on nodes) is for platform administrators only: nodes are shared and hold other tenants' logs; name a namespace of your project in spec.namespace")
	case clusterRule && lc.Namespace != m.SystemNamespace:
		return apigroup.Invalid("a cluster rule lives in namespace %s, not %s", m.SystemNamespace, lc.Namespace)
	case !clusterRule:
		if err := m.checkNamespace(ctx, p, &lc); err != nil {
			return err
		}
	}
	if err := checkInput(s); err != nil {
		return err
	}
	return m.checkOutputs(ctx, &lc)
}

// checkNamespace: spec.namespace is a namespace of the project the rule
// lives in, of the same cluster and tenant, whose logs the caller may read.
func (m *Module) checkNamespace(ctx context.Context, p *directory.Principal, lc *logagentv1.LogCollector) error {
	s := &lc.Spec
	if s.ProjectName != lc.Namespace {
		return apigroup.Invalid("spec.projectName: the rule lives in project %s's namespace, not %q", lc.Namespace, s.ProjectName)
	}
	var ns businessv1.Namespace
	err := m.Client.Get(ctx, client.ObjectKey{Namespace: lc.Namespace, Name: businessv1.ObjectName(s.ClusterName, s.Namespace)}, &ns)
	if err != nil || ns.Spec.TenantID != s.TenantID {
		return apigroup.Invalid("spec.namespace: %s is not a namespace of project %s in cluster %s", s.Namespace, lc.Namespace, s.ClusterName)
	}
	if decision.Admin(p) {
		return nil
	}
	logs := "/api/v1/namespaces/" + s.Namespace + "/pods/any/log"
	a, err := attributes.Member(s.ClusterName, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: logs}}, logs)
	if err != nil {
		return err
	}
	if d := m.Decider.Member(ctx, p, s.ClusterName, s.TenantID, a); !d.Allowed {
		return apigroup.Refuse(http.StatusForbidden, "spec.namespace: %s may not read the logs of namespace %s, so may not collect them: %s", p.Name(), s.Namespace, d.Reason)
	}
	return nil
}

// checkInput checks what the rule reads: the fields of its type only, and
// paths in the allowed pattern.
func checkInput(s *logagentv1.LogCollectorSpec) error {
	in := s.Input
	if s.Namespace == "" && (len(in.Workloads)+len(in.ContainerFiles) > 0) {
		return apigroup.Invalid("spec.namespace: workloads are named in a namespace; a rule of every namespace takes none")
	}
	for i, w := range in.Workloads {
		if msgs := validation.IsDNS1123Subdomain(w.Name); len(msgs) > 0 {
			return apigroup.Invalid("spec.input.workloads[%d].name %q: %s", i, w.Name, strings.Join(msgs, "; "))
		}
	}
	switch in.Type {
	case logagentv1.InputStdout:
		if len(in.ContainerFiles)+len(in.HostFiles) > 0 {
			return apigroup.Invalid("spec.input: a ContainerStdout rule takes workloads only, not containerFiles or hostFiles")
		}
	case logagentv1.InputContainerFile:
		if len(in.ContainerFiles) == 0 || len(in.HostFiles)+len(in.Workloads) > 0 {
			return apigroup.Invalid("spec.input: a ContainerFile rule takes containerFiles (workload, container, path) only")
		}
		for i, cf := range in.ContainerFiles {
			if err := checkPath(cf.Path, "/"); err != nil {
				return apigroup.Invalid("spec.input.containerFiles[%d].path: %v", i, err)
			}
			if cf.Container == "" || cf.Workload.Name == "" {
				return apigroup.Invalid("spec.input.containerFiles[%d]: name the workload and the container", i)
			}
		}
	case logagentv1.InputHostFile:
		if len(in.HostFiles) == 0 || len(in.ContainerFiles)+len(in.Workloads) > 0 {
			return apigroup.Invalid("spec.input: a HostFile rule takes hostFiles only")
		}
		for i, h := range in.HostFiles {
			if err := checkPath(h, logagent.HostLogDir+"/"); err != nil {
				return apigroup.Invalid("spec.input.hostFiles[%d]: %v", i, err)
			}
		}
	default:
		return apigroup.Invalid("spec.input.type %q: use ContainerStdout, ContainerFile or HostFile", in.Type)
	}
	return nil
}

// checkPath: an absolute, clean glob under dir, without "..".
func checkPath(p, dir string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || strings.Contains(p, "..") {
		return fmt.Errorf("%q must be an absolute, clean path without \"..\", e.g. %s*.log", p, dir)
	}
	if !strings.HasPrefix(p, dir) || p == dir {
		return fmt.Errorf("%q is outside %s, the only place such rules may read", p, dir)
	}
	if len(path.Base(p)) > 63 {
		return fmt.Errorf("%q: a file name is at most 63 characters", p)
	}
	return nil
}

// checkOutputs: one sink per output, of its type, at an address the
// platform may dial, and no password stored.
func (m *Module) checkOutputs(ctx context.Context, lc *logagentv1.LogCollector) error {
	outs := lc.Spec.Outputs
	if len(outs) == 0 {
		return apigroup.Invalid("spec.outputs: give at least one output (kafka, elasticsearch or loki)")
	}
	seen := map[string]bool{}
	for i, o := range outs {
		f := fmt.Sprintf("spec.outputs[%d]", i)
		if seen[o.Name] {
			return apigroup.Invalid("%s.name %q is used twice", f, o.Name)
		}
		seen[o.Name] = true
		set := 0
		for _, b := range []bool{o.Kafka != nil, o.Elasticsearch != nil, o.Loki != nil} {
			if b {
				set++
			}
		}
		if set != 1 {
			return apigroup.Invalid("%s: set exactly the field of its type (%s)", f, o.Type)
		}
		var err error
		switch {
		case o.Type == "kafka" && o.Kafka != nil:
			if o.Kafka.Topic == "" {
				return apigroup.Invalid("%s.kafka.topic: name the topic", f)
			}
			for j, b := range o.Kafka.Brokers {
				if err = m.Dial.CheckHostPort(ctx, fmt.Sprintf("%s.kafka.brokers[%d]", f, j), b); err != nil {
					break
				}
			}
		case o.Type == "elasticsearch" && o.Elasticsearch != nil:
			for j, a := range o.Elasticsearch.Addresses {
				if err = m.Dial.CheckURL(ctx, fmt.Sprintf("%s.elasticsearch.addresses[%d]", f, j), a); err != nil {
					break
				}
			}
		case o.Type == "loki" && o.Loki != nil:
			err = m.Dial.CheckURL(ctx, f+".loki.url", o.Loki.URL)
		default:
			return apigroup.Invalid("%s: type %q does not match the field set", f, o.Type)
		}
		if err != nil {
			return apigroup.Invalid("%v", err)
		}
		if c := credentialsOf(&o); c != nil && c.Password != "" {
			return apigroup.Invalid("%s: a password is sent with a create or a replace (PUT) of the whole rule, never in a patch: the platform keeps it in a Secret", f)
		} else if c != nil && c.PasswordSecret != "" && c.PasswordSecret != passwordSecretName(lc) {
			// The agent would send that Secret's key to this sink.
			return apigroup.Invalid("%s: passwordSecret %q is not this rule's (%s): the platform sets it; send the password instead", f, c.PasswordSecret, passwordSecretName(lc))
		}
	}
	return nil
}

// renderAgent serves the agent's DaemonSet and RBAC for a real cluster, to
// the cluster's administrators (kstack applies nothing to it by itself:
// the image is the administrator's choice).
func (m *Module) renderAgent(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	cluster := r.PathValue("cluster")
	if !decision.Admin(p) {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusForbidden, "the log agent runs on every node of a cluster: only platform administrators deploy it"))
		return
	}
	var cl platformv1.Cluster
	if err := m.Client.Get(r.Context(), client.ObjectKey{Name: cluster}, &cl); err != nil {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusNotFound, "no cluster %q", cluster))
		return
	}
	image := r.URL.Query().Get("image")
	if image == "" {
		apigroup.WriteError(w, apigroup.Refuse(http.StatusBadRequest, "give ?image= : the kstack image the agent runs (its entrypoint is `kstack logagent`)"))
		return
	}
	out, err := logagent.RenderYAML(logagent.RenderOptions{Image: image, Cluster: cluster})
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write([]byte(out))
}
