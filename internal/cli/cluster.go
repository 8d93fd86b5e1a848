package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/gateway"
	"github.com/kstack/kstack/internal/platform"
	"github.com/kstack/kstack/internal/printer"
)

const clustersPath = "/platform/apis/platform.tkestack.io/v1/clusters"

func newClusterCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster",
		Aliases: []string{"clusters"},
		Short:   "Import, list and remove the clusters the platform manages",
	}
	cmd.AddCommand(newClusterImportCmd(o), newClusterListCmd(o), newClusterGetCmd(o), newClusterDeleteCmd(o))
	return cmd
}

func newClusterImportCmd(o *Options) *cobra.Command {
	var kubeconfig, context, name, server, caFile, token, certFile, keyFile, output string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import an existing Kubernetes cluster into the platform",
		Long: `Imports a cluster by kubeconfig, or by API address, CA and a token or client
certificate. The platform checks the cluster live first, writing nothing into it:
reachable, TLS verified with the CA, the credential accepted and allowed what the
platform needs (list nodes and namespaces, impersonate users and groups, manage
its one ClusterRoleBinding), Kubernetes 1.26 or newer, and not already imported.`,
		Example: `  kstack cluster import --kubeconfig ~/.kube/config --context prod --name prod
  kstack cluster import --server https://10.0.0.1:6443 --ca ca.crt --token $TOKEN --name edge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := printer.Validate(output); err != nil {
				return err
			}
			req := gateway.ImportRequest{}
			req.DisplayName = name
			switch {
			case kubeconfig != "" && server != "":
				return fmt.Errorf("give either --kubeconfig or --server, not both")
			case kubeconfig != "":
				data, err := os.ReadFile(kubeconfig)
				if err != nil {
					return fmt.Errorf("reading --kubeconfig: %w", err)
				}
				req.Kubeconfig, req.Context = string(data), context
			case server != "":
				req.Server, req.Token = server, token
				if caFile == "" {
					return fmt.Errorf("--server needs --ca, the CA file that signs the server's certificate")
				}
				var err error
				if req.CACert, err = os.ReadFile(caFile); err != nil {
					return fmt.Errorf("reading --ca: %w", err)
				}
				if certFile != "" || keyFile != "" {
					if req.ClientCert, err = os.ReadFile(certFile); err != nil {
						return fmt.Errorf("reading --client-cert: %w", err)
					}
					if req.ClientKey, err = os.ReadFile(keyFile); err != nil {
						return fmt.Errorf("reading --client-key: %w", err)
					}
				}
			default:
				return fmt.Errorf("say which cluster: --kubeconfig FILE, or --server URL --ca FILE with --token or --client-cert/--client-key")
			}
			cls, err := importCluster(cmd.Context(), o, req)
			if err != nil {
				return err
			}
			return printClusters(output, cls, []platformv1.Cluster{*cls})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to import")
	f.StringVar(&context, "context", "", "context of --kubeconfig to use (default: its current context)")
	f.StringVar(&name, "name", "", "display name (default: the kubeconfig context's name, or the cluster ID)")
	f.StringVar(&server, "server", "", "https URL of the cluster's API server")
	f.StringVar(&caFile, "ca", "", "PEM CA that signs the API server's certificate")
	f.StringVar(&token, "token", "", "bearer token (e.g. a ServiceAccount token)")
	f.StringVar(&certFile, "client-cert", "", "PEM client certificate, with --client-key")
	f.StringVar(&keyFile, "client-key", "", "PEM client key")
	outputFlag(cmd, &output)
	return cmd
}

func importCluster(ctx context.Context, o *Options, req gateway.ImportRequest) (*platformv1.Cluster, error) {
	c, err := newAPIClient(o)
	if err != nil {
		return nil, err
	}
	return c.Import(ctx, req)
}

func newClusterListCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the platform's clusters with their health",
		Example: "  kstack cluster list\n  kstack cluster list -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := printer.Validate(output); err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var list platformv1.ClusterList
			if err := c.Do(cmd.Context(), http.MethodGet, clustersPath, "", nil, &list); err != nil {
				return err
			}
			return printClusters(output, list.Items, list.Items)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newClusterGetCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one cluster: health, version, nodes, resources",
		Example: "  kstack cluster get cls-ab12cd34\n  kstack cluster get cls-ab12cd34 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := printer.Validate(output); err != nil {
				return err
			}
			cls, err := getCluster(cmd.Context(), o, args[0])
			if err != nil {
				return err
			}
			if output != "table" {
				return printer.Print(os.Stdout, output, cls, nil, nil)
			}
			st := cls.Status
			msg := ""
			for _, c := range st.Conditions {
				if c.Message != "" {
					msg = c.Message
				}
			}
			server := ""
			if len(st.Addresses) > 0 {
				server = fmt.Sprintf("%s:%d", st.Addresses[0].Host, st.Addresses[0].Port)
			}
			rows := [][]string{
				{"ID", cls.Name}, {"Display name", cls.Spec.DisplayName}, {"Type", string(cls.Spec.Type)},
				{"Phase", string(st.Phase)}, {"Version", st.Version}, {"Server", server},
				{"Nodes (ready/total)", fmt.Sprintf("%d/%d", st.Nodes.Ready, st.Nodes.Total)},
				{"Pods", fmt.Sprint(st.Pods)},
				{"CPU (allocatable/requested)", fmt.Sprintf("%s/%s", st.Resource.Allocatable.Cpu(), st.Resource.Allocated.Cpu())},
				{"Memory (allocatable/requested)", fmt.Sprintf("%s/%s", st.Resource.Allocatable.Memory(), st.Resource.Allocated.Memory())},
				{"Message", msg},
			}
			return printer.Print(os.Stdout, "table", nil, []string{"FIELD", "VALUE"}, rows)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func getCluster(ctx context.Context, o *Options, id string) (*platformv1.Cluster, error) {
	c, err := newAPIClient(o)
	if err != nil {
		return nil, err
	}
	var cls platformv1.Cluster
	if err := c.Do(ctx, http.MethodGet, clustersPath+"/"+id, "", nil, &cls); err != nil {
		return nil, err
	}
	return &cls, nil
}

func newClusterDeleteCmd(o *Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Remove a cluster from the platform (the cluster itself keeps running)",
		Long: `Removes a cluster from the platform: the platform deletes the objects it made in
the member (its ClusterRoleBinding) and forgets the credential. The cluster itself
is untouched. A member that cannot be reached keeps the cluster Terminating
until it can be cleaned, unless --force.`,
		Example: "  kstack cluster delete cls-ab12cd34",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if args[0] == platformv1.GlobalClusterName {
				return fmt.Errorf("the global cluster is the platform's own control plane and cannot be removed")
			}
			if force {
				patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{"platform.kstack.io/force-delete": "true"}}}
				if err := c.Do(cmd.Context(), http.MethodPatch, clustersPath+"/"+args[0], "application/merge-patch+json", patch, nil); err != nil {
					return err
				}
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, clustersPath+"/"+args[0], "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "Cluster %s is leaving the platform\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "forget the cluster even if its member objects cannot be cleaned")
	return cmd
}

func printClusters(output string, obj any, items []platformv1.Cluster) error {
	rows := make([][]string, 0, len(items))
	for _, c := range items {
		rows = append(rows, []string{c.Spec.DisplayName, c.Name, string(c.Spec.Type), string(c.Status.Phase), c.Status.Version,
			fmt.Sprintf("%d/%d", c.Status.Nodes.Ready, c.Status.Nodes.Total)})
	}
	return printer.Print(os.Stdout, output, obj, []string{"NAME", "ID", "TYPE", "PHASE", "VERSION", "NODES"}, rows)
}

func newKubeconfigCmd(o *Options) *cobra.Command {
	var cluster, file string
	cmd := &cobra.Command{
		Use:   "kubeconfig --cluster ID",
		Short: "Print a kubeconfig that sends kubectl to a cluster through the platform",
		Long: `Prints a kubeconfig whose server is the platform's proxy for one cluster, so
that kubectl, client-go and helm reach the cluster through the platform, which
decides and forwards as you. -f writes it to a file (mode 0600) instead.`,
		Example: `  kstack kubeconfig --cluster cls-ab12cd34 > prod.kubeconfig
  kubectl --kubeconfig prod.kubeconfig get pods -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cluster == "" {
				return fmt.Errorf("--cluster is required: the cluster ID (see `kstack cluster list`)")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			if _, err := getCluster(cmd.Context(), o, cluster); err != nil {
				return err
			}
			name := "kstack-" + cluster
			cfg := clientcmdapi.NewConfig()
			cfg.Clusters[name] = &clientcmdapi.Cluster{
				Server:                   c.Base + "/apis/platform.tkestack.io/v1/clusters/" + cluster + "/proxy",
				CertificateAuthorityData: c.CAPEM,
			}
			cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: c.Token}
			cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
			cfg.CurrentContext = name
			data, err := clientcmd.Write(*cfg)
			if err != nil {
				return err
			}
			if file != "" {
				return os.WriteFile(file, data, 0o600)
			}
			_, err = os.Stdout.Write(data)
			return err
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster ID, or global")
	cmd.Flags().StringVarP(&file, "file", "f", "", "write the kubeconfig to this file instead of stdout")
	return cmd
}

func newAPIClient(o *Options) (*apiclient.Client, error) {
	ci, err := platform.ReadClientInfo(o.DataDir)
	if err != nil {
		return nil, err
	}
	return apiclient.New(apiclient.ClientInfo{Server: ci.Server, CAFile: ci.CAFile, TokenFile: ci.TokenFile})
}
