package applicationapi

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// restGetter gives Helm a fixed client configuration (the proxy, as one
// user) instead of a kubeconfig.
type restGetter struct {
	cfg       *rest.Config
	namespace string
}

func (g restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.cfg))
	if err != nil {
		return nil, err
	}
	return memory.NewMemCacheClient(dc), nil
}

func (g restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	m := restmapper.NewDeferredDiscoveryRESTMapper(dc)
	return restmapper.NewShortcutExpander(m, dc, nil), nil
}

func (g restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	c := clientcmdapi.NewConfig()
	c.Contexts["member"] = &clientcmdapi.Context{Namespace: g.namespace}
	c.CurrentContext = "member"
	return clientcmd.NewDefaultClientConfig(*c, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}

// helmConfig is Helm's configuration for namespace of the member that cfg
// reaches, with releases in Secrets (Helm's default, so that the helm CLI
// sees the same releases).
func helmConfig(cfg *rest.Config, namespace string) (*action.Configuration, error) {
	ac := new(action.Configuration)
	if err := ac.Init(restGetter{cfg: cfg, namespace: namespace}, namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, err
	}
	return ac, nil
}

// parseValues reads a YAML (or JSON, a subset) document of values.
func parseValues(field, doc string) (map[string]any, error) {
	out := map[string]any{}
	if strings.TrimSpace(doc) == "" {
		return out, nil
	}
	if err := yaml.Unmarshal([]byte(doc), &out); err != nil {
		return nil, fmt.Errorf("%s is not a YAML or JSON map of values: %v", field, err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// checkSchema validates vals, over the chart's defaults, against its
// values.schema.json (and its dependencies'), as Helm will.
func checkSchema(ch *chart.Chart, vals map[string]any) error {
	full, err := chartutil.CoalesceValues(ch, vals)
	if err != nil {
		return err
	}
	return chartutil.ValidateAgainstSchema(ch, full)
}

// keyPaths lists the dotted paths of the leaves of m ("db.password"); a
// dot or backslash in a key is escaped with a backslash, so that
// "nginx\.ingress" is one key.
func keyPaths(m map[string]any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mm, ok := v.(map[string]any); ok && len(mm) > 0 {
			for k, vv := range mm {
				p := pathEscaper.Replace(k)
				if prefix != "" {
					p = prefix + "." + p
				}
				walk(p, vv)
			}
			return
		}
		out = append(out, prefix)
	}
	walk("", m)
	sort.Strings(out)
	return out
}

var pathEscaper = strings.NewReplacer(`\`, `\\`, `.`, `\.`)

// splitPath reads a path keyPaths wrote back into its keys.
func splitPath(p string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			cur.WriteByte(p[i])
		case p[i] == '.':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	return append(out, cur.String())
}

// union is the sorted paths of a and b: an App's secret keys are every
// key that was ever secret, so that no revision's secret is shown or
// moved into plain values.
func union(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// masked is vals with the leaves at paths replaced by a mark, for showing.
func masked(vals map[string]any, paths []string) map[string]any {
	out := deepCopy(vals)
	for _, p := range paths {
		parts := splitPath(p)
		cur := out
		for i, k := range parts {
			v, ok := cur[k]
			if !ok {
				break
			}
			if i == len(parts)-1 {
				cur[k] = "(secret)"
				break
			}
			next, ok := v.(map[string]any)
			if !ok {
				cur[k] = "(secret)"
				break
			}
			cur = next
		}
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok {
			out[k] = deepCopy(mm)
		} else {
			out[k] = v
		}
	}
	return out
}

// merge lays over on base (over wins), as Helm merges values files.
func merge(base, over map[string]any) map[string]any {
	out := deepCopy(base)
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = merge(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// toYAML shows values; an empty map is "{}".
func toYAML(v map[string]any) string {
	if len(v) == 0 {
		return "{}\n"
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("# cannot show the values: %v\n", err)
	}
	return string(b)
}
