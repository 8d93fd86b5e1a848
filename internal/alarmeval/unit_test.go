package alarmeval

import (
	"context"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kstack/kstack/internal/platformscheme"
)

// Label and annotation values are printed as they are, never expanded as
// templates (the rule manager expands them).
func TestLiteralTemplates(t *testing.T) {
	vals := map[string]string{"tenant": `{{ 1 }}{{ $value }}`, "x": "plain }} {", "y": "{{"}
	expr, err := exprParser.ParseExpr("up")
	if err != nil {
		t.Fatal(err)
	}
	r := rules.NewAlertingRule("a", expr, 0, 0, labels.FromMap(literalTemplates(vals)), labels.FromMap(literalTemplates(vals)),
		labels.EmptyLabels(), "", true, nil)
	q := func(context.Context, string, time.Time) (promql.Vector, error) {
		return promql.Vector{{Metric: labels.FromStrings("__name__", "up", "job", "j"), F: 7}}, nil
	}
	if _, err := r.Eval(context.Background(), 0, time.Now(), q, &url.URL{}, 0); err != nil {
		t.Fatal(err)
	}
	as := r.ActiveAlerts()
	if len(as) != 1 {
		t.Fatal(as)
	}
	for k, v := range vals {
		if got := as[0].Labels.Get(k); got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
		if got := as[0].Annotations.Get(k); got != v {
			t.Errorf("annotation %s = %q, want %q", k, got, v)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{5: "5", 33.333333: "33.33", 1e9: "1000000000", -0.004: "0", 0.125: "0.13", math.Inf(1): "+Inf"} {
		if got := FormatValue(v); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
	if got := FormatValue(math.NaN()); got != "NaN" {
		t.Error(got)
	}
}

func TestRecordUID(t *testing.T) {
	at := time.Unix(100, 0)
	a := RecordUID("p/a", model.Fingerprint(1), at)
	if len(a) != 32 || a != RecordUID("p/a", model.Fingerprint(1), at.In(time.FixedZone("x", 3600))) {
		t.Fatal(a)
	}
	for _, b := range []string{RecordUID("p/b", 1, at), RecordUID("p/a", 2, at), RecordUID("p/a", 1, at.Add(time.Second))} {
		if a == b {
			t.Error("UIDs collide")
		}
	}
}

// The controller builds on a manager (nothing is started).
func TestSetupWithManager(t *testing.T) {
	mgr, err := ctrl.NewManager(&rest.Config{Host: "http://127.0.0.1:1"}, ctrl.Options{
		Scheme:  platformscheme.New(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Controller names are unique per process; -count=N builds it again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Skipf("no manager without a server: %v", err)
	}
	e := &Evaluator{}
	if err := e.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if e.Client == nil {
		t.Error("Client not defaulted to the manager's")
	}
}
