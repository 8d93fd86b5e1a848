package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/notifymsg"
	"github.com/kstack/kstack/internal/printer"
)

var notifyChannels = &kindCmds[notifyv1.Channel, *notifyv1.Channel, notifyv1.ChannelList]{
	noun: "channel", kind: "Channel", apiVersion: notifyv1.GroupVersion.String(), base: notifyPath, plural: "channels",
	headers: []string{"NAME", "DISPLAY NAME", "TYPE", "ADDRESS", "CONCURRENCY"},
	rows:    channelRows,
	items:   func(l *notifyv1.ChannelList) []notifyv1.Channel { return l.Items },
	hide:    hideChannelCredentials,
}

var notifyTemplates = &kindCmds[notifyv1.Template, *notifyv1.Template, notifyv1.TemplateList]{
	noun: "template", kind: "Template", apiVersion: notifyv1.GroupVersion.String(), base: notifyPath, plural: "templates",
	headers: []string{"NAME", "DISPLAY NAME", "CHANNEL TYPE", "SUBJECT", "CONTENT TYPE"},
	rows: func(items []notifyv1.Template) [][]string {
		rows := make([][]string, 0, len(items))
		for _, t := range items {
			rows = append(rows, []string{t.Name, dash(t.Spec.DisplayName), t.Spec.ChannelType, dash(oneLine(t.Spec.Subject, 50)), dash(t.Spec.ContentType)})
		}
		return rows
	},
	items: func(l *notifyv1.TemplateList) []notifyv1.Template { return l.Items },
}

var notifyReceivers = &kindCmds[notifyv1.Receiver, *notifyv1.Receiver, notifyv1.ReceiverList]{
	noun: "receiver", kind: "Receiver", apiVersion: notifyv1.GroupVersion.String(), base: notifyPath, plural: "receivers",
	headers: []string{"NAME", "DISPLAY NAME", "USERNAME", "EMAIL", "MOBILE", "WECHAT"},
	rows: func(items []notifyv1.Receiver) [][]string {
		rows := make([][]string, 0, len(items))
		for _, r := range items {
			s := &r.Spec
			rows = append(rows, []string{r.Name, dash(s.DisplayName), dash(s.Username), dash(s.Email), dash(s.Mobile), dash(s.WeChatOpenID)})
		}
		return rows
	},
	items: func(l *notifyv1.ReceiverList) []notifyv1.Receiver { return l.Items },
}

var notifyReceiverGroups = &kindCmds[notifyv1.ReceiverGroup, *notifyv1.ReceiverGroup, notifyv1.ReceiverGroupList]{
	noun: "receiver group", kind: "ReceiverGroup", apiVersion: notifyv1.GroupVersion.String(), base: notifyPath, plural: "receivergroups",
	headers: []string{"NAME", "DISPLAY NAME", "RECEIVERS"},
	rows: func(items []notifyv1.ReceiverGroup) [][]string {
		rows := make([][]string, 0, len(items))
		for _, g := range items {
			var names []string
			for _, r := range g.Spec.Receivers {
				names = append(names, refString(r))
			}
			rows = append(rows, []string{g.Name, dash(g.Spec.DisplayName), oneLine(strings.Join(names, ","), 80)})
		}
		return rows
	},
	items: func(l *notifyv1.ReceiverGroupList) []notifyv1.ReceiverGroup { return l.Items },
}

func refString(r notifyv1.ObjectRef) string {
	if r.Namespace != "" {
		return r.Namespace + "/" + r.Name
	}
	return r.Name
}

// parseRef reads NAME or NAMESPACE/NAME.
func parseRef(flag, s string) (*notifyv1.ObjectRef, error) {
	if s == "" {
		return nil, nil
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return &notifyv1.ObjectRef{Name: s}, nil
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%s %q: want NAME, or NAMESPACE/NAME for one of %s", flag, s, sharedScope)
	}
	return &notifyv1.ObjectRef{Namespace: ns, Name: name}, nil
}

