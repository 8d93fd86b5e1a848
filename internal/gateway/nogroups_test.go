package gateway

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKnowsNoAPIGroup keeps the gateway generic: its code imports no API
// group's types or package and names no group; groups plug in through
// internal/apigroup (ADR 0010).
func TestKnowsNoAPIGroup(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "tkestack.io") {
			t.Errorf("%s names an API group (tkestack.io)", f)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, "github.com/kstack/kstack/api/") || strings.HasSuffix(p, "api") && strings.HasPrefix(p, "github.com/kstack/kstack/internal/") || strings.Contains(p, "/internal/business") {
				t.Errorf("%s imports %s", f, p)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("only %d files checked: run from the package directory", checked)
	}
}
