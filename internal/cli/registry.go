package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// The registry commands: registry namespaces (registry.tkestack.io/v1),
// the repositories and tags the registry holds, the upload guide, the
// garbage collection and the projects' pull credentials.

const (
	registryPath    = "/registry/apis/registry.tkestack.io/v1"
	registryNSPath  = registryPath + "/registrynamespaces"
	registryGCPath  = "/registry/gc"
	registryPrjPath = "/registry/projects/"
)

func newRegistryCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "The image registry: namespaces, repositories, tags, the upload guide, garbage collection, pull credentials",
		Long: `The platform serves an OCI image registry on its own address (docker, skopeo and
helm push and pull there). Images are <registry>/<namespace>/<repository>:<tag>:

  namespace        a registry namespace (registry.tkestack.io/v1 RegistryNamespace):
                   the first path segment of its images, unique on the platform,
                   owned by your tenant, Public (anyone pulls, anonymous clients
                   too) or Private, and shared with projects, whose members push
                   and pull there and whose pull secrets pull from it.
  repo, tag        what the registry holds in a namespace: listed with sizes,
                   digests and push times, and deleted.
  guide            the exact docker login/tag/push/pull commands for a namespace.
  gc               the online garbage collection (administrators): deletes the
                   blobs no image references while pushes go on.
  pull-credential  rotate a project's pull credential (in its namespaces' image
                   pull secret kstack-registry); the old one works for a grace.

Log in to the registry with your username ("alice", or "TENANT.alice" outside the
default tenant) and your password or an access key (kstack apikey create); users
of an OpenID provider use an access key.`,
		Example: `  kstack registry namespace create team-a --project prj-xxxxxxxx
  kstack registry guide team-a
  docker push <registry>/team-a/web:v1
  kstack registry repo list team-a
  kstack registry tag list team-a/web
  kstack registry tag delete team-a/web:v1`,
	}
	cmd.AddCommand(newRegistryNamespaceCmd(o), newRegistryRepoCmd(o), newRegistryTagCmd(o), newRegistryGuideCmd(o),
		newRegistryGCCmd(o), newRegistryPullCredentialCmd(o))
	return cmd
}

// ---- Namespaces ----

var registryNSHeaders = []string{"NAME", "VISIBILITY", "PROJECTS", "REPOSITORIES", "SIZE", "DISPLAY NAME"}

func registryNSRows(items []registryv1.RegistryNamespace) [][]string {
	rows := make([][]string, 0, len(items))
	for _, ns := range items {
		vis := string(ns.Spec.Visibility)
		if vis == "" {
			vis = string(registryv1.Private)
		}
		rows = append(rows, []string{ns.Name, vis, dash(strings.Join(ns.Spec.Projects, ",")), strconv.Itoa(ns.Status.RepoCount),
			printer.Bytes(ns.Status.Size), dash(ns.Spec.DisplayName)})
	}
	return rows
}

// getRegistryNS reads a namespace: through the API, or, for a project
// member whose right on it comes through a project (the API reads the
// object with tenant rights), from the namespaces they may pull from.
func getRegistryNS(ctx context.Context, c *apiclient.Client, name string) (*registryv1.RegistryNamespace, error) {
	var ns registryv1.RegistryNamespace
	err := c.Do(ctx, http.MethodGet, registryNSPath+"/"+url.PathEscape(name), "", nil, &ns)
	if err == nil || !apiclient.IsForbidden(err) {
		return &ns, err
	}
	var l registryv1.RegistryNamespaceList
	if c.Do(ctx, http.MethodGet, registryPath+"/portal", "", nil, &l) == nil {
		for i := range l.Items {
			if l.Items[i].Name == name {
				return &l.Items[i], nil
			}
		}
	}
	return nil, err
}

func newRegistryNamespaceCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "namespace",
		Aliases: []string{"namespaces", "ns"},
		Short:   "Registry namespaces: the first path segment of images, public or private, shared with projects",
		Long: `A registry namespace is the first path segment of its images
(<registry>/NAMESPACE/<repository>:<tag>). Its name is unique on the platform:
2 to 63 lower-case letters and digits with single '.' or '-' between them. It
belongs to your tenant; Public ones are pulled by anyone, Private ones by the
tenant's users allowed to and by the members (and pull secrets) of the projects
it is shared with (--project), who also push there.`,
		Example: `  kstack registry namespace create team-a --project prj-xxxxxxxx
  kstack registry namespace create base-images --public
  kstack registry namespace list
  kstack registry namespace update team-a --add-project prj-yyyyyyyy
  kstack registry namespace delete team-a --force`,
	}
	var createOut, displayName string
	var public bool
	var projects []string
	create := &cobra.Command{
		Use:   "create NAME [--public] [--project ID]... [--display-name TEXT]",
		Short: "Create a registry namespace of your tenant",
		Long: `Creates a registry namespace of your tenant, Private unless --public, shared with
each --project (a project of your tenant that you may read). Prints
"registry namespace NAME created", or the object with -o. The name is taken on
the whole platform: if another tenant has it, choose another.`,
		Example: `  kstack registry namespace create team-a --project prj-xxxxxxxx --display-name "Team A"
  kstack registry namespace create base-images --public`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			ns := registryv1.RegistryNamespace{TypeMeta: metav1.TypeMeta{APIVersion: registryv1.GroupVersion.String(), Kind: "RegistryNamespace"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec:       registryv1.RegistryNamespaceSpec{DisplayName: displayName, Visibility: registryv1.Private, Projects: projects}}
			if public {
				ns.Spec.Visibility = registryv1.Public
			}
			var out registryv1.RegistryNamespace
			if err := c.Do(cmd.Context(), http.MethodPost, registryNSPath, "", &ns, &out); err != nil {
				return err
			}
			return o.done(createOut, &out, "registry namespace %s created", out.Name)
		},
	}
	create.Flags().BoolVar(&public, "public", false, "anyone may pull its images, anonymous clients too (default: private)")
	create.Flags().StringSliceVar(&projects, "project", nil, "project ID to share it with: its members push and pull, its pull secrets pull (repeatable)")
	create.Flags().StringVar(&displayName, "display-name", "", "a readable name (at most 60 characters)")
	outputFlag(create, &createOut)

	var listOut string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the registry namespaces you may pull from or read",
		Long: `Lists the registry namespaces of your tenant that you may pull from or read:
the public ones, those your tenant's policies allow, and those shared with
your projects (administrators: every tenant's). REPOSITORIES and SIZE are
refreshed from the registry every minute.`,
		Example: "  kstack registry namespace list\n  kstack registry namespace list -o yaml",
		Args:    cobra.NoArgs,
		RunE: listRun(o, &listOut, registryPath+"/portal", registryNSHeaders, func(l *registryv1.RegistryNamespaceList) [][]string {
			return registryNSRows(l.Items)
		}),
	}
	outputFlag(list, &listOut)

	var getOut string
	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one registry namespace",
		Long:    "Shows one registry namespace as list does; -o json|yaml prints it whole.",
		Example: "  kstack registry namespace get team-a -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			ns, err := getRegistryNS(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return o.show(getOut, ns, registryNSHeaders, registryNSRows([]registryv1.RegistryNamespace{*ns}))
		},
	}
	outputFlag(get, &getOut)

	var updOut, updDisplay, visibility string
	var addProjects, removeProjects []string
	update := &cobra.Command{
		Use:   "update NAME [--visibility Public|Private] [--add-project ID]... [--remove-project ID]... [--display-name TEXT]",
		Short: "Change a registry namespace's visibility, projects or display name",
		Long: `Reads the registry namespace, changes what the flags say and replaces it (the
resourceVersion read guards against a change made in between). Prints
"registry namespace NAME updated", or the object with -o.`,
		Example: `  kstack registry namespace update team-a --add-project prj-yyyyyyyy
  kstack registry namespace update team-a --visibility Public`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if visibility != "" && visibility != string(registryv1.Public) && visibility != string(registryv1.Private) {
				return fmt.Errorf("--visibility %q: use Public or Private", visibility)
			}
			if visibility == "" && len(addProjects) == 0 && len(removeProjects) == 0 && !cmd.Flags().Changed("display-name") {
				return fmt.Errorf("nothing to change: give --visibility, --add-project, --remove-project or --display-name")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var ns registryv1.RegistryNamespace
			path := registryNSPath + "/" + url.PathEscape(args[0])
			if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &ns); err != nil {
				return err
			}
			if visibility != "" {
				ns.Spec.Visibility = registryv1.Visibility(visibility)
			}
			if cmd.Flags().Changed("display-name") {
				ns.Spec.DisplayName = updDisplay
			}
			for _, p := range removeProjects {
				if !slices.Contains(ns.Spec.Projects, p) {
					return fmt.Errorf("--remove-project %s: registry namespace %s is not shared with it (its projects: %s)", p, ns.Name, dash(strings.Join(ns.Spec.Projects, ", ")))
				}
				ns.Spec.Projects = slices.DeleteFunc(ns.Spec.Projects, func(s string) bool { return s == p })
			}
			for _, p := range addProjects {
				if !slices.Contains(ns.Spec.Projects, p) {
					ns.Spec.Projects = append(ns.Spec.Projects, p)
				}
			}
			ns.APIVersion, ns.Kind = registryv1.GroupVersion.String(), "RegistryNamespace"
			var out registryv1.RegistryNamespace
			if err := c.Do(cmd.Context(), http.MethodPut, path, "", &ns, &out); err != nil {
				return err
			}
			return o.done(updOut, &out, "registry namespace %s updated", out.Name)
		},
	}
	update.Flags().StringVar(&visibility, "visibility", "", "Public or Private")
	update.Flags().StringSliceVar(&addProjects, "add-project", nil, "share it with this project too (repeatable)")
	update.Flags().StringSliceVar(&removeProjects, "remove-project", nil, "stop sharing it with this project (repeatable)")
	update.Flags().StringVar(&updDisplay, "display-name", "", "a readable name (empty removes it)")
	outputFlag(update, &updOut)

	var delOut string
	var force bool
	del := &cobra.Command{
		Use:     "delete NAME [--force]",
		Aliases: []string{"rm"},
		Short:   "Delete a registry namespace (--force: with its repositories)",
		Long: `Deletes a registry namespace. One that still holds repositories is refused,
unless --force, which deletes its repositories and their images first (if that
fails, the namespace stays). Prints "registry namespace NAME deleted", or what
was deleted with -o.`,
		Example: "  kstack registry namespace delete team-a\n  kstack registry namespace delete team-a --force",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			path := registryNSPath + "/" + url.PathEscape(args[0])
			if force {
				path += "?force=true"
			}
			var ns registryv1.RegistryNamespace
			if delOut != "" && delOut != "table" {
				if err := c.Do(cmd.Context(), http.MethodGet, registryNSPath+"/"+url.PathEscape(args[0]), "", nil, &ns); err != nil {
					return err
				}
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil); err != nil {
				return err
			}
			return o.done(delOut, &ns, "registry namespace %s deleted", args[0])
		},
	}
	del.Flags().BoolVar(&force, "force", false, "delete its repositories and their images first")
	outputFlag(del, &delOut)

	cmd.AddCommand(create, list, get, update, del)
	return cmd
}

