package promapi

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/kstack/kstack/internal/metricstore"
)

// fallbackVersion is the Prometheus release of the library in go.mod, used if
// the binary carries no module information.
const fallbackVersion = "3.16.0"

// promVersion is the Prometheus release whose PromQL the store runs. Grafana
// reads it to decide which query features it may use, so it names the engine,
// not kstack.
var promVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/prometheus/prometheus" {
				if v, ok := releaseOf(m.Version); ok {
					return v
				}
			}
		}
	}
	return fallbackVersion
})

// releaseOf maps the library's module version to its release: Prometheus 3.x
// is tagged v0.3xx.y for release 3.xx.y.
func releaseOf(mod string) (string, bool) {
	var minor, patch int
	if _, err := fmt.Sscanf(mod, "v0.%d.%d", &minor, &patch); err != nil || minor < 300 {
		return "", false
	}
	return fmt.Sprintf("%d.%d.%d", minor/100, minor%100, patch), true
}

func (a *API) buildInfo(w http.ResponseWriter, _ *http.Request, _ *metricstore.Scope) {
	respond(w, map[string]string{
		"version":   promVersion(),
		"revision":  "",
		"branch":    "",
		"buildUser": "kstack",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}, nil, nil)
}