// channelRows: ADDRESS is where the channel sends (the SMTP server, the
// webhook's URL, the provider).
func channelRows(items []notifyv1.Channel) [][]string {
	rows := make([][]string, 0, len(items))
	for _, c := range items {
		s := &c.Spec
		addr := "-"
		switch {
		case s.Email != nil:
			addr = fmt.Sprintf("%s:%d (%s) from %s", s.Email.SMTPHost, s.Email.SMTPPort, s.Email.TLS, s.Email.From)
		case s.Webhook != nil:
			addr = s.Webhook.URL
		case s.SMS != nil:
			addr = providerAddr(s.SMS)
		case s.WeChat != nil:
			addr = providerAddr(s.WeChat)
		}
		conc := "4"
		if s.Concurrency > 0 {
			conc = strconv.Itoa(s.Concurrency)
		}
		rows = append(rows, []string{c.Name, dash(s.DisplayName), s.Type, oneLine(addr, 80), conc})
	}
	return rows
}

func providerAddr(p *notifyv1.ProviderChannel) string {
	if p.Endpoint != "" {
		return p.Provider + " " + p.Endpoint
	}
	return p.Provider
}

// hideChannelCredentials blanks the credential fields before a channel is
// printed. The platform serves none back; this keeps the CLI from echoing
// one whatever it is given.
func hideChannelCredentials(c *notifyv1.Channel) {
	s := &c.Spec
	if s.Email != nil {
		s.Email.Password = ""
	}
	if s.Webhook != nil {
		for i := range s.Webhook.Headers {
			if s.Webhook.Headers[i].Secret {
				s.Webhook.Headers[i].Value = ""
			}
		}
	}
	for _, p := range []*notifyv1.ProviderChannel{s.SMS, s.WeChat} {
		if p != nil {
			p.Key = ""
		}
	}
}

func newNotifyCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Notification channels, templates, receivers and receiver groups, and notification records",
		Long: `Notifications tell receivers that an alarm fired or resolved (notify.tkestack.io/v1):

  channel        how to send: email (SMTP with STARTTLS or implicit TLS), a webhook
                 (with headers), SMS or WeChat through a provider. Passwords,
                 secret headers and keys are moved into a Secret of the platform
                 when the channel is created and are never served back.
  template       the message, in Go's text/template over the notification's
                 variables (.Status, .Policy.Name, .Alerts, ...), checked when saved.
  receiver       a person: email address, mobile number, WeChat OpenID.
  receivergroup  a named set of receivers.

A project's objects live in the project (--project ID); the tenant's shared ones
in kstack-system (no --project), where the platform names them. Every message
is recorded with its delivery status: 'kstack notify records'.`,
		Example: `  kstack notify template default webhook > hook-template.yaml
  kstack notify channel create -f mail.yaml --project prj-xxxxxxxx
  kstack notify channel test chn-mail --receiver rcv-alice --project prj-xxxxxxxx
  kstack notify records --project prj-xxxxxxxx --since 24h`,
	}
	cmd.AddCommand(newNotifyChannelCmd(o), newNotifyTemplateCmd(o), newNotifyKindCmd(o, notifyReceivers, "receiver", []string{"receivers", "rcv"},
		"Receivers: the people (or mailboxes) messages go to",
		`A receiver (notify.tkestack.io/v1 Receiver) is a person or mailbox: an email
address, a mobile number (+ and 6 to 15 digits), a WeChat OpenID; at least one.
The channel decides which is used: email the address, SMS the mobile, WeChat
the OpenID; webhooks none.`,
		`  apiVersion: notify.tkestack.io/v1
  kind: Receiver
  metadata: {name: rcv-alice}
  spec: {displayName: Alice, email: alice@example.com, mobile: "+8613800000000"}`),
		newNotifyKindCmd(o, notifyReceiverGroups, "receivergroup", []string{"receivergroups", "rcvg"},
			"Receiver groups: named sets of receivers",
			`A receiver group (notify.tkestack.io/v1 ReceiverGroup) names a set of receivers
of the same project or of kstack-system; a policy may name groups as well as
receivers, and each person is told once.`,
			`  apiVersion: notify.tkestack.io/v1
  kind: ReceiverGroup
  metadata: {name: oncall}
  spec:
    displayName: On call
    receivers: [{name: rcv-alice}, {namespace: kstack-system, name: rcv-ops}]`),
		newNotifyRecordsCmd(o))
	return cmd
}

