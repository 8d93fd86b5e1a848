package notifymsg

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
)

func TestDefaultsCheckAndRender(t *testing.T) {
	for _, ct := range []string{"email", "webhook", "sms", "wechat"} {
		spec := Default(ct)
		if spec.ChannelType != ct {
			t.Fatalf("%s: channel type %q", ct, spec.ChannelType)
		}
		if err := Check(&spec); err != nil {
			t.Fatalf("%s: default does not pass Check: %v", ct, err)
		}
		m, err := Render(&spec, Sample())
		if err != nil {
			t.Fatal(err)
		}
		if m.ChannelType != ct || len(m.To) != 0 || !strings.Contains(m.Body+m.Subject, "Pod restarts (sample)") && ct != "webhook" {
			t.Fatalf("%s: %+v", ct, m)
		}
		t.Logf("%s:\nsubject: %s\n%s", ct, m.Subject, m.Body)
	}
}

func TestDefaultWebhookIsAlertmanagerV4(t *testing.T) {
	spec := Default("webhook")
	m, err := Render(&spec, Sample())
	if err != nil {
		t.Fatal(err)
	}
	if m.ContentType != "application/json" {
		t.Fatalf("content type %q", m.ContentType)
	}
	var p struct {
		Version      string            `json:"version"`
		Status       string            `json:"status"`
		Receiver     string            `json:"receiver"`
		GroupLabels  map[string]string `json:"groupLabels"`
		CommonLabels map[string]string `json:"commonLabels"`
		Alerts       []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    time.Time         `json:"startsAt"`
			EndsAt      time.Time         `json:"endsAt"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(m.Body), &p); err != nil {
		t.Fatalf("%v\n%s", err, m.Body)
	}
	if p.Version != "4" || p.Status != "firing" || p.Receiver != "rcv-sample" || p.GroupLabels["alarm_policy"] != "prj-sample/alarm-sample" ||
		p.CommonLabels["cluster"] != "cls-sample" || len(p.Alerts) != 2 || p.Alerts[0].Labels["pod"] != "shop-7d4b9c-abcde" ||
		p.Alerts[0].Annotations["value"] != "5" || !p.Alerts[0].StartsAt.Equal(Sample().Alerts[0].StartsAt) || !p.Alerts[0].EndsAt.IsZero() {
		t.Fatalf("payload %+v", p)
	}

	// No alerts, no labels, and values that need escaping still give valid JSON.
	d := &Data{Status: "resolved", Policy: Policy{Name: `a"b`, DisplayName: "x\ny</script>"}}
	m, err = Render(&spec, d)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := json.Unmarshal([]byte(m.Body), &p); err != nil || p.Receiver != `a"b` || p.CommonLabels == nil || len(p.Alerts) != 0 {
		t.Fatalf("%v %+v\n%s", err, p, m.Body)
	}
}

func check(t *testing.T, spec notifyv1.TemplateSpec) error {
	t.Helper()
	return Check(&spec)
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestUnknownVariable(t *testing.T) {
	err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: "line one\nline two\n  {{ .Foo }}"})
	wantErr(t, err, "spec.body: unknown variable .Foo at 3:6; the variables are .Status, .Policy.Name, .Policy.DisplayName,",
		".Alerts (a list: range over it)", ".CommonLabels.<label>", ".URL")

	cases := []struct{ body, want string }{
		{"{{ .Secrets }}", "unknown variable .Secrets at 1:4"},
		{"{{ .Policy.Token }}", "unknown variable .Policy.Token at 1:4; the variables are .Policy.Name,"},
		{"{{ range .Alerts }}{{ .Foo }}{{ end }}", "unknown variable .Foo at 1:23; the variables are .Status, .Metric, .Operator, .Threshold, .Value, .Object, .Labels.<label>, .StartsAt, .EndsAt"},
		{"{{ range $a := .Alerts }}{{ $a.Nope }}{{ end }}", "unknown variable $a.Nope at 1:29"},
		{"{{ range .Alerts }}{{ $.Secret }}{{ end }}", "unknown variable $.Secret"},
		{"{{ with .Policy }}{{ .Nope }}{{ end }}", "unknown variable .Nope at 1:22; the variables are .Name,"},
		{"{{ .Alerts.Foo }}", "unknown variable .Alerts.Foo"},
		{"{{ .Status.Foo }}", "unknown variable .Status.Foo"},
		{"{{ (index .Alerts 0).Bad }}", "unknown variable (index .Alerts 0).Bad"},
		{"{{ $p := .Policy }}{{ $p.Bad }}", "unknown variable $p.Bad"},
		{"{{ if .Alerts }}{{ .Bad }}{{ end }}", "unknown variable .Bad"},
		{"{{ .Policy.Name | upper | printf \"%s\" }}{{ .X }}", "unknown variable .X"},
	}
	for _, c := range cases {
		err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: c.body})
		wantErr(t, err, "spec.body: ", c.want)
	}
	// In the subject too.
	err = check(t, notifyv1.TemplateSpec{ChannelType: "email", Subject: "{{ .Subject }}", Body: "x"})
	wantErr(t, err, "spec.subject: unknown variable .Subject at 1:4")
}

