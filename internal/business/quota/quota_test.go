package quota

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestFit(t *testing.T) {
	limit := rl("requests.cpu", "4", "requests.memory", "8Gi")
	taken := Sum(rl("requests.cpu", "1"), rl("requests.cpu", "2", "requests.memory", "1Gi"))
	if o := Fit(limit, taken, rl("requests.cpu", "1", "requests.memory", "7Gi", "pods", "100")); len(o) != 0 {
		t.Fatalf("fits exactly, got %v", Describe(o))
	}
	o := Fit(limit, taken, rl("requests.cpu", "1500m"))
	if len(o) != 1 || !strings.Contains(Describe(o), "requests.cpu: 1500m asked, but only 1 of 4 is left (3 already allocated)") {
		t.Fatalf("overage: %v", Describe(o))
	}
	if b := Below(rl("requests.cpu", "2"), taken); len(b) != 1 || !strings.Contains(DescribeBelow(b), "requests.cpu: 2 is below the 3 already allocated") {
		t.Fatalf("below: %v", DescribeBelow(b))
	}
	if _, err := Parse(map[string]string{"requests.cpu": "two"}); err == nil {
		t.Fatal("a bad quantity was taken")
	}
	if _, err := Parse(map[string]string{"pods": "-1"}); err == nil {
		t.Fatal("a negative quantity was taken")
	}
}
