package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/login"
	"github.com/kstack/kstack/internal/platform"
)

const clustersPath = "/platform/apis/platform.tkestack.io/v1/clusters"

func newClusterCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster",
		Aliases: []string{"clusters"},
		Short:   "Import, list, show, update, lock and remove the clusters the platform manages",
		Long: `Member clusters are the Kubernetes clusters the platform manages: imported ones
(by kubeconfig, or address, CA and credential) and local ones ('kstack local
create --import'). A cluster's ID is cls-xxxxxxxx; the platform's own control
plane is the cluster "global". Clusters are not created here: import one, or
create a local one with 'kstack local create NAME --import'.`,
		Example: `  kstack cluster import --kubeconfig ~/.kube/config --context prod --name prod
  kstack cluster list
  kstack cluster get cls-ab12cd34 -o yaml
  kstack cluster delete cls-ab12cd34`,
	}
	cmd.AddCommand(newClusterImportCmd(o), newClusterListCmd(o), newClusterGetCmd(o), newClusterUpdateCmd(o),
		newClusterLockCmd(o, true), newClusterLockCmd(o, false), newClusterEventPersistenceCmd(o), newClusterMonitoringCmd(o), newClusterDeleteCmd(o))
	return cmd
}

// credentialFlags are how a command is told about a cluster's address and credential.
type credentialFlags struct {
	kubeconfig, context, server, caFile, token, certFile, keyFile string
}

func (f *credentialFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster")
	fl.StringVar(&f.context, "context", "", "context of --kubeconfig to use (default: its current context)")
	fl.StringVar(&f.server, "server", "", "https URL of the cluster's API server")
	fl.StringVar(&f.caFile, "ca", "", "PEM CA that signs the API server's certificate")
	fl.StringVar(&f.token, "token", "", "bearer token (e.g. a ServiceAccount token)")
	fl.StringVar(&f.certFile, "client-cert", "", "PEM client certificate, with --client-key")
	fl.StringVar(&f.keyFile, "client-key", "", "PEM client key")
}

func (f *credentialFlags) request() (platformv1.ImportRequest, error) {
	req := platformv1.ImportRequest{}
	switch {
	case f.kubeconfig != "" && f.server != "":
		return req, fmt.Errorf("give either --kubeconfig or --server, not both")
	case f.kubeconfig != "":
		data, err := os.ReadFile(f.kubeconfig)
		if err != nil {
			return req, fmt.Errorf("reading --kubeconfig: %w", err)
		}
		req.Kubeconfig, req.Context = string(data), f.context
	case f.server != "":
		req.Server, req.Token = f.server, f.token
		if f.caFile == "" {
			return req, fmt.Errorf("--server needs --ca, the CA file that signs the server's certificate")
		}
		var err error
		if req.CACert, err = os.ReadFile(f.caFile); err != nil {
			return req, fmt.Errorf("reading --ca: %w", err)
		}
		if f.certFile != "" || f.keyFile != "" {
			if req.ClientCert, err = os.ReadFile(f.certFile); err != nil {
				return req, fmt.Errorf("reading --client-cert: %w", err)
			}
			if req.ClientKey, err = os.ReadFile(f.keyFile); err != nil {
				return req, fmt.Errorf("reading --client-key: %w", err)
			}
		}
	default:
		return req, fmt.Errorf("say which cluster: --kubeconfig FILE, or --server URL --ca FILE with --token or --client-cert/--client-key")
	}
	return req, nil
}

