package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

const (
	policiesPath = authPath + "/policies"
	groupsPath   = authPath + "/groups"
	bindingsPath = authPath + "/policybindings"
)

// everyCommandWithOutput runs each command that has -o, with what it needs
// besides -o (files are made in dir).
func everyCommandWithOutput(dir string) [][]string {
	kc := filepath.Join(dir, "member.kubeconfig")
	stmts := filepath.Join(dir, "statements.json")
	app := filepath.Join(dir, "app.yaml")
	idp := filepath.Join(dir, "ldap.json")
	_ = os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600)
	_ = os.WriteFile(stmts, []byte(`[{"actions":["get*"],"resources":["*"],"effect":"allow"}]`), 0o600)
	_ = os.WriteFile(app, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), 0o600)
	_ = os.WriteFile(idp, []byte(`{"host":"ldap:389"}`), 0o600)
	return append([][]string{
		{"version"}, {"whoami"},
		{"local", "create", "dev"}, {"local", "list"}, {"local", "get", "dev"}, {"local", "delete", "dev"},
		{"cluster", "import", "--kubeconfig", kc}, {"cluster", "list"}, {"cluster", "get", "cls-a"},
		{"cluster", "update", "cls-a", "--kubeconfig", kc}, {"cluster", "lock", "cls-a"}, {"cluster", "unlock", "cls-a"},
		{"cluster", "delete", "cls-a"},
		{"node", "list", "--cluster", "cls-a"}, {"node", "get", "--cluster", "cls-a", "node-1"},
		{"user", "create", "alice", "--password-stdin"}, {"user", "list"}, {"user", "get", "alice"},
		{"user", "update", "alice", "--email", "a@example.com"}, {"user", "delete", "alice"},
		{"group", "create", "devs"}, {"group", "list"}, {"group", "get", "devs"}, {"group", "update", "devs", "--description", "d"},
		{"group", "add-member", "devs", "bob"}, {"group", "remove-member", "devs", "bob"}, {"group", "delete", "devs"},
		{"policy", "create", "p1", "-f", stmts}, {"policy", "list"}, {"policy", "get", "p1"},
		{"policy", "update", "p1", "--display-name", "P"}, {"policy", "delete", "p1"},
		{"policy", "bind", "p1", "--user", "bob"}, {"policy", "unbind", "p1", "--user", "bob"},
		{"policybinding", "list"}, {"policybinding", "get", "pb-1"}, {"policybinding", "delete", "pb-1"},
		{"apikey", "create", "--expires", "1h"}, {"apikey", "list"}, {"apikey", "get", "ak-1"},
		{"apikey", "disable", "ak-1"}, {"apikey", "enable", "ak-1"}, {"apikey", "delete", "ak-1"},
		{"idp", "create", "ldap-test", "--type", "ldap", "--config", idp}, {"idp", "list"}, {"idp", "get", "ldap-test"},
		{"idp", "delete", "ldap-test"},
		{"project", "create", "team-a", "--cluster", "cls-a"}, {"project", "list"}, {"project", "get", "prj-1"},
		{"project", "update", "prj-1", "--display-name", "b"}, {"project", "delete", "prj-1"},
		{"project", "add-member", "prj-1", "alice"}, {"project", "remove-member", "prj-1", "alice"},
		{"project", "set-quota", "prj-1", "--cluster", "cls-a", "--cpu", "1"},
		{"namespace", "create", "web", "--project", "prj-1", "--cluster", "cls-a"}, {"namespace", "list", "--project", "prj-1"},
		{"namespace", "get", "web", "--project", "prj-1", "--cluster", "cls-a"},
		{"namespace", "import", "web", "--project", "prj-1", "--cluster", "cls-a"},
		{"namespace", "move", "web", "--project", "prj-1", "--cluster", "cls-a", "--to", "prj-2"},
		{"namespace", "set-quota", "web", "--project", "prj-1", "--cluster", "cls-a", "--cpu", "1"},
		{"namespace", "delete", "web", "--project", "prj-1", "--cluster", "cls-a"},
		{"publish", "-f", app, "--project", "prj-1", "--cluster", "cls-a", "--namespace", "web"},
		{"apply", "-f", app, "--project", "prj-1", "--clusters", "cls-a,cls-b", "--namespace", "web"},
		{"virtualnodeset", "create", "edge", "--upper", "cls-a", "--lower", "cls-b"}, {"virtualnodeset", "list"},
		{"virtualnodeset", "get", "edge"}, {"virtualnodeset", "update", "edge", "--lower", "cls-c"},
		{"virtualnodeset", "delete", "edge"},
		{"addon", "types"}, {"addon", "list"}, {"addon", "get", "cls-a", "CronHPA"}, {"addon", "install", "cls-a", "CronHPA"},
		{"addon", "upgrade", "cls-a", "CronHPA", "--version", "v1.1.0"},
		{"cluster", "event-persistence", "cls-a", "--enable"},
		{"logrule", "create", "shop", "--project", "prj-1", "--cluster", "cls-a", "--namespace", "web", "--kafka", "k:9092/logs"},
		{"logrule", "list", "--project", "prj-1"}, {"logrule", "get", "shop", "--project", "prj-1"},
		{"logrule", "status", "shop", "--cluster-rules"}, {"logrule", "delete", "shop", "--project", "prj-1"},
		{"audit", "search", "--since", "1h"}, {"event", "search", "cls-a"},
		{"cluster", "monitoring", "cls-a", "on"}, {"top", "clusters"}, {"top", "nodes", "--cluster", "cls-a"}, {"top", "pods", "--cluster", "cls-a"},
		{"metrics", "query", "up"}, {"metrics", "query-range", "up"}, {"metrics", "status", "cls-a"},
		{"alarm", "policy", "list", "-p", "prj-1"}, {"alarm", "policy", "get", "a"}, {"alarm", "policy", "create", "-f", app},
		{"alarm", "policy", "delete", "a"}, {"alarm", "policy", "copy", "a", "b"},
		{"alarm", "silence", "list"}, {"alarm", "silence", "get", "s"}, {"alarm", "silence", "create", "--matcher", "a=b", "--for", "1h"},
		{"alarm", "silence", "delete", "s"}, {"alarm", "silence", "expire", "s"},
		{"alarm", "records", "--cluster", "cls-a"}, {"alarm", "metrics"},
		{"notify", "channel", "list"}, {"notify", "channel", "get", "c"}, {"notify", "channel", "create", "-f", app},
		{"notify", "channel", "delete", "c"}, {"notify", "channel", "test", "c"},
		{"notify", "template", "list"}, {"notify", "template", "get", "t"}, {"notify", "template", "create", "-f", app},
		{"notify", "template", "delete", "t"}, {"notify", "template", "default", "email"},
		{"notify", "receiver", "list"}, {"notify", "receiver", "get", "r"}, {"notify", "receiver", "create", "-f", app},
		{"notify", "receiver", "delete", "r"},
		{"notify", "receivergroup", "list"}, {"notify", "receivergroup", "get", "g"}, {"notify", "receivergroup", "create", "-f", app},
		{"notify", "receivergroup", "delete", "g"},
		{"notify", "records", "--project", "prj-1"},
		{"registry", "namespace", "create", "team-a"}, {"registry", "namespace", "list"}, {"registry", "namespace", "get", "team-a"},
		{"registry", "namespace", "update", "team-a", "--visibility", "Public"}, {"registry", "namespace", "delete", "team-a"},
		{"registry", "repo", "list", "team-a"}, {"registry", "tag", "list", "team-a/web"}, {"registry", "guide", "team-a"},
		{"registry", "gc"}, {"registry", "pull-credential", "rotate", "prj-1"},
	}, chartAndAppCommandsWithOutput()...)
}

