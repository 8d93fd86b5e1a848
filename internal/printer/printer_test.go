package printer

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintFormats(t *testing.T) {
	obj := []map[string]string{{"name": "a"}}
	cases := map[string]string{
		"json":  "[\n  {\n    \"name\": \"a\"\n  }\n]\n",
		"yaml":  "- name: a\n",
		"table": "NAME   PHASE\na      Running\n",
	}
	for format, want := range cases {
		var b bytes.Buffer
		if err := Print(&b, format, obj, []string{"NAME", "PHASE"}, [][]string{{"a", "Running"}}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if b.String() != want {
			t.Errorf("%s: got %q, want %q", format, b.String(), want)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Print(&bytes.Buffer{}, "xml", nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "table, json, yaml") {
		t.Fatalf("want an error listing the formats, got %v", err)
	}
}
