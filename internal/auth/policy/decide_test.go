package policy

import (
	"strings"
	"testing"
)

func allow(actions, resources string) Statement {
	return Statement{Actions: strings.Fields(actions), Resources: strings.Fields(resources), Effect: Allow}
}

func deny(actions, resources string) Statement {
	return Statement{Actions: strings.Fields(actions), Resources: strings.Fields(resources), Effect: Deny}
}

func TestDecide(t *testing.T) {
	readonly := Named{Name: "readonly", Statements: []Statement{allow("get* list* watch*", "cluster:c/*")}}
	noSecrets := Named{Name: "no-secrets", Statements: []Statement{deny("*", "cluster:*/namespace:*/secret:*")}}
	devAdmin := Named{Name: "dev-admin", Statements: []Statement{allow("*", "cluster:c/namespace:dev/*")}}
	execOnly := Named{Name: "exec", Statements: []Statement{
		allow("getPod", "cluster:c/namespace:dev/pod:*"),
		allow("createPodExec", "cluster:c/namespace:dev/pod:*/exec"),
	}}
	typo := Named{Name: "typo", Statements: []Statement{{Actions: []string{"*"}, Resources: []string{"*"}, Effect: "Allow"}}}

	tests := []struct {
		name       string
		policies   []Named
		req        Request
		want       bool
		wantReason string
	}{
		{"no policies", nil, Request{"getPod", "cluster:c/namespace:n/pod:p"}, false,
			"no policy allows getPod on cluster:c/namespace:n/pod:p"},
		{"allowed", []Named{readonly}, Request{"getPod", "cluster:c/namespace:n/pod:p"}, true,
			`policy "readonly" allows getPod on cluster:c/namespace:n/pod:p`},
		{"action case ignored", []Named{readonly}, Request{"GETPOD", "cluster:c/namespace:n/pod:p"}, true,
			`policy "readonly" allows GETPOD on cluster:c/namespace:n/pod:p`},
		{"resource case kept", []Named{readonly}, Request{"getPod", "cluster:C/namespace:n/pod:p"}, false,
			"no policy allows getPod on cluster:C/namespace:n/pod:p"},
		{"wrong action", []Named{readonly}, Request{"deletePod", "cluster:c/namespace:n/pod:p"}, false,
			"no policy allows deletePod on cluster:c/namespace:n/pod:p"},
		{"other cluster", []Named{readonly}, Request{"getPod", "cluster:d/namespace:n/pod:p"}, false,
			"no policy allows getPod on cluster:d/namespace:n/pod:p"},
		{"deny beats allow", []Named{readonly, noSecrets}, Request{"getSecret", "cluster:c/namespace:n/secret:s"}, false,
			`policy "no-secrets" denies getSecret on cluster:c/namespace:n/secret:s`},
		{"deny first beats allow", []Named{noSecrets, readonly}, Request{"getSecret", "cluster:c/namespace:n/secret:s"}, false,
			`policy "no-secrets" denies getSecret on cluster:c/namespace:n/secret:s`},
		{"deny does not reach", []Named{readonly, noSecrets}, Request{"getConfigmap", "cluster:c/namespace:n/configmap:s"}, true,
			`policy "readonly" allows getConfigmap on cluster:c/namespace:n/configmap:s`},
		{"first allowing policy named", []Named{readonly, devAdmin}, Request{"getPod", "cluster:c/namespace:dev/pod:p"}, true,
			`policy "readonly" allows getPod on cluster:c/namespace:dev/pod:p`},
		{"second allowing policy", []Named{readonly, devAdmin}, Request{"deletePod", "cluster:c/namespace:dev/pod:p"}, true,
			`policy "dev-admin" allows deletePod on cluster:c/namespace:dev/pod:p`},
		{"exec allowed", []Named{execOnly}, Request{"createPodExec", "cluster:c/namespace:dev/pod:web/exec"}, true,
			`policy "exec" allows createPodExec on cluster:c/namespace:dev/pod:web/exec`},
		{"attach not allowed", []Named{execOnly}, Request{"createPodAttach", "cluster:c/namespace:dev/pod:web/attach"}, false,
			"no policy allows createPodAttach on cluster:c/namespace:dev/pod:web/attach"},
		{"action and resource from one statement", []Named{execOnly}, Request{"createPodExec", "cluster:c/namespace:dev/pod:web"}, false,
			"no policy allows createPodExec on cluster:c/namespace:dev/pod:web"},
		{"unknown effect fails closed", []Named{readonly, typo}, Request{"getPod", "cluster:c/namespace:n/pod:p"}, false,
			`policy "typo" denies getPod on cluster:c/namespace:n/pod:p`},
		{"empty statement matches nothing", []Named{{Name: "empty", Statements: []Statement{{Effect: Deny}}}, readonly},
			Request{"getPod", "cluster:c/x"}, true, `policy "readonly" allows getPod on cluster:c/x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.policies, tt.req)
			if d.Allowed != tt.want || d.Reason != tt.wantReason {
				t.Errorf("Decide = {%v, %q}, want {%v, %q}", d.Allowed, d.Reason, tt.want, tt.wantReason)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	admin := Named{Name: "admin", Statements: []Statement{allow("*", "*")}}
	readonly := Named{Name: "readonly", Statements: []Statement{allow("get* list* watch*", "cluster:c/*")}}
	getPod := Named{Name: "get-pod", Statements: []Statement{allow("getPod", "cluster:c/*")}}
	noSecrets := Named{Name: "no-secrets", Statements: []Statement{deny("*Secret", "cluster:*/namespace:*/secret:*")}}
	noKubeSystem := Named{Name: "no-kube-system", Statements: []Statement{deny("*", "cluster:*/namespace:kube-system/*")}}
	noProd := Named{Name: "no-prod", Statements: []Statement{deny("*", "cluster:prod/*")}}
	split := Named{Name: "split", Statements: []Statement{
		allow("getPod", "cluster:c/namespace:a/*"),
		allow("listPod", "cluster:c/namespace:b/*"),
	}}

	tests := []struct {
		name    string
		held    []Named
		wanted  []Statement
		wantErr string
	}{
		{"nothing wanted", nil, nil, ""},
		{"admin grants anything", []Named{admin}, []Statement{allow("delete*", "cluster:*")}, ""},
		{"held nothing", nil, []Statement{allow("getPod", "cluster:c/pod:p")},
			`you may not grant "getPod" on "cluster:c/pod:p": your own policies do not allow it`},
		{"narrower action", []Named{readonly}, []Statement{allow("getPod", "cluster:c/namespace:n/*")}, ""},
		{"same pattern", []Named{readonly}, []Statement{allow("get*", "cluster:c/*")}, ""},
		{"action case ignored", []Named{readonly}, []Statement{allow("GET*", "cluster:c/*")}, ""},
		{"resource case kept", []Named{readonly}, []Statement{allow("get*", "cluster:C/*")},
			`you may not grant "get*" on "cluster:C/*": your own policies do not allow it`},
		{"wider action", []Named{getPod}, []Statement{allow("get*", "cluster:c/*")},
			`you may not grant "get*" on "cluster:c/*": your own policies do not allow it`},
		{"wider resource", []Named{readonly}, []Statement{allow("get*", "cluster:*")},
			`you may not grant "get*" on "cluster:*": your own policies do not allow it`},
		{"first uncovered pair named", []Named{readonly}, []Statement{allow("list* delete*", "cluster:c/* cluster:*")},
			`you may not grant "list*" on "cluster:*": your own policies do not allow it`},
		{"delete on everything", []Named{readonly}, []Statement{allow("get*", "cluster:c/*"), allow("delete*", "cluster:*")},
			`you may not grant "delete*" on "cluster:*": your own policies do not allow it`},
		{"pair must fit one statement", []Named{split}, []Statement{allow("getPod", "cluster:c/namespace:b/*")},
			`you may not grant "getPod" on "cluster:c/namespace:b/*": your own policies do not allow it`},
		{"pairs from different statements", []Named{split}, []Statement{allow("getPod", "cluster:c/namespace:a/pod:x"), allow("listPod", "cluster:c/namespace:b/*")}, ""},
		{"wanted deny always fine", []Named{readonly}, []Statement{deny("*", "*")}, ""},
		{"wanted deny with held nothing", nil, []Statement{deny("delete*", "cluster:*")}, ""},
		{"held deny overlaps", []Named{admin, noSecrets}, []Statement{allow("get*", "cluster:c/*")},
			`you may not grant "get*" on "cluster:c/*": your policy "no-secrets" denies part of it`},
		{"held deny overlaps action by case", []Named{admin, noSecrets}, []Statement{allow("GETSECRET", "cluster:c/namespace:n/secret:s")},
			`your policy "no-secrets" denies part of it`},
		{"held deny on other actions", []Named{admin, noSecrets}, []Statement{allow("getPod listPod", "cluster:c/*")}, ""},
		{"held deny on other resources", []Named{admin, noSecrets}, []Statement{allow("*", "cluster:c/namespace:n/pod:web")}, ""},
		{"held deny via glob overlap", []Named{admin, noKubeSystem}, []Statement{allow("getPod", "cluster:c/namespace:kube-*/pod:*")},
			`you may not grant "getPod" on "cluster:c/namespace:kube-*/pod:*": your policy "no-kube-system" denies part of it`},
		{"held deny disjoint glob", []Named{admin, noProd}, []Statement{allow("getPod", "cluster:dev/*")}, ""},
		// '*' crosses '/', so "dev/*" also matches ".../dev/x/namespace:kube-system/y":
		// no request has that shape, but globs cannot tell, so Covers refuses.
		{"held deny reached across '/'", []Named{admin, noKubeSystem}, []Statement{allow("getPod", "cluster:c/namespace:dev/*")},
			`your policy "no-kube-system" denies part of it`},
		{"held deny with unknown effect counts", []Named{admin, {Name: "typo", Statements: []Statement{{Actions: []string{"*"}, Resources: []string{"*"}, Effect: "Deny"}}}},
			[]Statement{allow("getPod", "cluster:c/x")}, `your policy "typo" denies part of it`},
		{"wanted unknown effect grants nothing", nil, []Statement{{Actions: []string{"*"}, Resources: []string{"*"}, Effect: "permit"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, Covers(tt.held, tt.wanted), tt.wantErr)
		})
	}
}

// What Covers accepts, Decide must agree with: any request the wanted
// policy allows is allowed by the held policies too.
func TestCoversAgreesWithDecide(t *testing.T) {
	held := []Named{
		{Name: "readonly", Statements: []Statement{allow("get* list* watch*", "cluster:c/*")}},
		{Name: "dev", Statements: []Statement{allow("*", "cluster:c/namespace:dev/*")}},
		{Name: "no-secrets", Statements: []Statement{deny("*Secret", "cluster:c/namespace:*/secret:*")}},
	}
	candidates := []Statement{
		allow("get*", "cluster:c/*"),
		allow("getPod", "cluster:c/namespace:*/pod:*"),
		allow("delete*", "cluster:c/namespace:dev/pod:*"),
		allow("*", "cluster:c/namespace:dev/*"),
		allow("*Pod", "cluster:c/namespace:dev/*"),
		allow("list*", "cluster:c/namespace:prod/*"),
		allow("watchNode getNode", "cluster:c/*"),
		allow("createPodExec", "cluster:c/namespace:dev/pod:*/exec"),
		allow("deletePod", "cluster:c/namespace:prod/pod:*"),
	}
	requests := []Request{}
	for _, a := range []string{"getPod", "listPod", "deletePod", "getSecret", "createPodExec", "watchNode"} {
		for _, r := range []string{
			"cluster:c/namespace:dev/pod:web", "cluster:c/namespace:dev/secret:s", "cluster:c/namespace:prod/pod:web",
			"cluster:c/node:n1", "cluster:c/namespace:dev/pod:web/exec", "cluster:d/namespace:dev/pod:web",
		} {
			requests = append(requests, Request{a, r})
		}
	}
	accepted := 0
	for _, w := range candidates {
		if Covers(held, []Statement{w}) != nil {
			continue
		}
		accepted++
		granted := []Named{{Name: "granted", Statements: []Statement{w}}}
		for _, r := range requests {
			if Decide(granted, r).Allowed && !Decide(held, r).Allowed {
				t.Errorf("Covers accepted %+v, but it allows %v which the holder may not do", w, r)
			}
		}
	}
	if accepted < 3 {
		t.Errorf("Covers accepted only %d candidates: the check proves little", accepted)
	}
}