// walk visits every command of the tree.
func walk(c *cobra.Command, visit func(*cobra.Command)) {
	visit(c)
	for _, s := range c.Commands() {
		walk(s, visit)
	}
}

func testRoot() *cobra.Command {
	var b bytes.Buffer
	return newRoot(&Options{IOStreams: IOStreams{In: strings.NewReader(""), Out: &b, ErrOut: &b}})
}

// A bad -o is refused before anything happens: no request reaches the
// platform (so nothing is written), and no data dir is made.
func TestBadOutputChangesNothing(t *testing.T) {
	f := newFakePlatform(t)
	rows := everyCommandWithOutput(t.TempDir())
	covered := map[string]bool{}
	root := testRoot()
	for _, args := range rows {
		cmd, _, err := root.Find(args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		covered[cmd.CommandPath()] = true
		t.Run(strings.TrimPrefix(cmd.CommandPath(), "kstack "), func(t *testing.T) {
			f.reset()
			r := f.kstack("Passw0rd-Alice\n", append(args, "-o", "xml")...)
			if r.Error == nil || !strings.Contains(r.Error.Error(), `unknown output format "xml"`) {
				t.Fatalf("kstack %v -o xml: %v", args, r.Error)
			}
			if reqs := f.all(); len(reqs) > 0 {
				t.Errorf("kstack %v -o xml sent %v", args, reqs)
			}
			if r.Out != "" {
				t.Errorf("kstack %v -o xml printed %q", args, r.Out)
			}
			if _, err := os.Stat(f.dataDir); !os.IsNotExist(err) {
				t.Errorf("kstack %v -o xml made the data dir: %v", args, err)
			}
		})
	}
	// Every command with -o is in the table above.
	walk(root, func(c *cobra.Command) {
		if c.Flags().Lookup("output") != nil && !covered[c.CommandPath()] {
			t.Errorf("%s has -o but is not in everyCommandWithOutput", c.CommandPath())
		}
	})
	// -o name only where the output has object names.
	for _, args := range [][]string{{"version"}, {"whoami"}, {"apikey", "create", "--expires", "1h"}} {
		f.reset()
		if r := f.kstack("", append(args, "-o", "name")...); r.Error == nil || len(f.all()) > 0 {
			t.Errorf("kstack %v -o name: %v, requests %v", args, r.Error, f.all())
		}
	}
}

// kstack apply used to publish first and fail on -o after.
func TestPublishWithBadOutputPublishesNothing(t *testing.T) {
	f := newFakePlatform(t)
	app := writeFile(t, "app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	for _, verb := range []string{"publish", "apply"} {
		r := f.kstack("", verb, "-f", app, "--project", "prj-1", "--cluster", "cls-a", "--namespace", "web", "-o", "wide")
		if r.Error == nil || !strings.Contains(r.Error.Error(), "use one of table, json, yaml") {
			t.Errorf("%s -o wide: %v", verb, r.Error)
		}
	}
	if w := f.writes(); len(w) > 0 {
		t.Fatalf("published despite a bad -o: %v", w)
	}
}

func TestRequiredFlagsAreNamed(t *testing.T) {
	f := newFakePlatform(t)
	app := writeFile(t, "app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"namespace", "create", "web"}, []string{"--project is required: project ID", "--cluster is required: member cluster ID", "kstack namespace create --help"}},
		{[]string{"namespace", "create", "web", "--project", "prj-1"}, []string{"--cluster is required"}},
		{[]string{"namespace", "list"}, []string{"--project is required"}},
		{[]string{"namespace", "move", "web", "--project", "a", "--cluster", "c"}, []string{"--to is required: the project to move it to"}},
		{[]string{"publish", "-f", app, "--project", "prj-1", "--namespace", "web"}, []string{"--cluster is required: cluster ID to publish to (repeatable)"}},
		{[]string{"publish", "--cluster", "a"}, []string{"-f/--file is required: manifests", "--project is required", "-n/--namespace is required"}},
		{[]string{"apikey", "create"}, []string{"--expires is required: lifetime in hours or minutes"}},
		{[]string{"policy", "create", "p1"}, []string{"-f/--file is required: JSON file with the statements"}},
		{[]string{"policy", "bind", "p1"}, []string{"give at least one of --user, --group", "username to grant the policy to"}},
		{[]string{"policy", "unbind", "p1"}, []string{"give at least one of --user, --group"}},
		{[]string{"project", "set-quota", "prj-1", "--cpu", "1"}, []string{"--cluster is required: cluster ID whose quota to set"}},
		{[]string{"node", "list"}, []string{"--cluster is required: cluster ID"}},
		{[]string{"node", "drain", "node-1"}, []string{"--cluster is required"}},
		{[]string{"kubeconfig"}, []string{"--cluster is required: cluster ID, or global"}},
		{[]string{"login"}, []string{"--username is required: your account name"}},
		{[]string{"idp", "create", "t"}, []string{"--type is required: ldap or oidc", "--config is required"}},
		{[]string{"virtual-node", "--upper", "up.kubeconfig"}, []string{"--upper and at least one --lower are required"}},
		{[]string{"virtualnodeset", "create", "edge", "--lower", "cls-b"}, []string{"--upper is required"}},
		{[]string{"cluster", "event-persistence", "cls-a"}, []string{"give at least one of --enable, --disable"}},
	}
	for _, c := range cases {
		r := f.kstack("", c.args...)
		if r.Error == nil {
			t.Errorf("kstack %v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.Error.Error(), w) {
				t.Errorf("kstack %v: %q does not say %q", c.args, r.Error, w)
			}
		}
	}
	if reqs := f.all(); len(reqs) > 0 {
		t.Fatalf("commands missing required flags sent %v", reqs)
	}
}

func TestCreateAndDeleteSayWhatTheyDid(t *testing.T) {
	f := newFakePlatform(t)
	stmts := writeFile(t, "s.json", `[{"actions":["get*"],"resources":["cluster:*"],"effect":"allow"}]`)

	if r := f.must("policy", "create", "p1", "-f", stmts); r.Out != "policy p1 created\n" {
		t.Errorf("policy create printed %q", r.Out)
	}
	if p := f.get(policiesPath + "/p1"); p == nil {
		t.Fatal("the policy was not created")
	}
	r := f.must("policy", "get", "p1")
	if !strings.Contains(r.Out, "allow") || !strings.Contains(r.Out, "cluster:*") {
		t.Errorf("policy get printed %q", r.Out)
	}
	if r := f.must("policy", "delete", "p1"); r.Out != "policy p1 deleted\n" {
		t.Errorf("policy delete printed %q", r.Out)
	}
	if f.get(policiesPath+"/p1") != nil {
		t.Error("the policy is still there")
	}

	f.put(clustersPath+"/cls-abc", map[string]any{"metadata": map[string]any{"name": "cls-abc"}, "spec": map[string]any{"type": "Imported"}})
	if r := f.must("cluster", "delete", "cls-abc"); r.Out != "cluster cls-abc deleted\n" {
		t.Errorf("cluster delete printed %q", r.Out)
	}

	// create: a message; -o name: the ID alone; -o json: the object.
	r = f.must("project", "create", "team-a", "--cluster", "cls-a", "--cpu", "2")
	if !regexp.MustCompile(`^project prj-\d+ created\n$`).MatchString(r.Out) {
		t.Errorf("project create printed %q", r.Out)
	}
	r = f.must("project", "create", "team-b", "--cluster", "cls-a", "-o", "name")
	id := strings.TrimSpace(r.Out)
	if !strings.HasPrefix(id, "prj-") || strings.Contains(id, " ") || f.get(projectsPathFor(id)) == nil {
		t.Errorf("project create -o name printed %q", r.Out)
	}
	r = f.must("project", "create", "team-c", "--cluster", "cls-a", "-o", "json")
	var p struct {
		Metadata struct{ Name string }
		Spec     struct{ DisplayName string }
	}
	if err := json.Unmarshal([]byte(r.Out), &p); err != nil || p.Spec.DisplayName != "team-c" || p.Metadata.Name == "" {
		t.Errorf("project create -o json printed %q (%v)", r.Out, err)
	}
	// delete -o yaml prints what was deleted.
	r = f.must("project", "delete", p.Metadata.Name, "-o", "yaml")
	if !strings.Contains(r.Out, "displayName: team-c") || f.get(projectsPathFor(p.Metadata.Name)) != nil {
		t.Errorf("project delete -o yaml printed %q", r.Out)
	}

	if r := f.must("namespace", "create", "web", "--project", id, "--cluster", "cls-a", "--cpu", "1"); r.Out != "namespace web created in cls-a (project "+id+")\n" {
		t.Errorf("namespace create printed %q", r.Out)
	}
	if r := f.must("namespace", "delete", "web", "--project", id, "--cluster", "cls-a"); r.Out != "namespace web deleted from cls-a (project "+id+")\n" {
		t.Errorf("namespace delete printed %q", r.Out)
	}

	// user create reads the password from the stream.
	r = f.kstack("Passw0rd-Alice\n", "user", "create", "alice", "--password-stdin", "--policy", "platform-user")
	if r.Error != nil || r.Out != "user default.alice created\n" {
		t.Errorf("user create: %v, printed %q", r.Error, r.Out)
	}
	if w := f.writes(); w[len(w)-1].Body["password"] != "Passw0rd-Alice" {
		t.Errorf("user create sent %v", w[len(w)-1].Body)
	}
	if r := f.must("user", "delete", "alice"); r.Out != "user default.alice deleted\n" {
		t.Errorf("user delete printed %q", r.Out)
	}

	// An access key: the key alone on stdout, what happened on stderr.
	r = f.must("apikey", "create", "--expires", "8h")
	if !strings.HasPrefix(r.Out, "ksk_") || strings.Count(r.Out, "\n") != 1 || !strings.Contains(r.Err, "created") {
		t.Errorf("apikey create printed %q, stderr %q", r.Out, r.Err)
	}
}

func projectsPathFor(id string) string { return businessPath + "/projects/" + id }

func TestGroupVerbs(t *testing.T) {
	f := newFakePlatform(t)
	if r := f.must("group", "create", "devs", "--member", "alice"); r.Out != "group default.devs created\n" {
		t.Errorf("group create printed %q", r.Out)
	}
	path := groupsPath + "/default.devs"
	members := func() []any { g := f.get(path); return g["spec"].(map[string]any)["members"].([]any) }
	f.must("group", "add-member", "devs", "bob", "carol")
	if m := members(); len(m) != 3 {
		t.Errorf("members after add-member: %v", m)
	}
	f.must("group", "remove-member", "devs", "alice")
	if m := members(); len(m) != 2 || m[0] != "bob" {
		t.Errorf("members after remove-member: %v", m)
	}
	if r := f.kstack("", "group", "remove-member", "devs", "nobody"); r.Error == nil || !strings.Contains(r.Error.Error(), "nobody is not a member") {
		t.Errorf("removing a non-member: %v", r.Error)
	}
	f.must("group", "update", "devs", "--member", "dan", "--description", "the web team")
	if m := members(); len(m) != 1 || m[0] != "dan" {
		t.Errorf("members after update: %v", m)
	}
	// groups are replaced whole (PUT), never patched.
	for _, w := range f.writes() {
		if w.Method == "PATCH" {
			t.Errorf("a group was patched: %v", w)
		}
	}
	r := f.must("group", "get", "devs", "-o", "json")
	if !strings.Contains(r.Out, "the web team") {
		t.Errorf("group get printed %q", r.Out)
	}
	if r := f.must("group", "delete", "devs"); r.Out != "group default.devs deleted\n" || f.get(path) != nil {
		t.Errorf("group delete printed %q", r.Out)
	}
}

func TestPolicyUnbind(t *testing.T) {
	f := newFakePlatform(t)
	r := f.must("policy", "bind", "read-dev", "--user", "bob", "--group", "devs")
	if !regexp.MustCompile(`^policy read-dev bound to user bob, group devs \(policybinding pb-\d+\)\n$`).MatchString(r.Out) {
		t.Errorf("policy bind printed %q", r.Out)
	}
	f.must("policy", "bind", "read-dev", "--user", "bob")
	f.must("policy", "bind", "other", "--user", "bob")

	if r := f.must("policy", "unbind", "read-dev", "--user", "bob"); r.Out != "policy read-dev unbound from user bob\n" {
		t.Errorf("policy unbind printed %q", r.Out)
	}
	// The first binding keeps the group; the second, left empty, is gone;
	// the other policy's binding is untouched.
	l := f.must("policybinding", "list", "-o", "json")
	var bl struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct {
				PolicyName string
				Users      []string
				Groups     []string
			}
		}
	}
	if err := json.Unmarshal([]byte(l.Out), &bl); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bl.Items {
		got = append(got, b.Spec.PolicyName+":"+strings.Join(b.Spec.Users, ",")+":"+strings.Join(b.Spec.Groups, ","))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "other:bob: read-dev::devs" {
		t.Errorf("bindings after unbind: %v", got)
	}
	f.reset()
	if r := f.kstack("", "policy", "unbind", "read-dev", "--user", "carol"); r.Error == nil || !strings.Contains(r.Error.Error(), "names user carol") {
		t.Errorf("unbinding someone who does not hold it: %v", r.Error)
	}
	if w := f.writes(); len(w) > 0 {
		t.Errorf("a refused unbind wrote %v", w)
	}
}

