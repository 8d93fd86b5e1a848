package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	tappv1 "github.com/kstack/kstack/addonapi/apps/v1"
	extv1 "github.com/kstack/kstack/addonapi/extensions/v1"
	"github.com/kstack/kstack/internal/addons/tapp"
)

// workloadForm is the form of seed 004 §4.3.1.2: a workload of one of
// six kinds (a TApp when the cluster has the TApp add-on), its containers
// (image, resources, env from values, ConfigMaps and Secrets, ports,
// probes, volume mounts), its volumes, replicas, and a Service in front of
// it.
type workloadForm struct {
	NS            nsView
	Kinds         []string
	Kind          string
	Name          string
	Labels        string
	Replicas      string
	Schedule      string
	RestartPolicy string
	Volumes       string
	ServiceType   string
	ServicePorts  string
	Containers    []containerForm
	// ReplicaMode is manual, or cron: a same-named CronHPA of the
	// schedules in Cron sets the replicas (seed 004 §4.2.4.2).
	ReplicaMode string
	Cron        cronFields
	// AddonsURL links the Extension Components page when the cluster has
	// no MissingAddon (CronHPA or TApp) add-on.
	AddonsURL, MissingAddon string
	Errors                  map[string]string
	Error                   string
}

type containerForm struct {
	Index                                      int
	Name, Image, Command, Args                 string
	CPURequest, CPULimit, MemRequest, MemLimit string
	Env, Ports, Mounts                         string
	Probe, ProbePath, ProbePort, ProbeCmd      string
	ProbeDelay                                 string
	Errors                                     map[string]string
}

func newContainer(i int) containerForm {
	return containerForm{Index: i, Probe: "none", CPURequest: "100m", MemRequest: "128Mi", Errors: map[string]string{}}
}

func (s *Server) workloadForm(w http.ResponseWriter, r *request) {
	kind := r.URL.Query().Get("kind")
	if kinds[kind] == nil || !kinds[kind].Workload {
		kind = "deployments"
	}
	f := workloadForm{NS: r.nsView(kind), Kinds: workloadKinds, Kind: kind, Replicas: "1", RestartPolicy: "OnFailure", ServiceType: "None",
		Containers: []containerForm{newContainer(0)}, ReplicaMode: "manual", Errors: map[string]string{}}
	f.Cron = newCronFields(autoscalingURL(f.NS.Base) + "/cronrow")
	r.page(w, "workload", "business", "New workload", f, r.crumbs()...)
}

// containerFields is one more container's fieldset (htmx, "Add container").
func (s *Server) containerFields(w http.ResponseWriter, r *request) {
	i, err := strconv.Atoi(r.URL.Query().Get("i"))
	if err != nil || i < 0 || i >= maxContainers {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, fmt.Sprintf("a workload has at most %d containers here", maxContainers))
		return
	}
	c := newContainer(i)
	c.Name = ""
	r.fragment(w, http.StatusOK, "workload", "container", map[string]any{"C": c, "Next": i + 1, "Base": nsURL(r.PathValue("cluster"), r.PathValue("ns"))})
}

const maxContainers = 8

