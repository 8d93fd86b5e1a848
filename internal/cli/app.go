package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v3/pkg/strvals"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	applicationv1 "github.com/kstack/kstack/api/application/v1"
	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

// The app commands: Helm applications (application.tkestack.io/v1 App),
// each a Helm v3 release of a chart of a chart group in a namespace of a
// member cluster. An App lives in the platform namespace named after the
// project that owns its target namespace.

const applicationPath = "/application/apis/application.tkestack.io/v1"

// Labels the platform puts on a business Namespace (see the business
// group's admission): its cluster and its name there.
const (
	labelBusinessCluster   = "kstack.io/cluster"
	labelBusinessNamespace = "kstack.io/namespace"
)

func appsPath(project string) string {
	return applicationPath + "/namespaces/" + url.PathEscape(project) + "/apps"
}

func appPath(project, name string) string { return appsPath(project) + "/" + url.PathEscape(name) }

// defaultAppTimeout is the platform's bound on one operation (spec.timeout)
// when the App names none; maxAppTimeout the longest it accepts.
const (
	defaultAppTimeout = 5 * time.Minute
	maxAppTimeout     = time.Hour
)

// checkAppTimeout checks a --timeout given.
func checkAppTimeout(cmd *cobra.Command, d time.Duration) error {
	if cmd.Flags().Changed("timeout") && (d <= 0 || d > maxAppTimeout) {
		return fmt.Errorf("--timeout %s: give a duration up to %s, such as 5m", d, maxAppTimeout)
	}
	return nil
}

// hideSecretValues blanks what must never be printed (the platform serves
// no secret values back; this is in case).
func hideSecretValues(items ...*applicationv1.App) {
	for _, a := range items {
		a.Spec.Values.SecretValues = ""
	}
}

// appClient is c with room for an operation bounded by d on the platform
// (installs and upgrades may wait for workloads).
func appClient(c *apiclient.Client, d time.Duration) *apiclient.Client {
	if d <= 0 {
		d = defaultAppTimeout
	}
	return c.WithTimeout(d + time.Minute)
}

func newAppCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "app",
		Aliases: []string{"apps", "application", "applications"},
		Short:   "Helm applications: install charts into clusters, upgrade, roll back, uninstall",
		Long: `An app (application.tkestack.io/v1 App) is one Helm v3 release of a chart of a
chart group (see 'kstack chart') in a namespace of a member cluster. It
belongs to the project that owns that namespace: the project's members
install and manage it as their project policies allow. The platform runs each
operation (install, upgrade, rollback, uninstall) as the user who asks, and
the app records what was asked and what happened: its phase (Installing,
Upgrading, RollingBack, Uninstalling, Succeeded, Failed), the release's
revision and Helm status.

An app is named by its NAME and its project (--project); commands that read
an app find the project themselves when only one project you may see has an
app of that name.

Values are given as in helm: --values FILE (repeatable, later files win) and
--set a.b=c (after the files). Secret values (passwords) go in
--secret-values FILE: the platform keeps them in a Secret, masks them in
every view of the values, and keeps them across upgrades.`,
		Example: `  kstack chart show team-a/nginx --values > values.yaml
  kstack app install web --chart team-a/nginx --version 1.2.0 --cluster cls-ab12cd34 --namespace web \
      --values values.yaml --set replicaCount=2
  kstack app list
  kstack app upgrade web --version 1.3.0 --reuse-values
  kstack app history web
  kstack app rollback web --revision 1
  kstack app uninstall web`,
	}
	cmd.AddCommand(newAppInstallCmd(o), newAppListCmd(o), newAppGetCmd(o), newAppUpgradeCmd(o), newAppHistoryCmd(o),
		newAppDiffCmd(o), newAppRollbackCmd(o), newAppResourcesCmd(o), newAppUninstallCmd(o))
	return cmd
}

var appHeaders = []string{"NAME", "PROJECT", "CLUSTER", "NAMESPACE", "CHART", "VERSION", "REVISION", "PHASE", "RELEASE STATUS"}