func newClusterImportCmd(o *Options) *cobra.Command {
	var cf credentialFlags
	var name, output string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import an existing Kubernetes cluster into the platform",
		Long: `Imports a cluster by kubeconfig, or by API address, CA and a token or client
certificate. The platform checks the cluster live first, writing nothing into it:
reachable, TLS verified with the CA, the credential accepted and allowed what the
platform needs (list nodes and namespaces, impersonate users and groups, manage
its one ClusterRoleBinding), Kubernetes 1.26 or newer, and not already imported.
Prints "cluster cls-xxxxxxxx (NAME) imported", or the Cluster with -o.`,
		Example: `  kstack cluster import --kubeconfig ~/.kube/config --context prod --name prod
  kstack cluster import --server https://10.0.0.1:6443 --ca ca.crt --token $TOKEN --name edge
  ID=$(kstack cluster import --kubeconfig edge.kubeconfig -o name)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := cf.request()
			if err != nil {
				return err
			}
			req.DisplayName = name
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			cls, err := c.Import(cmd.Context(), req)
			if err != nil {
				return err
			}
			return o.done(output, cls, "cluster %s (%s) imported", cls.Name, cls.Spec.DisplayName)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "display name (default: the kubeconfig context's name, or the cluster ID)")
	outputFlag(cmd, &output)
	return cmd
}

func newClusterUpdateCmd(o *Options) *cobra.Command {
	var cf credentialFlags
	var output string
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Replace a cluster's address or credential, without importing it again",
		Long: `Replaces the address and credential the platform uses to reach a cluster. They
are checked live as at import, and must reach the same cluster (its kube-system
namespace UID); the platform reconnects at once.`,
		Example: `  kstack cluster update cls-ab12cd34 --server https://10.0.0.2:6443 --ca ca.crt --token $NEW_TOKEN
  kstack cluster update cls-ab12cd34 --kubeconfig rotated.kubeconfig`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := cf.request()
			if err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var cls platformv1.Cluster
			if err := c.Do(cmd.Context(), http.MethodPut, clustersPath+"/"+args[0]+"/credential", "", req, &cls); err != nil {
				return fmt.Errorf("update refused: %w", err)
			}
			return o.done(output, &cls, "cluster %s updated: it now uses the new address and credential", args[0])
		},
	}
	cf.add(cmd)
	outputFlag(cmd, &output)
	return cmd
}

func newClusterLockCmd(o *Options, lock bool) *cobra.Command {
	use, short, long := "lock", "Lock a cluster: no new workloads through the platform",
		`Locks a cluster: the platform refuses to create workloads (pods and what makes
them) in it through its proxy; what runs keeps running, and everything else
(reads, deletes, config maps, ...) still works. 'kstack cluster unlock' undoes it.`
	if !lock {
		use, short, long = "unlock", "Unlock a locked cluster", `Unlocks a cluster locked with 'kstack cluster lock': workloads can be created in it again.`
	}
	var output string
	cmd := &cobra.Command{
		Use:     use + " ID",
		Short:   short,
		Long:    long,
		Example: "  kstack cluster " + use + " cls-ab12cd34",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == platformv1.GlobalClusterName {
				return fmt.Errorf("the global cluster cannot be locked")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			patch := map[string]any{"spec": map[string]any{"locked": lock}}
			var cls platformv1.Cluster
			if err := c.Do(cmd.Context(), http.MethodPatch, clustersPath+"/"+args[0], "application/merge-patch+json", patch, &cls); err != nil {
				return err
			}
			return o.done(output, &cls, "cluster %s %sed", args[0], use)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newClusterEventPersistenceCmd(o *Options) *cobra.Command {
	var enable, disable bool
	var output string
	cmd := &cobra.Command{
		Use:     "event-persistence ID --enable|--disable",
		Aliases: []string{"events-persistence"},
		Short:   "Switch on or off keeping a cluster's Kubernetes events in the platform",
		Long: `With event persistence on, the platform watches the cluster's Kubernetes events
and keeps them in its record store, past the hour the cluster keeps them, for
'kstack event search' and the console. Switching it off stops the collection;
the events kept so far stay searchable until the store's retention removes them.
It sets the Cluster's spec.features.eventPersistence.`,
		Example: `  kstack cluster event-persistence cls-ab12cd34 --enable
  kstack cluster event-persistence cls-ab12cd34 --disable`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setClusterFeature(cmd, o, args[0], "eventPersistence", "event persistence", enable, output)
		},
	}
	cmd.Flags().BoolVar(&enable, "enable", false, "keep the cluster's events")
	cmd.Flags().BoolVar(&disable, "disable", false, "stop keeping the cluster's events")
	cmd.MarkFlagsOneRequired("enable", "disable")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	outputFlag(cmd, &output)
	return cmd
}

func newClusterListCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the platform's clusters with their health",
		Long: `Lists the clusters you may see: display name, ID, type (Imported, Local or
Global), phase (Running, Failed, Terminating), Kubernetes version and nodes
ready/total.`,
		Example: "  kstack cluster list\n  kstack cluster list -o yaml\n  kstack cluster list -o name",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var list platformv1.ClusterList
			if err := c.Do(cmd.Context(), http.MethodGet, clustersPath, "", nil, &list); err != nil {
				return err
			}
			return o.printClusters(output, list.Items, list.Items)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func newClusterGetCmd(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one cluster: health, version, nodes, resources",
		Long: `Shows one cluster: its phase and why, version, API server, nodes ready/total,
pods, and CPU and memory allocatable and requested. -o json|yaml prints the whole
Cluster object.`,
		Example: "  kstack cluster get cls-ab12cd34\n  kstack cluster get cls-ab12cd34 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			cls, err := getCluster(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if output != "table" {
				return o.show(output, cls, nil, nil)
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
			return o.show("table", nil, []string{"FIELD", "VALUE"}, rows)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func getCluster(ctx context.Context, c *apiclient.Client, id string) (*platformv1.Cluster, error) {
	var cls platformv1.Cluster
	if err := c.Do(ctx, http.MethodGet, clustersPath+"/"+id, "", nil, &cls); err != nil {
		return nil, err
	}
	return &cls, nil
}

func newClusterDeleteCmd(o *Options) *cobra.Command {
	var force, deleteLocal bool
	var output string
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Remove a cluster from the platform (the cluster itself keeps running)",
		Long: `Removes a cluster from the platform: the platform deletes the objects it made in
the member (its ClusterRoleBinding) and forgets the credential. The cluster itself
is untouched: a Local cluster keeps running unless --delete-local also deletes
it. A member that cannot be reached keeps the cluster Terminating until it can
be cleaned, unless --force. Refused while projects hold quota in the cluster.`,
		Example: "  kstack cluster delete cls-ab12cd34\n  kstack cluster delete cls-ab12cd34 --delete-local",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == platformv1.GlobalClusterName {
				return fmt.Errorf("the global cluster is the platform's own control plane and cannot be removed")
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			cls, err := getCluster(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			local := cls.Annotations[platformv1.AnnotationLocalCluster]
			if deleteLocal && (cls.Spec.Type != platformv1.ClusterLocal || local == "") {
				return fmt.Errorf("--delete-local: cluster %s is not a local cluster of this host", args[0])
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
			if !deleteLocal {
				return o.done(output, cls, "cluster %s deleted", args[0])
			}
			o.warn("cluster %s is leaving the platform ...", args[0])
			if err := waitGone(cmd.Context(), c, args[0]); err != nil {
				return err
			}
			m, err := localManager(o, false)
			if err != nil {
				return err
			}
			if err := m.Delete(cmd.Context(), local); err != nil {
				return err
			}
			return o.done(output, cls, "cluster %s deleted, and local cluster %s with it", args[0], local)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "forget the cluster even if its member objects cannot be cleaned")
	cmd.Flags().BoolVar(&deleteLocal, "delete-local", false, "for a Local cluster, also stop it and delete its data")
	outputFlag(cmd, &output)
	return cmd
}

func (o *Options) printClusters(output string, obj any, items []platformv1.Cluster) error {
	rows := make([][]string, 0, len(items))
	for _, c := range items {
		rows = append(rows, []string{c.Spec.DisplayName, c.Name, string(c.Spec.Type), string(c.Status.Phase), c.Status.Version,
			fmt.Sprintf("%d/%d", c.Status.Nodes.Ready, c.Status.Nodes.Total)})
	}
	return o.show(output, obj, []string{"NAME", "ID", "TYPE", "PHASE", "VERSION", "NODES"}, rows)
}

func newKubeconfigCmd(o *Options) *cobra.Command {
	var cluster, file, apiKey, namespace string
	cmd := &cobra.Command{
		Use:   "kubeconfig --cluster ID",
		Short: "Print a kubeconfig that sends kubectl to a cluster through the platform",
		Long: `Prints a kubeconfig whose server is the platform's proxy for one cluster, so
that kubectl, client-go and helm reach the cluster through the platform, which
decides and forwards as you. When you are logged in (kstack login), kubectl gets
its tokens from this binary (an exec credential plugin that refreshes them);
--api-key embeds an access key instead; on the platform's own host without a
login, the data dir's administrator is used. -f writes it to a file (mode 0600).`,
		Example: `  kstack kubeconfig --cluster cls-ab12cd34 > prod.kubeconfig
  kubectl --kubeconfig prod.kubeconfig get pods -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			// A user with rights only inside the cluster may not read the
			// Cluster object: that is no reason to refuse a kubeconfig.
			if _, err := getCluster(cmd.Context(), c, cluster); err != nil && !apiclient.IsForbidden(err) {
				return err
			}
			name := "kstack-" + cluster
			cfg := clientcmdapi.NewConfig()
			cfg.Clusters[name] = &clientcmdapi.Cluster{
				Server:                   c.Base + "/apis/platform.tkestack.io/v1/clusters/" + cluster + "/proxy",
				CertificateAuthorityData: c.CAPEM,
			}
			switch {
			case apiKey != "":
				cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: apiKey}
			case c.TokenFunc != nil:
				// The logged-in user: an exec plugin that refreshes tokens,
				// naming this binary and the login file by absolute path.
				exe, err := executable()
				if err != nil {
					return err
				}
				lp, err := filepath.Abs(login.Path())
				if err != nil {
					return err
				}
				cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
					APIVersion: "client.authentication.k8s.io/v1", Command: exe, Args: []string{"credential", "--config", lp},
					InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
				}}
			default:
				cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: c.Token}
			}
			cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: namespace}
			cfg.CurrentContext = name
			data, err := clientcmd.Write(*cfg)
			if err != nil {
				return err
			}
			if file != "" {
				return os.WriteFile(file, data, 0o600)
			}
			_, err = o.Out.Write(data)
			return err
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster ID, or global (see 'kstack cluster list')")
	cmd.Flags().StringVarP(&file, "file", "f", "", "write the kubeconfig to this file instead of stdout")
	cmd.Flags().StringVar(&apiKey, "api-key", "", "embed this access key (kstack apikey create) instead of your login")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "the namespace kubectl uses by default (e.g. your project's); what you may do is still decided by your policies")
	required(cmd, "cluster")
	return cmd
}

// newAPIClient talks to the platform as the logged-in user (kstack login),
// or else as the administrator of the platform in the data dir.
func newAPIClient(o *Options) (*apiclient.Client, error) {
	if o.NewClient != nil {
		return o.NewClient()
	}
	path := login.Path()
	lc, err := login.Load(path)
	if err == nil {
		return apiclient.NewWithToken(lc.Server, lc.CAData, func(ctx context.Context) (string, error) { return lc.Token(ctx, path) }), nil
	}
	if !errors.Is(err, login.ErrNotLoggedIn) {
		return nil, err
	}
	ci, err := platform.ReadClientInfo(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("%w (or log in to a platform with `kstack login`)", err)
	}
	return apiclient.New(apiclient.ClientInfo{Server: ci.Server, CAFile: ci.CAFile, TokenFile: ci.TokenFile})
}

// waitGone waits until the platform has forgotten a cluster (its finalizer ran).
func waitGone(ctx context.Context, c *apiclient.Client, id string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		err := c.Do(ctx, http.MethodGet, clustersPath+"/"+id, "", nil, nil)
		if err != nil && strings.Contains(err.Error(), "not found") {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster %s is still leaving the platform after 2 minutes; see `kstack cluster get %s`", id, id)
}

// setClusterFeature switches one of a cluster's spec.features and says so.
func setClusterFeature(cmd *cobra.Command, o *Options, id, field, what string, enable bool, output string) error {
	c, err := newAPIClient(o)
	if err != nil {
		return err
	}
	// The features are omitempty: false is sent as such, not dropped.
	patch := map[string]any{"spec": map[string]any{"features": map[string]any{field: enable}}}
	var cls platformv1.Cluster
	if err := c.Do(cmd.Context(), http.MethodPatch, clustersPath+"/"+id, "application/merge-patch+json", patch, &cls); err != nil {
		return err
	}
	state := "disabled"
	if enable {
		state = "enabled"
	}
	return o.done(output, &cls, "cluster %s: %s %s", id, what, state)
}
