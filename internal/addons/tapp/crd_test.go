package tapp

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/json"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdValidator validates TApps as the member's API server does with the
// CRD the add-on installs: the OpenAPI schema, then the CEL rules.
type crdValidator struct {
	structural *schema.Structural
	openapi    validation.SchemaValidator
	rules      *cel.Validator
}

func loadCRD(t *testing.T) *crdValidator {
	t.Helper()
	b, err := files.ReadFile("crd/apps.tkestack.io_tapps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &v1); err != nil {
		t.Fatal(err)
	}
	v1.Status.StoredVersions = []string{"v1"}
	var crd apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &crd, nil); err != nil {
		t.Fatal(err)
	}
	// What the API server checks when the add-on creates the CRD: rules
	// that compile, and their estimated cost within its limits.
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
		t.Fatalf("the API server would refuse the CRD: %v", errs.ToAggregate())
	}
	// The internal type keeps the schema of a CRD of one version here.
	props := crd.Spec.Validation.OpenAPIV3Schema
	s, err := schema.NewStructural(props)
	if err != nil {
		t.Fatal(err)
	}
	sv, _, err := validation.NewSchemaValidator(props)
	if err != nil {
		t.Fatal(err)
	}
	return &crdValidator{structural: s, openapi: sv, rules: cel.NewValidator(s, true, celconfig.PerCallLimit)}
}

// validate returns what the API server would say of obj (old: the stored
// TApp of an update, or "" for a create), "" if it is accepted.
func (v *crdValidator) validate(t *testing.T, obj, old string) string {
	t.Helper()
	parse := func(s string) map[string]interface{} {
		var m map[string]interface{}
		// As the API server reads JSON: whole numbers are int64.
		if err := json.Unmarshal([]byte(`{"apiVersion":"apps.tkestack.io/v1","kind":"TApp","metadata":{"name":"shop","namespace":"web"},"spec":`+s+`}`), &m); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return m
	}
	o := parse(obj)
	var oldObj interface{}
	if old != "" {
		oldObj = parse(old)
	}
	errs := validation.ValidateCustomResource(nil, o, v.openapi)
	ruleErrs, _ := v.rules.Validate(context.Background(), nil, v.structural, o, oldObj, celconfig.RuntimeCELCostBudget)
	if all := append(errs, ruleErrs...); len(all) > 0 {
		return all.ToAggregate().Error()
	}
	return ""
}

func TestCRDRefusesBadInput(t *testing.T) {
	v := loadCRD(t)
	const tmpl = `"template":{"metadata":{"labels":{"app":"shop"}},"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}`
	const pool = `"templatePool":{"canary":{"metadata":{"labels":{"app":"shop"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}`
	const claims = `"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]`
	spec := func(fields ...string) string { return "{" + strings.Join(append([]string{tmpl}, fields...), ",") + "}" }
	for _, c := range []struct {
		what, obj, old string
		want           string // "" accepted, else a part of the error
	}{
		{what: "templates of the pool, killed and running instances, claims", obj: spec(`"replicas":3`, pool, `"templates":{"0":"canary","1":"default"}`, `"statuses":{"2":"Killed","1":"Running"}`, claims, `"updateStrategy":{"template":"canary","maxUnavailable":2}`)},
		{what: "a template not in the pool", obj: spec(`"replicas":3`, pool, `"templates":{"0":"canary","1":"stable"}`),
			want: `spec.templates: instance 1 names template "stable", which is not in spec.templatePool: add the template to spec.templatePool, or name "default" for spec.template`},
		{what: "a template and no pool at all", obj: spec(`"replicas":3`, `"templates":{"2":"canary"}`), want: `instance 2 names template "canary", which is not in spec.templatePool`},
		{what: "an instance id of templates past replicas-1", obj: spec(`"replicas":3`, pool, `"templates":{"3":"canary"}`),
			want: `spec.templates: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "3", only those of instances removed by scaling down may stay, unchanged`},
		{what: "an instance id of statuses that is not a number", obj: spec(`"replicas":3`, `"statuses":{"one":"Killed"}`),
			want: `spec.statuses: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "one"`},
		{what: "an instance id with a leading zero", obj: spec(`"replicas":3`, `"templates":{"01":"default"}`), want: `spec.templates: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "01"`},
		{what: "a negative instance id", obj: spec(`"replicas":3`, `"statuses":{"-1":"Killed"}`), want: `spec.statuses: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "-1"`},
		{what: "an instance id with replicas unset (0)", obj: spec(`"statuses":{"0":"Killed"}`), want: `spec.statuses: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "0"`},
		{what: "a status other than Running or Killed", obj: spec(`"replicas":3`, `"statuses":{"1":"Pending","2":"Killed"}`),
			want: `spec.statuses: instance 1 is "Pending": an instance can only be set Running or Killed`},
		{what: "maxUnavailable 0", obj: spec(`"replicas":3`, `"updateStrategy":{"maxUnavailable":0}`), want: `spec.updateStrategy.maxUnavailable: Invalid value: 0: spec.updateStrategy.maxUnavailable in body should be greater than or equal to 1`},
		{what: "maxUnavailable as a percentage", obj: spec(`"replicas":3`, `"updateStrategy":{"maxUnavailable":"50%"}`), want: `spec.updateStrategy.maxUnavailable: Invalid value: "string": spec.updateStrategy.maxUnavailable in body must be of type integer`},
		{what: "negative replicas", obj: spec(`"replicas":-1`), want: `spec.replicas in body should be greater than or equal to 0`},

		// Updates.
		{what: "scaled down: the entries of instances now gone stay as they were",
			obj: spec(`"replicas":3`, pool, `"templates":{"4":"canary"}`, `"statuses":{"3":"Killed"}`), old: spec(`"replicas":5`, pool, `"templates":{"4":"canary"}`, `"statuses":{"3":"Killed"}`)},
		{what: "scaled down, then an entry of a gone instance changed",
			obj: spec(`"replicas":3`, pool, `"templates":{"4":"default"}`), old: spec(`"replicas":5`, pool, `"templates":{"4":"canary"}`),
			want: `spec.templates: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "4"`},
		{what: "scaled down, then an entry of a gone instance added",
			obj: spec(`"replicas":3`, `"statuses":{"3":"Killed","4":"Killed"}`), old: spec(`"replicas":5`, `"statuses":{"3":"Killed"}`),
			want: `spec.statuses: the keys are instance ids, from 0 to replicas-1, written as numbers without sign or leading zeros; of the other keys, such as "3"`}, // 3 may stay, 4 may not: the message cannot tell them apart
		{what: "the claims unchanged", obj: spec(`"replicas":4`, claims), old: spec(`"replicas":3`, claims)},
		{what: "the claims changed", obj: spec(`"replicas":3`, strings.Replace(claims, "1Gi", "2Gi", 1)), old: spec(`"replicas":3`, claims),
			want: `spec.volumeClaimTemplates cannot change once the TApp exists (as for a StatefulSet): make a new TApp for other claims`},
		{what: "claims added after creation", obj: spec(`"replicas":3`, claims), old: spec(`"replicas":3`), want: `spec.volumeClaimTemplates cannot change`},
		{what: "claims removed after creation", obj: spec(`"replicas":3`), old: spec(`"replicas":3`, claims), want: `spec.volumeClaimTemplates cannot change`},
	} {
		t.Run(c.what, func(t *testing.T) {
			got := v.validate(t, c.obj, c.old)
			if c.want == "" && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}
