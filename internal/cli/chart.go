package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	registryv1 "github.com/kstack/kstack/api/registry/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

// The chart commands: chart groups (registry.tkestack.io/v1 ChartGroup),
// the Helm charts they hold (OCI artifacts of the platform's registry at
// <registry>/<group>/<chart>:<version>), their versions and what a version
// holds, and the imports of third-party chart repositories.

const (
	chartGroupsPath     = registryPath + "/chartgroups"
	chartsPath          = registryPath + "/charts"
	chartGroupPortalURL = registryPath + "/chartgroupportal"
)

var chartVisibilities = []string{string(registryv1.VisibilityUser), string(registryv1.VisibilityProject), string(registryv1.VisibilityPublic)}

// checkChartVisibility checks a --visibility value.
func checkChartVisibility(v string) error {
	if v != "" && !slices.Contains(chartVisibilities, v) {
		return fmt.Errorf("--visibility %q: use User, Project or Public", v)
	}
	return nil
}

func newChartCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "chart",
		Aliases: []string{"charts"},
		Short:   "Helm charts: chart groups, their charts and versions, imports of chart repositories",
		Long: `The platform keeps Helm charts in chart groups (registry.tkestack.io/v1
ChartGroup). A chart group is a repository of charts, stored in the platform's
registry as OCI artifacts: <registry>/GROUP/CHART:VERSION, which helm push and
helm pull use (oci://<registry>/GROUP/CHART).

  group      a chart group: owned by your tenant, its name unique among chart
             groups and registry namespaces; User (the --user listed),
             Project (the members of the --project listed) or Public (anyone
             pulls). A SelfBuilt group holds the charts pushed to it; an
             Imported one copies a third-party repository (an index.yaml
             repository) periodically and on 'kstack chart group sync'.
  list       the charts of a group, or of every group you may pull from.
  versions   a chart's versions, newest first.
  show       what a chart version holds: its values.yaml, README and
             values.schema.json, read before 'kstack app install'.
  delete     a chart, or one of its versions.

Charts are referred to as GROUP/CHART. 'kstack app' installs them into
clusters.`,
		Example: `  kstack chart group create team-a --visibility Project --project prj-xxxxxxxx
  kstack chart group guide team-a
  helm push nginx-1.2.0.tgz oci://<registry>/team-a
  kstack chart list team-a
  kstack chart show team-a/nginx --values
  kstack app install web --chart team-a/nginx --version 1.2.0 --cluster cls-ab12cd34 --namespace web`,
	}
	cmd.AddCommand(newChartGroupCmd(o), newChartListCmd(o), newChartVersionsCmd(o), newChartShowCmd(o), newChartDeleteCmd(o))
	return cmd
}

// ---- Chart groups ----

var chartGroupHeaders = []string{"NAME", "VISIBILITY", "TYPE", "CHARTS", "PHASE", "LAST SYNC"}

func chartGroupRows(items []registryv1.ChartGroup) [][]string {
	rows := make([][]string, 0, len(items))
	for _, g := range items {
		vis, typ := string(g.Spec.Visibility), string(g.Spec.Type)
		if vis == "" {
			vis = string(registryv1.VisibilityUser)
		}
		if typ == "" {
			typ = string(registryv1.SelfBuilt)
		}
		rows = append(rows, []string{g.Name, vis, typ, strconv.Itoa(g.Status.ChartCount), dash(string(g.Status.Phase)), pushedAt(g.Status.LastSyncTime)})
	}
	return rows
}

func chartGroupPath(name string) string { return chartGroupsPath + "/" + url.PathEscape(name) }

// getChartGroup reads a chart group: through the API, or, for a user whose
// right on it comes through a project or its visibility (the API reads the
// object with tenant rights), from the groups they may pull from.
func getChartGroup(ctx context.Context, c *apiclient.Client, name string) (*registryv1.ChartGroup, error) {
	var g registryv1.ChartGroup
	err := c.Do(ctx, http.MethodGet, chartGroupPath(name), "", nil, &g)
	if err == nil || !apiclient.IsForbidden(err) {
		return &g, err
	}
	var l registryv1.ChartGroupList
	if c.Do(ctx, http.MethodGet, chartGroupPortalURL, "", nil, &l) == nil {
		for i := range l.Items {
			if l.Items[i].Name == name {
				return &l.Items[i], nil
			}
		}
	}
	return nil, err
}

