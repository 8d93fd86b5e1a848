package cli

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/business/quota"
)

const businessPath = "/business/apis/business.tkestack.io/v1"

// quotaFlags are the limit flags of projects and namespaces; each is optional.
type quotaFlags struct {
	cpu, memory, pods, storage string
	hard                       []string
}

func (q *quotaFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&q.cpu, "cpu", "", "CPU requests, e.g. 2 or 500m (requests.cpu)")
	cmd.Flags().StringVar(&q.memory, "memory", "", "memory requests, e.g. 4Gi (requests.memory)")
	cmd.Flags().StringVar(&q.pods, "pods", "", "number of pods")
	cmd.Flags().StringVar(&q.storage, "storage", "", "storage requests of PVCs, e.g. 100Gi (requests.storage)")
	cmd.Flags().StringSliceVar(&q.hard, "hard", nil, "any other ResourceQuota limit, e.g. limits.cpu=4 or count/deployments.apps=10 (repeatable)")
}

func (q *quotaFlags) list() (corev1.ResourceList, error) {
	m := map[string]string{"requests.cpu": q.cpu, "requests.memory": q.memory, "pods": q.pods, "requests.storage": q.storage}
	for _, h := range q.hard {
		k, v, ok := strings.Cut(h, "=")
		if !ok {
			return nil, fmt.Errorf("--hard %q: want NAME=QUANTITY, e.g. limits.cpu=4", h)
		}
		m[k] = v
	}
	return quota.Parse(m)
}

