package cli

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func servedRegistryNS(name, vis string, projects ...any) map[string]any {
	return map[string]any{
		"apiVersion": "registry.tkestack.io/v1", "kind": "RegistryNamespace",
		"metadata": map[string]any{"name": name, "resourceVersion": "3"},
		"spec":     map[string]any{"tenantID": "default", "visibility": vis, "projects": projects, "displayName": "Team A"},
		"status":   map[string]any{"repoCount": 2, "size": 3 << 20},
	}
}

func TestRegistryNamespaceCommands(t *testing.T) {
	f := newFakePlatform(t)
	f.put(registryPath+"/portal", map[string]any{"kind": "RegistryNamespaceList", "items": []any{servedRegistryNS("team-a", "Private", "prj-1")}})

	r := f.must("registry", "namespace", "create", "team-b", "--public", "--project", "prj-1", "--project", "prj-2", "--display-name", "B")
	if r.Out != "registry namespace team-b created\n" {
		t.Fatalf("create printed %q", r.Out)
	}
	body := f.get(registryNSPath + "/team-b")
	spec, _ := body["spec"].(map[string]any)
	if body["kind"] != "RegistryNamespace" || spec["visibility"] != "Public" || spec["displayName"] != "B" ||
		len(spec["projects"].([]any)) != 2 {
		t.Fatalf("create sent %v", body)
	}
	if r := f.must("registry", "ns", "create", "team-c", "-o", "name"); r.Out != "team-c\n" {
		t.Fatalf("create -o name printed %q", r.Out)
	}
	if spec := f.get(registryNSPath + "/team-c")["spec"].(map[string]any); spec["visibility"] != "Private" {
		t.Fatalf("a namespace is private unless --public: %v", spec)
	}

	// list shows the namespaces one may pull from (the portal).
	r = f.must("registry", "namespace", "list")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^NAME\s+VISIBILITY\s+PROJECTS\s+REPOSITORIES\s+SIZE\s+DISPLAY NAME$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^team-a\s+Private\s+prj-1\s+2\s+3\.0 MiB\s+Team A$`).MatchString(lines[1]) {
		t.Fatalf("list printed:\n%s", r.Out)
	}

	r = f.must("registry", "namespace", "get", "team-b", "-o", "yaml")
	if !strings.Contains(r.Out, "kind: RegistryNamespace") || !strings.Contains(r.Out, "visibility: Public") {
		t.Fatalf("get -o yaml printed:\n%s", r.Out)
	}

	// update: read, change, replace.
	f.reset()
	r = f.must("registry", "namespace", "update", "team-b", "--visibility", "Private", "--add-project", "prj-3", "--remove-project", "prj-1")
	if r.Out != "registry namespace team-b updated\n" {
		t.Fatalf("update printed %q", r.Out)
	}
	w := f.writes()
	spec = w[0].Body["spec"].(map[string]any)
	if len(w) != 1 || w[0].Method != http.MethodPut || spec["visibility"] != "Private" || strings.Join(toStrings(spec["projects"]), ",") != "prj-2,prj-3" {
		t.Fatalf("update sent %v", w)
	}
	if r := f.kstack("", "registry", "namespace", "update", "team-b", "--remove-project", "prj-9"); r.Error == nil || !strings.Contains(r.Error.Error(), "is not shared with it") {
		t.Fatalf("removing a project it does not have: %v", r.Error)
	}
	if r := f.kstack("", "registry", "namespace", "update", "team-b"); r.Error == nil || !strings.Contains(r.Error.Error(), "nothing to change") {
		t.Fatalf("update without a change: %v", r.Error)
	}
	if r := f.kstack("", "registry", "namespace", "update", "team-b", "--visibility", "internal"); r.Error == nil || !strings.Contains(r.Error.Error(), "use Public or Private") {
		t.Fatalf("a bad visibility: %v", r.Error)
	}

	// delete, forced.
	f.reset()
	r = f.must("registry", "namespace", "delete", "team-c", "--force")
	if r.Out != "registry namespace team-c deleted\n" {
		t.Fatalf("delete printed %q", r.Out)
	}
	if w := f.writes(); len(w) != 1 || w[0].String() != "DELETE "+registryNSPath+"/team-c?force=true" {
		t.Fatalf("delete sent %v", w)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestRegistryRepoAndTagCommands(t *testing.T) {
	f := newFakePlatform(t)
	f.put(registryNSPath+"/team-a/repositories", map[string]any{"kind": "RepositoryList", "items": []any{
		map[string]any{"name": "tools/cli", "namespace": "team-a", "tags": 3, "size": 1536, "pushedAt": "2025-03-01T12:00:00Z", "pull": "reg:8443/team-a/tools/cli"},
	}})
	f.put(registryNSPath+"/team-a/repositories/tools/cli/tags", map[string]any{"kind": "TagList", "items": []any{
		map[string]any{"name": "v1", "digest": "sha256:abc", "size": 100, "pushedAt": "2025-03-01T12:00:00Z", "pull": "reg:8443/team-a/tools/cli:v1"},
	}})
	r := f.must("registry", "repo", "list", "team-a")
	if !regexp.MustCompile(`^NAME\s+TAGS\s+SIZE\s+PUSHED\s+PULL\ntools/cli\s+3\s+1\.5 KiB\s+2025-03-01T12:00:00Z\s+reg:8443/team-a/tools/cli\n$`).MatchString(r.Out) {
		t.Fatalf("repo list printed:\n%s", r.Out)
	}
	if r := f.must("registry", "repo", "list", "team-a", "-o", "name"); r.Out != "tools/cli\n" {
		t.Fatalf("repo list -o name printed %q", r.Out)
	}
	r = f.must("registry", "tag", "list", "team-a/tools/cli")
	if !regexp.MustCompile(`(?m)^v1\s+sha256:abc\s+100 B\s+2025-03-01T12:00:00Z\s+reg:8443/team-a/tools/cli:v1$`).MatchString(r.Out) {
		t.Fatalf("tag list printed:\n%s", r.Out)
	}

	f.put(registryNSPath+"/team-a/repositories/tools/cli:v1", map[string]any{})
	f.put(registryNSPath+"/team-a/repositories/tools/cli", map[string]any{})
	f.reset()
	if r := f.must("registry", "tag", "delete", "team-a/tools/cli:v1"); r.Out != "tag v1 of team-a/tools/cli deleted\n" {
		t.Fatalf("tag delete printed %q", r.Out)
	}
	if r := f.must("registry", "repo", "delete", "team-a/tools/cli"); r.Out != "repository team-a/tools/cli deleted\n" {
		t.Fatalf("repo delete printed %q", r.Out)
	}
	w := f.writes()
	if len(w) != 2 || w[0].String() != "DELETE "+registryNSPath+"/team-a/repositories/tools/cli:v1" || w[1].String() != "DELETE "+registryNSPath+"/team-a/repositories/tools/cli" {
		t.Fatalf("deletes sent %v", w)
	}

	// References are checked before anything is sent.
	f.reset()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"tag", "delete", "team-a/web"}, "is not NAMESPACE/REPOSITORY:TAG"},
		{[]string{"tag", "delete", "reg:8443/team-a/web:v1"}, "without the registry's host"},
		{[]string{"tag", "list", "team-a"}, "is not NAMESPACE/REPOSITORY"},
		{[]string{"repo", "delete", "team-a/web:v1"}, "is not NAMESPACE/REPOSITORY"},
		{[]string{"repo", "delete", "reg:8443/team-a"}, "without the registry's host"},
	} {
		if r := f.kstack("", append([]string{"registry"}, c.args...)...); r.Error == nil || !strings.Contains(r.Error.Error(), c.msg) {
			t.Errorf("kstack registry %v: %v, want %q", c.args, r.Error, c.msg)
		}
	}
	if reqs := f.all(); len(reqs) > 0 {
		t.Fatalf("bad references sent %v", reqs)
	}
}

func TestRegistryGuideGCRotate(t *testing.T) {
	f := newFakePlatform(t)
	f.put(registryNSPath+"/team-a/guide", map[string]any{"registry": "reg:8443", "namespace": "team-a", "username": "alice",
		"login": "docker login reg:8443 -u alice", "tag": "docker tag LOCAL-IMAGE reg:8443/team-a/REPOSITORY:TAG",
		"push": "docker push reg:8443/team-a/REPOSITORY:TAG", "pull": "docker pull reg:8443/team-a/REPOSITORY:TAG",
		"notes": []any{"The password is your platform password, or an access key."}})
	r := f.must("registry", "guide", "team-a")
	want := "# Log in to reg:8443 as alice\ndocker login reg:8443 -u alice\n# Tag a local image into namespace team-a\ndocker tag LOCAL-IMAGE reg:8443/team-a/REPOSITORY:TAG\n" +
		"# Push it\ndocker push reg:8443/team-a/REPOSITORY:TAG\n# Pull it back\ndocker pull reg:8443/team-a/REPOSITORY:TAG\n\n# Notes:\n# - The password is your platform password, or an access key.\n"
	if r.Out != want {
		t.Fatalf("guide printed:\n%s\nwant:\n%s", r.Out, want)
	}
	f.reset()
	if r := f.must("registry", "guide", "team-a", "--repository", "tools/cli", "--tag", "v1", "-o", "json"); !strings.Contains(r.Out, `"login": "docker login reg:8443 -u alice"`) {
		t.Fatalf("guide -o json printed %s", r.Out)
	}
	if reqs := f.all(); len(reqs) != 1 || reqs[0].Path != registryNSPath+"/team-a/guide?repository=tools%2Fcli&tag=v1" {
		t.Fatalf("guide sent %v", reqs)
	}

	f.actions[registryGCPath] = func(map[string]any) (int, any) {
		return 200, map[string]any{"marked": 10, "deleted": 2, "deletedBytes": 2048, "kept": 1, "started": "2025-03-01T12:00:00Z", "finished": "2025-03-01T12:00:01Z"}
	}
	r = f.must("registry", "gc")
	if !regexp.MustCompile(`(?m)^MARKED\s+DELETED\s+FREED\s+KEPT\s+TOOK\n10\s+2\s+2\.0 KiB\s+1\s+1s$`).MatchString(r.Out) {
		t.Fatalf("gc printed:\n%s", r.Out)
	}

	f.actions[registryPrjPath+"prj-1/pullcredential/rotate"] = func(map[string]any) (int, any) {
		return 200, map[string]any{"project": "prj-1", "username": "kstack-pull-prj-1", "rotatedAt": "2025-03-01T12:00:00Z", "previousValidUntil": "2025-03-01T13:00:00Z"}
	}
	r = f.must("registry", "pull-credential", "rotate", "prj-1")
	if r.Out != "pull credential of project prj-1 rotated: user kstack-pull-prj-1, the previous credential works until 2025-03-01T13:00:00Z\n" {
		t.Fatalf("rotate printed %q", r.Out)
	}
	if r := f.must("registry", "pull-credential", "rotate", "prj-1", "-o", "yaml"); !strings.Contains(r.Out, "username: kstack-pull-prj-1") {
		t.Fatalf("rotate -o yaml printed %s", r.Out)
	}
}