// hideImportPassword blanks what must never be printed (the platform
// serves no password back; this is in case).
func hideImportPassword(g *registryv1.ChartGroup) {
	if g.Spec.ImportedInfo != nil {
		g.Spec.ImportedInfo.Password = ""
	}
}

func newChartGroupCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups", "cg"},
		Short:   "Chart groups: repositories of Helm charts, self-built or imported",
		Long: `A chart group (registry.tkestack.io/v1 ChartGroup) is a repository of Helm
charts in the platform's registry: <registry>/GROUP/CHART:VERSION. Its name is
a path segment of the registry, unique among chart groups and registry
namespaces: 2 to 63 lower-case letters and digits with single '.' or '-'
between them. It belongs to your tenant and is

  User      pulled and pushed by the users listed (--user), and the tenant's
            users whose policies allow it (the default);
  Project   pulled and pushed by the members of the projects listed
            (--project), as their project policies allow;
  Public    pulled by anyone, anonymous clients too.

A SelfBuilt group holds the charts pushed to it (helm push, see 'kstack chart
group guide'); an Imported group (--import-url) copies the charts of a
third-party repository (an HTTP repository with an index.yaml) every
--sync-interval and on 'kstack chart group sync'.`,
		Example: `  kstack chart group create team-a --visibility Project --project prj-xxxxxxxx
  kstack chart group create bitnami --visibility Public --import-url https://charts.bitnami.com/bitnami --latest-versions 3
  kstack chart group list
  kstack chart group sync bitnami
  kstack chart group delete team-a`,
	}

	var createOut, visibility, displayName, description string
	var users, projects []string
	var imp importFlags
	create := &cobra.Command{
		Use:   "create NAME [--visibility User|Project|Public] [--user NAME]... [--project ID]... [--import-url URL ...]",
		Short: "Create a chart group of your tenant, self-built or imported from a chart repository",
		Long: `Creates a chart group of your tenant. --visibility is User (the default: the
--user listed pull and push), Project (the members of each --project) or
Public (anyone pulls); --user goes with User and --project with Project.

Without --import-url the group is SelfBuilt: charts are pushed to it (see
'kstack chart group guide NAME'). With --import-url it is Imported: the
platform copies the charts of that repository (URL/index.yaml) every
--sync-interval (default 1h; 0s: only on 'kstack chart group sync'), only the
--latest-versions newest versions of each chart when given. A repository
that needs a login takes --import-username and the password from
--import-password-file FILE or --import-password-stdin (one line); the
platform moves it into a Secret and never serves it back.

Prints "chart group NAME created", or the ChartGroup with -o.`,
		Example: `  kstack chart group create team-a --visibility Project --project prj-xxxxxxxx --display-name "Team A"
  kstack chart group create tools --user alice --user bob
  kstack chart group create stable --visibility Public --import-url https://charts.example.com/stable --sync-interval 6h
  echo "$REPO_PASSWORD" | kstack chart group create vendor --import-url https://charts.vendor.example \
      --import-username robot --import-password-stdin --latest-versions 5`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if visibility == "" {
				visibility = string(registryv1.VisibilityUser)
			}
			if err := checkChartVisibility(visibility); err != nil {
				return err
			}
			if len(users) > 0 && visibility != string(registryv1.VisibilityUser) {
				return fmt.Errorf("--user lists who may use a group of visibility User, not %s: drop --user, or use --visibility User", visibility)
			}
			if len(projects) > 0 && visibility != string(registryv1.VisibilityProject) {
				return fmt.Errorf("--project shares a group of visibility Project, not %s: add --visibility Project", visibility)
			}
			info, err := imp.info(o, cmd)
			if err != nil {
				return err
			}
			g := registryv1.ChartGroup{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "ChartGroup"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec: registryv1.ChartGroupSpec{DisplayName: displayName, Description: description, Visibility: registryv1.ChartGroupVisibility(visibility),
					Users: users, Projects: projects, Type: registryv1.SelfBuilt, ImportedInfo: info}}
			if info != nil {
				g.Spec.Type = registryv1.Imported
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var out registryv1.ChartGroup
			if err := c.Do(cmd.Context(), http.MethodPost, chartGroupsPath, "", &g, &out); err != nil {
				return err
			}
			hideImportPassword(&out)
			return o.done(createOut, &out, "chart group %s created", out.Name)
		},
	}
	create.Flags().StringVar(&visibility, "visibility", "", "User (default), Project or Public")
	create.Flags().StringSliceVar(&users, "user", nil, "with --visibility User: a user of your tenant who may pull and push (repeatable)")
	create.Flags().StringSliceVar(&projects, "project", nil, "with --visibility Project: a project whose members may pull and push (repeatable)")
	create.Flags().StringVar(&displayName, "display-name", "", "a readable name (at most 60 characters)")
	create.Flags().StringVar(&description, "description", "", "what the group holds (at most 255 characters)")
	imp.add(create)
	outputFlag(create, &createOut)

	var listOut string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the chart groups you may pull from",
		Long: `Lists the chart groups you may pull from: the public ones, those whose users
you are, those shared with your projects and those your tenant's policies
allow. CHARTS is the number of charts; PHASE and LAST SYNC are the state of an
Imported group's last sync (Failed: see 'kstack chart group get NAME -o yaml').
-o json|yaml prints the ChartGroupList.`,
		Example: "  kstack chart group list\n  kstack chart group list -o name",
		Args:    cobra.NoArgs,
		RunE: listRun(o, &listOut, chartGroupPortalURL, chartGroupHeaders, func(l *registryv1.ChartGroupList) [][]string {
			for i := range l.Items {
				hideImportPassword(&l.Items[i])
			}
			return chartGroupRows(l.Items)
		}),
	}
	outputFlag(list, &listOut)

	var getOut string
	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one chart group",
		Long:    "Shows one chart group as list does; -o json|yaml prints it whole (an Imported group's repository, its sync state and message).",
		Example: "  kstack chart group get team-a\n  kstack chart group get bitnami -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			g, err := getChartGroup(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			hideImportPassword(g)
			return o.show(getOut, g, chartGroupHeaders, chartGroupRows([]registryv1.ChartGroup{*g}))
		},
	}
	outputFlag(get, &getOut)

	var delOut string
	var force bool
	del := &cobra.Command{
		Use:     "delete NAME [--force]",
		Aliases: []string{"rm"},
		Short:   "Delete a chart group (--force: with its charts)",
		Long: `Deletes a chart group. One that still holds charts is refused, unless
--force, which deletes its charts and their versions first (if that fails, the
group stays). An Imported group's stored repository password goes with it.
Prints "chart group NAME deleted", or what was deleted with -o.`,
		Example: "  kstack chart group delete team-a\n  kstack chart group delete bitnami --force",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			path, g := chartGroupPath(args[0]), &registryv1.ChartGroup{}
			if delOut != "" && delOut != "table" {
				if g, err = getChartGroup(cmd.Context(), c, args[0]); err != nil {
					return err
				}
			}
			if force {
				path += "?force=true"
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil); err != nil {
				return err
			}
			hideImportPassword(g)
			return o.done(delOut, g, "chart group %s deleted", args[0])
		},
	}
	del.Flags().BoolVar(&force, "force", false, "delete the group's charts and their versions first")
	outputFlag(del, &delOut)

	cmd.AddCommand(create, list, get, del, newChartGroupSyncCmd(o), newChartGroupGuideCmd(o))
	return cmd
}