func formatList(l corev1.ResourceList) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, fmt.Sprintf("%s=%s", k, v.String()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func newProjectCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "project",
		Aliases: []string{"projects"},
		Short:   "Projects (businesses): a team's quotas across clusters, its members and namespaces",
		Long: `A project is a team's share of the platform: a quota in each cluster it spans
(requests.cpu, requests.memory, pods, ... as in a ResourceQuota), members with a
project role (project-admin, project-member, project-viewer), and namespaces in
those clusters whose quotas fit inside the project's (kstack namespace). A
sub-project (--parent) fits inside its parent. A project's ID is prj-xxxxxxxx.`,
		Example: `  P=$(kstack project create team-a --cluster cls-a --cluster cls-b --cpu 2 --memory 4Gi -o name)
  kstack project add-member $P alice --role project-member
  kstack project get $P
  kstack project delete $P --cascade`,
	}
	var output string
	getProject := func(cmd *cobra.Command, c *apiclient.Client, name string) (*businessv1.Project, error) {
		var p businessv1.Project
		return &p, c.Do(cmd.Context(), http.MethodGet, businessPath+"/projects/"+name, "", nil, &p)
	}
	// changeProject reads a project, changes it and replaces it whole
	// (projects are not patched, so that quotas are always checked whole).
	changeProject := func(cmd *cobra.Command, id string, change func(*businessv1.Project) error, msg string, args ...any) error {
		c, err := newAPIClient(o)
		if err != nil {
			return err
		}
		p, err := getProject(cmd, c, id)
		if err != nil {
			return err
		}
		if err := change(p); err != nil {
			return err
		}
		p.APIVersion, p.Kind = businessv1.GroupVersion.String(), "Project"
		var out businessv1.Project
		if err := c.Do(cmd.Context(), http.MethodPut, businessPath+"/projects/"+p.Name, "", p, &out); err != nil {
			return err
		}
		return o.done(output, &out, "project %s "+msg, append([]any{p.Name}, args...)...)
	}

	var clusters []string
	var parent string
	var q quotaFlags
	create := &cobra.Command{
		Use:   "create DISPLAY-NAME --cluster ID [--cluster ID ...] [--cpu 2 --memory 4Gi ...]",
		Short: "Create a project with a quota in each --cluster",
		Long: `Creates a project of your tenant with the same quota in each --cluster (add or
change one cluster's quota later with 'kstack project set-quota'). The platform
gives it an ID; prints "project prj-xxxxxxxx created", or the Project with -o
(-o name prints the ID alone, for scripts).`,
		Example: `  kstack project create team-a --cluster cls-ab12cd34 --cpu 2 --memory 4Gi
  kstack project create team-a-web --parent prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1
  P=$(kstack project create team-b --cluster cls-ab12cd34 --pods 20 -o name)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hard, err := q.list()
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			p := businessv1.Project{TypeMeta: metav1.TypeMeta{APIVersion: businessv1.GroupVersion.String(), Kind: "Project"},
				Spec: businessv1.ProjectSpec{DisplayName: args[0], ParentProjectName: parent}}
			for _, cl := range clusters {
				p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: cl, Hard: hard})
			}
			var out businessv1.Project
			if err := c.Do(cmd.Context(), http.MethodPost, businessPath+"/projects", "", p, &out); err != nil {
				return err
			}
			return o.done(output, &out, "project %s created", out.Name)
		},
	}
	create.Flags().StringSliceVar(&clusters, "cluster", nil, "cluster ID the project spans (repeatable; the same limits in each)")
	create.Flags().StringVar(&parent, "parent", "", "parent project ID: a sub-project's quotas fit inside its parent's")
	q.add(create)
	outputFlag(create, &output)

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the projects you may see",
		Long:    "Lists the projects you may see: ID, display name, clusters, number of members and namespaces, parent.",
		Example: "  kstack project list\n  kstack project list -o name",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l businessv1.ProjectList
			if err := c.Do(cmd.Context(), http.MethodGet, businessPath+"/projects", "", nil, &l); err != nil {
				return err
			}
			var rows [][]string
			for _, p := range l.Items {
				var cls []string
				for _, cq := range p.Spec.Clusters {
					cls = append(cls, cq.Name)
				}
				rows = append(rows, []string{p.Name, p.Spec.DisplayName, strings.Join(cls, ","), fmt.Sprint(len(p.Spec.Members)), fmt.Sprint(p.Status.Namespaces), p.Spec.ParentProjectName})
			}
			return o.show(output, l, []string{"ID", "NAME", "CLUSTERS", "MEMBERS", "NAMESPACES", "PARENT"}, rows)
		},
	}
	outputFlag(list, &output)
	get := &cobra.Command{
		Use:     "get ID",
		Short:   "Show a project: quotas, allocation and usage per cluster",
		Long:    "Shows a project's quota per cluster: hard limits, what its namespaces and sub-projects have been given (allocated), and what is used. -o json|yaml prints the whole Project, members included.",
		Example: "  kstack project get prj-xxxxxxxx\n  kstack project get prj-xxxxxxxx -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			p, err := getProject(cmd, c, args[0])
			if err != nil {
				return err
			}
			var rows [][]string
			for _, cq := range p.Spec.Clusters {
				var alloc, used corev1.ResourceList
				for _, u := range p.Status.Clusters {
					if u.Name == cq.Name {
						alloc, used = u.Allocated, u.Used
					}
				}
				rows = append(rows, []string{cq.Name, formatList(cq.Hard), formatList(alloc), formatList(used)})
			}
			return o.show(output, p, []string{"CLUSTER", "HARD", "ALLOCATED", "USED"}, rows)
		},
	}
	outputFlag(get, &output)

	var display string
	var removeClusters []string
	update := &cobra.Command{
		Use:   "update ID [--display-name NAME] [--remove-cluster ID ...]",
		Short: "Rename a project, or take clusters out of it",
		Long: `Changes a project's display name, and with --remove-cluster takes clusters (and
the project's quota in them) out of it; refused while the project has namespaces
or sub-projects there. Quotas are set with 'kstack project set-quota', members
with add-member and remove-member.`,
		Example: `  kstack project update prj-xxxxxxxx --display-name team-a-prod
  kstack project update prj-xxxxxxxx --remove-cluster cls-ab12cd34`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("display-name") && len(removeClusters) == 0 {
				return fmt.Errorf("nothing to update: give --display-name or --remove-cluster")
			}
			return changeProject(cmd, args[0], func(p *businessv1.Project) error {
				if cmd.Flags().Changed("display-name") {
					p.Spec.DisplayName = display
				}
				for _, cl := range removeClusters {
					kept := p.Spec.Clusters[:0]
					for _, cq := range p.Spec.Clusters {
						if cq.Name != cl {
							kept = append(kept, cq)
						}
					}
					if len(kept) == len(p.Spec.Clusters) {
						return fmt.Errorf("project %s has no quota in cluster %s", p.Name, cl)
					}
					p.Spec.Clusters = kept
				}
				return nil
			}, "updated")
		},
	}
	update.Flags().StringVar(&display, "display-name", "", "the project's new display name")
	update.Flags().StringSliceVar(&removeClusters, "remove-cluster", nil, "cluster ID to take out of the project (repeatable)")
	outputFlag(update, &output)

	var cascade bool
	del := &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a project (refused while it has namespaces, unless --cascade)",
		Long:    "Deletes a project. While it has namespaces the delete is refused, unless --cascade also deletes them (and their namespaces in the member clusters, with what runs in them).",
		Example: "  kstack project delete prj-xxxxxxxx\n  kstack project delete prj-xxxxxxxx --cascade",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			p := &businessv1.Project{}
			if output != "table" {
				if p, err = getProject(cmd, c, args[0]); err != nil {
					return err
				}
			}
			path := businessPath + "/projects/" + args[0]
			if cascade {
				path += "?cascade=true"
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil); err != nil {
				return err
			}
			return o.done(output, p, "project %s deleted", args[0])
		},
	}
	del.Flags().BoolVar(&cascade, "cascade", false, "also delete the project's namespaces (in their member clusters too)")
	outputFlag(del, &output)

	var role string
	addMember := &cobra.Command{
		Use:     "add-member ID USERNAME [--role project-member]",
		Short:   "Add a user of your tenant to a project, or change a member's role",
		Long:    "Adds a user of the project's tenant to the project with a role (project-admin, project-member or project-viewer); a member already there gets the role given.",
		Example: "  kstack project add-member prj-xxxxxxxx alice\n  kstack project add-member prj-xxxxxxxx bob --role project-viewer",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeProject(cmd, args[0], func(p *businessv1.Project) error {
				if p.Role(args[1]) != "" {
					for i := range p.Spec.Members {
						if p.Spec.Members[i].Username == args[1] {
							p.Spec.Members[i].Role = businessv1.ProjectRole(role)
						}
					}
				} else {
					p.Spec.Members = append(p.Spec.Members, businessv1.ProjectMember{Username: args[1], Role: businessv1.ProjectRole(role)})
				}
				return nil
			}, "updated: %s is a %s", args[1], role)
		},
	}
	addMember.Flags().StringVar(&role, "role", "project-member", "project-admin, project-member or project-viewer")
	outputFlag(addMember, &output)
	removeMember := &cobra.Command{
		Use:     "remove-member ID USERNAME",
		Short:   "Remove a member from a project",
		Long:    "Removes a member from a project: they lose their project role there.",
		Example: "  kstack project remove-member prj-xxxxxxxx alice",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeProject(cmd, args[0], func(p *businessv1.Project) error {
				kept := p.Spec.Members[:0]
				for _, m := range p.Spec.Members {
					if m.Username != args[1] {
						kept = append(kept, m)
					}
				}
				if len(kept) == len(p.Spec.Members) {
					return fmt.Errorf("%s is not a member of %s", args[1], args[0])
				}
				p.Spec.Members = kept
				return nil
			}, "updated: %s removed", args[1])
		},
	}
	outputFlag(removeMember, &output)
	var sq quotaFlags
	var sqCluster string
	setQuota := &cobra.Command{
		Use:   "set-quota ID --cluster ID [--cpu ...]",
		Short: "Set a project's quota in a cluster (adds the cluster if new; never below what is allocated)",
		Long: `Replaces the project's quota in one cluster with the limits given (adding the
cluster to the project if it is new). A quota cannot go below what the project
has handed out to its namespaces and sub-projects there.`,
		Example: "  kstack project set-quota prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 4 --memory 8Gi",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hard, err := sq.list()
			if err != nil {
				return err
			}
			return changeProject(cmd, args[0], func(p *businessv1.Project) error {
				found := false
				for i := range p.Spec.Clusters {
					if p.Spec.Clusters[i].Name == sqCluster {
						p.Spec.Clusters[i].Hard, found = hard, true
					}
				}
				if !found {
					p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: sqCluster, Hard: hard})
				}
				return nil
			}, "updated: quota in %s set", sqCluster)
		},
	}
	setQuota.Flags().StringVar(&sqCluster, "cluster", "", "cluster ID whose quota to set (see 'kstack cluster list')")
	required(setQuota, "cluster")
	sq.add(setQuota)
	outputFlag(setQuota, &output)
	cmd.AddCommand(create, list, get, update, del, addMember, removeMember, setQuota)
	return cmd
}

func newNamespaceCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "namespace",
		Aliases: []string{"namespaces", "ns"},
		Short:   "A project's namespaces in member clusters",
		Long: `A project's namespaces: a Kubernetes namespace in one of the project's clusters,