func parseWorkloadForm(r *http.Request) workloadForm {
	_ = r.ParseForm()
	v := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	f := workloadForm{Kind: v("kind"), Name: v("name"), Labels: v("labels"), Replicas: v("replicas"), Schedule: v("schedule"),
		RestartPolicy: v("restartPolicy"), Volumes: r.PostForm.Get("volumes"), ServiceType: v("serviceType"), ServicePorts: v("servicePorts"),
		ReplicaMode: v("replicaMode"), Cron: parseCronFields(r.PostForm, ""), Errors: map[string]string{}, Kinds: workloadKinds}
	if f.ReplicaMode != "cron" {
		f.ReplicaMode = "manual"
	}
	for i := 0; i < maxContainers; i++ {
		p := fmt.Sprintf("c%d.", i)
		if _, ok := r.PostForm[p+"image"]; !ok {
			continue
		}
		f.Containers = append(f.Containers, containerForm{Index: i, Name: v(p + "name"), Image: v(p + "image"), Command: v(p + "command"), Args: v(p + "args"),
			CPURequest: v(p + "cpuRequest"), CPULimit: v(p + "cpuLimit"), MemRequest: v(p + "memRequest"), MemLimit: v(p + "memLimit"),
			Env: r.PostForm.Get(p + "env"), Ports: v(p + "ports"), Mounts: r.PostForm.Get(p + "mounts"),
			Probe: v(p + "probe"), ProbePath: v(p + "probePath"), ProbePort: v(p + "probePort"), ProbeCmd: v(p + "probeCmd"), ProbeDelay: v(p + "probeDelay"),
			Errors: map[string]string{}})
	}
	return f
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func (f *workloadForm) quantity(errs map[string]string, field, v string) (resource.Quantity, bool) {
	if v == "" {
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() < 0 {
		errs[field] = fmt.Sprintf("%q is not a quantity: write e.g. 250m or 1 for CPU, 256Mi or 1Gi for memory", v)
		return resource.Quantity{}, false
	}
	return q, true
}

// build turns the form into objects, or records what is wrong with each
// field.
func (f *workloadForm) build(namespace string) (workload any, svc *corev1.Service) {
	if errs := validation.IsDNS1123Label(f.Name); f.Name == "" || len(errs) > 0 {
		f.Errors["name"] = "a name is lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
	}
	labels := map[string]string{"app": f.Name}
	for _, l := range strings.FieldsFunc(f.Labels, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		k, val, ok := strings.Cut(l, "=")
		if !ok || len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(val)) > 0 {
			f.Errors["labels"] = fmt.Sprintf("%q is not a label: write key=value, separated by commas", l)
			break
		}
		labels[k] = val
	}
	vols, volNames := f.volumes()
	if len(f.Containers) == 0 {
		f.Error = "a workload needs at least one container"
	}
	var containers []corev1.Container
	for i := range f.Containers {
		// Unnamed containers are named after the workload.
		name := f.Containers[i].Name
		if name == "" {
			name = f.Name
			if i > 0 {
				name = fmt.Sprintf("%s-%d", f.Name, i+1)
			}
		}
		containers = append(containers, f.container(&f.Containers[i], name, volNames))
	}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: containers, Volumes: vols}}
	meta := metav1.ObjectMeta{Name: f.Name, Namespace: namespace, Labels: labels}
	replicas := int32(1)
	if replicated(f.Kind) {
		n, err := strconv.Atoi(f.Replicas)
		if err != nil || n < 0 || n > 1000 {
			f.Errors["replicas"] = "replicas must be a whole number from 0 to 1000"
		}
		replicas = int32(n)
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": f.Name}}
	switch f.Kind {
	case "deployments":
		workload = &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: tmpl}}
	case "statefulsets":
		workload = &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl, ServiceName: f.Name}}
	case "daemonsets":
		workload = &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	case "tapps":
		workload = &tappv1.TApp{TypeMeta: metav1.TypeMeta{APIVersion: tappv1.GroupVersion.String(), Kind: "TApp"}, ObjectMeta: meta,
			Spec: tappv1.TAppSpec{Replicas: replicas, Selector: sel, Template: tmpl}}
	case "jobs", "cronjobs":
		rp := corev1.RestartPolicy(f.RestartPolicy)
		if rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
			f.Errors["restartPolicy"] = "a Job's pods restart OnFailure or Never"
		}
		tmpl.Spec.RestartPolicy = rp
		job := batchv1.JobSpec{Template: tmpl}
		if f.Kind == "jobs" {
			workload = &batchv1.Job{ObjectMeta: meta, Spec: job}
		} else {
			if len(strings.Fields(f.Schedule)) != 5 {
				f.Errors["schedule"] = "a schedule is five cron fields, e.g. */5 * * * * for every five minutes"
			}
			workload = &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: f.Schedule,
				JobTemplate: batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: job}}}
		}
	default:
		f.Errors["kind"] = "choose Deployment, StatefulSet, DaemonSet, Job, CronJob or TApp"
	}
	switch f.ServiceType {
	case "", "None":
	case "ClusterIP", "NodePort":
		svc = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: f.Name, Namespace: namespace, Labels: labels},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceType(f.ServiceType), Selector: map[string]string{"app": f.Name}}}
		for _, p := range strings.FieldsFunc(f.ServicePorts, func(r rune) bool { return r == ',' || r == ' ' }) {
			port, target, _ := strings.Cut(p, ":")
			if target == "" {
				target = port
			}
			pn, err1 := strconv.Atoi(port)
			tn, err2 := strconv.Atoi(target)
			if err1 != nil || err2 != nil || pn < 1 || pn > 65535 || tn < 1 || tn > 65535 {
				f.Errors["servicePorts"] = fmt.Sprintf("%q is not a port mapping: write PORT or PORT:TARGET, e.g. 80:8080", p)
				break
			}
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", pn), Port: int32(pn), TargetPort: intstr.FromInt32(int32(tn)), Protocol: corev1.ProtocolTCP})
		}
		if len(svc.Spec.Ports) == 0 && f.Errors["servicePorts"] == "" {
			f.Errors["servicePorts"] = "a Service needs at least one port, e.g. 80:8080"
		}
	default:
		f.Errors["serviceType"] = "a Service is None, ClusterIP or NodePort"
	}
	return workload, svc
}