func TestKnownVariables(t *testing.T) {
	for _, body := range []string{
		"{{ .Status }} {{ .Policy.Name }} {{ .Receiver.DisplayName }} {{ .URL }} {{ .CommonLabels.anything }}",
		"{{ range .Alerts }}{{ .Labels.pod }} {{ .StartsAt.Unix }} {{ time .EndsAt \"15:04\" }} {{ $.Policy.Cluster }}{{ end }}",
		"{{ range $i, $a := .Alerts }}{{ $i }} {{ $a.Value | humanize }}{{ range $k, $v := $a.Labels }}{{ $k }}={{ $v }}{{ end }}{{ end }}",
		"{{ range $k, $v := .CommonLabels }}{{ $k }}{{ end }}{{ join \", \" .CommonLabels }}",
		"{{ with index .Alerts 0 }}{{ .Metric }}{{ end }} {{ (index .Alerts 1).Object }} {{ index .CommonLabels \"pod\" }}",
		"{{ $x := .Policy }}{{ $x.Name }} {{ .Policy.DisplayName | default \"none\" | lower }}",
		"{{ if and .Alerts (eq .Status \"firing\") }}{{ len .Alerts }}{{ else }}ok{{ end }}",
		"{{/* a comment */}}{{ range .Alerts }}{{ if eq .Status \"x\" }}{{ break }}{{ end }}{{ continue }}{{ end }}",
	} {
		if err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: body}); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestUnknownFunction(t *testing.T) {
	err := check(t, notifyv1.TemplateSpec{ChannelType: "webhook", Body: `{{ query "k8s_pod_restart_total" }}`})
	wantErr(t, err, `spec.body:1: function "query" not defined`)
	for _, f := range []string{"env", "readFile", "exec", "getenv"} {
		err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: "{{ " + f + ` "x" }}`})
		wantErr(t, err, `function "`+f+`" not defined`)
	}
	err = check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: "{{ .Status"})
	wantErr(t, err, "spec.body:1: unclosed action")
}

func TestRefusedConstructs(t *testing.T) {
	for body, want := range map[string]string{
		`{{ range 1000000000 }}{{ end }}`:                           "range over int",
		`{{ range len .Alerts }}{{ end }}`:                          "range over int",
		`{{ range (default .Alerts .Alerts) }}{{ end }}`:            "range over a value of unknown type",
		`{{ range .Alerts }}{{ range $.Alerts }}{{ end }}{{ end }}`: "a range over a list inside a range over a list",
		`{{ define "x" }}a{{ end }}b`:                               "{{define}} and {{block}} are not supported",
		`{{ block "x" . }}a{{ end }}`:                               "{{define}} and {{block}} are not supported",
	} {
		err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: body})
		wantErr(t, err, "spec.body", want)
	}
}

func TestInvalidJSON(t *testing.T) {
	err := check(t, notifyv1.TemplateSpec{ChannelType: "webhook", Body: `{"status": {{ .Status }}}`})
	wantErr(t, err, "spec.body: renders invalid JSON", "json .Policy.Name")
	err = check(t, notifyv1.TemplateSpec{ChannelType: "webhook", ContentType: "application/json", Body: `{"status": "{{ .Status }}"`})
	wantErr(t, err, "invalid JSON")
	// text/plain webhooks need not be JSON; valid JSON passes.
	if err := check(t, notifyv1.TemplateSpec{ChannelType: "webhook", ContentType: "text/plain", Body: `status {{ .Status }}`}); err != nil {
		t.Fatal(err)
	}
	if err := check(t, notifyv1.TemplateSpec{ChannelType: "webhook", Body: `{"status": {{ json .Status }}, "n": {{ len .Alerts }}}`}); err != nil {
		t.Fatal(err)
	}
	// At send time a label that breaks hand-made JSON is an error, not a broken body.
	spec := notifyv1.TemplateSpec{ChannelType: "webhook", Body: `{"pod": "{{ .CommonLabels.pod }}"}`}
	if err := Check(&spec); err != nil {
		t.Fatal(err)
	}
	_, err = Render(&spec, &Data{CommonLabels: map[string]string{"pod": `a"b`}})
	wantErr(t, err, "invalid JSON")
}