// newNotifyKindCmd is the noun command of a kind with list, get, create -f
// and delete.
func newNotifyKindCmd[T any, PT apiObject[T], L any](o *Options, k *kindCmds[T, PT, L], use string, aliases []string, short, long, sample string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Aliases: aliases, Short: short, Long: long,
		Example: fmt.Sprintf("  kstack notify %s list --project prj-xxxxxxxx\n  kstack notify %s create -f %s.yaml --project prj-xxxxxxxx", use, use, use)}
	cmd.AddCommand(k.commands(o, kindHelp(k.noun, k.kind, sample))...)
	return cmd
}

// kindHelp is the help of the generic commands of a kind.
func kindHelp(noun, kind, sample string) map[string][2]string {
	p := plural(noun)
	slug := strings.ReplaceAll(noun, " ", "")
	return map[string][2]string{
		"list": {fmt.Sprintf("Lists the %s of a project (--project ID), or the tenant's shared ones in %s. -o yaml prints them whole.", p, sharedScope),
			fmt.Sprintf("  kstack notify %s list --project prj-xxxxxxxx\n  kstack notify %s list -o yaml", slug, slug)},
		"get": {fmt.Sprintf("Shows one %s; -o json|yaml prints it whole.", noun),
			fmt.Sprintf("  kstack notify %s get NAME --project prj-xxxxxxxx -o yaml", slug)},
		"create": {fmt.Sprintf(`Creates a %s from -f FILE (- for stdin), a notify.tkestack.io/v1 %s in YAML
or JSON; metadata.namespace is filled in from --project (or %s), and a missing
metadata.name is generated. Unknown fields are refused. Prints "%s NAME created",
or the object with -o.

%s`, noun, kind, sharedScope, noun, sample),
			fmt.Sprintf("  kstack notify %s create -f %s.yaml --project prj-xxxxxxxx", slug, slug)},
		"delete": {fmt.Sprintf(`Deletes a %s. Prints "%s NAME deleted", or what was deleted with -o.`, noun, noun),
			fmt.Sprintf("  kstack notify %s delete NAME --project prj-xxxxxxxx", slug)},
	}
}

