package notifymsg

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// funcs is the whole whitelist; text/template's builtins (len, index,
// printf, eq, and, …) come on top. Nothing here reads files, the
// environment or the network.
var funcs = template.FuncMap{
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"join":     join,
	"json":     toJSON,
	"time":     formatTime,
	"humanize": humanize,
	"default":  dflt,
}

// FuncNames lists the functions a template may call besides the builtins.
func FuncNames() []string {
	var names []string
	for n := range funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// join joins a list with sep: {{ join ", " .List }}. A map joins as sorted
// k=v pairs: {{ join ", " .CommonLabels }}.
func join(sep string, v any) (string, error) {
	rv := reflect.ValueOf(v)
	var parts []string
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			parts = append(parts, fmt.Sprint(rv.Index(i).Interface()))
		}
	case reflect.Map:
		for _, k := range rv.MapKeys() {
			parts = append(parts, fmt.Sprintf("%v=%v", k.Interface(), rv.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
	case reflect.Invalid:
	default:
		return "", fmt.Errorf("join: %T is not a list or map", v)
	}
	return strings.Join(parts, sep), nil
}

// toJSON encodes a value as JSON, for JSON bodies: "name": {{ json .Policy.Name }}.
// A nil map is {} and a nil list [].
func toJSON(v any) (string, error) {
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.Map && rv.IsNil():
		return "{}", nil
	case rv.Kind() == reflect.Slice && rv.IsNil():
		return "[]", nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a JSON body, not HTML: keep > and & readable
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("json: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// formatTime formats a time as RFC 3339, or with a Go layout:
// {{ time .StartsAt }}, {{ time .StartsAt "2006-01-02 15:04" }} or
// {{ .StartsAt | time "15:04" }}. The zero time is "".
func formatTime(args ...any) (string, error) {
	var t *time.Time
	layout := time.RFC3339
	for _, a := range args {
		switch v := a.(type) {
		case time.Time:
			t = &v
		case string:
			layout = v
		default:
			return "", fmt.Errorf("time: %T is not a time or a layout", a)
		}
	}
	if t == nil || len(args) > 2 {
		return "", fmt.Errorf("time: give a time and optionally a layout")
	}
	if t.IsZero() {
		return "", nil
	}
	return t.UTC().Format(layout), nil
}

// humanize writes a number with an SI prefix, as Prometheus's humanize
// does: 1234567 → 1.235M, 0.0012 → 1.2m. A string that is not a number is
// returned as it is.
func humanize(v any) (string, error) {
	var f float64
	switch n := v.(type) {
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
			return n, nil
		}
		f = p
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case float64:
		f = n
	default:
		return "", fmt.Errorf("humanize: %T is not a number", v)
	}
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("%.4g", f), nil
	}
	if math.Abs(f) >= 1 {
		prefix := ""
		for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
			if math.Abs(f) < 1000 {
				break
			}
			prefix = p
			f /= 1000
		}
		return fmt.Sprintf("%.4g%s", f, prefix), nil
	}
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(f) >= 1 {
			break
		}
		prefix = p
		f *= 1000
	}
	return fmt.Sprintf("%.4g%s", f, prefix), nil
}

// dflt returns v unless it is empty (zero), and def then:
// {{ .Policy.DisplayName | default .Policy.Name }}.
func dflt(def any, v ...any) any {
	if len(v) == 0 || v[0] == nil {
		return def
	}
	rv := reflect.ValueOf(v[0])
	if rv.IsZero() || ((rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.Len() == 0) {
		return def
	}
	return v[0]
}