func TestSubjectLineBreaks(t *testing.T) {
	err := check(t, notifyv1.TemplateSpec{ChannelType: "email", Subject: `a{{ printf "\r\nBcc: x@evil" }}`, Body: "x"})
	wantErr(t, err, "spec.subject: renders with a line break")
	err = check(t, notifyv1.TemplateSpec{ChannelType: "email", Subject: "a\nb", Body: "x"})
	wantErr(t, err, "spec.subject: renders with a line break")
	// At send time a value with a line break is flattened, never a header.
	spec := notifyv1.TemplateSpec{ChannelType: "email", Subject: "{{ .Policy.DisplayName }}", Body: "x"}
	m, err := Render(&spec, &Data{Policy: Policy{DisplayName: "a\r\nBcc: x@evil"}})
	if err != nil || strings.ContainsAny(m.Subject, "\r\n") || m.Subject != "a Bcc: x@evil" {
		t.Fatalf("%v %q", err, m.Subject)
	}
}

func TestSizeLimit(t *testing.T) {
	err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: `{{ range .Alerts }}{{ printf "%9000s" "x" }}{{ end }}`})
	wantErr(t, err, "spec.body: renders more than 16384 bytes")
	if err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: `{{ printf "%9000s" "x" }}`}); err != nil {
		t.Fatal(err)
	}
}

func TestRequiredFields(t *testing.T) {
	wantErr(t, check(t, notifyv1.TemplateSpec{ChannelType: "email", Body: "x"}), "spec.subject is required")
	wantErr(t, check(t, notifyv1.TemplateSpec{ChannelType: "email", Subject: "s", Body: "  "}), "spec.body is required")
	wantErr(t, check(t, notifyv1.TemplateSpec{ChannelType: "fax", Body: "x"}), `spec.channelType "fax"`)
	wantErr(t, check(t, notifyv1.TemplateSpec{ChannelType: "webhook", ContentType: "text/html", Body: "x"}), `spec.contentType "text/html"`)
	wantErr(t, check(t, notifyv1.TemplateSpec{ChannelType: "sms", ContentType: "text/plain", Body: "x"}), "for webhook templates only")
}

func TestRuntimeErrorInSample(t *testing.T) {
	err := check(t, notifyv1.TemplateSpec{ChannelType: "sms", Body: `{{ index .Alerts 5 }}`})
	wantErr(t, err, "rendering the sample notification", "index out of range")
}

func TestFuncs(t *testing.T) {
	d := Sample()
	d.Receiver.Name = ""
	d.Alerts[0].Value = "1234567"
	d.Alerts[1].Value = "0.0012"
	spec := notifyv1.TemplateSpec{ChannelType: "sms", Body: `{{ range .Alerts }}{{ humanize .Value }};{{ end }}` +
		`{{ humanize "abc" }};{{ time (index .Alerts 0).StartsAt }};{{ (index .Alerts 0).StartsAt | time "2006-01-02" }};` +
		`{{ time (index .Alerts 0).EndsAt }};{{ .Receiver.Name | default "anon" }};{{ "x" | default "y" }};` +
		`{{ join "," .CommonLabels }};{{ json .Policy.ObjectType }};{{ upper .Status }}`}
	m, err := Render(&spec, d)
	if err != nil {
		t.Fatal(err)
	}
	want := `1.235M;1.2m;abc;2026-01-02T03:04:05Z;2026-01-02;;anon;x;` +
		`alarm_policy=prj-sample/alarm-sample,cluster=cls-sample,namespace=shop,project=prj-sample,tenant=default;"Pod";FIRING`
	if m.Body != want {
		t.Fatalf("body\n%s\nwant\n%s", m.Body, want)
	}
}