func newNotifyChannelCmd(o *Options) *cobra.Command {
	cmd := newNotifyKindCmd(o, notifyChannels, "channel", []string{"channels", "chn"},
		"Channels: email, webhook, SMS and WeChat; test-send",
		`A channel (notify.tkestack.io/v1 Channel) is how messages are sent: email
through an SMTP server (always over TLS: starttls, which the server must offer,
or implicit), a webhook (POST to a URL, with headers), or SMS or WeChat through
a provider (tencentcloud-sms, wechat-mp). The platform dials the addresses, so
loopback, link-local and the platform's own addresses are refused unless an
administrator allows them (--dial-allow). Credentials (email.password, secret
headers' values, sms.key, wechat.key) are given on create only and kept in a
Secret; they are never served back. 'test' sends a sample message now.`,
		`  apiVersion: notify.tkestack.io/v1
  kind: Channel
  metadata: {name: chn-mail}
  spec:
    displayName: Team mail
    type: email
    email: {smtpHost: smtp.example.com, smtpPort: 587, tls: starttls,
            from: alarms@example.com, username: alarms, password: "..."}
  ---
  spec:
    type: webhook
    webhook:
      url: https://hooks.example.com/kstack
      headers: [{name: Authorization, value: "Bearer ...", secret: true}]`)

	var scope projectScope
	var receiver, template, output string
	test := &cobra.Command{
		Use:   "test NAME [--receiver R] [--template T] [--project ID]",
		Short: "Send a sample message through a channel now, and show what happened",
		Long: `Sends a sample notification through the channel now (one attempt, at most 15
seconds), rendered with --template (default: the channel type's built-in
template) and, for email, SMS and WeChat, to --receiver; and shows the result:
sent, or failed with the server's code and error (for example "SMTP server
refused authentication: 535 5.7.8 ..."). The attempt is recorded as a
notification with verb test. It needs the right to update the channel. Exits
non-zero when the message was not delivered.`,
		Example: `  kstack notify channel test chn-mail --receiver rcv-alice --project prj-xxxxxxxx
  kstack notify channel test chn-hook --template tpl-hook -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req notifyv1.TestSendRequest
			var err error
			if req.Receiver, err = parseRef("--receiver", receiver); err != nil {
				return err
			}
			if req.Template, err = parseRef("--template", template); err != nil {
				return err
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var res notifyv1.TestSendResult
			if err := c.Do(cmd.Context(), http.MethodPost, notifyChannels.path(scope.namespace(), args[0])+"/test", "", &req, &res); err != nil {
				return err
			}
			code := "-"
			if res.Code != 0 {
				code = strconv.Itoa(res.Code)
			}
			if err := o.show(output, &res, []string{"STATUS", "CODE", "ERROR"}, [][]string{{res.Status, code, dash(res.Error)}}); err != nil {
				return err
			}
			if res.Status != "sent" {
				return fmt.Errorf("channel %s did not deliver the test message", args[0])
			}
			return nil
		},
	}
	scope.add(test)
	test.Flags().StringVar(&receiver, "receiver", "", "the receiver to send to (NAME, or kstack-system/NAME for a shared one); email, SMS and WeChat channels")
	test.Flags().StringVar(&template, "template", "", "the template to render (NAME, or kstack-system/NAME); default: the built-in one")
	outputFlag(test, &output, printer.DataFormats...)
	cmd.AddCommand(test)
	return cmd
}

func newNotifyTemplateCmd(o *Options) *cobra.Command {
	cmd := newNotifyKindCmd(o, notifyTemplates, "template", []string{"templates", "tpl"},
		"Message templates, checked when saved",
		`A template (notify.tkestack.io/v1 Template) is the subject and body of a message
for one channel type, in Go's text/template. The variables:

  .Status                    firing or resolved
  .Policy.Name, .Policy.DisplayName, .Policy.Namespace, .Policy.Project,
  .Policy.Cluster, .Policy.ObjectType
  .Receiver.Name, .Receiver.DisplayName
  .Alerts                    a list; in {{ range .Alerts }}: .Status, .Metric,
                             .Operator, .Threshold, .Value, .Object, .Labels.<name>,
                             .StartsAt, .EndsAt
  .CommonLabels.<name>       the labels all alerts share
  .URL                       the console's records page

Functions: `+strings.Join(notifymsg.FuncNames(), ", ")+`, and text/template's
builtins (len, index, printf, eq, and, ...). A template is checked when saved:
an unknown variable or function is refused with its position, a webhook
template of application/json (the default) must render valid JSON (write
values with json, as in {{ json .Policy.Name }}), an email subject must render
on one line, and the sample message at most 16 KiB. 'kstack notify template
default TYPE' prints the built-in template of a channel type to start from.`,
		`  apiVersion: notify.tkestack.io/v1
  kind: Template
  metadata: {name: tpl-mail}
  spec:
    channelType: email
    subject: '[{{ .Status | upper }}] {{ .Policy.DisplayName }}'
    body: |
      {{ range .Alerts }}{{ .Object }}: {{ .Metric }} = {{ .Value }}
      {{ end }}`)

	var output string
	def := &cobra.Command{
		Use:   "default email|webhook|sms|wechat",
		Short: "Print the built-in template of a channel type, to start a new one from",
		Long: `Prints the built-in template of a channel type as a Template in YAML (or JSON
with -o json), ready for 'kstack notify template create -f'. The webhook one is
shaped as Alertmanager's webhook payload (version 4), so receivers written for
Alertmanager understand it.`,
		Example: `  kstack notify template default webhook > tpl.yaml && kstack notify template create -f tpl.yaml --project prj-xxxxxxxx`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case notifyv1.ChannelEmail, notifyv1.ChannelWebhook, notifyv1.ChannelSMS, notifyv1.ChannelWeChat:
			default:
				return fmt.Errorf("channel type %q: use email, webhook, sms or wechat", args[0])
			}
			t := notifyv1.Template{
				TypeMeta:   metav1.TypeMeta{APIVersion: notifyv1.GroupVersion.String(), Kind: "Template"},
				ObjectMeta: metav1.ObjectMeta{Name: "tpl-" + args[0]},
				Spec:       notifymsg.Default(args[0]),
			}
			return o.show(output, &t, nil, nil)
		},
	}
	def.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml, json")
	def.PreRunE = func(*cobra.Command, []string) error {
		if err := printer.Check(output, "yaml", "json"); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
		return nil
	}
	cmd.AddCommand(def)
	return cmd
}

