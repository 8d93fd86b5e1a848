package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// Distribution logs through logrus's standard logger (its dcontext keeps
// the per-context logger key private). We route that logger into slog:
// per-request lines at debug, storage and unknown errors at warn, and only
// fields that cannot hold a credential (no headers, no query strings:
// upload state and tokens never reach the log).

var (
	bridgeOnce sync.Once
	bridgeLog  atomic.Pointer[slog.Logger]
)

func installLogBridge(l *slog.Logger) {
	if l != nil {
		bridgeLog.Store(l) // the newest registry's logger: one per process in practice
	}
	bridgeOnce.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.SetFormatter(nopFormatter{})
		std.AddHook(logBridge{})
	})
}

type nopFormatter struct{}

func (nopFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

type logBridge struct{}

func (logBridge) Levels() []logrus.Level { return logrus.AllLevels }

var bridgedFields = []string{
	"err.code", "err.message", "err.detail", "error",
	"http.request.method", "http.request.uri", "http.response.status", "http.response.duration",
	"vars.name", "vars.reference", "vars.digest", "auth.user.name", "path",
}

// clientCaused: errors distribution logs that a client's request caused:
// bodies over our limits, uploads it abandoned or we cancelled.
func clientCaused(e *logrus.Entry) bool {
	text := e.Message
	if d, ok := e.Data["err.detail"]; ok {
		text += " " + fmt.Sprint(d)
	}
	for _, s := range []string{errTooLarge.Error(), "blob upload unknown", "client disconnected"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

func (logBridge) Fire(e *logrus.Entry) error {
	l := bridgeLog.Load()
	if l == nil {
		return nil
	}
	level := slog.LevelDebug
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		level = slog.LevelWarn
		if clientCaused(e) {
			level = slog.LevelDebug
		}
		// Answers to clients' mistakes (404, 401, bad digests) and refused
		// authorisations are not the platform's problems.
		if code, ok := e.Data["err.code"]; ok && code != nil {
			if c, ok := code.(interface{ String() string }); ok && c.String() != "UNKNOWN" {
				level = slog.LevelDebug
			}
		}
	case logrus.WarnLevel:
		level = slog.LevelInfo
		if strings.HasPrefix(e.Message, "error authorizing context") {
			level = slog.LevelDebug
		}
	}
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return nil
	}
	attrs := make([]any, 0, 2*len(bridgedFields))
	for _, k := range bridgedFields {
		v, ok := e.Data[k]
		if !ok {
			continue
		}
		if k == "http.request.uri" {
			if s, ok := v.(string); ok {
				if u, err := url.Parse(s); err == nil {
					v = u.Path
				}
			}
		}
		attrs = append(attrs, k, v)
	}
	l.Log(ctx, level, "registry: "+e.Message, attrs...)
	return nil
}