// ---- Repositories and tags ----

// parseRepoArg reads NS/REPO (REPO may hold slashes).
func parseRepoArg(arg string) (ns, repo string, err error) {
	ns, repo, ok := strings.Cut(arg, "/")
	if strings.Contains(ns, ":") {
		return "", "", fmt.Errorf("%q: give NAMESPACE/REPOSITORY without the registry's host (e.g. team-a/web)", arg)
	}
	if !ok || ns == "" || repo == "" || strings.Contains(repo, ":") {
		return "", "", fmt.Errorf("%q is not NAMESPACE/REPOSITORY (e.g. team-a/web or team-a/tools/cli)", arg)
	}
	return ns, repo, nil
}

// parseTagArg reads NS/REPO:TAG.
func parseTagArg(arg string) (ns, repo, tag string, err error) {
	ref, tag, ok := strings.Cut(arg, ":")
	if first, _, _ := strings.Cut(arg, "/"); strings.Contains(first, ":") || strings.Count(arg, ":") > 1 {
		return "", "", "", fmt.Errorf("%q: give NAMESPACE/REPOSITORY:TAG without the registry's host (e.g. team-a/web:v1)", arg)
	}
	if !ok || tag == "" {
		return "", "", "", fmt.Errorf("%q is not NAMESPACE/REPOSITORY:TAG (e.g. team-a/web:v1)", arg)
	}
	ns, repo, err = parseRepoArg(ref)
	if err != nil {
		return "", "", "", fmt.Errorf("%q is not NAMESPACE/REPOSITORY:TAG (e.g. team-a/web:v1)", arg)
	}
	return ns, repo, tag, nil
}