// volumes reads lines "NAME TYPE [SOURCE]": emptyDir, configMap NAME,
// secret NAME, pvc CLAIM, hostPath PATH.
func (f *workloadForm) volumes() ([]corev1.Volume, map[string]bool) {
	names := map[string]bool{}
	var out []corev1.Volume
	for _, l := range lines(f.Volumes) {
		parts := strings.Fields(l)
		bad := func(msg string) { f.Errors["volumes"] = fmt.Sprintf("%q: %s", l, msg) }
		if len(parts) < 2 {
			bad("write NAME TYPE [SOURCE], e.g. data emptyDir, or config configMap app-config")
			break
		}
		name, typ := parts[0], parts[1]
		if len(validation.IsDNS1123Label(name)) > 0 {
			bad("the volume's name must be lowercase letters, digits and '-'")
			break
		}
		src := ""
		if len(parts) > 2 {
			src = parts[2]
		}
		v := corev1.Volume{Name: name}
		switch strings.ToLower(typ) {
		case "emptydir":
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		case "configmap":
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: src}}
		case "secret":
			v.Secret = &corev1.SecretVolumeSource{SecretName: src}
		case "pvc":
			v.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: src}
		case "hostpath":
			v.HostPath = &corev1.HostPathVolumeSource{Path: src}
		default:
			bad("the type is one of emptyDir, configMap, secret, pvc, hostPath")
			return out, names
		}
		if typ != "emptyDir" && strings.ToLower(typ) != "emptydir" && src == "" {
			bad("name the " + typ + " to use")
			break
		}
		names[name] = true
		out = append(out, v)
	}
	return out, names
}

