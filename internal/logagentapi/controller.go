package logagentapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	logagentv1 "github.com/kstack/kstack/api/logagent/v1"
	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/clustercache"
	"github.com/kstack/kstack/internal/logagent"
)

// Reconciler keeps each cluster's agent configuration (a ConfigMap and a
// Secret in the member) equal to the cluster's rules, and copies the
// agents' reports into the rules' status. It reconciles per cluster.
type Reconciler struct {
	Client          client.Client
	Cache           *clustercache.Cache
	SystemNamespace string
	Log             *slog.Logger
}

// statusEvery is how often a cluster's agents' reports are read.
const statusEvery = 10 * time.Second

// orphanGrace: a password Secret is made before its rule is stored, so one
// without a rule is removed only after this long.
const orphanGrace = 5 * time.Minute

// SetupWithManager watches rules and clusters, keyed by cluster.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Log == nil {
		r.Log = slog.Default()
	}
	byCluster := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		lc, ok := o.(*logagentv1.LogCollector)
		if !ok {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: lc.Spec.ClusterName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("log-collector").
		For(&platformv1.Cluster{}).
		Watches(&logagentv1.LogCollector{}, byCluster).
		Complete(r)
}

// Reconcile brings one cluster's agent configuration up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cluster := req.Name
	var all logagentv1.LogCollectorList
	if err := r.Client.List(ctx, &all); err != nil {
		return ctrl.Result{}, err
	}
	var rules []logagentv1.LogCollector
	for _, lc := range all.Items {
		if lc.Spec.ClusterName == cluster && lc.DeletionTimestamp.IsZero() {
			rules = append(rules, lc)
		}
	}
	if err := r.collectOrphans(ctx, all.Items); err != nil {
		r.Log.Warn("removing the passwords of deleted log rules", "err", err)
	}
	e, ok := r.Cache.Get(cluster)
	if !ok {
		if len(rules) > 0 {
			return ctrl.Result{RequeueAfter: statusEvery}, nil
		}
		return ctrl.Result{}, nil
	}
	cfg, secrets, err := r.render(ctx, cluster, rules)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := apply(ctx, e.Client, cfg, secrets); err != nil {
		return ctrl.Result{RequeueAfter: statusEvery}, fmt.Errorf("writing the log agent's configuration in cluster %s: %w", cluster, err)
	}
	if len(rules) == 0 {
		return ctrl.Result{}, nil
	}
	reports, err := readReports(ctx, e.Client)
	if err != nil {
		r.Log.Warn("reading the log agents' reports", "cluster", cluster, "err", err)
	}
	for i := range rules {
		if err := r.updateStatus(ctx, &rules[i], reports); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: statusEvery}, nil
}

// RuleName is the agent's name of a rule.
func RuleName(lc *logagentv1.LogCollector) string { return lc.Namespace + "/" + lc.Name }

// render is the agent configuration of a cluster's rules, with the
// passwords it needs, each under its own key.
func (r *Reconciler) render(ctx context.Context, cluster string, rules []logagentv1.LogCollector) (*logagent.Config, map[string][]byte, error) {
	sort.Slice(rules, func(i, j int) bool { return RuleName(&rules[i]) < RuleName(&rules[j]) })
	cfg := &logagent.Config{Rules: []logagent.Rule{}}
	secrets := map[string][]byte{}
	for i := range rules {
		lc := &rules[i]
		s := lc.Spec
		rule := logagent.Rule{Name: RuleName(lc)}
		switch s.Input.Type {
		case logagentv1.InputStdout:
			switch {
			case len(s.Input.Workloads) > 0:
				for _, w := range s.Input.Workloads {
					rule.Workloads = append(rule.Workloads, logagent.Workload{Namespace: s.Namespace, Kind: w.Kind, Name: w.Name})
				}
			case s.Namespace != "":
				rule.Namespaces = []string{s.Namespace}
			default:
				rule.Namespaces = []string{logagent.AllNamespaces}
			}
		case logagentv1.InputContainerFile:
			for _, cf := range s.Input.ContainerFiles {
				rule.ContainerFiles = append(rule.ContainerFiles, logagent.ContainerFile{
					Workload:  logagent.Workload{Namespace: s.Namespace, Kind: cf.Workload.Kind, Name: cf.Workload.Name},
					Container: cf.Container, Path: cf.Path})
			}
		case logagentv1.InputHostFile:
			rule.HostFiles = append(rule.HostFiles, s.Input.HostFiles...)
		}
		for _, o := range s.Outputs {
			sink := logagent.Sink{Name: o.Name, Type: o.Type}
			c := credentialsOf(&o)
			key := ""
			if c != nil && c.PasswordSecret != "" {
				var sec corev1.Secret
				if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.SystemNamespace, Name: c.PasswordSecret}, &sec); err != nil {
					return nil, nil, fmt.Errorf("reading the password of rule %s output %s: %w", rule.Name, o.Name, err)
				}
				key = lc.Namespace + "." + lc.Name + "." + o.Name
				secrets[key] = sec.Data[o.Name]
			}
			switch {
			case o.Kafka != nil:
				sink.Kafka = &logagent.KafkaSink{Brokers: o.Kafka.Brokers, Topic: o.Kafka.Topic, Username: o.Kafka.Username, PasswordKey: key}
			case o.Elasticsearch != nil:
				sink.Elasticsearch = &logagent.ESSink{Addresses: o.Elasticsearch.Addresses, Index: o.Elasticsearch.Index, Username: o.Elasticsearch.Username, PasswordKey: key}
			case o.Loki != nil:
				sink.Loki = &logagent.LokiSink{URL: o.Loki.URL, TenantID: o.Loki.TenantID, Username: o.Loki.Username, PasswordKey: key, Labels: o.Loki.Labels}
			}
			rule.Sinks = append(rule.Sinks, sink)
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, secrets, nil
}

