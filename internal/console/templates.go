package console

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

var funcs = template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return age(time.Since(t))
	},
	"qty": func(q resource.Quantity) string {
		if q.IsZero() {
			return "0"
		}
		return q.String()
	},
	"join": strings.Join,
	"list": func(v ...string) []string { return v },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"add": func(a, b int) int { return a + b },
	"status": func(s string) string {
		// A CSS class for a status word; anything else gets none.
		if s == "" {
			return ""
		}
		for _, r := range s {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
				return ""
			}
		}
		return "status-" + s
	},
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// parseTemplates builds one template set per page: the layout and its
// shared blocks, then the page's own file, which defines "content".
func (s *Server) parseTemplates() error {
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return err
	}
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, f)
		if err != nil {
			return fmt.Errorf("console template %s: %w", f, err)
		}
		s.pages[name] = t
	}
	return nil
}