// notificationData is the part of a notification record's data the table
// shows.
type notificationData struct {
	Status      string   `json:"status"`
	Attempts    int      `json:"attempts"`
	LastError   string   `json:"lastError"`
	ChannelType string   `json:"channelType"`
	To          []string `json:"to"`
	Subject     string   `json:"subject"`
}

var notificationHeaders = []string{"TIME", "VERB", "CHANNEL", "TYPE", "RECEIVER", "TO", "STATUS", "ATTEMPTS", "CODE", "DETAIL"}

func notificationRows(items []recordItem) [][]string {
	rows := make([][]string, 0, len(items))
	for _, r := range items {
		var d notificationData
		_ = json.Unmarshal(r.Data, &d)
		code := "-"
		if r.Code != 0 {
			code = strconv.Itoa(r.Code)
		}
		detail := d.LastError
		if detail == "" {
			detail = d.Subject
		}
		rows = append(rows, []string{when(r.Time), dash(r.Verb), dash(r.Name), dash(d.ChannelType), dash(r.User),
			dash(strings.Join(d.To, ",")), dash(d.Status), strconv.Itoa(d.Attempts), code, dash(oneLine(detail, 60))})
	}
	return rows
}

func newNotifyRecordsCmd(o *Options) *cobra.Command {
	var s recordSearch
	var channel, receiver, verb, namespace, result string
	cmd := &cobra.Command{
		Use:     "records --cluster ID | --project ID",
		Aliases: []string{"record"},
		Short:   "Search the notification records of a cluster or a project, newest first",
		Long: `Searches the messages sent (or being sent) for alarms, newest first: of a
cluster (--cluster: the namespaces whose pods you may list) or of a project
(--project). Each record has the channel, the receiver, the delivery status
(pending, sent, failed), the attempts, the server's code and the last error.
Test-sends are recorded with verb test. One page at a time (100 records unless
--limit), --continue and --all as for 'kstack audit search'; --export writes
JSON lines. -o json|yaml prints the records whole.`,
		Example: `  kstack notify records --project prj-xxxxxxxx --since 24h
  kstack notify records --cluster cls-ab12cd34 --channel kstack-system/chn-ab12cd34 --result failure
  kstack notify records --project prj-xxxxxxxx --verb test`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verb != "" && verb != "firing" && verb != "resolved" && verb != "test" {
				return fmt.Errorf("--verb %q: use firing, resolved or test", verb)
			}
			if result != "" && result != "success" && result != "failure" {
				return fmt.Errorf("--result %q: use success or failure", result)
			}
			if channel != "" && !strings.Contains(channel, "/") {
				ns := sharedScope
				if s.project != "" {
					ns = s.project
				}
				channel = ns + "/" + channel
			}
			return s.run(cmd, o, notifyPath, "notifications", notificationHeaders, notificationRows,
				"channel", channel, "receiver", receiver, "verb", verb, "namespace", namespace, "result", result)
		},
	}
	s.add(cmd, "notification records")
	fl := cmd.Flags()
	fl.StringVar(&channel, "channel", "", "only this channel's messages: NAMESPACE/NAME, or NAME of the --project (or of kstack-system)")
	fl.StringVar(&receiver, "receiver", "", "only messages to this receiver (NAME)")
	fl.StringVar(&verb, "verb", "", "firing, resolved or test")
	fl.StringVarP(&namespace, "namespace", "n", "", "only messages about alarms of this namespace of the cluster")
	fl.StringVar(&result, "result", "", "success or failure (by the server's code)")
	return cmd
}
