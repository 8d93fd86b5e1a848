package cli

import (
	"bytes"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/kstack/kstack/internal/logagent"
)

func TestLogAgentFlags(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&Options{IOStreams: IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}})
	if err := run(t.Context(), root, []string{"logagent", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"--kubeconfig", "--cluster", "--name", "--node", "--pods-dir", "--container-root", "--host-root",
		"--state-dir", "--queue-bytes", "--config-namespace"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not explain %s", f)
		}
	}

	// The DaemonSet's arguments are the command's flags.
	objs, err := logagent.RenderDaemonSet(logagent.RenderOptions{Image: "x", Cluster: "cls-a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		ds, ok := o.(*appsv1.DaemonSet)
		if !ok {
			continue
		}
		args := ds.Spec.Template.Spec.Containers[0].Args
		cmd, rest, err := root.Find(args)
		if err != nil || cmd.Name() != "logagent" {
			t.Fatalf("%v: %v", args, err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("the DaemonSet's arguments %v: %v", args, err)
		}
	}

	for _, tc := range []struct{ args []string }{
		{[]string{"logagent", "--queue-bytes", "lots"}},
		{[]string{"logagent", "--queue-bytes", "0"}},
	} {
		err := run(t.Context(), newRoot(&Options{IOStreams: IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}}), tc.args)
		if err == nil || !strings.Contains(err.Error(), "--queue-bytes") {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	err = run(t.Context(), newRoot(&Options{IOStreams: IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}}), []string{"logagent"})
	if err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("outside a pod without --kubeconfig: %v", err)
	}
}