func TestPublishAndTheApplyAlias(t *testing.T) {
	f := newFakePlatform(t)
	app := writeFile(t, "app.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n")
	r := f.must("publish", "-f", app, "--project", "prj-1", "--cluster", "cls-a", "--cluster", "cls-b", "--namespace", "web", "--replicas", "cls-b=3")
	if !regexp.MustCompile(`(?m)^cls-a\s+deployment/api\s+2/2\s+Ready$`).MatchString(r.Out) || !strings.Contains(r.Out, "cls-b") {
		t.Errorf("publish printed %q", r.Out)
	}
	if strings.Contains(r.Err, "deprecated") {
		t.Errorf("publish warned %q", r.Err)
	}
	publishBody := func() map[string]any {
		w := f.writes()
		last := w[len(w)-1]
		if last.Path != businessPath+"/namespaces/prj-1/publish" {
			t.Fatalf("sent %v", last)
		}
		return last.Body
	}
	if b := publishBody(); len(b["clusters"].([]any)) != 2 || b["namespace"] != "web" {
		t.Errorf("publish sent %v", b)
	}

	// The old name and flag still work for a release, with notices on stderr.
	f.reset()
	r = f.must("apply", "-f", app, "--project", "prj-1", "--clusters", "cls-a,cls-b", "--namespace", "web")
	if !strings.Contains(r.Err, `Command "apply" is deprecated: use 'kstack publish'`) || !strings.Contains(r.Err, "Flag --clusters has been deprecated, use --cluster instead") {
		t.Errorf("apply warned %q", r.Err)
	}
	if strings.Contains(r.Out, "deprecated") {
		t.Errorf("a deprecation notice went to stdout: %q", r.Out)
	}
	if b := publishBody(); len(b["clusters"].([]any)) != 2 {
		t.Errorf("apply sent %v", b)
	}
	// --clusters alone satisfies the required --cluster, also on publish.
	f.must("publish", "-f", app, "--project", "prj-1", "--clusters", "cls-a", "--namespace", "web", "-o", "json")
	// stdin as the manifests.
	f.reset()
	r = f.kstack("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "publish", "-f", "-", "--project", "prj-1", "--cluster", "cls-a", "--namespace", "web")
	if r.Error != nil || !strings.Contains(publishBody()["manifests"].(string), "ConfigMap") {
		t.Errorf("publish -f -: %v", r.Error)
	}

	// help lists publish, not apply.
	r = f.must("--help")
	if !strings.Contains(r.Out, "publish") || regexp.MustCompile(`(?m)^\s+apply\s`).MatchString(r.Out) {
		t.Errorf("kstack --help:\n%s", r.Out)
	}
}

func TestPasswdTakesThePasswordStdinSpelling(t *testing.T) {
	f := newFakePlatform(t)
	for _, flag := range []string{"--password-stdin", "--stdin"} {
		f.reset()
		r := f.kstack("Old-Passw0rd1\nNew-Passw0rd1\n", "passwd", flag)
		if r.Error != nil {
			t.Fatalf("passwd %s: %v", flag, r.Error)
		}
		w := f.writes()
		if len(w) != 1 || w[0].Path != authPath+"/users/default.admin/password" || w[0].Body["oldPassword"] != "Old-Passw0rd1" || w[0].Body["password"] != "New-Passw0rd1" {
			t.Errorf("passwd %s sent %v", flag, w)
		}
		if deprecated := strings.Contains(r.Err, "Flag --stdin has been deprecated"); deprecated != (flag == "--stdin") {
			t.Errorf("passwd %s warned %q", flag, r.Err)
		}
	}
}

func TestUpdateVerbs(t *testing.T) {
	f := newFakePlatform(t)
	f.put(authPath+"/users/default.bob", map[string]any{"metadata": map[string]any{"name": "default.bob"}, "spec": map[string]any{"username": "bob"}})
	if r := f.must("user", "update", "bob", "--disabled", "--display-name", "Bob"); r.Out != "user default.bob updated\n" {
		t.Errorf("user update printed %q", r.Out)
	}
	spec := f.get(authPath + "/users/default.bob")["spec"].(map[string]any)
	if spec["disabled"] != true || spec["displayName"] != "Bob" || spec["username"] != "bob" {
		t.Errorf("user after update: %v", spec)
	}
	if r := f.kstack("", "user", "update", "bob"); r.Error == nil || !strings.Contains(r.Error.Error(), "nothing to update") {
		t.Errorf("update without changes: %v", r.Error)
	}

	id := strings.TrimSpace(f.must("project", "create", "team-a", "--cluster", "cls-a", "--cluster", "cls-b", "--cpu", "1", "-o", "name").Out)
	f.must("project", "update", id, "--display-name", "team-z", "--remove-cluster", "cls-b")
	ps := f.get(projectsPathFor(id))["spec"].(map[string]any)
	if ps["displayName"] != "team-z" || len(ps["clusters"].([]any)) != 1 {
		t.Errorf("project after update: %v", ps)
	}
	f.must("namespace", "create", "web", "--project", id, "--cluster", "cls-a", "--cpu", "1")
	f.must("namespace", "set-quota", "web", "--project", id, "--cluster", "cls-a", "--cpu", "500m")
	ns := f.get(businessPath + "/namespaces/" + id + "/namespaces/cls-a-web")
	if hard := ns["spec"].(map[string]any)["hard"].(map[string]any); hard["requests.cpu"] != "500m" {
		t.Errorf("namespace quota after set-quota: %v", hard)
	}

	f.must("virtualnodeset", "create", "edge", "--upper", "cls-up", "--lower", "cls-a")
	f.must("virtualnodeset", "update", "edge", "--lower", "cls-a", "--lower", "cls-b", "--taint")
	vs := f.get(virtualNodeSetsPath + "/edge")["spec"].(map[string]any)
	if len(vs["lowers"].([]any)) != 2 || vs["taint"] != true || vs["upper"] != "cls-up" {
		t.Errorf("virtual node set after update: %v", vs)
	}
	if r := f.kstack("", "virtualnodeset", "create", "x", "--upper", "up.kubeconfig", "--lower", "cls-a"); r.Error == nil || !strings.Contains(r.Error.Error(), "takes cluster IDs") {
		t.Errorf("a kubeconfig as --upper: %v", r.Error)
	}
}

// Every command explains itself: --help shows a Short, a Long and an
// Example, and goes to the command's output stream.
func TestHelpExplainsEveryCommand(t *testing.T) {
	walk(testRoot(), func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || (c.HasParent() && c.Parent().Name() == "completion") {
			return
		}
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s lacks Short, Long or Example (%t %t %t)", c.CommandPath(), c.Short != "", c.Long != "", c.Example != "")
		}
	})
	f := newFakePlatform(t)
	r := f.must("policy", "unbind", "--help")
	if !strings.Contains(r.Out, "Examples:") || !strings.Contains(r.Out, "--user") || r.Err != "" {
		t.Errorf("policy unbind --help: out %q err %q", r.Out, r.Err)
	}
}

// Commands write through the streams of Options only.
func TestNoCommandWritesToTheProcessStreams(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	bad := regexp.MustCompile(`os\.Stdout|os\.Stderr|os\.Stdin|fmt\.Print`)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if bad.MatchString(line) && !strings.Contains(line, "streams := IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}") {
				t.Errorf("%s:%d uses the process's streams: %s", file, i+1, strings.TrimSpace(line))
			}
		}
	}
}