// importFlags describe the third-party repository of an Imported group.
type importFlags struct {
	url, username, passwordFile string
	passwordStdin               bool
	syncInterval                time.Duration
	latestVersions              int
}

// minChartSyncInterval is the platform's shortest sync interval.
const minChartSyncInterval = time.Minute

var importFlagNames = []string{"import-username", "import-password-file", "import-password-stdin", "sync-interval", "latest-versions"}

func (f *importFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "import-url", "", "import the charts of this chart repository (URL/index.yaml is its index): the group is Imported")
	fl.StringVar(&f.username, "import-username", "", "the repository's user name")
	fl.StringVar(&f.passwordFile, "import-password-file", "", "read the repository's password from this file (its first line)")
	fl.BoolVar(&f.passwordStdin, "import-password-stdin", false, "read the repository's password from stdin (one line)")
	fl.DurationVar(&f.syncInterval, "sync-interval", time.Hour, "how often the platform syncs the repository (at least 1m; 0s: only on 'kstack chart group sync')")
	fl.IntVar(&f.latestVersions, "latest-versions", 0, "copy only this many of each chart's newest versions (0: all)")
	cmd.MarkFlagsMutuallyExclusive("import-password-file", "import-password-stdin")
}

// info is the ImportedInfo the flags describe (nil without --import-url).
// The password is read last, once everything else is right.
func (f *importFlags) info(o *Options, cmd *cobra.Command) (*registryv1.ImportedInfo, error) {
	if f.url == "" {
		var given []string
		for _, n := range importFlagNames {
			if cmd.Flags().Changed(n) {
				given = append(given, "--"+n)
			}
		}
		if len(given) > 0 {
			verb := "describe"
			if len(given) == 1 {
				verb = "describes"
			}
			return nil, fmt.Errorf("%s %s the repository of an imported group: give --import-url too", strings.Join(given, ", "), verb)
		}
		return nil, nil
	}
	u, err := url.Parse(f.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--import-url %q: want the chart repository's http(s) URL, e.g. https://charts.example.com/stable (its index is URL/index.yaml)", f.url)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--import-url %q: give the user name with --import-username and the password with --import-password-file or --import-password-stdin, not in the URL", u.Redacted())
	}
	if f.syncInterval < 0 || (f.syncInterval > 0 && f.syncInterval < minChartSyncInterval) {
		return nil, fmt.Errorf("--sync-interval %s: give 0s (sync only on demand) or at least %s, e.g. 1h", f.syncInterval, minChartSyncInterval)
	}
	if f.latestVersions < 0 {
		return nil, fmt.Errorf("--latest-versions %d: give a number of versions, or 0 for all", f.latestVersions)
	}
	info := &registryv1.ImportedInfo{Addr: f.url, Username: f.username, LatestVersions: f.latestVersions}
	if cmd.Flags().Changed("sync-interval") {
		info.SyncInterval = &metav1.Duration{Duration: f.syncInterval}
	}
	if f.passwordFile == "" && !f.passwordStdin {
		return info, nil
	}
	flag := "--import-password-stdin"
	if f.passwordFile != "" {
		flag = "--import-password-file"
	}
	if f.username == "" {
		return nil, fmt.Errorf("%s: give the repository's --import-username too", flag)
	}
	var pw string
	if f.passwordFile != "" {
		data, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--import-password-file: %w", err)
		}
		pw, _, _ = strings.Cut(string(data), "\n")
		pw = strings.TrimRight(pw, "\r")
	} else if pw, err = readLine(bufio.NewReader(o.In)); err != nil {
		return nil, fmt.Errorf("--import-password-stdin: %w", err)
	}
	if pw == "" {
		return nil, fmt.Errorf("%s: no password there", flag)
	}
	info.Password = pw
	return info, nil
}

func newChartGroupSyncCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "sync NAME",
		Short: "Sync an imported chart group with its repository now",
		Long: `Syncs an Imported chart group now and waits for it: the platform reads the
repository's index.yaml and copies the chart versions the group lacks (only
the --latest-versions newest of each chart, if the group says so). Prints the
charts and versions the index lists, how many versions were copied, skipped
(already there) and failed, and why they failed. Exits non-zero when a
version could not be copied; the versions copied stay.`,
		Example: "  kstack chart group sync bitnami\n  kstack chart group sync bitnami -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var res registryv1.ChartSyncResult
			// Copying a large repository takes long: no client time limit.
			if err := c.WithTimeout(0).Do(cmd.Context(), http.MethodPost, chartGroupPath(args[0])+"/sync", "", nil, &res); err != nil {
				return err
			}
			took := "-"
			if !res.Started.IsZero() && !res.Finished.IsZero() {
				took = res.Finished.Sub(res.Started.Time).Round(time.Millisecond).String()
			}
			if err := o.show(output, &res, []string{"CHARTS", "VERSIONS", "COPIED", "SKIPPED", "FAILED", "TOOK"},
				[][]string{{strconv.Itoa(res.Charts), strconv.Itoa(res.Versions), strconv.Itoa(res.Copied), strconv.Itoa(res.Skipped), strconv.Itoa(res.Failed), took}}); err != nil {
				return err
			}
			if output == "table" && len(res.Errors) > 0 {
				var b strings.Builder
				b.WriteString("\nErrors:\n")
				for _, e := range res.Errors {
					fmt.Fprintf(&b, "  %s\n", e)
				}
				if _, err := fmt.Fprint(o.Out, b.String()); err != nil {
					return err
				}
			}
			if res.Failed > 0 {
				what := "chart versions"
				if res.Failed == 1 {
					what = "chart version"
				}
				return fmt.Errorf("chart group %s: %d %s could not be copied (the %d copied stay; see the errors above, or -o yaml)", args[0], res.Failed, what, res.Copied)
			}
			return nil
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newChartGroupGuideCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "guide NAME",
		Short: "Print the helm commands that push a chart into a group and pull it back",
		Long: `Prints the upload guide of a chart group for you: helm registry login with your
registry username, helm package of a chart directory, helm push into the
group and helm pull, as a script with the notes as comments (which password
to use). -o json|yaml prints the ChartUploadGuide.`,
		Example: "  kstack chart group guide team-a",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var g registryv1.ChartUploadGuide
			if err := c.Do(cmd.Context(), http.MethodGet, chartGroupPath(args[0])+"/guide", "", nil, &g); err != nil {
				return err
			}
			if output != "table" {
				return printer.Print(o.Out, output, &g, nil, nil)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "# Log in to %s as %s\n%s\n", g.Registry, g.Username, g.Login)
			fmt.Fprintf(&b, "# Package a chart directory\n%s\n", g.Package)
			fmt.Fprintf(&b, "# Push it into chart group %s\n%s\n# Pull it back\n%s\n", g.ChartGroup, g.Push, g.Pull)
			if len(g.Notes) > 0 {
				b.WriteString("\n# Notes:\n")
				for _, n := range g.Notes {
					fmt.Fprintf(&b, "# - %s\n", n)
				}
			}
			_, err = fmt.Fprint(o.Out, b.String())
			return err
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

