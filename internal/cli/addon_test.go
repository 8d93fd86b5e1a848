package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAddonCommands(t *testing.T) {
	f := newFakePlatform(t)
	f.must("addon", "install", "cls-a", "cronhpa", "--version", "v1.0.0", "--external-controller")
	obj := f.get(clusterAddonsPath + "/cls-a-cronhpa")
	spec := obj["spec"].(map[string]any)
	if spec["type"] != "CronHPA" || spec["clusterName"] != "cls-a" || spec["version"] != "v1.0.0" || spec["controller"] != "External" {
		t.Fatalf("installed: %v", obj)
	}
	f.must("addon", "upgrade", "cls-a", "CronHPA", "--version", "v1.1.0")
	if v := f.get(clusterAddonsPath + "/cls-a-cronhpa")["spec"].(map[string]any)["version"]; v != "v1.1.0" {
		t.Fatalf("after upgrade: version %v", v)
	}
	if out := f.must("addon", "list").Out; !strings.Contains(out, "cls-a") || !strings.Contains(out, "CronHPA") {
		t.Fatalf("list:\n%s", out)
	}
	var types struct {
		Items []struct{ Type, LatestVersion string }
	}
	if err := json.Unmarshal([]byte(f.must("addon", "types", "-o", "json").Out), &types); err != nil || len(types.Items) == 0 || types.Items[0].LatestVersion != "v1.1.0" {
		t.Fatalf("types: %v %+v", err, types)
	}
	// --force marks the add-on, then deletes it.
	f.reset()
	f.must("addon", "uninstall", "cls-a", "CronHPA", "--force")
	reqs := f.all()
	if len(reqs) != 2 || reqs[0].Method != "PATCH" || reqs[1].Method != "DELETE" || !strings.HasSuffix(reqs[1].Path, "/cls-a-cronhpa") {
		t.Fatalf("uninstall --force sent %v", reqs)
	}
	if ann := reqs[0].Body["metadata"].(map[string]any)["annotations"].(map[string]any); ann["platform.kstack.io/force-delete"] != "true" {
		t.Fatalf("force annotation: %v", reqs[0].Body)
	}
	if r := f.kstack("", "addon", "upgrade", "cls-a", "CronHPA"); r.Error == nil || !strings.Contains(r.Error.Error(), "--version is required") {
		t.Fatalf("upgrade without --version: %v", r.Error)
	}
	if r := f.kstack("", "addon", "run", "NoSuch", "--kubeconfig", "x"); r.Error == nil || !strings.Contains(r.Error.Error(), `no add-on type "NoSuch"`) {
		t.Fatalf("run of an unknown type: %v", r.Error)
	}
}
