package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
)

func formOf(kv map[string]string) workloadForm {
	v := url.Values{}
	for k, val := range kv {
		v.Set(k, val)
	}
	r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return parseWorkloadForm(r)
}

func TestWorkloadFormBuildsEverySection(t *testing.T) {
	f := formOf(map[string]string{
		"kind": "deployments", "name": "web", "replicas": "3", "labels": "tier=front, team=a",
		"volumes":  "data emptyDir\nconfig configMap app-config\ncreds secret db\nstore pvc claim-1",
		"c0.image": "nginx:1.27", "c0.cpuRequest": "250m", "c0.cpuLimit": "1", "c0.memRequest": "128Mi", "c0.memLimit": "256Mi",
		"c0.ports": "80, 443", "c0.env": "MODE=fast\nLEVEL=configMap:app-config/level\nPASSWORD=secret:db/password",
		"c0.mounts": "data:/data\nconfig:/etc/app", "c0.probe": "http", "c0.probePath": "/healthz", "c0.probePort": "80", "c0.probeDelay": "5",
		"c1.name": "sidecar", "c1.image": "busybox", "c1.command": "sleep 3600", "c1.probe": "exec", "c1.probeCmd": "true",
		"serviceType": "NodePort", "servicePorts": "80:8080",
	})
	obj, svc := f.build("ns")
	if f.hasErrors() {
		t.Fatalf("errors: %+v %+v %+v", f.Errors, f.Containers[0].Errors, f.Containers[1].Errors)
	}
	d := obj.(*appsv1.Deployment)
	spec := d.Spec.Template.Spec
	if *d.Spec.Replicas != 3 || d.Labels["tier"] != "front" || d.Spec.Selector.MatchLabels["app"] != "web" || len(spec.Volumes) != 4 {
		t.Fatalf("deployment %+v", d)
	}
	c := spec.Containers[0]
	if c.Name != "web" || c.Resources.Limits.Cpu().String() != "1" || c.Resources.Requests.Memory().String() != "128Mi" || len(c.Ports) != 2 {
		t.Fatalf("container %+v", c)
	}
	if c.Env[1].ValueFrom.ConfigMapKeyRef.Key != "level" || c.Env[2].ValueFrom.SecretKeyRef.Name != "db" || len(c.VolumeMounts) != 2 {
		t.Fatalf("env and mounts %+v %+v", c.Env, c.VolumeMounts)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.InitialDelaySeconds != 5 {
		t.Fatalf("probes %+v", c.ReadinessProbe)
	}
	if s := spec.Containers[1]; s.Name != "sidecar" || s.Command[0] != "sleep" || s.LivenessProbe.Exec.Command[0] != "true" {
		t.Fatalf("sidecar %+v", s)
	}
	if svc == nil || svc.Spec.Type != "NodePort" || svc.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Fatalf("service %+v", svc)
	}
}

func TestWorkloadFormCronJob(t *testing.T) {
	f := formOf(map[string]string{"kind": "cronjobs", "name": "nightly", "schedule": "0 2 * * *", "restartPolicy": "Never", "c0.image": "busybox"})
	obj, svc := f.build("ns")
	cj, ok := obj.(*batchv1.CronJob)
	if f.hasErrors() || !ok || svc != nil || cj.Spec.Schedule != "0 2 * * *" || cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy != "Never" {
		t.Fatalf("cronjob %+v errors %+v", obj, f.Errors)
	}
}

func TestWorkloadFormErrorsNameTheField(t *testing.T) {
	f := formOf(map[string]string{
		"kind": "deployments", "name": "Bad_Name", "replicas": "-1", "labels": "novalue",
		"volumes": "data nfs server", "c0.image": "", "c0.cpuRequest": "lots", "c0.env": "1BAD=x",
		"c0.mounts": "missing:/x", "c0.probe": "http", "serviceType": "ClusterIP", "servicePorts": "eighty",
	})
	f.build("ns")
	c := f.Containers[0]
	for field, errs := range map[string]map[string]string{
		"name": f.Errors, "replicas": f.Errors, "labels": f.Errors, "volumes": f.Errors, "servicePorts": f.Errors,
		"image": c.Errors, "cpuRequest": c.Errors, "env": c.Errors, "mounts": c.Errors, "probePort": c.Errors,
	} {
		if errs[field] == "" {
			t.Errorf("no error for %s: form %+v container %+v", field, f.Errors, c.Errors)
		}
	}
}
