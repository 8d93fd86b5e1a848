package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	platformv1 "github.com/kstack/kstack/api/platform/v1"
	"github.com/kstack/kstack/internal/addons"
	"github.com/kstack/kstack/internal/addons/catalog"
	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/clock"
	"github.com/kstack/kstack/internal/clusteraddon"
)

const clusterAddonsPath = "/platform/apis/platform.tkestack.io/v1/clusteraddons"

func newAddonCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "addon",
		Aliases: []string{"addons", "extension"},
		Short:   "Extension components (add-ons) of member clusters: CronHPA, ...",
		Long: `An add-on brings a capability into one member cluster: its CRDs and objects,
applied by the platform with its own field manager, and its controller, which
the platform's leader runs through its connection to the member (or you run
with 'kstack addon run' for a large member). Uninstalling removes what it
made, and nothing else. See docs/addons.md.`,
		Example: `  kstack addon types
  kstack addon install cls-ab12cd34 CronHPA --wait
  kstack addon list --cluster cls-ab12cd34
  kstack addon upgrade cls-ab12cd34 CronHPA --version v1.1.0 --wait
  kstack addon uninstall cls-ab12cd34 CronHPA`,
	}
	headers := []string{"CLUSTER", "TYPE", "VERSION", "PHASE", "CONTROLLER", "MESSAGE"}
	rows := func(items []platformv1.ClusterAddon) [][]string {
		var r [][]string
		for _, a := range items {
			v := a.Status.Version
			if a.Spec.Version != a.Status.Version {
				v = fmt.Sprintf("%s (-> %s)", orDash(v), a.Spec.Version)
			}
			r = append(r, []string{a.Spec.ClusterName, a.Spec.Type, v, orDash(a.Status.Phase), a.Spec.Controller, a.Status.Message})
		}
		return r
	}
	var output, cluster, version string
	var wait, external, force bool
	waitFlag := func(c *cobra.Command, what string) {
		c.Flags().BoolVar(&wait, "wait", false, "wait (up to 5 minutes), telling each phase, until the add-on is "+what)
	}

	types := &cobra.Command{
		Use:   "types",
		Short: "List the add-on types the platform offers, with their versions",
		Long: `Lists the add-on types: level, latest version, every version, and what
each brings. With --cluster it asks the platform (which may be newer than this
kstack) what it offers for that cluster.`,
		Example: "  kstack addon types\n  kstack addon types -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l platformv1.ClusterAddonTypeList
			l.Kind, l.APIVersion = "ClusterAddonTypeList", platformv1.GroupVersion.String()
			for _, a := range catalog.All() {
				l.Items = append(l.Items, platformv1.ClusterAddonType{Type: a.Type, Description: a.Description, Level: a.Level,
					LatestVersion: a.Latest().Version, Versions: a.VersionNames(), Kinds: a.Kinds})
			}
			if cluster != "" {
				// What the platform offers for the cluster (it may be newer than this CLI).
				c, err := newAPIClient(o)
				if err != nil {
					return err
				}
				if err := c.Do(cmd.Context(), http.MethodGet, "/platform/apis/platform.tkestack.io/v1/clusters/"+cluster+"/addontypes", "", nil, &l); err != nil {
					return err
				}
			}
			var r [][]string
			for _, t := range l.Items {
				r = append(r, []string{t.Type, t.Level, t.LatestVersion, strings.Join(t.Versions, ","), t.Description})
			}
			return o.show(output, l, []string{"TYPE", "LEVEL", "LATEST", "VERSIONS", "DESCRIPTION"}, r)
		},
	}
	types.Flags().StringVar(&cluster, "cluster", "", "ask the platform what it offers for this cluster (default: what this kstack knows)")
	outputFlag(types, &output)

	list := &cobra.Command{
		Use:   "list [--cluster ID]",
		Short: "List the add-ons enabled in clusters you may see",
		Long: `Lists the add-ons of every cluster you may see, or of one (--cluster): the
installed version (and the one it is moving to), phase, where its controller
runs, and why it is not Running.`,
		Example: "  kstack addon list\n  kstack addon list --cluster cls-ab12cd34 -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var l platformv1.ClusterAddonList
			path := clusterAddonsPath
			if cluster != "" {
				path = "/platform/apis/platform.tkestack.io/v1/clusters/" + cluster + "/addons"
			}
			if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &l); err != nil {
				return err
			}
			return o.show(output, l, headers, rows(l.Items))
		},
	}
	list.Flags().StringVar(&cluster, "cluster", "", "only this cluster's add-ons")
	outputFlag(list, &output)

	get := &cobra.Command{
		Use:   "get CLUSTER TYPE",
		Short: "Show one cluster's add-on: version, phase, conditions, what it made",
		Long: `Shows add-on TYPE of cluster CLUSTER as list does; -o yaml|json prints it
whole, with its conditions and the objects it made in the member.`,
		Example: "  kstack addon get cls-ab12cd34 CronHPA -o yaml",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var ca platformv1.ClusterAddon
			if err := c.Do(cmd.Context(), http.MethodGet, addonPath(args[0], args[1]), "", nil, &ca); err != nil {
				return err
			}
			return o.show(output, &ca, headers, rows([]platformv1.ClusterAddon{ca}))
		},
	}
	outputFlag(get, &output)

	install := &cobra.Command{
		Use:   "install CLUSTER TYPE [--version V]",
		Short: "Enable an add-on in a member cluster",
		Long: `Enables add-on TYPE (kstack addon types) in cluster CLUSTER at --version
(default: the latest). The platform applies its CRDs and objects in the member
and runs its controller; a cluster that cannot be reached now gets the add-on
when it is back (phase Waiting says so). An install that fails says why in the
add-on's status and leaves the member as it was.`,
		Example: "  kstack addon install cls-ab12cd34 CronHPA --wait\n  kstack addon install cls-ab12cd34 CronHPA --version v1.0.0 --external-controller",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca := &platformv1.ClusterAddon{
				TypeMeta:   metav1.TypeMeta{APIVersion: platformv1.GroupVersion.String(), Kind: "ClusterAddon"},
				ObjectMeta: metav1.ObjectMeta{Name: platformv1.AddonName(args[0], canonicalType(args[1]))},
				Spec:       platformv1.ClusterAddonSpec{ClusterName: args[0], Type: canonicalType(args[1]), Version: version},
			}
			if external {
				ca.Spec.Controller = platformv1.AddonControllerExternal
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var out platformv1.ClusterAddon
			if err := c.Do(cmd.Context(), http.MethodPost, clusterAddonsPath, "", ca, &out); err != nil {
				return err
			}
			if wait {
				if err := waitAddon(cmd.Context(), o, c, out.Name, out.Spec.Version); err != nil {
					return err
				}
			}
			return o.done(output, &out, "addon %s %s enabled in cluster %s (kstack addon get %s %s)", out.Spec.Type, out.Spec.Version, args[0], args[0], out.Spec.Type)
		},
	}
	install.Flags().StringVar(&version, "version", "", "version to install (default: the latest; kstack addon types)")
	install.Flags().BoolVar(&external, "external-controller", false, "do not run the add-on's controller in the platform: run it yourself with 'kstack addon run TYPE --kubeconfig ...'")
	waitFlag(install, "Running or Failed")
	outputFlag(install, &output)

	upgrade := &cobra.Command{
		Use:   "upgrade CLUSTER TYPE --version V",
		Short: "Move an add-on to another version, keeping its objects",
		Long: `Applies the CRDs and objects of --version and removes those the version no
longer has. The add-on's own objects (your CronHPAs) are kept. A failed
upgrade puts the previous version's objects back.`,
		Example: "  kstack addon upgrade cls-ab12cd34 CronHPA --version v1.1.0 --wait",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var ca platformv1.ClusterAddon
			path := addonPath(args[0], args[1])
			if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &ca); err != nil {
				return err
			}
			ca.Spec.Version = version
			var out platformv1.ClusterAddon
			if err := c.Do(cmd.Context(), http.MethodPut, path, "", &ca, &out); err != nil {
				return err
			}
			if wait {
				if err := waitAddon(cmd.Context(), o, c, out.Name, version); err != nil {
					return err
				}
			}
			return o.done(output, &out, "addon %s in cluster %s set to %s", out.Spec.Type, args[0], version)
		},
	}
	upgrade.Flags().StringVar(&version, "version", "", "the version to move to (kstack addon types)")
	required(upgrade, "version")
	waitFlag(upgrade, "Running at --version, or Failed")
	outputFlag(upgrade, &output)

	uninstall := &cobra.Command{
		Use:   "uninstall CLUSTER TYPE [--force]",
		Short: "Remove an add-on and everything it made from a member cluster",
		Long: `Removes what the add-on made in the member (its CRDs, roles and controller
Lease), and nothing else. It is refused while objects of the add-on's kinds
still exist (it names them): delete them first, or give --force, which deletes
them with the CRDs. --force also lets an add-on of a cluster that cannot be
reached go (what it made then stays in the member).`,
		Example: "  kstack addon uninstall cls-ab12cd34 CronHPA\n  kstack addon uninstall cls-ab12cd34 CronHPA --force",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			path := addonPath(args[0], args[1])
			if force {
				patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{clusteraddon.AnnotationForce: "true"}}}
				if err := c.Do(cmd.Context(), http.MethodPatch, path, "application/merge-patch+json", patch, nil); err != nil {
					return err
				}
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, path, "", nil, nil); err != nil {
				return err
			}
			if !wait {
				o.warn("addon %s of cluster %s uninstalling (kstack addon get %s %s)", canonicalType(args[1]), args[0], args[0], canonicalType(args[1]))
				return nil
			}
			if err := waitAddonGone(cmd.Context(), c, path); err != nil {
				return err
			}
			o.warn("addon %s of cluster %s uninstalled", canonicalType(args[1]), args[0])
			return nil
		},
	}
	uninstall.Flags().BoolVar(&force, "force", false, "uninstall although objects still use the add-on (they are deleted) or the cluster cannot be reached")
	waitFlag(uninstall, "gone from the member")

	cmd.AddCommand(types, list, get, install, upgrade, uninstall, newAddonRunCmd(o))
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// canonicalType spells a type as the catalog does (cronhpa: CronHPA); an
// unknown one is left for the platform to refuse.
func canonicalType(t string) string {
	if a, err := catalog.All().Lookup(t); err == nil {
		return a.Type
	}
	return t
}

