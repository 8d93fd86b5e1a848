package cli

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/business/quota"
	"github.com/kstack/kstack/internal/printer"
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
	cmd := &cobra.Command{Use: "project", Aliases: []string{"projects"}, Short: "Projects (businesses): a team's quotas across clusters, its members and namespaces"}
	var clusters []string
	var parent string
	var q quotaFlags
	getProject := func(cmd *cobra.Command, name string) (*businessv1.Project, error) {
		c, err := newAPIClient(o)
		if err != nil {
			return nil, err
		}
		var p businessv1.Project
		return &p, c.Do(cmd.Context(), http.MethodGet, businessPath+"/projects/"+name, "", nil, &p)
	}
	putProject := func(cmd *cobra.Command, p *businessv1.Project) error {
		c, err := newAPIClient(o)
		if err != nil {
			return err
		}
		p.APIVersion, p.Kind = businessv1.GroupVersion.String(), "Project"
		return c.Do(cmd.Context(), http.MethodPut, businessPath+"/projects/"+p.Name, "", p, nil)
	}
	create := &cobra.Command{
		Use:   "create DISPLAY-NAME --cluster ID [--cpu 2 --memory 4Gi ...]",
		Short: "Create a project with a quota in each --cluster; prints its ID",
		Example: `  kstack project create team-a --cluster cls-ab12cd34 --cpu 2 --memory 4Gi
  kstack project create team-a-web --parent prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			hard, err := q.list()
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
			fmt.Println(out.Name)
			return nil
		},
	}
	create.Flags().StringSliceVar(&clusters, "cluster", nil, "cluster ID the project spans (repeatable; the same limits in each)")
	create.Flags().StringVar(&parent, "parent", "", "parent project ID: a sub-project's quotas fit inside its parent's")
	q.add(create)

	var output string
	list := &cobra.Command{
		Use: "list", Short: "List the projects you may see", Args: cobra.NoArgs,
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
			return printer.Print(os.Stdout, output, l, []string{"ID", "NAME", "CLUSTERS", "MEMBERS", "NAMESPACES", "PARENT"}, rows)
		},
	}
	outputFlag(list, &output)
	get := &cobra.Command{
		Use: "get ID", Short: "Show a project: quotas, allocation and usage per cluster, members", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := getProject(cmd, args[0])
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
			return printer.Print(os.Stdout, output, p, []string{"CLUSTER", "HARD", "ALLOCATED", "USED"}, rows)
		},
	}
	outputFlag(get, &output)
	var cascade bool
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a project (refused while it has namespaces, unless --cascade)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			path := businessPath + "/projects/" + args[0]
			if cascade {
				path += "?cascade=true"
			}
			return c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil)
		},
	}
	del.Flags().BoolVar(&cascade, "cascade", false, "also delete the project's namespaces (in their member clusters too)")
	var role string
	addMember := &cobra.Command{
		Use: "add-member ID USERNAME [--role project-member]", Short: "Add a user of your tenant to a project", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := getProject(cmd, args[0])
			if err != nil {
				return err
			}
			if p.Role(args[1]) != "" {
				for i := range p.Spec.Members {
					if p.Spec.Members[i].Username == args[1] {
						p.Spec.Members[i].Role = businessv1.ProjectRole(role)
					}
				}
			} else {
				p.Spec.Members = append(p.Spec.Members, businessv1.ProjectMember{Username: args[1], Role: businessv1.ProjectRole(role)})
			}
			return putProject(cmd, p)
		},
	}
	addMember.Flags().StringVar(&role, "role", "project-member", "project-admin, project-member or project-viewer")
	removeMember := &cobra.Command{
		Use: "remove-member ID USERNAME", Short: "Remove a member from a project", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := getProject(cmd, args[0])
			if err != nil {
				return err
			}
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
			return putProject(cmd, p)
		},
	}
	var sq quotaFlags
	var sqCluster string
	setQuota := &cobra.Command{
		Use: "set-quota ID --cluster ID [--cpu ...]", Short: "Set a project's quota in a cluster (adds the cluster if new; never below what is allocated)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sqCluster == "" {
				return fmt.Errorf("--cluster is required")
			}
			hard, err := sq.list()
			if err != nil {
				return err
			}
			p, err := getProject(cmd, args[0])
			if err != nil {
				return err
			}
			found := false
			for i := range p.Spec.Clusters {
				if p.Spec.Clusters[i].Name == sqCluster {
					p.Spec.Clusters[i].Hard, found = hard, true
				}
			}
			if !found {
				p.Spec.Clusters = append(p.Spec.Clusters, businessv1.ClusterQuota{Name: sqCluster, Hard: hard})
			}
			return putProject(cmd, p)
		},
	}
	setQuota.Flags().StringVar(&sqCluster, "cluster", "", "cluster ID")
	sq.add(setQuota)
	cmd.AddCommand(create, list, get, del, addMember, removeMember, setQuota)
	return cmd
}

func newNamespaceCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "namespace", Aliases: []string{"namespaces", "ns"}, Short: "A project's namespaces in member clusters"}
	var project, cluster string
	var q quotaFlags
	create := &cobra.Command{
		Use:     "create NAME --project ID --cluster ID [--cpu 1 --memory 1Gi ...]",
		Short:   "Create a namespace of a project in a member cluster, with a ResourceQuota that fits the project's quota",
		Example: `  kstack namespace create web --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1 --memory 1Gi`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return createNamespace(cmd, o, project, cluster, args[0], &q, nil)
		},
	}
	create.Flags().StringVar(&project, "project", "", "project ID")
	create.Flags().StringVar(&cluster, "cluster", "", "member cluster ID")
	q.add(create)
	var output string
	list := &cobra.Command{
		Use: "list --project ID", Short: "List a project's namespaces with their phase and usage", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if project == "" {
				return fmt.Errorf("--project is required")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l businessv1.NamespaceList
			if err := c.Do(cmd.Context(), http.MethodGet, businessPath+"/namespaces/"+project+"/namespaces", "", nil, &l); err != nil {
				return err
			}
			var rows [][]string
			for _, n := range l.Items {
				rows = append(rows, []string{n.Spec.Namespace, n.Spec.ClusterName, string(n.Status.Phase), formatList(n.Spec.Hard), formatList(n.Status.Used), n.Status.Message})
			}
			return printer.Print(os.Stdout, output, l, []string{"NAMESPACE", "CLUSTER", "PHASE", "HARD", "USED", "MESSAGE"}, rows)
		},
	}
	list.Flags().StringVar(&project, "project", "", "project ID")
	outputFlag(list, &output)
	var iq quotaFlags
	imp := &cobra.Command{
		Use:     "import NAME --project ID --cluster ID [--cpu ...]",
		Short:   "Bring a namespace that exists in a member cluster (outside any project) into a project",
		Example: `  kstack namespace import legacy --project prj-xxxxxxxx --cluster cls-ab12cd34 --cpu 1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return createNamespace(cmd, o, project, cluster, args[0], &iq, map[string]string{businessv1.AnnotationAdopt: "true"})
		},
	}
	imp.Flags().StringVar(&project, "project", "", "project ID")
	imp.Flags().StringVar(&cluster, "cluster", "", "member cluster ID")
	iq.add(imp)
	var to string
	move := &cobra.Command{
		Use:   "move NAME --project FROM --cluster ID --to PROJECT",
		Short: "Move a namespace to another project; what runs in it is untouched",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" || cluster == "" || to == "" {
				return fmt.Errorf("--project, --cluster and --to are required")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			return c.Do(cmd.Context(), http.MethodPost, businessPath+"/namespaces/"+project+"/namespaces/"+businessv1.ObjectName(cluster, args[0])+"/move", "",
				map[string]string{"project": to}, nil)
		},
	}
	move.Flags().StringVar(&project, "project", "", "the project the namespace is in")
	move.Flags().StringVar(&cluster, "cluster", "", "member cluster ID")
	move.Flags().StringVar(&to, "to", "", "the project to move it to")
	del := &cobra.Command{
		Use: "delete NAME --project ID --cluster ID", Short: "Delete a project's namespace (and the namespace in its member cluster)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" || cluster == "" {
				return fmt.Errorf("--project and --cluster are required")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			return c.Do(cmd.Context(), http.MethodDelete, businessPath+"/namespaces/"+project+"/namespaces/"+businessv1.ObjectName(cluster, args[0]), "", nil, nil)
		},
	}
	del.Flags().StringVar(&project, "project", "", "project ID")
	del.Flags().StringVar(&cluster, "cluster", "", "member cluster ID")
	cmd.AddCommand(create, list, imp, move, del)
	return cmd
}

// createNamespace creates (or, with the adopt annotation, imports) a
// project's namespace and prints its object name.
func createNamespace(cmd *cobra.Command, o *Options, project, cluster, name string, q *quotaFlags, annotations map[string]string) error {
	if project == "" || cluster == "" {
		return fmt.Errorf("--project and --cluster are required")
	}
	c, err := newAPIClient(o)
	if err != nil {
		return err
	}
	hard, err := q.list()
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
	fmt.Println(out.Name)
	return nil
}