with a ResourceQuota that fits inside the project's quota there. The project's
members reach it with their project role. A namespace is named by its name,
--project and --cluster.`,
		Example: `  kstack namespace create web --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1 --memory 1Gi
  kstack namespace list --project prj-xxxxxxxx
  kstack namespace set-quota web --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 2
  kstack namespace delete web --project prj-xxxxxxxx --cluster cls-ab12cd34`,
	}
	var project, cluster, output string
	projectFlag := func(c *cobra.Command, usage string) {
		c.Flags().StringVar(&project, "project", "", usage)
		required(c, "project")
	}
	clusterFlag := func(c *cobra.Command) {
		c.Flags().StringVar(&cluster, "cluster", "", "member cluster ID (see 'kstack cluster list')")
		required(c, "cluster")
	}
	nsPath := func(name string) string {
		return businessPath + "/namespaces/" + project + "/namespaces/" + businessv1.ObjectName(cluster, name)
	}
	nsRows := func(items []businessv1.Namespace) [][]string {
		var rows [][]string
		for _, n := range items {
			rows = append(rows, []string{n.Spec.Namespace, n.Spec.ClusterName, string(n.Status.Phase), formatList(n.Spec.Hard), formatList(n.Status.Used), n.Status.Message})
		}
		return rows
	}
	nsHeaders := []string{"NAMESPACE", "CLUSTER", "PHASE", "HARD", "USED", "MESSAGE"}

	var q quotaFlags
	create := &cobra.Command{
		Use:   "create NAME --project ID --cluster ID [--cpu 1 --memory 1Gi ...]",
		Short: "Create a namespace of a project in a member cluster, with a ResourceQuota that fits the project's quota",
		Long: `Creates the namespace NAME in a cluster of the project, with a ResourceQuota of
