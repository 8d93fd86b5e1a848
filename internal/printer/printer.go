// Package printer prints objects as a table, JSON, YAML or their names
// (`-o`), the same way for every command.
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats lists the accepted values of -o for commands that show objects:
// "name" prints each object's name (or ID) alone on a line, for scripts.
var Formats = []string{"table", "json", "yaml", "name"}

// DataFormats are the -o values of commands whose output has no object
// names (version, whoami, publish results).
var DataFormats = []string{"table", "json", "yaml"}

// Validate checks an -o value against Formats.
func Validate(format string) error { return Check(format, Formats...) }

// Check checks an -o value against the formats a command accepts. Commands
// call it before they change anything.
func Check(format string, allowed ...string) error {
	for _, f := range allowed {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(allowed, ", "))
}

// Print writes obj in format. For "table", headers and rows give the table;
// "name" prints the names of obj (a list's items, or obj itself).
func Print(w io.Writer, format string, obj any, headers []string, rows [][]string) error {
	switch format {
	case "json":
		data, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(data))
		return err
	case "yaml":
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	case "name":
		names, err := Names(obj)
		if err != nil {
			return err
		}
		for _, n := range names {
			if _, err := fmt.Fprintln(w, n); err != nil {
				return err
			}
		}
		return nil
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, strings.Join(headers, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	default:
		return Validate(format)
	}
}

// Names are the names of obj: of each item of a list ({"items": [...]} or
// a JSON array), or of obj itself; an object's name is metadata.name, or
// else its "name" field.
func Names(obj any) ([]string, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	items := []any{v}
	switch t := v.(type) {
	case []any:
		items = t
	case map[string]any:
		if l, ok := t["items"].([]any); ok {
			items = l
		}
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		m, _ := it.(map[string]any)
		name := ""
		if md, ok := m["metadata"].(map[string]any); ok {
			name, _ = md["name"].(string)
		}
		if name == "" {
			name, _ = m["name"].(string)
		}
		if name == "" {
			return nil, fmt.Errorf("-o name: this output has no object names; use -o json or -o yaml")
		}
		names = append(names, name)
	}
	return names, nil
}

// Bytes is n in the largest binary unit that keeps it at least 1
// ("512 B", "1.5 MiB"), for sizes in tables and pages.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