// apply writes the configuration and the passwords into the member,
// Secret first so that the agent never reads a rule whose password is
// not there yet.
func apply(ctx context.Context, cs kubernetes.Interface, cfg *logagent.Config, secrets map[string][]byte) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	ns := logagent.DefaultNamespace
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: logagent.SecretName}, Data: secrets}
	if err := upsert(ctx, func() error {
		_, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{})
		return err
	}, func() error {
		old, err := cs.CoreV1().Secrets(ns).Get(ctx, sec.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(old.Data, sec.Data) || (len(old.Data) == 0 && len(sec.Data) == 0) {
			return nil
		}
		old.Data = sec.Data
		_, err = cs.CoreV1().Secrets(ns).Update(ctx, old, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: logagent.ConfigMapName}, Data: map[string]string{logagent.ConfigKey: string(data)}}
	return upsert(ctx, func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		return err
	}, func() error {
		old, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, cm.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if old.Data[logagent.ConfigKey] == cm.Data[logagent.ConfigKey] {
			return nil
		}
		old.Data = cm.Data
		_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, old, metav1.UpdateOptions{})
		return err
	})
}

// upsert updates an object that exists (most reconciles change nothing,
// and then write nothing) and creates one that does not.
func upsert(_ context.Context, create, update func() error) error {
	err := update()
	if apierrors.IsNotFound(err) {
		return create()
	}
	return err
}

// readReports reads every agent's report of the cluster.
func readReports(ctx context.Context, cs kubernetes.Interface) ([]logagent.Status, error) {
	l, err := cs.CoreV1().ConfigMaps(logagent.DefaultNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []logagent.Status
	for _, cm := range l.Items {
		if !strings.HasPrefix(cm.Name, logagent.StatusPrefix) {
			continue
		}
		var st logagent.Status
		if json.Unmarshal([]byte(cm.Data[logagent.StatusKey]), &st) == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// updateStatus sums the agents' figures for one rule.
func (r *Reconciler) updateStatus(ctx context.Context, lc *logagentv1.LogCollector, reports []logagent.Status) error {
	name := RuleName(lc)
	st := logagentv1.LogCollectorStatus{Phase: "Pending", Message: "no log agent of the cluster has reported this rule yet"}
	outs := map[string]*logagentv1.OutputStatus{}
	for _, o := range lc.Spec.Outputs {
		outs[o.Name] = &logagentv1.OutputStatus{Name: o.Name, Healthy: true}
	}
	reported := false
	var problems []string
	for _, rep := range reports {
		for _, rs := range rep.Rules {
			if rs.Rule != name {
				continue
			}
			reported = true
			if rs.Error != "" {
				problems = append(problems, fmt.Sprintf("agent %s: %s", rep.Agent, rs.Error))
			}
			for _, ss := range rs.Sinks {
				o, ok := outs[ss.Sink]
				if !ok {
					continue
				}
				o.Delivered += ss.Delivered
				o.Queued += ss.Queued
				o.Dropped += ss.Dropped
				if !ss.Healthy {
					o.Healthy = false
					if ss.LastError != "" {
						o.LastError = ss.LastError
						if ss.LastErrorTime != nil {
							// As stored (seconds), or every comparison differs
							// and each reconcile rewrites the status.
							t := metav1.NewTime(ss.LastErrorTime.Truncate(time.Second))
							o.LastErrorTime = &t
						}
						problems = append(problems, fmt.Sprintf("output %s (agent %s): %s", ss.Sink, rep.Agent, ss.LastError))
					}
				}
			}
		}
	}
	for _, o := range lc.Spec.Outputs {
		st.Outputs = append(st.Outputs, *outs[o.Name])
	}
	if reported {
		st.Phase, st.Message = "Running", ""
		if len(problems) > 0 {
			sort.Strings(problems)
			st.Phase, st.Message = "Failing", strings.Join(problems, "; ")
		}
	}
	old := lc.Status
	old.LastUpdateTime = nil
	if equality.Semantic.DeepEqual(old, st) {
		return nil
	}
	now := metav1.Now()
	st.LastUpdateTime = &now
	lc.Status = st
	return r.Client.Status().Update(ctx, lc)
}

// collectOrphans deletes the password Secrets of rules that are gone.
func (r *Reconciler) collectOrphans(ctx context.Context, rules []logagentv1.LogCollector) error {
	var secs corev1.SecretList
	if err := r.Client.List(ctx, &secs, client.InNamespace(r.SystemNamespace), client.HasLabels{LabelCollector}); err != nil {
		return err
	}
	live := map[string]bool{}
	for _, lc := range rules {
		live[lc.Namespace+"."+lc.Name] = true
	}
	for i := range secs.Items {
		s := &secs.Items[i]
		if live[s.Labels[LabelCollector]] || time.Since(s.CreationTimestamp.Time) < orphanGrace {
			continue
		}
		if err := r.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
