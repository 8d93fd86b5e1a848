package localcluster

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "dev", "dev-1", "x9", strings.Repeat("a", 40)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Dev", "dev_1", "-a", "a-", "a.b", strings.Repeat("a", 41), "a b"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPodCompleteStageFollowsRestartPolicy(t *testing.T) {
	s, err := podCompleteStage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "'.spec.restartPolicy'") || strings.Contains(s, "ownerReferences") || !strings.Contains(s, "phase: Succeeded") {
		t.Errorf("stage:\n%s", s)
	}
}
