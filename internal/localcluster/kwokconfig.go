package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	metricsresource "sigs.k8s.io/kwok/kustomize/metrics/resource"
	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	heartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"

	"github.com/kstack/kstack/internal/controlplane"
)

// writeKwokConfig writes kwok's configuration: the stages that bring nodes
// and pods to life (kwok's own defaults), and the kubelet endpoints:
// exec runs on the host in a scratch dir (as nobody when kstack runs as root),
// port-forward reaches the supervisor's simulated pod server, and the
// kubelet's resource metrics (kwokMetric). Logs are not here: each pod has
// its own Logs object (see podlogs.go), and a pod without one yet has no
// logs, as on a kubelet before its containers start. Nor is usage: it comes
// from ResourceUsage and ClusterResourceUsage objects (see metrics.go).
func writeKwokConfig(l controlplane.Layout, ports controlplane.Ports, scratch string) error {
	security := ""
	if os.Geteuid() == 0 {
		security = fmt.Sprintf("\n      securityContext:\n        runAsUser: %d\n        runAsGroup: %d", execUID, execUID)
	}
	endpoints := fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: kstack-exec
spec:
  execs:
  - local:
      workDir: %s%s
      envs:
      - name: PATH
        value: /usr/local/bin:/usr/bin:/bin
      - name: HOME
        value: %s
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: kstack-port-forward
spec:
  forwards:
  - target:
      port: %d
      address: 127.0.0.1
`, yamlQuote(scratch), security, yamlQuote(scratch), ports.PodServer)
	complete, err := podCompleteStage()
	if err != nil {
		return err
	}
	metric, err := kwokMetric()
	if err != nil {
		return err
	}
	docs := []string{
		nodefast.DefaultNodeInit,
		heartbeat.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		complete,
		podfast.DefaultPodDelete,
		podInPlaceUpdateStage,
		metric,
		endpoints,
	}
	for i := range docs {
		docs[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(docs[i]), "---"))
	}
	if err := os.MkdirAll(filepath.Dir(l.KwokConfig()), 0o700); err != nil {
		return err
	}
	return os.WriteFile(l.KwokConfig(), []byte(strings.Join(docs, "\n---\n")+"\n"), 0o600)
}

// podInPlaceUpdateStage plays the kubelet's part in an in-place update
// (TApp): a running pod whose containers' images changed in its spec, as the
// annotation says, gets them in its container statuses, and each changed
// container a restart (its count up by one, started now); the others keep
// theirs. The TApp controller removes the annotation once they show.
const podInPlaceUpdateStage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: kstack-pod-in-place-update
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.metadata.annotations["tapp.tkestack.io/in-place-update"]'
      operator: 'Exists'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $old := .status.containerStatuses }}
      containerStatuses:
      {{ range .spec.containers }}
      {{ $c := . }}{{ $restarts := 0 }}{{ $same := false }}{{ $started := $now }}
      {{ range $old }}{{ if eq .name $c.name }}{{ $restarts = .restartCount }}{{ if eq .image $c.image }}{{ $same = true }}{{ with .state.running }}{{ $started = .startedAt }}{{ end }}{{ end }}{{ end }}{{ end }}
      - image: {{ $c.image | Quote }}
        name: {{ $c.name | Quote }}
        ready: true
        restartCount: {{ if $same }}{{ $restarts }}{{ else }}{{ add1 $restarts }}{{ end }}
        state:
          running:
            startedAt: {{ $started | Quote }}
      {{ end }}
`

// podCompleteStage is kwok's pod-complete stage with one change: a pod
// completes because its restart policy lets it (Never, OnFailure: a process
// that runs to its end), not because a Job owns it. Copies a virtual node
// makes in a lower cluster carry no owner, yet are Job pods all the same.
func podCompleteStage() (string, error) {
	const byOwner = "    - key: '.metadata.ownerReferences.[].kind'\n      operator: 'In'\n      values:\n      - 'Job'\n"
	const byPolicy = "    - key: '.spec.restartPolicy'\n      operator: 'In'\n      values:\n      - 'Never'\n      - 'OnFailure'\n"
	if !strings.Contains(podfast.DefaultPodComplete, byOwner) {
		return "", fmt.Errorf("kwok's pod-complete stage no longer selects Job pods as kstack expects; update podCompleteStage")
	}
	return strings.Replace(podfast.DefaultPodComplete, byOwner, byPolicy, 1), nil
}

// resourceMetricsPath is where kwok serves a node's resource metrics (the
// kubelet's /metrics/resource); {nodeName} is the node's name.
const resourceMetricsPath = "/metrics/nodes/{nodeName}/metrics/resource"

// What a simulated node uses beyond its pods (the system, the kubelet), as a
// real node does: metrics-server drops a node whose usage is zero, so
// without it `kubectl top nodes` shows nothing for a node without pods.
const (
	nodeOverheadCores = "0.05"      // 50m
	nodeOverheadBytes = "268435456" // 256Mi
)

// kwokMetric is kwok's Metric for the kubelet's resource metrics with the
// nodes' own usage added to theirs.
func kwokMetric() (string, error) {
	m := metricsresource.DefaultMetricsResource
	if !strings.Contains(m, `path: "`+resourceMetricsPath+`"`) {
		return "", fmt.Errorf("kwok's resource Metric is no longer at %s as kstack expects; update resourceMetricsPath", resourceMetricsPath)
	}
	for old, repl := range map[string]string{
		`value: 'node.CumulativeUsage("cpu")'`: `value: 'node.CumulativeUsage("cpu") + ` + nodeOverheadCores + ` * node.SinceSecond()'`,
		`value: 'node.Usage("memory")'`:        `value: 'node.Usage("memory") + ` + nodeOverheadBytes + `.0'`,
	} {
		if strings.Count(m, old) != 1 {
			return "", fmt.Errorf("kwok's resource Metric no longer has %s as kstack expects; update kwokMetric", old)
		}
		m = strings.Replace(m, old, repl, 1)
	}
	return m, nil
}
