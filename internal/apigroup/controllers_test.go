package apigroup

import (
	"strings"
	"testing"
)

func names(cs []Controller) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func TestSelectControllers(t *testing.T) {
	all := []Controller{{Name: "cluster"}, {Name: "project"}, {Name: "virtual-node-set"}}
	for _, tc := range []struct {
		list []string
		want string
	}{
		{nil, "cluster,project,virtual-node-set"},
		{[]string{"*"}, "cluster,project,virtual-node-set"},
		{[]string{"*", "-virtual-node-set"}, "cluster,project"},
		{[]string{"-virtual-node-set", "*"}, "cluster,project"},
		{[]string{"project"}, "project"},
		{[]string{"project", "cluster"}, "cluster,project"},
		{[]string{" cluster "}, "cluster"},
		{[]string{"-cluster"}, ""},
	} {
		got, err := SelectControllers(all, tc.list)
		if err != nil || names(got) != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.list, names(got), err, tc.want)
		}
	}
	for _, bad := range [][]string{{"nodes"}, {"-"}, {"*", "-nodes"}, {""}} {
		_, err := SelectControllers(all, bad)
		if err == nil || !strings.Contains(err.Error(), "the controllers are cluster, project, virtual-node-set") {
			t.Errorf("%q: got %v, want an error that lists the controllers", bad, err)
		}
	}
}