// ---- Charts and versions ----

// parseChartArg reads GROUP/CHART.
func parseChartArg(arg string) (group, chart string, err error) {
	if strings.Contains(arg, "://") {
		return "", "", fmt.Errorf("%q: give GROUP/CHART without oci:// and the registry's host (e.g. team-a/nginx)", arg)
	}
	group, chart, ok := strings.Cut(arg, "/")
	if strings.Contains(group, ":") || strings.Contains(group, ".") && strings.Contains(chart, "/") {
		return "", "", fmt.Errorf("%q: give GROUP/CHART without the registry's host (e.g. team-a/nginx)", arg)
	}
	if !ok || group == "" || chart == "" || strings.Contains(chart, "/") {
		return "", "", fmt.Errorf("%q is not GROUP/CHART (e.g. team-a/nginx; see kstack chart list)", arg)
	}
	if strings.ContainsAny(chart, ":@") {
		return "", "", fmt.Errorf("%q: give the chart as GROUP/CHART and its version with --version (e.g. team-a/nginx --version 1.2.0)", arg)
	}
	return group, chart, nil
}

func chartPath(group, chart string) string {
	return chartGroupPath(group) + "/charts/" + url.PathEscape(chart)
}

func chartVersionPath(group, chart, version string) string {
	return chartPath(group, chart) + "/versions/" + url.PathEscape(version)
}

var chartHeaders = []string{"NAME", "GROUP", "VISIBILITY", "LATEST", "APP VERSION", "VERSIONS", "DESCRIPTION"}