func appRows(items []applicationv1.App) [][]string {
	rows := make([][]string, 0, len(items))
	for _, a := range items {
		project := a.Namespace
		if project == "" {
			project = a.Spec.ProjectName
		}
		rev := "-"
		if a.Status.Revision > 0 {
			rev = strconv.Itoa(a.Status.Revision)
		}
		rows = append(rows, []string{a.Name, dash(project), a.Spec.TargetCluster, a.Spec.TargetNamespace,
			a.Spec.Chart.ChartGroupName + "/" + a.Spec.Chart.ChartName, a.Spec.Chart.ChartVersion, rev,
			dash(string(a.Status.Phase)), dash(a.Status.ReleaseStatus)})
	}
	return rows
}

// ---- Values ----

// valueFlags are the values of an install or upgrade: files, --set and
// secret values.
type valueFlags struct {
	files   []string
	set     []string
	secrets string
}

func (v *valueFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&v.files, "values", "f", nil, "a YAML file of values over the chart's defaults (repeatable: later files win; - for stdin)")
	cmd.Flags().StringArrayVar(&v.set, "set", nil, "a value, as helm's --set: a.b=c, list={x,y}, a[0].b=c (repeatable; several with commas; over the files)")
	cmd.Flags().StringVar(&v.secrets, "secret-values", "", "a YAML file of secret values (passwords; - for stdin): kept in a Secret, masked in every view")
}

// given reports whether any value flag was given.
func (v *valueFlags) given() bool { return len(v.files) > 0 || len(v.set) > 0 || v.secrets != "" }

// checkSet checks --set values before anything is sent.
func (v *valueFlags) checkSet() error {
	for _, s := range v.set {
		if err := strvals.ParseInto(s, map[string]any{}); err != nil {
			return fmt.Errorf("--set %q: %v (want KEY=VALUE, e.g. image.tag=1.2.3)", s, err)
		}
	}
	return nil
}