func (f *workloadForm) container(c *containerForm, name string, volumes map[string]bool) corev1.Container {
	if c.Name != "" && len(validation.IsDNS1123Label(c.Name)) > 0 {
		c.Errors["name"] = "a container's name is lowercase letters, digits and '-'"
	}
	if c.Image == "" || strings.ContainsAny(c.Image, " \t") {
		c.Errors["image"] = "give an image, e.g. nginx:1.27 or registry.example.com/team/app:v2"
	}
	out := corev1.Container{Name: name, Image: c.Image, Command: strings.Fields(c.Command), Args: strings.Fields(c.Args),
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}}
	for _, q := range []struct {
		v, field string
		list     corev1.ResourceList
		name     corev1.ResourceName
	}{{c.CPURequest, "cpuRequest", out.Resources.Requests, corev1.ResourceCPU}, {c.CPULimit, "cpuLimit", out.Resources.Limits, corev1.ResourceCPU},
		{c.MemRequest, "memRequest", out.Resources.Requests, corev1.ResourceMemory}, {c.MemLimit, "memLimit", out.Resources.Limits, corev1.ResourceMemory}} {
		if qty, ok := f.quantity(c.Errors, q.field, q.v); ok {
			q.list[q.name] = qty
		}
	}
	for _, l := range lines(c.Env) {
		k, v, ok := strings.Cut(l, "=")
		if !ok || len(validation.IsEnvVarName(k)) > 0 {
			c.Errors["env"] = fmt.Sprintf("%q: write NAME=value, NAME=configMap:MAP/KEY or NAME=secret:SECRET/KEY", l)
			break
		}
		env := corev1.EnvVar{Name: k, Value: v}
		for _, src := range []string{"configMap:", "secret:"} {
			if ref, ok := strings.CutPrefix(v, src); ok {
				obj, key, ok := strings.Cut(ref, "/")
				if !ok || obj == "" || key == "" {
					c.Errors["env"] = fmt.Sprintf("%q: a reference is %sNAME/KEY", l, src)
					break
				}
				env.Value = ""
				if src == "configMap:" {
					env.ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: obj}, Key: key}}
				} else {
					env.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: obj}, Key: key}}
				}
			}
		}
		out.Env = append(out.Env, env)
	}
	for _, p := range strings.FieldsFunc(c.Ports, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			c.Errors["ports"] = fmt.Sprintf("%q is not a port number (1-65535)", p)
			break
		}
		out.Ports = append(out.Ports, corev1.ContainerPort{ContainerPort: int32(n), Protocol: corev1.ProtocolTCP})
	}
	for _, l := range lines(c.Mounts) {
		vol, path, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(path, "/") {
			c.Errors["mounts"] = fmt.Sprintf("%q: write VOLUME:/path", l)
			break
		}
		if !volumes[vol] {
			c.Errors["mounts"] = fmt.Sprintf("%q: there is no volume %q; add it under Volumes", l, vol)
			break
		}
		out.VolumeMounts = append(out.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: path})
	}
	var handler corev1.ProbeHandler
	switch c.Probe {
	case "", "none":
		return out
	case "http", "tcp":
		port, err := strconv.Atoi(c.ProbePort)
		if err != nil || port < 1 || port > 65535 {
			c.Errors["probePort"] = "give the port the probe checks"
			return out
		}
		if c.Probe == "http" {
			path := c.ProbePath
			if path == "" {
				path = "/"
			}
			handler.HTTPGet = &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}
		} else {
			handler.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}
		}
	case "exec":
		if c.ProbeCmd == "" {
			c.Errors["probeCmd"] = "give the command the probe runs"
			return out
		}
		handler.Exec = &corev1.ExecAction{Command: strings.Fields(c.ProbeCmd)}
	default:
		c.Errors["probe"] = "a probe is none, http, tcp or exec"
		return out
	}
	delay := 0
	if c.ProbeDelay != "" {
		var err error
		if delay, err = strconv.Atoi(c.ProbeDelay); err != nil || delay < 0 {
			c.Errors["probeDelay"] = "the initial delay is a number of seconds"
		}
	}
	probe := &corev1.Probe{ProbeHandler: handler, InitialDelaySeconds: int32(delay), PeriodSeconds: 10}
	out.ReadinessProbe = probe
	out.LivenessProbe = probe.DeepCopy()
	return out
}

// replicated says whether the form's replicas apply to a kind: those with
// a scale subresource, which a CronHPA may also scale.
func replicated(kind string) bool {
	return kind == "deployments" || kind == "statefulsets" || kind == "tapps"
}

// cronHPA is the same-named CronHPA of a Deployment, StatefulSet or TApp
// whose replicas are scheduled, or nil; a wrong row is marked next to it.
func (f *workloadForm) cronHPA(namespace string) *extv1.CronHPA {
	if f.ReplicaMode != "cron" || !replicated(f.Kind) {
		return nil
	}
	crons := f.Cron.crons()
	if crons == nil {
		return nil
	}
	hpa := newCronHPA(namespace, f.Name, map[string]string{"app": f.Name}, extv1.CronHPASpec{Crons: crons, TimeZone: f.Cron.TimeZone})
	kind := kinds[f.Kind].Kind
	hpa.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: scaleAPIVersions[kind], Kind: kind, Name: f.Name}
	return hpa
}

func (f *workloadForm) hasErrors() bool {
	if len(f.Errors) > 0 || f.Error != "" || f.Cron.failed() {
		return true
	}
	for _, c := range f.Containers {
		if len(c.Errors) > 0 {
			return true
		}
	}
	return false
}