func chartRows(l *registryv1.ChartList) [][]string {
	rows := make([][]string, 0, len(l.Items))
	for _, c := range l.Items {
		rows = append(rows, []string{c.Name, c.ChartGroup, dash(string(c.Visibility)), dash(c.LatestVersion), dash(c.AppVersion), strconv.Itoa(c.Versions), dash(oneLine(c.Description, 60))})
	}
	return rows
}

func newChartListCmd(o *Options) *cobra.Command {
	var output, visibility string
	cmd := &cobra.Command{
		Use:     "list [GROUP] [--visibility User|Project|Public]",
		Aliases: []string{"ls"},
		Short:   "List the charts of a group, or every chart you may pull",
		Long: `Lists the charts of chart group GROUP, or without GROUP the charts of every
chart group you may pull from (--visibility: only those of groups of that
visibility). Each with its group's visibility, its latest version (the
highest), that version's app version and description, and its number of
versions. -o json|yaml prints the ChartList (with each chart's pull reference,
oci://<registry>/GROUP/CHART); -o name the charts' names.`,
		Example: `  kstack chart list
  kstack chart list --visibility Public
  kstack chart list team-a -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkChartVisibility(visibility); err != nil {
				return err
			}
			path := chartsPath
			if len(args) == 1 {
				if strings.Contains(args[0], "/") {
					return fmt.Errorf("%q: give a chart group's name (see kstack chart group list); for a chart's versions use kstack chart versions GROUP/CHART", args[0])
				}
				if visibility != "" {
					return errors.New("--visibility filters the charts of every group; the charts of one group all have its visibility: drop GROUP or --visibility")
				}
				path = chartGroupPath(args[0]) + "/charts"
			} else if visibility != "" {
				path += "?" + url.Values{"visibility": {visibility}}.Encode()
			}
			return listRun(o, &output, path, chartHeaders, chartRows)(cmd, args)
		},
	}
	cmd.Flags().StringVar(&visibility, "visibility", "", "without GROUP: only the charts of groups of this visibility (User, Project or Public)")
	outputFlag(cmd, &output)
	return cmd
}

func newChartVersionsCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "versions GROUP/CHART",
		Short: "List a chart's versions, newest first",
		Long: `Lists the versions of a chart, newest (highest) first: each version's app
version, size, push time and description. -o json|yaml prints the
ChartVersionList (with each version's digest).`,
		Example: "  kstack chart versions team-a/nginx\n  kstack chart versions team-a/nginx -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group, chart, err := parseChartArg(args[0])
			if err != nil {
				return err
			}
			return listRun(o, &output, chartPath(group, chart), []string{"VERSION", "APP VERSION", "SIZE", "PUSHED", "DESCRIPTION"},
				func(l *registryv1.ChartVersionList) [][]string {
					rows := make([][]string, 0, len(l.Items))
					for _, v := range l.Items {
						rows = append(rows, []string{v.Version, dash(v.AppVersion), printer.Bytes(v.Size), pushedAt(v.PushedAt), dash(oneLine(v.Description, 60))})
					}
					return rows
				})(cmd, args)
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

// latestChartVersion is a chart's newest version.
func latestChartVersion(ctx context.Context, c *apiclient.Client, group, chart string) (string, error) {
	var l registryv1.ChartVersionList
	if err := c.Do(ctx, http.MethodGet, chartPath(group, chart), "", nil, &l); err != nil {
		return "", err
	}
	if len(l.Items) == 0 {
		return "", fmt.Errorf("chart %s/%s has no version", group, chart)
	}
	return l.Items[0].Version, nil
}

func newChartShowCmd(o *Options) *cobra.Command {
	var output, version string
	var readme, values, schema bool
	cmd := &cobra.Command{
		Use:     "show GROUP/CHART [--version V] [--readme|--values|--schema]",
		Aliases: []string{"inspect"},
		Short:   "Show what a chart version holds: a summary and its values, or its README, values or schema",
		Long: `Shows a version of a chart (--version; default: the newest): a summary (app
version, description, home, keywords, digest, pull reference) followed by its
values.yaml, the defaults that 'kstack app install --values' and --set
override. --readme prints its README alone, --values its values.yaml alone (to
start a values file from), --schema its values.schema.json alone; nothing is
printed for a file the chart does not have, and stderr says so. -o json|yaml
prints the ChartDetail, all of them included.`,
		Example: `  kstack chart show team-a/nginx
  kstack chart show team-a/nginx --version 1.2.0 --values > values.yaml
  kstack chart show team-a/nginx --readme | less`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group, chart, err := parseChartArg(args[0])
			if err != nil {
				return err
			}
			if (readme || values || schema) && output != "table" {
				return errors.New("-o prints the whole chart version; --readme, --values and --schema print one of its files: give one or the other")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if version == "" {
				if version, err = latestChartVersion(cmd.Context(), c, group, chart); err != nil {
					return err
				}
			}
			var d registryv1.ChartDetail
			if err := c.Do(cmd.Context(), http.MethodGet, chartVersionPath(group, chart, version), "", nil, &d); err != nil {
				return err
			}
			if output != "table" {
				return printer.Print(o.Out, output, &d, nil, nil)
			}
			file := func(content, what string) error {
				if content == "" {
					o.warn("chart %s/%s %s has no %s", group, chart, d.Version, what)
					return nil
				}
				_, err := fmt.Fprint(o.Out, withNewline(content))
				return err
			}
			switch {
			case readme:
				return file(d.Readme, "README")
			case values:
				return file(d.Values, "values.yaml")
			case schema:
				return file(d.ValuesSchema, "values.schema.json")
			}
			var b strings.Builder
			line := func(k, v string) {
				if v != "" {
					fmt.Fprintf(&b, "%-13s %s\n", k+":", v)
				}
			}
			line("Chart", d.ChartGroup+"/"+d.Chart)
			line("Version", d.Version)
			line("App version", d.AppVersion)
			line("Description", d.Description)
			line("Home", d.Home)
			line("Keywords", strings.Join(d.Keywords, ", "))
			line("Digest", d.Digest)
			line("Pull", d.Pull)
			if d.Readme != "" || d.ValuesSchema != "" {
				var more []string
				if d.Readme != "" {
					more = append(more, "--readme")
				}
				if d.ValuesSchema != "" {
					more = append(more, "--schema")
				}
				line("See also", strings.Join(more, ", "))
			}
			if d.Values == "" {
				b.WriteString("\n# The chart has no values.yaml.\n")
			} else {
				b.WriteString("\n# Values (values.yaml):\n")
				b.WriteString(withNewline(d.Values))
			}
			_, err = fmt.Fprint(o.Out, b.String())
			return err
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the chart version (default: the newest)")
	cmd.Flags().BoolVar(&readme, "readme", false, "print the chart's README alone")
	cmd.Flags().BoolVar(&values, "values", false, "print the chart's values.yaml alone")
	cmd.Flags().BoolVar(&schema, "schema", false, "print the chart's values.schema.json alone")
	cmd.MarkFlagsMutuallyExclusive("readme", "values", "schema")
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func withNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

func newChartDeleteCmd(o *Options) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:     "delete GROUP/CHART [--version V]",
		Aliases: []string{"rm"},
		Short:   "Delete a chart with all its versions, or one version",
		Long: `Deletes a chart and all its versions, or with --version that version alone.
Apps installed from it keep running, but cannot be upgraded to or rolled back
to a deleted version. Prints "chart GROUP/CHART deleted" or "version V of
chart GROUP/CHART deleted".`,
		Example: "  kstack chart delete team-a/nginx --version 1.2.0\n  kstack chart delete team-a/nginx",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group, chart, err := parseChartArg(args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("version") && version == "" {
				return errors.New("--version: give a version (see kstack chart versions GROUP/CHART), or drop --version to delete every version")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			path, msg := chartPath(group, chart), fmt.Sprintf("chart %s/%s deleted", group, chart)
			if version != "" {
				path, msg = chartVersionPath(group, chart, version), fmt.Sprintf("version %s of chart %s/%s deleted", version, group, chart)
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil); err != nil {
				return err
			}
			_, err = fmt.Fprintln(o.Out, msg)
			return err
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "delete only this version")
	return cmd
}