// readArg reads a file argument of flag, "-" being stdin (once).
func readArg(o *Options, flag, name string, stdinUsed *bool) ([]byte, error) {
	if name == "-" {
		if *stdinUsed {
			return nil, fmt.Errorf("%s -: stdin is already read for another flag; give a file", flag)
		}
		*stdinUsed = true
		data, err := io.ReadAll(o.In)
		if err != nil {
			return nil, fmt.Errorf("%s -: %w", flag, err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return data, nil
}

// valuesMap reads a YAML (or JSON) document of values: a map, or nothing.
func valuesMap(flag, name string, data []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s %s: not a YAML map of values: %v", flag, name, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// mergeValues merges b into a, as helm merges values files: maps key by
// key, anything else replaced.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// values are the values the flags give, over base (the values kept, for
// --reuse-values; nil otherwise). raw is nil when nothing changes them.
// A single file without --set or base is sent as written (its comments
// kept); otherwise the merge is sent as YAML.
func (v *valueFlags) values(o *Options, base *string) (raw *applicationv1.AppValues, err error) {
	stdinUsed := false
	out := &applicationv1.AppValues{}
	if v.secrets != "" {
		data, err := readArg(o, "--secret-values", v.secrets, &stdinUsed)
		if err != nil {
			return nil, err
		}
		if _, err := valuesMap("--secret-values", v.secrets, data); err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(data)) == "" {
			return nil, fmt.Errorf("--secret-values %s: the file holds no values", v.secrets)
		}
		out.SecretValues = string(data)
	}
	if len(v.files) == 0 && len(v.set) == 0 {
		return out, nil
	}
	merged := map[string]any{}
	if base != nil {
		if merged, err = valuesMap("--reuse-values:", "the app's values", []byte(*base)); err != nil {
			return nil, err
		}
	}
	var single []byte
	for _, f := range v.files {
		data, err := readArg(o, "--values", f, &stdinUsed)
		if err != nil {
			return nil, err
		}
		m, err := valuesMap("--values", f, data)
		if err != nil {
			return nil, err
		}
		merged, single = mergeValues(merged, m), data
	}
	if len(v.files) == 1 && len(v.set) == 0 && base == nil {
		out.RawValues, out.RawValuesType = string(single), "yaml"
		if json.Valid(single) {
			out.RawValuesType = "json"
		}
		return out, nil
	}
	for _, s := range v.set {
		if err := strvals.ParseInto(s, merged); err != nil {
			return nil, fmt.Errorf("--set %q: %v (want KEY=VALUE, e.g. image.tag=1.2.3)", s, err)
		}
	}
	if len(merged) > 0 {
		data, err := yaml.Marshal(merged)
		if err != nil {
			return nil, err
		}
		out.RawValues = string(data)
	}
	out.RawValuesType = "yaml"
	return out, nil
}

// ---- Finding projects and apps ----

// projectOfNamespace finds the project that owns namespace ns of cluster:
// among the projects you are a member of (the business portal), then among
// the business namespaces you may list (administrators: every one).
func projectOfNamespace(ctx context.Context, c *apiclient.Client, cluster, ns string) (string, error) {
	var p businessv1.Portal
	if err := c.Do(ctx, http.MethodGet, businessPath+"/portal", "", nil, &p); err == nil {
		for _, prj := range p.Projects {
			if slices.Contains(prj.Namespaces, cluster+"/"+ns) {
				return prj.Name, nil
			}
		}
	}
	var l businessv1.NamespaceList
	q := url.Values{"labelSelector": {labelBusinessCluster + "=" + cluster + "," + labelBusinessNamespace + "=" + ns}}
	if err := c.Do(ctx, http.MethodGet, businessPath+"/namespaces?"+q.Encode(), "", nil, &l); err == nil {
		for _, n := range l.Items {
			if n.Spec.ClusterName == cluster && n.Spec.Namespace == ns {
				if n.Spec.ProjectName != "" {
					return n.Spec.ProjectName, nil
				}
				return n.Namespace, nil
			}
		}
	}
	return "", fmt.Errorf("--project is required: namespace %s of cluster %s is in no project you are a member of (an app belongs to the project that owns its namespace: give it, see 'kstack project list')", ns, cluster)
}

// findApp is the project of app name: project when given, or the one
// project among the apps you may see that has an app of that name.
func findApp(ctx context.Context, c *apiclient.Client, name, project string) (string, error) {
	if project != "" {
		return project, nil
	}
	var l applicationv1.AppList
	if err := c.Do(ctx, http.MethodGet, applicationPath+"/apps", "", nil, &l); err != nil {
		return "", fmt.Errorf("give --project (the app's project; listing apps to find it: %w)", err)
	}
	var found []string
	for _, a := range l.Items {
		if a.Name == name {
			found = append(found, a.Namespace)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no app %s among the apps you may see (see 'kstack app list'); if it is in a project you may not list, give --project", name)
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", fmt.Errorf("apps named %s are in several projects (%s): give --project", name, strings.Join(found, ", "))
}

// appClientFor is a client of the platform and the project of app name
// (project when given, else found among the apps the caller may see).
func appClientFor(ctx context.Context, o *Options, name, project string) (*apiclient.Client, string, error) {
	c, err := newAPIClient(o)
	if err != nil {
		return nil, "", err
	}
	project, err = findApp(ctx, c, name, project)
	return c, project, err
}

// appProjectFlag adds --project to a command that names an app.
func appProjectFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "project", "p", "", "the app's project (default: the one project with an app of that name)")
}

// appOutcome says what an operation did, kubectl style; a failed
// operation is an error (after -o printed the app).
func (o *Options) appOutcome(output string, a *applicationv1.App, op, done string) error {
	msg := fmt.Sprintf("app %s %s", a.Name, done)
	switch a.Status.Phase {
	case applicationv1.AppSucceeded, "":
		if a.Status.Revision > 0 {
			msg += fmt.Sprintf(" (revision %d", a.Status.Revision)
			if a.Status.ReleaseStatus != "" {
				msg += ", " + a.Status.ReleaseStatus
			}
			msg += ")"
		}
	case applicationv1.AppFailed:
		if output != "" && output != "table" {
			if err := printer.Print(o.Out, output, a, nil, nil); err != nil {
				return err
			}
		}
		return fmt.Errorf("app %s: %s failed: %s", a.Name, op, dash(a.Status.Message))
	default:
		msg = fmt.Sprintf("app %s: %s under way (phase %s); see 'kstack app get %s --project %s'", a.Name, op, a.Status.Phase, a.Name, a.Namespace)
	}
	return o.done(output, a, "%s", msg)
}

// ---- Commands ----

func newAppInstallCmd(o *Options) *cobra.Command {
	var output, project, cluster, namespace, chartRef, version, release string
	var wait, dryRun bool
	var timeout time.Duration
	var vals valueFlags
	cmd := &cobra.Command{
		Use:   "install NAME --chart GROUP/CHART [--version V] --cluster ID --namespace NS [--values FILE] [--set K=V]... [--project ID]",
		Short: "Install a chart into a namespace of a member cluster",
		Long: `Installs a chart version (--chart GROUP/CHART, --version; default: the chart's
newest version) as a Helm release in --namespace of --cluster, with the chart's
values overridden by --values files (later ones win) and then --set values,
as helm does. A single --values file without --set is sent as written; the
rest is merged and sent as YAML. --secret-values FILE holds the values that
are secret (passwords): the platform keeps it in a Secret and masks those
values everywhere.

The app NAME belongs to the project that owns the namespace; --project may be
left out when you are a member of that project (or may list every
namespace). The release is named NAME unless --release. --wait waits until the
release's workloads are ready, up to --timeout.

--dry-run renders the chart with the values and prints the manifest; nothing
is installed or stored. Otherwise prints "app NAME installed (revision 1,
deployed)", or the App with -o; a failed install exits non-zero with the
platform's message.`,
		Example: `  kstack app install web --chart team-a/nginx --version 1.2.0 --cluster cls-ab12cd34 --namespace web
  kstack app install web --chart team-a/nginx --cluster cls-ab12cd34 --namespace web --project prj-xxxxxxxx \
      --values values.yaml --set replicaCount=2 --set image.tag=1.25 --secret-values secrets.yaml --wait
  kstack app install web --chart team-a/nginx --cluster cls-ab12cd34 --namespace web --dry-run > manifest.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group, chart, err := parseChartArg(chartRef)
			if err != nil {
				return fmt.Errorf("--chart %w", err)
			}
			if err := checkAppTimeout(cmd, timeout); err != nil {
				return err
			}
			if err := vals.checkSet(); err != nil {
				return err
			}
			values, err := vals.values(o, nil)
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if project == "" {
				if project, err = projectOfNamespace(ctx, c, cluster, namespace); err != nil {
					return err
				}
			}
			if version == "" {
				if version, err = latestChartVersion(ctx, c, group, chart); err != nil {
					return err
				}
				o.warn("Installing chart %s/%s %s (the newest version)", group, chart, version)
			}
			a := applicationv1.App{TypeMeta: metav1.TypeMeta{APIVersion: applicationv1.GroupVersion.String(), Kind: "App"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: project},
				Spec: applicationv1.AppSpec{Type: applicationv1.HelmV3, Name: release, TargetCluster: cluster, TargetNamespace: namespace,
					Chart:  applicationv1.Chart{ChartGroupName: group, ChartName: chart, ChartVersion: version},
					Values: *values, DryRun: dryRun, Wait: wait}}
			if cmd.Flags().Changed("timeout") {
				a.Spec.Timeout = &metav1.Duration{Duration: timeout}
			}
			var out applicationv1.App
			if err := appClient(c, timeout).Do(ctx, http.MethodPost, appsPath(project), "", &a, &out); err != nil {
				return err
			}
			hideSecretValues(&out)
			if dryRun {
				if output != "table" {
					return printer.Print(o.Out, output, &out, nil, nil)
				}
				_, err := fmt.Fprint(o.Out, withNewline(out.Status.Manifest))
				return err
			}
			return o.appOutcome(output, &out, "install", "installed")
		},
	}
	f := cmd.Flags()
	f.StringVar(&chartRef, "chart", "", "the chart to install: GROUP/CHART (see 'kstack chart list')")
	f.StringVar(&version, "version", "", "the chart version (default: the newest; see 'kstack chart versions GROUP/CHART')")
	f.StringVar(&cluster, "cluster", "", "the member cluster to install into (see 'kstack cluster list')")
	f.StringVarP(&namespace, "namespace", "n", "", "the namespace to install into: a namespace of a project (see 'kstack namespace list')")
	f.StringVarP(&project, "project", "p", "", "the project that owns the namespace (default: found from the namespace)")
	f.StringVar(&release, "release", "", "the Helm release's name (default: NAME)")
	f.BoolVar(&wait, "wait", false, "wait until the release's workloads are ready (up to --timeout)")
	f.DurationVar(&timeout, "timeout", defaultAppTimeout, "how long the install may take (at most 1h)")
	f.BoolVar(&dryRun, "dry-run", false, "render the chart and print the manifest; install nothing")
	vals.add(cmd)
	required(cmd, "chart", "cluster", "namespace")
	outputFlag(cmd, &output)
	return cmd
}

func newAppListCmd(o *Options) *cobra.Command {
	var output, project, cluster string
	cmd := &cobra.Command{
		Use:     "list [--project ID] [--cluster ID]",
		Aliases: []string{"ls"},
		Short:   "List the apps you may see, of a project or a cluster",
		Long: `Lists the apps of a project (--project), or of every project you may see, with
their cluster and namespace, chart and version, the release's revision, the
app's phase and the release's Helm status; --cluster keeps those installed in
one cluster. -o json|yaml prints the AppList.`,
		Example: `  kstack app list
  kstack app list --project prj-xxxxxxxx --cluster cls-ab12cd34
  kstack app list -o name`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			path := applicationPath + "/apps"
			if project != "" {
				path = appsPath(project)
			}
			var l applicationv1.AppList
			if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &l); err != nil {
				return err
			}
			if cluster != "" {
				l.Items = slices.DeleteFunc(l.Items, func(a applicationv1.App) bool { return a.Spec.TargetCluster != cluster })
			}
			for i := range l.Items {
				hideSecretValues(&l.Items[i])
			}
			return o.show(output, &l, appHeaders, appRows(l.Items))
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "only this project's apps")
	cmd.Flags().StringVar(&cluster, "cluster", "", "only the apps installed in this cluster")
	outputFlag(cmd, &output)
	return cmd
}

func newAppGetCmd(o *Options) *cobra.Command {
	var output, project string
	cmd := &cobra.Command{
		Use:   "get NAME [--project ID]",
		Short: "Show one app",
		Long: `Shows one app as list does, and what its last operation said; -o json|yaml
prints the App whole (its values, with the secret ones masked, and its
operations).`,
		Example: "  kstack app get web\n  kstack app get web --project prj-xxxxxxxx -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := appClientFor(cmd.Context(), o, args[0], project)
			if err != nil {
				return err
			}
			var a applicationv1.App
			if err := c.Do(cmd.Context(), http.MethodGet, appPath(project, args[0]), "", nil, &a); err != nil {
				return err
			}
			hideSecretValues(&a)
			if err := o.show(output, &a, appHeaders, appRows([]applicationv1.App{a})); err != nil {
				return err
			}
			if output == "table" && a.Status.Message != "" {
				_, err = fmt.Fprintf(o.Out, "\nMessage: %s\n", a.Status.Message)
			}
			return err
		},
	}
	appProjectFlag(cmd, &project)
	outputFlag(cmd, &output)
	return cmd
}

func newAppUpgradeCmd(o *Options) *cobra.Command {
	var output, project, version string
	var reuse, wait bool
	var timeout time.Duration
	var vals valueFlags
	cmd := &cobra.Command{
		Use:   "upgrade NAME [--version V] [--values FILE]... [--set K=V]... [--secret-values FILE] [--reuse-values] [--project ID]",
		Short: "Upgrade an app: another chart version, other values",
		Long: `Reads the app, changes its spec and replaces it; the platform upgrades the
release (the resourceVersion read guards against a change made in between).

--version moves it to another version of its chart. Values: without
--values or --set the app keeps its values; with them, its values become
those of the files and --set (over the chart's defaults), or, with
--reuse-values, those merged over the values it has. --secret-values
replaces the secret values; without it they are kept. --wait waits until the
workloads are ready, up to --timeout.

Prints "app NAME upgraded (revision N, deployed)", or the App with -o; a
failed upgrade exits non-zero with the platform's message ('kstack app
rollback' goes back).`,
		Example: `  kstack app upgrade web --version 1.3.0
  kstack app upgrade web --reuse-values --set replicaCount=3
  kstack app upgrade web --project prj-xxxxxxxx --values values.yaml --secret-values secrets.yaml --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("version") && !vals.given() && !cmd.Flags().Changed("wait") && !cmd.Flags().Changed("timeout") {
				return errors.New("nothing to change: give --version, --values, --set, --secret-values, --wait or --timeout")
			}
			if cmd.Flags().Changed("version") && version == "" {
				return errors.New("--version: give a chart version (see kstack chart versions GROUP/CHART)")
			}
			if reuse && len(vals.files) == 0 && len(vals.set) == 0 {
				return errors.New("--reuse-values merges --values and --set into the app's values: give some (without them the values are kept anyway)")
			}
			if err := checkAppTimeout(cmd, timeout); err != nil {
				return err
			}
			if err := vals.checkSet(); err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if project, err = findApp(ctx, c, args[0], project); err != nil {
				return err
			}
			var a applicationv1.App
			path := appPath(project, args[0])
			if err := c.Do(ctx, http.MethodGet, path, "", nil, &a); err != nil {
				return err
			}
			var base *string
			if reuse {
				base = &a.Spec.Values.RawValues
			}
			values, err := vals.values(o, base)
			if err != nil {
				return err
			}
			if len(vals.files) > 0 || len(vals.set) > 0 {
				a.Spec.Values.RawValues, a.Spec.Values.RawValuesType = values.RawValues, values.RawValuesType
			}
			a.Spec.Values.SecretValues = values.SecretValues
			if version != "" {
				a.Spec.Chart.ChartVersion = version
			}
			if cmd.Flags().Changed("wait") {
				a.Spec.Wait = wait
			}
			if cmd.Flags().Changed("timeout") {
				a.Spec.Timeout = &metav1.Duration{Duration: timeout}
			}
			a.Spec.DryRun = false
			a.APIVersion, a.Kind = applicationv1.GroupVersion.String(), "App"
			opTimeout := timeout
			if !cmd.Flags().Changed("timeout") && a.Spec.Timeout != nil {
				opTimeout = a.Spec.Timeout.Duration
			}
			var out applicationv1.App
			if err := appClient(c, opTimeout).Do(ctx, http.MethodPut, path, "", &a, &out); err != nil {
				return err
			}
			hideSecretValues(&out)
			return o.appOutcome(output, &out, "upgrade", "upgraded")
		},
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "the chart version to move to (see 'kstack chart versions GROUP/CHART')")
	f.BoolVar(&reuse, "reuse-values", false, "merge --values and --set over the app's values instead of replacing them")
	f.BoolVar(&wait, "wait", false, "wait until the release's workloads are ready (up to --timeout)")
	f.DurationVar(&timeout, "timeout", defaultAppTimeout, "how long the upgrade may take (at most 1h; not given: the app's own timeout, if it has one)")
	appProjectFlag(cmd, &project)
	vals.add(cmd)
	outputFlag(cmd, &output)
	return cmd
}

func newAppHistoryCmd(o *Options) *cobra.Command {
	var output, project string
	cmd := &cobra.Command{
		Use:   "history NAME [--project ID]",
		Short: "List an app's release revisions, newest first",
		Long: `Lists the revisions of an app's release, newest first, as helm history does:
when each was made, its Helm status, chart version and app version, and what
happened (Install complete, Upgrade complete, Rollback to 2, ...). 'kstack app
diff' compares two revisions' values, 'kstack app rollback' goes back to one.
-o json|yaml prints the AppHistory.`,
		Example: "  kstack app history web\n  kstack app history web --project prj-xxxxxxxx -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := appClientFor(cmd.Context(), o, args[0], project)
			if err != nil {
				return err
			}
			var h applicationv1.AppHistory
			if err := c.Do(cmd.Context(), http.MethodGet, appPath(project, args[0])+"/histories", "", nil, &h); err != nil {
				return err
			}
			rows := make([][]string, 0, len(h.Items))
			for _, r := range h.Items {
				rows = append(rows, []string{strconv.Itoa(r.Revision), pushedAt(r.Updated), dash(r.Status), dash(r.Chart), dash(r.ChartVersion), dash(r.AppVersion), dash(oneLine(r.Description, 60))})
			}
			return o.show(output, &h, []string{"REVISION", "UPDATED", "STATUS", "CHART", "VERSION", "APP VERSION", "DESCRIPTION"}, rows)
		},
	}
	appProjectFlag(cmd, &project)
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newAppDiffCmd(o *Options) *cobra.Command {
	var output, project string
	var from, to int
	cmd := &cobra.Command{
		Use:   "diff NAME [--from N] [--to M] [--project ID]",
		Short: "Show how an app's values changed between two revisions",
		Long: `Prints the unified diff of the values given to two revisions of an app's
release (see 'kstack app history'), the secret values masked: --to (default:
the latest revision) against --from (default: the one before --to). Nothing
is printed when they are the same (stderr says so). -o json|yaml prints the
AppValuesDiff: both revisions' values and the diff.`,
		Example: `  kstack app diff web
  kstack app diff web --from 1 --to 3
  kstack app diff web --from 2 --to 3 --project prj-xxxxxxxx -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for _, r := range []struct {
				flag string
				n    int
			}{{"from", from}, {"to", to}} {
				if !cmd.Flags().Changed(r.flag) {
					continue
				}
				if r.n < 1 {
					return fmt.Errorf("--%s %d: revisions are numbered from 1 (see kstack app history %s)", r.flag, r.n, args[0])
				}
				q.Set(r.flag, strconv.Itoa(r.n))
			}
			c, project, err := appClientFor(cmd.Context(), o, args[0], project)
			if err != nil {
				return err
			}
			path := appPath(project, args[0]) + "/diff"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var d applicationv1.AppValuesDiff
			if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &d); err != nil {
				return err
			}
			if output != "table" {
				return printer.Print(o.Out, output, &d, nil, nil)
			}
			if d.Diff == "" {
				o.warn("revisions %d and %d of app %s have the same values", d.From, d.To, args[0])
				return nil
			}
			_, err = fmt.Fprint(o.Out, withNewline(d.Diff))
			return err
		},
	}
	cmd.Flags().IntVar(&from, "from", 0, "the older revision (default: the one before --to)")
	cmd.Flags().IntVar(&to, "to", 0, "the newer revision (default: the latest)")
	appProjectFlag(cmd, &project)
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newAppRollbackCmd(o *Options) *cobra.Command {
	var output, project string
	var revision int
	cmd := &cobra.Command{
		Use:   "rollback NAME [--revision N] [--project ID]",
		Short: "Roll an app back to an earlier revision",
		Long: `Rolls an app's release back to an earlier revision (--revision; default: the
one before the current), with that revision's chart version and values; Helm
makes it a new revision. Prints "app NAME rolled back to revision N (revision
M, deployed)", M being the new revision, or the App with -o; a failed
rollback exits non-zero with the platform's message.`,
		Example: "  kstack app rollback web\n  kstack app rollback web --revision 2 --project prj-xxxxxxxx",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("revision") && revision < 1 {
				return fmt.Errorf("--revision %d: give a revision from 1 up (see kstack app history %s), or leave it out for the one before the current", revision, args[0])
			}
			c, project, err := appClientFor(cmd.Context(), o, args[0], project)
			if err != nil {
				return err
			}
			var out applicationv1.App
			// The platform bounds the rollback by the app's own timeout.
			if err := appClient(c, maxAppTimeout).Do(cmd.Context(), http.MethodPost, appPath(project, args[0])+"/rollback", "",
				&applicationv1.AppRollback{Revision: revision}, &out); err != nil {
				return err
			}
			hideSecretValues(&out)
			to := "the previous revision"
			if r := out.Status.RollbackRevision; r > 0 {
				to = "revision " + strconv.Itoa(r)
			} else if revision > 0 {
				to = "revision " + strconv.Itoa(revision)
			}
			return o.appOutcome(output, &out, "rollback", "rolled back to "+to)
		},
	}
	cmd.Flags().IntVar(&revision, "revision", 0, "the revision to go back to (default: the one before the current)")
	appProjectFlag(cmd, &project)
	outputFlag(cmd, &output)
	return cmd
}

func newAppResourcesCmd(o *Options) *cobra.Command {
	var output, project string
	cmd := &cobra.Command{
		Use:   "resources NAME [--project ID]",
		Short: "List the objects of an app's release and their state in the cluster",
		Long: `Lists the objects of the app's current release (its manifest) and their state
in the member cluster: Ready, NotReady (MESSAGE says why), Missing, or Unknown
when you may not read them. -o json|yaml prints the AppResourceList.`,
		Example: "  kstack app resources web\n  kstack app resources web --project prj-xxxxxxxx -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := appClientFor(cmd.Context(), o, args[0], project)
			if err != nil {
				return err
			}
			var l applicationv1.AppResourceList
			if err := c.Do(cmd.Context(), http.MethodGet, appPath(project, args[0])+"/resources", "", nil, &l); err != nil {
				return err
			}
			rows := make([][]string, 0, len(l.Items))
			for _, r := range l.Items {
				rows = append(rows, []string{r.Kind, r.Name, dash(r.Namespace), dash(r.Status), dash(oneLine(r.Message, 60))})
			}
			return o.show(output, &l, []string{"KIND", "NAME", "NAMESPACE", "STATUS", "MESSAGE"}, rows)
		},
	}
	appProjectFlag(cmd, &project)
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newAppUninstallCmd(o *Options) *cobra.Command {
	var output, project string
	cmd := &cobra.Command{
		Use:     "uninstall NAME [--project ID]",
		Aliases: []string{"delete", "rm"},
		Short:   "Uninstall an app: delete its release and what it made in the cluster",
		Long: `Uninstalls an app: the platform uninstalls its release from the member
cluster (the release's objects are deleted) and deletes the app with its
secret values. Prints "app NAME uninstalled", or the App the platform answered
with -o; a failed uninstall exits non-zero with the platform's message.`,
		Example: "  kstack app uninstall web\n  kstack app delete web --project prj-xxxxxxxx",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := appClientFor(cmd.Context(), o, args[0], project)
			if err != nil {
				return err
			}
			var out applicationv1.App
			// The platform bounds the uninstall by the app's own timeout.
			if err := appClient(c, maxAppTimeout).Do(cmd.Context(), http.MethodDelete, appPath(project, args[0]), "", nil, &out); err != nil {
				return err
			}
			hideSecretValues(&out)
			if out.Name == "" {
				out.Name, out.Namespace = args[0], project
			}
			if out.Status.Phase == applicationv1.AppFailed {
				return o.appOutcome(output, &out, "uninstall", "uninstalled")
			}
			return o.done(output, &out, "app %s uninstalled", args[0])
		},
	}
	appProjectFlag(cmd, &project)
	outputFlag(cmd, &output)
	return cmd
}