// repoPath is the API path of repository repo of ns (its slashes kept).
func repoPath(ns, repo string) string {
	parts := strings.Split(repo, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return registryNSPath + "/" + url.PathEscape(ns) + "/repositories/" + strings.Join(parts, "/")
}

func pushedAt(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newRegistryRepoCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "repo",
		Aliases: []string{"repos", "repository", "repositories"},
		Short:   "Repositories of a registry namespace: list and delete",
		Long: `A repository is an image's name within a registry namespace ("web",
"tools/cli"); the registry makes it at the first push. Listing needs
pullRepository on it (platform users, members of the projects the namespace is
shared with; anyone for a public namespace); deleting needs deleteRepository.`,
		Example: "  kstack registry repo list team-a\n  kstack registry repo delete team-a/tools/cli",
	}
	var listOut string
	list := &cobra.Command{
		Use:     "list NAMESPACE",
		Aliases: []string{"ls"},
		Short:   "List a namespace's repositories with their tags, size and last push",
		Long: `Lists the repositories of a registry namespace that you may pull from: their
number of tags, size (the tagged images' config and layers) and last push, and
the reference to pull them by. -o json|yaml prints the RepositoryList.`,
		Example: "  kstack registry repo list team-a\n  kstack registry repo list team-a -o name",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listRun(o, &listOut, registryNSPath+"/"+url.PathEscape(args[0])+"/repositories",
				[]string{"NAME", "TAGS", "SIZE", "PUSHED", "PULL"}, func(l *registryv1.RepositoryList) [][]string {
					rows := make([][]string, 0, len(l.Items))
					for _, r := range l.Items {
						rows = append(rows, []string{r.Name, strconv.Itoa(r.Tags), printer.Bytes(r.Size), pushedAt(r.PushedAt), r.Pull})
					}
					return rows
				})(cmd, args)
		},
	}
	outputFlag(list, &listOut)
	del := &cobra.Command{
		Use:     "delete NAMESPACE/REPOSITORY",
		Aliases: []string{"rm"},
		Short:   "Delete a repository with all its tags",
		Long: `Deletes a repository and all its tags; the garbage collection frees the blobs
no other image uses. Prints "repository NAMESPACE/REPOSITORY deleted".`,
		Example: "  kstack registry repo delete team-a/tools/cli",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, repo, err := parseRepoArg(args[0])
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, repoPath(ns, repo), "", nil, nil); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "repository %s/%s deleted\n", ns, repo)
			return err
		},
	}
	cmd.AddCommand(list, del)
	return cmd
}

func newRegistryTagCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tag",
		Aliases: []string{"tags"},
		Short:   "Tags of a repository: list (digest, size, push time) and delete",
		Long: `A tag names one image (manifest) of a repository: NAMESPACE/REPOSITORY:TAG.
Listing needs pullRepository on the repository (anyone, in a public
namespace); deleting a tag needs deleteRepository.`,
		Example: "  kstack registry tag list team-a/web\n  kstack registry tag delete team-a/web:v1",
	}
	var listOut string
	list := &cobra.Command{
		Use:     "list NAMESPACE/REPOSITORY",
		Aliases: []string{"ls"},
		Short:   "List a repository's tags with digest, size and push time",
		Long: `Lists the tags of a repository: the manifest's digest and media type, the
image's size (config and layers; for an index, its manifests') and when the
tag was pushed. -o json|yaml prints the TagList.`,
		Example: "  kstack registry tag list team-a/web\n  kstack registry tag list team-a/tools/cli -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, repo, err := parseRepoArg(args[0])
			if err != nil {
				return err
			}
			return listRun(o, &listOut, repoPath(ns, repo)+"/tags", []string{"TAG", "DIGEST", "SIZE", "PUSHED", "PULL"},
				func(l *registryv1.TagList) [][]string {
					rows := make([][]string, 0, len(l.Items))
					for _, t := range l.Items {
						rows = append(rows, []string{t.Name, t.Digest, printer.Bytes(t.Size), pushedAt(t.PushedAt), t.Pull})
					}
					return rows
				})(cmd, args)
		},
	}
	outputFlag(list, &listOut)
	del := &cobra.Command{
		Use:     "delete NAMESPACE/REPOSITORY:TAG",
		Aliases: []string{"rm"},
		Short:   "Delete one tag",
		Long: `Deletes one tag of a repository (the image stays while another tag or a digest
reference uses it; the garbage collection frees what nothing references).
Prints "tag TAG of NAMESPACE/REPOSITORY deleted".`,
		Example: "  kstack registry tag delete team-a/web:v1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, repo, tag, err := parseTagArg(args[0])
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, repoPath(ns, repo)+":"+url.PathEscape(tag), "", nil, nil); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "tag %s of %s/%s deleted\n", tag, ns, repo)
			return err
		},
	}
	cmd.AddCommand(list, del)
	return cmd
}

// ---- The guide, the garbage collection, pull credentials ----

