// Package notifymsg renders notification messages from templates.
//
// A template is Go's text/template over Data (the variables of one
// notification) with a short whitelist of functions: upper, lower, join,
// json, time, humanize and default, plus text/template's builtins. No
// function reads files, the environment, or queries metrics. Check refuses
// a template before it is saved: parse errors (unknown functions), unknown
// variables (found by walking the parse tree with the type of "."),
// invalid JSON for a JSON webhook, a line break in a subject, and a body
// over MaxCheckedBody.
package notifymsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
)

// Alert is one alarm of a notification.
type Alert struct {
	Status    string // firing | resolved
	Metric    string
	Operator  string
	Threshold string
	Value     string
	Object    string // what the alarm is about: a node, a pod, the cluster
	Labels    map[string]string
	StartsAt  time.Time
	EndsAt    time.Time
}

// Policy is the alarm policy that fired.
type Policy struct{ Name, DisplayName, Namespace, Project, Cluster, ObjectType string }

// Receiver is who the message goes to (empty for a webhook).
type Receiver struct{ Name, DisplayName string }

// Data is the variables a template sees.
type Data struct {
	Status       string // "firing" | "resolved"
	Policy       Policy
	Receiver     Receiver
	Alerts       []Alert
	CommonLabels map[string]string
	URL          string // the console's records page
}

// Message is what a channel sends; it is stored in the outbox (JSON) so it
// holds no credentials.
type Message struct {
	ChannelType string   `json:"channelType"`
	To          []string `json:"to,omitempty"` // email addresses / mobiles / openIDs; empty for webhook
	Subject     string   `json:"subject,omitempty"`
	Body        string   `json:"body"`
	ContentType string   `json:"contentType,omitempty"` // webhook: application/json | text/plain
}

// Content types of a webhook body.
const (
	ContentJSON = "application/json"
	ContentText = "text/plain"
)

const (
	// MaxCheckedBody bounds the body rendered from Sample when a template
	// is checked.
	MaxCheckedBody = 16 << 10
	// MaxBody bounds a rendered body at send time, when a group may hold
	// many more alerts than the sample.
	MaxBody = 1 << 20
	// maxSubject bounds a rendered subject.
	maxSubject = 1000
)

// Check refuses a template that would not render: it is what the API runs
// before a template is saved. Errors name the field ("spec.body: …").
func Check(spec *notifyv1.TemplateSpec) error {
	switch spec.ChannelType {
	case notifyv1.ChannelEmail, notifyv1.ChannelWebhook, notifyv1.ChannelSMS, notifyv1.ChannelWeChat:
	default:
		return fmt.Errorf("spec.channelType %q: use email, webhook, sms or wechat", spec.ChannelType)
	}
	if strings.TrimSpace(spec.Body) == "" {
		return errors.New("spec.body is required")
	}
	if spec.ChannelType == notifyv1.ChannelEmail && strings.TrimSpace(spec.Subject) == "" {
		return errors.New("spec.subject is required for email templates")
	}
	if _, err := contentType(spec); err != nil {
		return err
	}
	for _, f := range []struct{ name, text string }{{"spec.subject", spec.Subject}, {"spec.body", spec.Body}} {
		if f.text == "" {
			continue
		}
		t, err := parseText(f.name, f.text)
		if err != nil {
			return err
		}
		if err := checkTree(f.name, f.text, t); err != nil {
			return err
		}
	}
	if _, err := render(spec, Sample(), true); err != nil {
		return fmt.Errorf("rendering the sample notification: %w", err)
	}
	return nil
}

// Render renders spec with d. To is left empty (the caller fills it). A
// subject's line breaks become spaces; a JSON webhook body must be valid
// JSON.
func Render(spec *notifyv1.TemplateSpec, d *Data) (Message, error) {
	return render(spec, d, false)
}

// render renders spec; checking (the sample, when saved) is stricter than
// sending: a smaller body, and a subject with a line break is an error
// rather than flattened.
func render(spec *notifyv1.TemplateSpec, d *Data, checking bool) (Message, error) {
	limit := MaxBody
	if checking {
		limit = MaxCheckedBody
	}
	ct, err := contentType(spec)
	if err != nil {
		return Message{}, err
	}
	m := Message{ChannelType: spec.ChannelType, ContentType: ct}
	if spec.Subject != "" {
		s, err := execute("spec.subject", spec.Subject, d, maxSubject)
		if err != nil {
			return Message{}, err
		}
		if checking && strings.ContainsAny(s, "\r\n") {
			return Message{}, fmt.Errorf("spec.subject: renders with a line break (%q); a subject is one line", s)
		}
		m.Subject = strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s))
	}
	body, err := execute("spec.body", spec.Body, d, limit)
	if err != nil {
		return Message{}, err
	}
	if ct == ContentJSON && !json.Valid([]byte(body)) {
		var v any
		jerr := json.Unmarshal([]byte(body), &v)
		return Message{}, fmt.Errorf("spec.body: renders invalid JSON (%v); use the json function for values, as in {{ json .Policy.Name }}: %s", jerr, excerpt(body))
	}
	m.Body = body
	return m, nil
}

func contentType(spec *notifyv1.TemplateSpec) (string, error) {
	if spec.ChannelType != notifyv1.ChannelWebhook {
		if spec.ContentType != "" {
			return "", fmt.Errorf("spec.contentType is for webhook templates only")
		}
		return "", nil
	}
	switch spec.ContentType {
	case "", ContentJSON:
		return ContentJSON, nil
	case ContentText:
		return ContentText, nil
	}
	return "", fmt.Errorf("spec.contentType %q: use %s or %s", spec.ContentType, ContentJSON, ContentText)
}

func parseText(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(text)
	if err != nil {
		// "template: spec.body:1: function "query" not defined"
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return t, nil
}

func execute(name, text string, d *Data, limit int) (string, error) {
	t, err := parseText(name, text)
	if err != nil {
		return "", err
	}
	w := &limitWriter{max: limit}
	if err := t.Execute(w, d); err != nil {
		if errors.Is(err, errTooLong) {
			return "", fmt.Errorf("%s: renders more than %d bytes", name, limit)
		}
		return "", errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return w.buf.String(), nil
}

var errTooLong = errors.New("output too long")

type limitWriter struct {
	buf bytes.Buffer
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, errTooLong
	}
	return w.buf.Write(p)
}

func excerpt(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
