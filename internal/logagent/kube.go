package logagent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Labels of the objects the agent writes.
var agentLabels = map[string]string{
	"app.kubernetes.io/name":       "kstack-logagent",
	"app.kubernetes.io/managed-by": "kstack",
}

// startInformers watches the config ConfigMap, the sinks Secret (each by
// name only: the agent may read nothing else there) and the pods (of --node
// only, when set).
func (a *Agent) startInformers(ctx context.Context) error {
	c, ns := a.o.Client, a.o.ConfigNamespace
	byName := func(name string) informers.SharedInformerOption {
		return informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		})
	}
	cmF := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns), byName(ConfigMapName))
	secF := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns), byName(SecretName))
	podOpts := []informers.SharedInformerOption{informers.WithTransform(slimPod)}
	if a.o.Node != "" {
		podOpts = append(podOpts, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.o.Node).String()
		}))
	}
	podF := informers.NewSharedInformerFactoryWithOptions(c, 0, podOpts...)

	if _, err := cmF.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onConfigMap(o, false) },
		UpdateFunc: func(_, o any) { a.onConfigMap(o, false) },
		DeleteFunc: func(o any) { a.onConfigMap(o, true) },
	}); err != nil {
		return err
	}
	if _, err := secF.Core().V1().Secrets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onSecret(o, false) },
		UpdateFunc: func(_, o any) { a.onSecret(o, false) },
		DeleteFunc: func(o any) { a.onSecret(o, true) },
	}); err != nil {
		return err
	}
	if _, err := podF.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onPod(o, false) },
		UpdateFunc: func(_, o any) { a.onPod(o, false) },
		DeleteFunc: func(o any) { a.onPod(o, true) },
	}); err != nil {
		return err
	}
	a.mu.Lock()
	a.cfgErr = fmt.Sprintf("no ConfigMap %s/%s yet", ns, ConfigMapName)
	a.mu.Unlock()
	for _, f := range []informers.SharedInformerFactory{cmF, secF, podF} {
		f.Start(ctx.Done())
	}
	for _, f := range []informers.SharedInformerFactory{cmF, secF, podF} {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("logagent: watching %v did not sync", typ)
			}
		}
	}
	// The handlers run on their own time: take the synced objects now, so
	// the first rules applied are the real ones.
	if o, ok, _ := cmF.Core().V1().ConfigMaps().Informer().GetStore().GetByKey(ns + "/" + ConfigMapName); ok {
		a.onConfigMap(o, false)
	}
	if o, ok, _ := secF.Core().V1().Secrets().Informer().GetStore().GetByKey(ns + "/" + SecretName); ok {
		a.onSecret(o, false)
	}
	for _, o := range podF.Core().V1().Pods().Informer().GetStore().List() {
		a.onPod(o, false)
	}
	return nil
}

// slimPod keeps what podInfo reads, so a node's worth of pods (or a local
// cluster's) costs little memory.
func slimPod(o any) (any, error) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return o, nil
	}
	p.ManagedFields = nil
	p.Annotations = nil
	p.Status = corev1.PodStatus{}
	slim := func(cs []corev1.Container) {
		for i := range cs {
			cs[i] = corev1.Container{Name: cs[i].Name, VolumeMounts: cs[i].VolumeMounts}
		}
	}
	slim(p.Spec.InitContainers)
	slim(p.Spec.Containers)
	p.Spec.EphemeralContainers = nil
	vols := p.Spec.Volumes[:0]
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			vols = append(vols, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
	}
	p.Spec = corev1.PodSpec{NodeName: p.Spec.NodeName, InitContainers: p.Spec.InitContainers, Containers: p.Spec.Containers, Volumes: vols}
	return p, nil
}