func newRegistryGuideCmd(o *Options) *cobra.Command {
	var output, repo, tag string
	cmd := &cobra.Command{
		Use:   "guide NAMESPACE [--repository NAME] [--tag TAG]",
		Short: "Print the docker commands that push an image into a namespace and pull it back",
		Long: `Prints the upload guide of a registry namespace for you: docker login with your
registry username, docker tag of a local image into the namespace, docker
push and docker pull, as a script with the notes as comments (skopeo and helm
equivalents, which password to use). --repository and --tag fill in the
reference; without them the commands hold REPOSITORY and TAG, and LOCAL-IMAGE
is always yours to replace. -o json|yaml prints the UploadGuide.`,
		Example: `  kstack registry guide team-a
  kstack registry guide team-a --repository web --tag v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			q := url.Values{}
			if repo != "" {
				q.Set("repository", repo)
			}
			if tag != "" {
				q.Set("tag", tag)
			}
			path := registryNSPath + "/" + url.PathEscape(args[0]) + "/guide"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var g registryv1.UploadGuide
			if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &g); err != nil {
				return err
			}
			if output != "table" {
				return printer.Print(o.Out, output, &g, nil, nil)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "# Log in to %s as %s\n%s\n", g.Registry, g.Username, g.Login)
			fmt.Fprintf(&b, "# Tag a local image into namespace %s\n%s\n", g.Namespace, g.Tag)
			fmt.Fprintf(&b, "# Push it\n%s\n# Pull it back\n%s\n", g.Push, g.Pull)
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
	cmd.Flags().StringVar(&repo, "repository", "", "the repository to push to (may hold '/'; default: REPOSITORY)")
	cmd.Flags().StringVar(&tag, "tag", "", "the tag to push (default: TAG)")
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newRegistryGCCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Run the registry's garbage collection now (administrators)",
		Long: `Runs the registry's online garbage collection now and waits for it: blobs
(layers, configs) that no manifest references are deleted while pushes and
pulls go on; a blob a client touched during the grace period (an upload, a HEAD
or GET, a manifest naming it) is kept. The platform also runs it on its own
(--registry-gc-interval). Prints what was marked, deleted and kept.`,
		Example: "  kstack registry gc\n  kstack registry gc -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var res registryv1.GCResult
			// A sweep of a large store takes long: no client time limit.
			if err := c.WithTimeout(0).Do(cmd.Context(), http.MethodPost, registryGCPath, "", nil, &res); err != nil {
				return err
			}
			took := "-"
			if !res.Started.IsZero() && !res.Finished.IsZero() {
				took = res.Finished.Sub(res.Started.Time).Round(time.Millisecond).String()
			}
			return o.show(output, &res, []string{"MARKED", "DELETED", "FREED", "KEPT", "TOOK"},
				[][]string{{strconv.Itoa(res.Marked), strconv.Itoa(res.Deleted), printer.Bytes(res.DeletedBytes), strconv.Itoa(res.Kept), took}})
		},
	}
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}

func newRegistryPullCredentialCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pull-credential",
		Aliases: []string{"pull-credentials"},
		Short:   "Projects' pull credentials: rotate",
		Long: `Each project has a pull credential (user kstack-pull-PROJECT) that pulls only what
the project may see; it is in the image pull secret kstack-registry of each of
the project's namespaces, which their default ServiceAccount uses. The platform
rotates it on its own (--registry-pull-rotation); the previous one keeps
working for a grace period (--registry-pull-grace), then is refused.`,
		Example: "  kstack registry pull-credential rotate prj-xxxxxxxx",
	}
	var output string
	rotate := &cobra.Command{
		Use:   "rotate PROJECT",
		Short: "Replace a project's pull credential now",
		Long: `Replaces a project's pull credential now (it needs updateProject on the
project); the pull secrets in its namespaces are rewritten, and the old
credential is refused after the grace period. Prints when.`,
		Example: "  kstack registry pull-credential rotate prj-xxxxxxxx",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var st registryv1.PullCredentialStatus
			if err := c.Do(cmd.Context(), http.MethodPost, registryPrjPath+url.PathEscape(args[0])+"/pullcredential/rotate", "", nil, &st); err != nil {
				return err
			}
			msg := fmt.Sprintf("pull credential of project %s rotated: user %s", args[0], st.Username)
			if st.PreviousValidUntil != nil {
				msg += ", the previous credential works until " + st.PreviousValidUntil.UTC().Format(time.RFC3339)
			}
			return o.done(output, &st, "%s", msg)
		},
	}
	outputFlag(rotate, &output, printer.DataFormats...)
	cmd.AddCommand(rotate)
	return cmd
}