func addonPath(cluster, t string) string {
	return clusterAddonsPath + "/" + platformv1.AddonName(cluster, canonicalType(t))
}

// waitAddon tells each phase until the add-on runs version (or fails).
func waitAddon(ctx context.Context, o *Options, c *apiclient.Client, name, version string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	last := ""
	for {
		var ca platformv1.ClusterAddon
		if err := c.Do(ctx, http.MethodGet, clusterAddonsPath+"/"+name, "", nil, &ca); err != nil {
			return err
		}
		if s := ca.Status.Phase + ": " + ca.Status.Message; s != last && ca.Status.Phase != "" {
			o.warn("%s", strings.TrimSuffix(s, ": "))
			last = s
		}
		switch {
		case ca.Status.Phase == platformv1.AddonRunning && ca.Status.Version == version:
			return nil
		case ca.Status.Phase == platformv1.AddonFailed:
			return fmt.Errorf("addon %s failed: %s", name, ca.Status.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("addon %s is still %s after 5 minutes: %s", name, orDash(ca.Status.Phase), ca.Status.Message)
		case <-time.After(time.Second):
		}
	}
}

// waitAddonGone waits until the add-on at path is gone.
func waitAddonGone(ctx context.Context, c *apiclient.Client, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var ca platformv1.ClusterAddon
		err := c.Do(ctx, http.MethodGet, path, "", nil, &ca)
		var ae *apiclient.StatusError
		if errors.As(err, &ae) && ae.Code == http.StatusNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still uninstalling after 5 minutes: %s", ca.Status.Message)
		case <-time.After(time.Second):
		}
	}
}

