package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	"github.com/kstack/kstack/internal/printer"
)

func newUserCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Aliases: []string{"users"}, Short: "Create, list and delete users"}
	var req authv1.CreateUserRequest
	var stdin bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a local user (account: 3-32 lowercase letters, digits and '-')",
		Long: `Creates a user with a password (10-16 characters with upper- and lower-case
letters and a digit) from --password-stdin or $KSTACK_PASSWORD. --policy binds
platform policies (the seed's platform role): administrator, platform-user,
tenant, or a custom one. You cannot grant more than you hold.`,
		Example: `  echo 'Passw0rd-Alice' | kstack user create alice --password-stdin --policy platform-user`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			req.Spec.Username = args[0]
			if req.Password, err = readSecretInput(stdin, PasswordEnv, "Password: "); err != nil {
				return err
			}
			var u authv1.User
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/users", "", req, &u); err != nil {
				return err
			}
			fmt.Println(u.Name)
			return nil
		},
	}
	create.Flags().StringVar(&req.Spec.TenantID, "tenant", "", "tenant of the user (default: yours)")
	create.Flags().StringVar(&req.Spec.DisplayName, "display-name", "", "display name")
	create.Flags().StringVar(&req.Spec.Email, "email", "", "email address")
	create.Flags().StringSliceVar(&req.Policies, "policy", nil, "platform policy to bind (repeatable)")
	create.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from stdin")

	var output string
	list := &cobra.Command{
		Use: "list", Short: "List the users you may see", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l authv1.UserList
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/users", "", nil, &l); err != nil {
				return err
			}
			var rows [][]string
			for _, u := range l.Items {
				locked := ""
				if u.Status.LockedUntil != nil && u.Status.LockedUntil.After(metav1.Now().Time) {
					locked = "locked"
				}
				rows = append(rows, []string{u.Name, u.Spec.TenantID, u.Spec.Username, u.Spec.DisplayName, u.Spec.IdentityProvider, locked})
			}
			return printer.Print(os.Stdout, output, l, []string{"NAME", "TENANT", "USERNAME", "DISPLAY NAME", "PROVIDER", "STATUS"}, rows)
		},
	}
	outputFlag(list, &output)
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a user (TENANT.NAME, or NAME in your tenant)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			return c.Do(cmd.Context(), http.MethodDelete, authPath+"/users/"+args[0], "", nil, nil)
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func newPolicyCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Aliases: []string{"policies"}, Short: "Create, list and bind policies"}
	var file, display string
	create := &cobra.Command{
		Use:   "create NAME -f STATEMENTS.json",
		Short: "Create a custom platform policy from a JSON list of statements",
		Long: `Creates a policy from a JSON list of statements, each
{"actions": [...], "resources": [...], "effect": "allow"|"deny"}, e.g.
[{"actions":["get*","list*","watch*"],"resources":["cluster:cls-123/namespace:default/*"],"effect":"allow"}].
Actions are a verb and a kind (getPod, listDeployment, createPodExec, *); resources
are cluster:<id>[/namespace:<ns>]/<kind>:<name>[/<subresource>] for what is in
clusters, and <kind>:<name> for the platform's objects. '*' matches anything, and a
deny beats any allow.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("reading -f: %w", err)
			}
			var st []authv1.Statement
			if err := json.Unmarshal(data, &st); err != nil {
				return fmt.Errorf("-f %s is not a JSON list of statements: %w", file, err)
			}
			pol := authv1.Policy{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "Policy"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]}, Spec: authv1.PolicySpec{DisplayName: display, Statements: st, Scope: authv1.ScopePlatform}}
			return c.Do(cmd.Context(), http.MethodPost, authPath+"/policies", "", pol, nil)
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "JSON file with the statements")
	create.Flags().StringVar(&display, "display-name", "", "display name")
	var users, groups []string
	var project string
	bind := &cobra.Command{
		Use:   "bind POLICY",
		Short: "Grant a policy to users and groups of your tenant (you cannot grant more than you hold)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if len(users)+len(groups) == 0 {
				return fmt.Errorf("name at least one --user or --group")
			}
			b := authv1.PolicyBinding{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "PolicyBinding"},
				ObjectMeta: metav1.ObjectMeta{GenerateName: "pb-"},
				Spec:       authv1.PolicyBindingSpec{PolicyName: args[0], Users: users, Groups: groups, ProjectID: project}}
			var out authv1.PolicyBinding
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/policybindings", "", b, &out); err != nil {
				return err
			}
			fmt.Println(out.Name)
			return nil
		},
	}
	bind.Flags().StringSliceVar(&users, "user", nil, "username (repeatable)")
	bind.Flags().StringSliceVar(&groups, "group", nil, "group name (repeatable)")
	bind.Flags().StringVar(&project, "project", "", "project ID, for project policies")
	var output string
	list := &cobra.Command{
		Use: "list", Short: "List the policies you may see", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l authv1.PolicyList
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/policies", "", nil, &l); err != nil {
				return err
			}
			var rows [][]string
			for _, p := range l.Items {
				rows = append(rows, []string{p.Name, string(p.Spec.Scope), p.Spec.DisplayName, fmt.Sprint(p.Spec.Predefined)})
			}
			return printer.Print(os.Stdout, output, l, []string{"NAME", "SCOPE", "DISPLAY NAME", "PREDEFINED"}, rows)
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(create, bind, list)
	return cmd
}

func newAPIKeyCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Aliases: []string{"apikeys"}, Short: "Manage your access keys (bearer tokens for the API, kubectl and docker login)"}
	var req authv1.APIKeyRequest
	create := &cobra.Command{
		Use:   "create --expires 24h",
		Short: "Create an access key; it is printed once and never again",
		Example: `  kstack apikey create --expires 8h --description "CI deploys"
  curl -H "Authorization: Bearer $KEY" https://kstack:8443/platform/apis/platform.tkestack.io/v1/clusters`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var v authv1.APIKeyView
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/apikeys", "", req, &v); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "Access key %s, expires %s. Keep it now: it is not shown again.\n", v.Name, v.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
			fmt.Println(v.Key)
			return nil
		},
	}
	create.Flags().StringVar(&req.ExpiresIn, "expires", "", "lifetime in hours or minutes, e.g. 24h or 30m (required)")
	create.Flags().StringVar(&req.Description, "description", "", "what the key is for")
	var output string
	list := &cobra.Command{
		Use: "list", Short: "List your access keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l struct {
				Items []authv1.APIKeyView `json:"items"`
			}
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/apikeys", "", nil, &l); err != nil {
				return err
			}
			var rows [][]string
			for _, k := range l.Items {
				state := "enabled"
				if k.Disabled {
					state = "disabled"
				}
				if k.Expired {
					state = "expired"
				}
				rows = append(rows, []string{k.Name, state, k.ExpiresAt.UTC().Format("2006-01-02 15:04"), k.Description})
			}
			return printer.Print(os.Stdout, output, l.Items, []string{"NAME", "STATE", "EXPIRES (UTC)", "DESCRIPTION"}, rows)
		},
	}
	outputFlag(list, &output)
	toggle := func(use string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: strings.ToUpper(use[:1]) + use[1:] + " one of your access keys", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := newAPIClient(o)
				if err != nil {
					return err
				}
				return c.Do(cmd.Context(), http.MethodPatch, authPath+"/apikeys/"+args[0], "", map[string]bool{"disabled": disabled}, nil)
			},
		}
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete one of your access keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			return c.Do(cmd.Context(), http.MethodDelete, authPath+"/apikeys/"+args[0], "", nil, nil)
		},
	}
	cmd.AddCommand(create, list, toggle("disable", true), toggle("enable", false), del)
	return cmd
}

func newGroupCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Aliases: []string{"groups"}, Short: "Create and list groups of users (bind policies to them with `kstack policy bind --group`)"}
	var members []string
	var desc string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group of your tenant (name: under 60 lowercase letters, digits and '-')",
		Example: `  kstack group create developers --member alice --member bob
  kstack policy bind read-dev --group developers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			w, err := whoami(cmd.Context(), c)
			if err != nil {
				return err
			}
			g := authv1.Group{TypeMeta: metav1.TypeMeta{APIVersion: authv1.GroupVersion.String(), Kind: "Group"},
				ObjectMeta: metav1.ObjectMeta{Name: authv1.ObjectName(w.Tenant, args[0])},
				Spec:       authv1.GroupSpec{Name: args[0], Description: desc, Members: members}}
			if err := c.Do(cmd.Context(), http.MethodPost, authPath+"/groups", "", g, nil); err != nil {
				return err
			}
			fmt.Println(g.Name)
			return nil
		},
	}
	create.Flags().StringSliceVar(&members, "member", nil, "username of a member (repeatable)")
	create.Flags().StringVar(&desc, "description", "", "what the group is for")
	var output string
	list := &cobra.Command{
		Use: "list", Short: "List the groups you may see", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l authv1.GroupList
			if err := c.Do(cmd.Context(), http.MethodGet, authPath+"/groups", "", nil, &l); err != nil {
				return err
			}
			var rows [][]string
			for _, g := range l.Items {
				rows = append(rows, []string{g.Name, g.Spec.TenantID, strings.Join(g.Spec.Members, ","), g.Spec.Description})
			}
			return printer.Print(os.Stdout, output, l, []string{"NAME", "TENANT", "MEMBERS", "DESCRIPTION"}, rows)
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(create, list)
	return cmd
}
