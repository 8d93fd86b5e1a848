package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	"github.com/kstack/kstack/internal/printer"
	"github.com/kstack/kstack/internal/publish"
)

// newPublishCmd is `kstack publish`; with alias, the deprecated `kstack
// apply` it was called before (hidden, one release).
func newPublishCmd(o *Options, alias bool) *cobra.Command {
	var file, project, namespace, output string
	var req businessv1.PublishRequest
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "publish -f APP.yaml --project ID --cluster ID [--cluster ID ...] --namespace NS",
		Short: "Publish one set of manifests to a project's namespace in several clusters at once",
		Long: `Applies the manifests (server-side apply, field manager "kstack") to the project's
namespace of that name in each --cluster, as you, with per-cluster overrides of
replicas and image, then waits for the workloads and prints their rolled-up status
per cluster. The platform does the work (POST .../namespaces/{project}/publish);
overrides apply to Deployments, StatefulSets and ReplicaSets (replicas) and every
container of every pod template (image): give one value for all clusters, or
CLUSTER=VALUE. Exits non-zero when a cluster failed or a workload is not ready.

This was 'kstack apply' (and --clusters a,b) until this release; both old
spellings still work, with a deprecation notice.`,
		Example: `  kstack publish -f shop.yaml --project prj-xxxxxxxx --cluster cls-a --cluster cls-b --namespace web \
      --replicas 2 --replicas cls-b=4 --image cls-b=nginx:1.27
  cat shop.yaml | kstack publish -f - --project prj-xxxxxxxx --cluster cls-a --namespace web -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(o.In)
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("reading -f: %w", err)
			}
			// Check the documents here too, for an error that names the file.
			if _, err := publish.Decode(data); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			req.Manifests, req.Namespace, req.TimeoutSeconds = string(data), namespace, int(timeout.Seconds())
			o.warn("Publishing to %s/%s in %s ...", project, namespace, strings.Join(req.Clusters, ", "))
			var out businessv1.PublishResponse
			if err := c.WithTimeout(timeout+time.Duration(len(req.Clusters))*time.Minute).Do(cmd.Context(), http.MethodPost,
				businessPath+"/namespaces/"+project+"/publish", "", req, &out); err != nil {
				return err
			}
			var rows [][]string
			var failed error
			for _, r := range out.Results {
				rows = append(rows, []string{r.Cluster, r.Object, r.Ready, r.Status})
				if r.Status != "Ready" && r.Status != "applied" {
					failed = errors.Join(failed, fmt.Errorf("%s %s: %s", r.Cluster, r.Object, r.Status))
				}
			}
			if err := o.show(output, out.Results, []string{"CLUSTER", "OBJECT", "READY", "STATUS"}, rows); err != nil {
				return err
			}
			return failed
		},
	}
	if alias {
		cmd.Use = strings.Replace(cmd.Use, "publish", "apply", 1)
		cmd.Short = "Deprecated: use 'kstack publish' (same flags)"
		cmd.Hidden = true
		cmd.PreRunE = func(*cobra.Command, []string) error {
			o.warn("Command \"apply\" is deprecated: use 'kstack publish' (same flags); 'kstack apply' will be removed in the next release.")
			return nil
		}
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "manifests: a YAML or JSON file, several documents; - for stdin")
	f.StringVar(&project, "project", "", "project ID (see 'kstack project list')")
	f.StringSliceVar(&req.Clusters, "cluster", nil, "cluster ID to publish to (repeatable)")
	f.StringVarP(&namespace, "namespace", "n", "", "the project's namespace (it must exist in each cluster)")
	f.StringSliceVar(&req.Replicas, "replicas", nil, "replicas for all clusters, or CLUSTER=N (repeatable)")
	f.StringSliceVar(&req.Images, "image", nil, "image for every container, or CLUSTER=IMAGE (repeatable)")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the workloads to be ready (at most 5m)")
	deprecatedAlias(cmd, "clusters", "cluster")
	required(cmd, "file", "project", "cluster", "namespace")
	outputFlag(cmd, &output, printer.DataFormats...)
	return cmd
}