func newAddonRunCmd(o *Options) *cobra.Command {
	var kubeconfig, name, clockFile string
	cmd := &cobra.Command{
		Use:   "run TYPE --kubeconfig FILE",
		Short: "Run an add-on's controller as a process of its own, for one member",
		Long: `Runs the controller of add-on TYPE against the cluster of --kubeconfig until
Ctrl-C: what the platform's leader does for each member where the add-on is
enabled, moved out of the platform for a large member. Install the add-on with
--external-controller so that the platform leaves the work to this process.
Copies of the controller (here, elsewhere, in the platform) take turns through
the Lease kube-system/kstack-addon-<type>: one works at a time.`,
		Example: "  kstack addon run CronHPA --kubeconfig ./member.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := catalog.All().Lookup(args[0])
			if err != nil {
				return err
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
			}
			ck, err := clock.FromFlag(clockFile)
			if err != nil {
				return fmt.Errorf("--test-clock-file: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(o.ErrOut, nil))
			o.warn("running the %s controller for %s (Ctrl-C to stop)", a.Type, cfg.Host)
			host, _ := os.Hostname()
			return addons.RunController(ctx, a, addons.Member{Cluster: name, Config: cfg, Clock: ck, Log: log}, "addon-run-"+host)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the member cluster")
	cmd.Flags().StringVar(&name, "cluster-name", "", "the cluster's name in logs")
	cmd.Flags().StringVar(&clockFile, "test-clock-file", "", "for tests only: read the time from this file (an RFC 3339 time) instead of the system clock")
	_ = cmd.Flags().MarkHidden("test-clock-file")
	required(cmd, "kubeconfig")
	return cmd
}