the limits given, which must fit in what the project has left there. Prints
"namespace NAME created in CLUSTER (project ID)", or the Namespace with -o.`,
		Example: `  kstack namespace create web --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1 --memory 1Gi`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.createNamespace(cmd, project, cluster, args[0], &q, nil, output)
		},
	}
	projectFlag(create, "project ID (see 'kstack project list')")
	clusterFlag(create)
	q.add(create)
	outputFlag(create, &output)

	list := &cobra.Command{
		Use:     "list --project ID",
		Short:   "List a project's namespaces with their phase and usage",
		Long:    "Lists a project's namespaces in all its clusters: phase, quota (hard), usage, and why one is not Available.",
		Example: "  kstack namespace list --project prj-xxxxxxxx\n  kstack namespace list --project prj-xxxxxxxx -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l businessv1.NamespaceList
			if err := c.Do(cmd.Context(), http.MethodGet, businessPath+"/namespaces/"+project+"/namespaces", "", nil, &l); err != nil {
				return err
			}
			return o.show(output, l, nsHeaders, nsRows(l.Items))
		},
	}
	projectFlag(list, "project ID (see 'kstack project list')")
	outputFlag(list, &output)

	namespaces := object[businessv1.Namespace]{path: nsPath, headers: nsHeaders, rows: nsRows}
	get := namespaces.getCmd(o, &cobra.Command{
		Use:     "get NAME --project ID --cluster ID",
		Short:   "Show one namespace of a project",
		Long:    "Shows one namespace of a project as 'kstack namespace list' does; -o json|yaml prints the whole Namespace object of the platform.",
		Example: "  kstack namespace get web --project prj-xxxxxxxx --cluster cls-ab12cd34 -o yaml",
	})
	projectFlag(get, "project ID")
	clusterFlag(get)

	var iq quotaFlags
	imp := &cobra.Command{
		Use:   "import NAME --project ID --cluster ID [--cpu ...]",
		Short: "Bring a namespace that exists in a member cluster (outside any project) into a project",
		Long: `Brings a namespace that already exists in a cluster, and belongs to no project,