func (s *Server) createWorkload(w http.ResponseWriter, r *request) {
	f := parseWorkloadForm(r.Request)
	f.NS = r.nsView(f.Kind)
	f.Cron.RowURL = autoscalingURL(f.NS.Base) + "/cronrow"
	obj, svc := f.build(f.NS.Namespace)
	hpa := f.cronHPA(f.NS.Namespace)
	if f.hasErrors() {
		if f.Error == "" {
			f.Error = "Some fields need attention: see the messages next to them."
		}
		r.fragment(w, http.StatusOK, "workload", "form", f)
		return
	}
	cs, err := r.member(f.NS.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	ctx, cancel := r.timeout()
	defer cancel()
	dc, err := r.dynamicMember(f.NS.Cluster)
	if err != nil {
		r.fail(w, err)
		return
	}
	// A dry run of everything first: nothing is made unless all of it can
	// be (a cluster without the CronHPA add-on refuses the CronHPA's, one
	// without the TApp add-on the TApp's).
	_, isTApp := obj.(*tappv1.TApp)
	for _, dry := range []bool{true, false} {
		if err := createObjects(ctx, cs, dc, f.NS.Namespace, obj, svc, dry); err != nil {
			if isTApp && addonMissing(err) {
				f.Error, f.AddonsURL, f.MissingAddon = addonMissingText("TApp", f.NS.Cluster)+"; or choose another kind. Nothing was created.", addonsURL(f.NS.Cluster), "TApp"
			} else {
				_, f.Error = explain(err)
			}
			r.fragment(w, http.StatusOK, "workload", "form", f)
			return
		}
		if hpa == nil {
			continue
		}
		got, err := writeCronHPA(ctx, dc, hpa, false, dry)
		if err == nil && dry {
			f.Cron.ZoneErr = zoneDropped(hpa, got)
		}
		if err != nil || f.Cron.ZoneErr != "" {
			switch {
			case addonMissing(err):
				f.Error, f.AddonsURL, f.MissingAddon = addonMissingText("CronHPA", f.NS.Cluster)+"; or choose manual replicas", addonsURL(f.NS.Cluster), "CronHPA"
			case err != nil:
				_, f.Error = explain(err)
			default:
				f.Error = "Some fields need attention: see the messages next to them."
			}
			if !dry {
				f.Error = "Created " + f.Name + ", but not its CronHPA: " + f.Error + " (make it on the Autoscaling tab)"
			} else if err != nil {
				f.Error += ". Nothing was created."
			}
			r.fragment(w, http.StatusOK, "workload", "form", f)
			return
		}
	}
	s.Log.Info("console created a workload", "cluster", f.NS.Cluster, "namespace", f.NS.Namespace, "kind", f.Kind, "name", f.Name, "by", r.user.Name())
	done := "Created " + f.Name
	if hpa != nil {
		done += " and its CronHPA (Autoscaling tab)"
	}
	redirect(w, r.Request, f.NS.Base+"/"+f.Kind+"/"+url.PathEscape(f.Name)+"?notice="+url.QueryEscape(done))
}

// createObjects creates the workload, then its Service (if any); a TApp,
// an object of the TApp add-on's CRD, through the dynamic client.
func createObjects(ctx context.Context, cs kubernetes.Interface, dc dynamic.Interface, ns string, obj any, svc *corev1.Service, dry bool) error {
	o := metav1.CreateOptions{}
	if dry {
		o.DryRun = []string{metav1.DryRunAll}
	}
	var err error
	switch w := obj.(type) {
	case *appsv1.Deployment:
		_, err = cs.AppsV1().Deployments(ns).Create(ctx, w, o)
	case *appsv1.StatefulSet:
		_, err = cs.AppsV1().StatefulSets(ns).Create(ctx, w, o)
	case *appsv1.DaemonSet:
		_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, w, o)
	case *batchv1.Job:
		_, err = cs.BatchV1().Jobs(ns).Create(ctx, w, o)
	case *batchv1.CronJob:
		_, err = cs.BatchV1().CronJobs(ns).Create(ctx, w, o)
	case *tappv1.TApp:
		var m map[string]any
		if m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(w); err == nil {
			_, err = dc.Resource(tapp.GVR).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: m}, o)
		}
	}
	if err != nil || svc == nil {
		return err
	}
	_, err = cs.CoreV1().Services(ns).Create(ctx, svc, o)
	return err
}
