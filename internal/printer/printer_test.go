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

func TestCheckNamesTheAllowedFormats(t *testing.T) {
	if err := Check("name", DataFormats...); err == nil || !strings.Contains(err.Error(), "table, json, yaml") {
		t.Fatalf("name is not a data format: %v", err)
	}
	if err := Check("name", Formats...); err != nil {
		t.Fatal(err)
	}
}

func TestPrintNames(t *testing.T) {
	cases := []struct {
		obj  any
		want string
	}{
		{map[string]any{"metadata": map[string]any{"name": "prj-a"}}, "prj-a\n"},
		{map[string]any{"items": []any{map[string]any{"metadata": map[string]any{"name": "a"}}, map[string]any{"metadata": map[string]any{"name": "b"}}}}, "a\nb\n"},
		{[]map[string]string{{"name": "dev"}}, "dev\n"},
		{map[string]any{"items": []any{}}, ""},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := Print(&b, "name", c.obj, nil, nil); err != nil || b.String() != c.want {
			t.Errorf("%v: got %q, %v; want %q", c.obj, b.String(), err, c.want)
		}
	}
	if err := Print(&bytes.Buffer{}, "name", map[string]string{"kstack": "v1"}, nil, nil); err == nil {
		t.Error("an object without a name printed with -o name")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 100 << 20: "100.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