into a project, with a ResourceQuota of the limits given; what runs in it is
untouched. System namespaces cannot be imported.`,
		Example: `  kstack namespace import legacy --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.createNamespace(cmd, project, cluster, args[0], &iq, map[string]string{businessv1.AnnotationAdopt: "true"}, output)
		},
	}
	projectFlag(imp, "the project to bring it into")
	clusterFlag(imp)
	iq.add(imp)
	outputFlag(imp, &output)

	var to string
	move := &cobra.Command{
		Use:   "move NAME --project FROM --cluster ID --to PROJECT",
		Short: "Move a namespace to another project; what runs in it is untouched",
		Long: `Moves a namespace from one project to another of the same tenant: its quota
moves from the one project's allocation to the other's, which must have room in
that cluster. What runs in the namespace is untouched.`,
		Example: "  kstack namespace move web --project prj-aaaaaaaa --cluster cls-ab12cd34 --to prj-bbbbbbbb",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var moved businessv1.Namespace
			if err := c.Do(cmd.Context(), http.MethodPost, nsPath(args[0])+"/move", "", businessv1.MoveRequest{Project: to}, &moved); err != nil {
				return err
			}
			return o.done(output, &moved, "namespace %s moved from project %s to %s", args[0], project, to)
		},
	}
	projectFlag(move, "the project the namespace is in")
	clusterFlag(move)
	move.Flags().StringVar(&to, "to", "", "the project to move it to")
	required(move, "to")
	outputFlag(move, &output)

	var sq quotaFlags
	setQuota := &cobra.Command{
		Use:   "set-quota NAME --project ID --cluster ID [--cpu ...]",
		Short: "Replace a namespace's quota (it must fit in the project's, and not go below what is used)",
		Long: `Replaces the ResourceQuota limits of a project's namespace with those given; the
new quota must fit in what the project has left in that cluster.`,
		Example: "  kstack namespace set-quota web --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 2 --memory 2Gi",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hard, err := sq.list()
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var n businessv1.Namespace
			if err := c.Do(cmd.Context(), http.MethodGet, nsPath(args[0]), "", nil, &n); err != nil {
				return err
			}
			n.Spec.Hard = hard
			n.APIVersion, n.Kind = businessv1.GroupVersion.String(), "Namespace"
			var out businessv1.Namespace
			if err := c.Do(cmd.Context(), http.MethodPut, nsPath(args[0]), "", &n, &out); err != nil {
				return err
			}
			return o.done(output, &out, "namespace %s updated: quota in %s set", args[0], cluster)
		},
	}
	projectFlag(setQuota, "project ID")
	clusterFlag(setQuota)
	sq.add(setQuota)
	outputFlag(setQuota, &output)

	del := &cobra.Command{
		Use:     "delete NAME --project ID --cluster ID",
		Short:   "Delete a project's namespace (and the namespace in its member cluster)",
		Long:    "Deletes a project's namespace, and the namespace in the member cluster with everything in it; its quota returns to the project.",
		Example: "  kstack namespace delete web --project prj-xxxxxxxx --cluster cls-ab12cd34",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var n businessv1.Namespace
			if err := deleteObject(cmd.Context(), c, nsPath(args[0]), output, &n); err != nil {
				return err
			}
			return o.done(output, &n, "namespace %s deleted from %s (project %s)", args[0], cluster, project)
		},
	}
	projectFlag(del, "project ID")
	clusterFlag(del)
	outputFlag(del, &output)
	cmd.AddCommand(create, list, get, imp, move, setQuota, del)
	return cmd
}

// createNamespace creates (or, with the adopt annotation, imports) a
// project's namespace and says so.
func (o *Options) createNamespace(cmd *cobra.Command, project, cluster, name string, q *quotaFlags, annotations map[string]string, output string) error {
	hard, err := q.list()
	if err != nil {
		return err
	}
	c, err := newAPIClient(o)
	if err != nil {
		return err
	}
	ns := businessv1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: businessv1.GroupVersion.String(), Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Annotations: annotations},
		Spec:       businessv1.NamespaceSpec{ProjectName: project, ClusterName: cluster, Namespace: name, Hard: hard}}
	var out businessv1.Namespace
	if err := c.Do(cmd.Context(), http.MethodPost, businessPath+"/namespaces/"+project+"/namespaces", "", ns, &out); err != nil {
		return err
	}
	verb := "created in"
	if annotations[businessv1.AnnotationAdopt] == "true" {
		verb = "imported from"
	}
	return o.done(output, &out, "namespace %s %s %s (project %s)", name, verb, cluster, project)
}