func (a *Agent) onConfigMap(o any, deleted bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	cm, ok := o.(*corev1.ConfigMap)
	if !ok || cm.Name != ConfigMapName || cm.Namespace != a.o.ConfigNamespace {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	raw, hasKey := cm.Data[ConfigKey]
	seen := "deleted"
	if !deleted {
		seen = fmt.Sprintf("%t\x00%s", hasKey, raw)
	}
	if seen == a.cfgSeen {
		// Seen already (the handler and the first read after sync both
		// deliver it; a resync delivers it again).
		return
	}
	a.cfgSeen = seen
	switch {
	case deleted:
		// The platform removed every collector: nothing to collect.
		a.cfg, a.cfgVersion, a.cfgErr = &Config{}, "", ""
	default:
		var cfg Config
		if !hasKey {
			a.cfgErr = fmt.Sprintf("ConfigMap %s/%s has no key %s", cm.Namespace, cm.Name, ConfigKey)
			a.cfg, a.cfgVersion = &Config{}, cm.ResourceVersion
		} else if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			// Keep collecting with the last good config.
			a.cfgErr = fmt.Sprintf("ConfigMap %s/%s key %s: %v; the previous config stays applied", cm.Namespace, cm.Name, ConfigKey, err)
		} else {
			a.cfg, a.cfgVersion, a.cfgErr = &cfg, cm.ResourceVersion, ""
		}
	}
	signal(a.wake)
}

func (a *Agent) onSecret(o any, deleted bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	s, ok := o.(*corev1.Secret)
	if !ok || s.Name != SecretName || s.Namespace != a.o.ConfigNamespace {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	data := s.Data
	if deleted {
		data = nil
	}
	if a.secretSeen && maps.EqualFunc(data, a.secret, bytes.Equal) {
		return
	}
	a.secret, a.secretSeen = maps.Clone(data), true
	signal(a.wake)
}

func (a *Agent) onPod(o any, deleted bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	uid := string(p.UID)
	if deleted {
		// Its log directory may outlive it a little: keep what it was.
		if pi := a.pods[uid]; pi != nil {
			a.gone[uid] = goneInfo{pod: pi, at: time.Now()}
		}
		delete(a.pods, uid)
	} else {
		a.pods[uid] = podInfoOf(p)
	}
	a.mu.Unlock()
	signal(a.podsDirty)
}

// Status returns the agent's status now.
func (a *Agent) Status() Status {
	a.viewMu.Lock()
	defer a.viewMu.Unlock()
	rules, version, cfgErr := a.view, a.viewCfg, a.viewCfgErr
	s := Status{Agent: a.o.Name, Cluster: a.o.Cluster, Node: a.o.Node, Updated: time.Now().UTC().Truncate(time.Second),
		ConfigVersion: version, ConfigError: cfgErr, Rules: []RuleStatus{}}
	for _, r := range rules {
		rs := RuleStatus{Rule: r.Name, Files: r.files, Sinks: []SinkStatus{}}
		errs := append(append([]string(nil), r.errs...), r.scanErrs...)
		if len(errs) > 0 {
			rs.Error = errs[0]
			if len(errs) > 1 {
				rs.Error += fmt.Sprintf(" (and %d more)", len(errs)-1)
			}
		}
		for _, e := range r.sinks {
			rs.Sinks = append(rs.Sinks, e.status())
		}
		s.Rules = append(s.Rules, rs)
	}
	return s
}

// statusLoop writes the status every StatusInterval (the platform also
// learns from it that the agent is alive) and soon after a change.
func (a *Agent) statusLoop(ctx context.Context) {
	t := time.NewTicker(a.o.StatusInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.statusKick:
			// Let a burst of changes settle into one write.
			if !sleep(ctx, 200*time.Millisecond) {
				return
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.writeStatus(wctx)
		cancel()
		if err != nil && !failing {
			a.log.Warn("writing the status ConfigMap", "name", a.statusName, "error", err)
		} else if err == nil && failing {
			a.log.Info("writing the status ConfigMap works again", "name", a.statusName)
		}
		failing = err != nil
	}
}

// writeStatus updates the status ConfigMap, creating it the first time. The
// update carries no resourceVersion (only this agent writes it), so the
// agent needs no read access to it.
func (a *Agent) writeStatus(ctx context.Context) error {
	b, err := json.MarshalIndent(a.Status(), "", "  ")
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: a.statusName, Namespace: a.o.ConfigNamespace, Labels: agentLabels},
		Data:       map[string]string{StatusKey: string(b)},
	}
	cms := a.o.Client.CoreV1().ConfigMaps(a.o.ConfigNamespace)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	}
	return err
}
