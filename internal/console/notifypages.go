package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/notifymsg"
)

// The notification pages: channels (with a test-send), templates, and
// receivers and receiver groups, of a project or shared (kstack-system).

var channelTypes = []string{notifyv1.ChannelEmail, notifyv1.ChannelWebhook, notifyv1.ChannelSMS, notifyv1.ChannelWeChat}

// ---- Channels ----

type channelsData struct {
	Scope     alarmScope
	Rows      []channelRow
	Err       string
	CanCreate bool
	CanDelete bool
	CanTest   bool
	Form      channelForm
	// Receivers and Templates are the test-send's choices.
	Receivers, Templates []choice
}

type channelRow struct {
	Name, DisplayName, Type, Address, Concurrency string
	// Headers are the webhook's headers: the values of secret ones are
	// never served, only that the platform keeps them.
	Headers     []string
	SecretsKept bool
	DeleteURL   string
	TestURL     string
}

// channelForm is the "New channel" form as typed; credentials are never put
// back into it.
type channelForm struct {
	Name, DisplayName, Type                           string
	SMTPHost, SMTPPort, TLS, From, Username, CABundle string
	URL, Headers, Timeout                             string
	SecretHeaderNames                                 string
	Provider, Endpoint, Params                        string
	Concurrency                                       string
	Error                                             string
	Errors                                            map[string]string
	Types                                             []string
}

func channelRowOf(sc alarmScope, c *notifyv1.Channel) channelRow {
	s := &c.Spec
	row := channelRow{Name: c.Name, DisplayName: s.DisplayName, Type: s.Type, Concurrency: "4", SecretsKept: s.CredentialsSecret != ""}
	if s.Concurrency > 0 {
		row.Concurrency = strconv.Itoa(s.Concurrency)
	}
	switch {
	case s.Email != nil:
		row.Address = fmt.Sprintf("%s:%d · %s · from %s", s.Email.SMTPHost, s.Email.SMTPPort, s.Email.TLS, s.Email.From)
		if s.Email.Username != "" {
			row.Address += " · user " + s.Email.Username
		}
	case s.Webhook != nil:
		row.Address = s.Webhook.URL
		for _, h := range s.Webhook.Headers {
			if h.Secret {
				row.Headers = append(row.Headers, h.Name+": (kept by the platform)")
			} else {
				row.Headers = append(row.Headers, h.Name+": "+h.Value)
			}
		}
	case s.SMS != nil:
		row.Address = s.SMS.Provider + " " + s.SMS.Endpoint
	case s.WeChat != nil:
		row.Address = s.WeChat.Provider + " " + s.WeChat.Endpoint
	}
	base := sc.Base + "/channels/" + url.PathEscape(c.Name)
	row.DeleteURL, row.TestURL = base+"/delete", base+"/test"
	return row
}

// parseHeaders reads "Name: value" lines.
func parseHeaders(s string, secret bool) ([]notifyv1.Header, error) {
	var out []notifyv1.Header
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%q: write one header per line, NAME: VALUE", line)
		}
		out = append(out, notifyv1.Header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value), Secret: secret})
	}
	return out, nil
}

// parseChannelForm reads the form into a channel of namespace.
func parseChannelForm(form url.Values, namespace string) (channelForm, *notifyv1.Channel) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f := channelForm{Name: get("name"), DisplayName: get("displayName"), Type: get("type"),
		SMTPHost: get("email.smtpHost"), SMTPPort: get("email.smtpPort"), TLS: get("email.tls"), From: get("email.from"),
		Username: get("email.username"), CABundle: get("caBundle"), URL: get("webhook.url"), Headers: get("webhook.headers"),
		Timeout: get("webhook.timeoutSeconds"), Provider: get("provider"), Endpoint: get("provider.endpoint"), Params: get("provider.params"),
		Concurrency: get("concurrency"), Errors: map[string]string{}}
	// Secret headers' names are kept; their values are not shown back.
	var secretNames []string
	secret, err := parseHeaders(form.Get("webhook.secretHeaders"), true)
	if err != nil {
		f.Errors["secretHeaders"] = err.Error()
	}
	for _, h := range secret {
		secretNames = append(secretNames, h.Name)
	}
	f.SecretHeaderNames = strings.Join(secretNames, ", ")
	ch := &notifyv1.Channel{TypeMeta: metav1.TypeMeta{APIVersion: notifyv1.GroupVersion.String(), Kind: "Channel"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: f.Name}}
	if f.Name == "" {
		ch.GenerateName = "chn-"
	}
	s := &ch.Spec
	s.DisplayName, s.Type = f.DisplayName, f.Type
	if f.Concurrency != "" {
		n, err := strconv.Atoi(f.Concurrency)
		if err != nil {
			f.Errors["concurrency"] = "a whole number, 1 to 32"
		}
		s.Concurrency = n
	}
	switch f.Type {
	case notifyv1.ChannelEmail:
		port, err := strconv.Atoi(f.SMTPPort)
		if err != nil {
			f.Errors["smtpPort"] = fmt.Sprintf("port %q is not a number", f.SMTPPort)
		}
		s.Email = &notifyv1.EmailChannel{SMTPHost: f.SMTPHost, SMTPPort: int32(port), TLS: f.TLS, From: f.From,
			Username: f.Username, Password: form.Get("email.password"), CABundle: f.CABundle}
	case notifyv1.ChannelWebhook:
		hs, err := parseHeaders(f.Headers, false)
		if err != nil {
			f.Errors["headers"] = err.Error()
		}
		s.Webhook = &notifyv1.WebhookChannel{URL: f.URL, Headers: append(hs, secret...), CABundle: f.CABundle}
		if f.Timeout != "" {
			n, err := strconv.Atoi(f.Timeout)
			if err != nil {
				f.Errors["timeout"] = "a whole number of seconds, 1 to 30"
			}
			s.Webhook.TimeoutSeconds = int32(n)
		}
	case notifyv1.ChannelSMS, notifyv1.ChannelWeChat:
		params := map[string]string{}
		for _, line := range strings.Split(f.Params, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				f.Errors["params"] = fmt.Sprintf("%q: write one setting per line, KEY=VALUE", line)
				continue
			}
			params[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		pc := &notifyv1.ProviderChannel{Provider: f.Provider, Endpoint: f.Endpoint, Params: params, Key: form.Get("provider.key")}
		if f.Type == notifyv1.ChannelSMS {
			s.SMS = pc
		} else {
			s.WeChat = pc
		}
	default:
		f.Errors["type"] = "choose the channel's type"
	}
	if len(f.Errors) > 0 {
		return f, nil
	}
	return f, ch
}

func (s *Server) channelsPage(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "channels")
	if !ok {
		return
	}
	s.renderChannels(w, r, sc, channelForm{Type: notifyv1.ChannelEmail, TLS: "starttls", SMTPPort: "587", Errors: map[string]string{}})
}

func (s *Server) renderChannels(w http.ResponseWriter, r *request, sc alarmScope, f channelForm) {
	f.Types = channelTypes
	d := channelsData{Scope: sc, Form: f, CanCreate: r.canIn(sc, "create", "channel"), CanDelete: r.canIn(sc, "delete", "channel"),
		CanTest: r.canIn(sc, "update", "channel")}
	if isHTMX(r.Request) && (f.Error != "" || len(f.Errors) > 0) {
		r.fragment(w, http.StatusOK, "alarms", "channelform", d)
		return
	}
	var l notifyv1.ChannelList
	msg, ok := r.listIn(w, sc, &l)
	if !ok {
		return
	}
	d.Err = msg
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	for i := range l.Items {
		d.Rows = append(d.Rows, channelRowOf(sc, &l.Items[i]))
	}
	if d.CanTest {
		_, d.Templates, d.Receivers, _ = r.notifyChoices(sc)
	}
	r.showAlarmPage(w, sc, d)
}

func (s *Server) createChannel(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "channels")
	if !ok {
		return
	}
	_ = r.ParseForm()
	f, ch := parseChannelForm(r.PostForm, sc.Namespace)
	if ch != nil {
		err := r.create(ch)
		if err == nil {
			s.Log.Info("console channel created", "namespace", sc.Namespace, "name", ch.Name, "type", ch.Spec.Type, "by", r.user.Name())
			r.back(w, sc, "channels", "Channel "+ch.Name+" created: send a test message to check it")
			return
		}
		_, f.Error = explain(err)
	}
	if f.Error == "" {
		f.Error = "the channel could not be made: see the fields marked"
	}
	s.renderChannels(w, r, sc, f)
}

// testResult is what a test-send did, for the page.
type testResult struct {
	Channel, Status, Code, Error string
	Sent                         bool
}

// testChannel sends a sample message through a channel now, as the user
// (the API needs the right to update the channel), and shows the result.
func (s *Server) testChannel(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "channels")
	if !ok {
		return
	}
	name := r.PathValue("name")
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no channel %q", name))
		return
	}
	var req notifyv1.TestSendRequest
	if v := strings.TrimSpace(r.PostFormValue("receiver")); v != "" {
		ref := notifyRef(v)
		req.Receiver = &ref
	}
	if v := strings.TrimSpace(r.PostFormValue("template")); v != "" {
		ref := notifyRef(v)
		req.Template = &ref
	}
	body, _ := json.Marshal(&req)
	code, out := r.call(http.MethodPost, notifyAPI+"/namespaces/"+url.PathEscape(sc.Namespace)+"/channels/"+url.PathEscape(name)+"/test", body)
	res := testResult{Channel: name}
	if code != http.StatusOK {
		res.Status, res.Error = "failed", statusMessage(code, out)
	} else {
		var tr notifyv1.TestSendResult
		if err := json.Unmarshal(out, &tr); err != nil {
			res.Status, res.Error = "failed", "the platform's answer could not be read: "+err.Error()
		} else {
			res.Status, res.Error, res.Sent = tr.Status, tr.Error, tr.Status == "sent"
			if tr.Code != 0 {
				res.Code = strconv.Itoa(tr.Code)
			}
		}
	}
	s.Log.Info("console channel test-send", "namespace", sc.Namespace, "name", name, "status", res.Status, "by", r.user.Name())
	if isHTMX(r.Request) {
		r.fragment(w, http.StatusOK, "alarms", "testresult", res)
		return
	}
	notice := "Test message through " + name + ": " + res.Status
	if res.Code != "" {
		notice += " (" + res.Code + ")"
	}
	if res.Error != "" {
		notice += ": " + res.Error
	}
	r.back(w, sc, "channels", notice)
}

func notifyRef(v string) notifyv1.ObjectRef {
	if ns, name, ok := strings.Cut(v, "/"); ok {
		return notifyv1.ObjectRef{Namespace: ns, Name: name}
	}
	return notifyv1.ObjectRef{Name: v}
}

// ---- Templates ----

type templatesData struct {
	Scope     alarmScope
	Rows      []templateRow
	Err       string
	CanCreate bool
	CanDelete bool
	Form      templateForm
	// Variables and Funcs are the templates' help.
	Variables, Funcs []string
}

type templateRow struct {
	Name, DisplayName, ChannelType, Subject, Body, ContentType, DeleteURL string
}

type templateForm struct {
	Name, DisplayName, ChannelType, Subject, Body, ContentType string
	Error                                                      string
	Types                                                      []string
	// DefaultURL starts the form from a channel type's built-in template.
	DefaultURL string
}

var templateVariables = []string{".Status", ".Policy.Name", ".Policy.DisplayName", ".Policy.Namespace", ".Policy.Project", ".Policy.Cluster",
	".Policy.ObjectType", ".Receiver.Name", ".Receiver.DisplayName",
	".Alerts (range over it: .Status, .Metric, .Operator, .Threshold, .Value, .Object, .Labels.NAME, .StartsAt, .EndsAt)",
	".CommonLabels.NAME", ".URL"}

func (s *Server) templatesPage(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "templates")
	if !ok {
		return
	}
	ct := r.URL.Query().Get("default")
	known := false
	for _, t := range channelTypes {
		known = known || t == ct
	}
	if !known {
		ct = notifyv1.ChannelEmail
	}
	def := notifymsg.Default(ct)
	f := templateForm{DisplayName: def.DisplayName, ChannelType: def.ChannelType, Subject: def.Subject, Body: def.Body, ContentType: def.ContentType}
	s.renderTemplates(w, r, sc, f)
}

func (s *Server) renderTemplates(w http.ResponseWriter, r *request, sc alarmScope, f templateForm) {
	f.Types = channelTypes
	f.DefaultURL = sc.Base + "/templates"
	d := templatesData{Scope: sc, Form: f, CanCreate: r.canIn(sc, "create", "template"), CanDelete: r.canIn(sc, "delete", "template"),
		Variables: templateVariables, Funcs: notifymsg.FuncNames()}
	if isHTMX(r.Request) && f.Error != "" {
		r.fragment(w, http.StatusOK, "alarms", "templateform", d)
		return
	}
	var l notifyv1.TemplateList
	msg, ok := r.listIn(w, sc, &l)
	if !ok {
		return
	}
	d.Err = msg
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	for _, t := range l.Items {
		d.Rows = append(d.Rows, templateRow{Name: t.Name, DisplayName: t.Spec.DisplayName, ChannelType: t.Spec.ChannelType, Subject: t.Spec.Subject,
			Body: t.Spec.Body, ContentType: t.Spec.ContentType, DeleteURL: sc.Base + "/templates/" + url.PathEscape(t.Name) + "/delete"})
	}
	r.showAlarmPage(w, sc, d)
}

// createTemplate makes a template from the form. The console checks it
// with the same check as the API first, so that the message says where
// the template is wrong without a round trip; the API checks it again.
func (s *Server) createTemplate(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "templates")
	if !ok {
		return
	}
	_ = r.ParseForm()
	get := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := templateForm{Name: get("name"), DisplayName: get("displayName"), ChannelType: get("channelType"), Subject: r.PostFormValue("subject"),
		Body: r.PostFormValue("body"), ContentType: get("contentType")}
	t := &notifyv1.Template{TypeMeta: metav1.TypeMeta{APIVersion: notifyv1.GroupVersion.String(), Kind: "Template"},
		ObjectMeta: metav1.ObjectMeta{Namespace: sc.Namespace, Name: f.Name},
		Spec:       notifyv1.TemplateSpec{DisplayName: f.DisplayName, ChannelType: f.ChannelType, Subject: f.Subject, Body: f.Body, ContentType: f.ContentType}}
	if f.Name == "" {
		t.GenerateName = "tpl-"
	}
	if f.ChannelType != notifyv1.ChannelWebhook {
		t.Spec.ContentType = ""
	}
	err := notifymsg.Check(&t.Spec)
	if err == nil {
		if err = r.create(t); err == nil {
			s.Log.Info("console template created", "namespace", sc.Namespace, "name", t.Name, "by", r.user.Name())
			r.back(w, sc, "templates", "Template "+t.Name+" created")
			return
		}
		_, msg := explain(err)
		err = fmt.Errorf("%s", msg)
	}
	f.Error = err.Error()
	s.renderTemplates(w, r, sc, f)
}

// ---- Receivers and receiver groups ----

type receiversData struct {
	Scope          alarmScope
	Rows           []receiverRow
	Groups         []groupRow
	Err            string
	CanCreate      bool
	CanDelete      bool
	CanCreateGroup bool
	CanDeleteGroup bool
	Form           receiverForm
	GroupForm      groupForm
	// Choices are the receivers a group may name.
	Choices []choice
}

type receiverRow struct {
	Name, DisplayName, Username, Email, Mobile, WeChat, DeleteURL string
}

type groupRow struct {
	Name, DisplayName, DeleteURL string
	Receivers                    []string
}

type receiverForm struct {
	Name, DisplayName, Username, Email, Mobile, WeChat string
	Error                                              string
}

type groupForm struct {
	Name, DisplayName string
	Receivers         map[string]bool
	Error             string
}

func (s *Server) receiversPage(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "receivers")
	if !ok {
		return
	}
	s.renderReceivers(w, r, sc, receiverForm{}, groupForm{Receivers: map[string]bool{}})
}

func (s *Server) renderReceivers(w http.ResponseWriter, r *request, sc alarmScope, rf receiverForm, gf groupForm) {
	d := receiversData{Scope: sc, Form: rf, GroupForm: gf, CanCreate: r.canIn(sc, "create", "receiver"), CanDelete: r.canIn(sc, "delete", "receiver"),
		CanCreateGroup: r.canIn(sc, "create", "receivergroup"), CanDeleteGroup: r.canIn(sc, "delete", "receivergroup")}
	var l notifyv1.ReceiverList
	msg, ok := r.listIn(w, sc, &l)
	if !ok {
		return
	}
	d.Err = msg
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	for _, x := range l.Items {
		d.Rows = append(d.Rows, receiverRow{Name: x.Name, DisplayName: x.Spec.DisplayName, Username: x.Spec.Username, Email: x.Spec.Email,
			Mobile: x.Spec.Mobile, WeChat: x.Spec.WeChatOpenID, DeleteURL: sc.Base + "/receivers/" + url.PathEscape(x.Name) + "/delete"})
	}
	var gl notifyv1.ReceiverGroupList
	if msg, ok := r.listIn(w, sc, &gl); !ok {
		return
	} else if d.Err == "" {
		d.Err = msg
	}
	sort.Slice(gl.Items, func(i, j int) bool { return gl.Items[i].Name < gl.Items[j].Name })
	for _, g := range gl.Items {
		row := groupRow{Name: g.Name, DisplayName: g.Spec.DisplayName, DeleteURL: sc.Base + "/receivergroups/" + url.PathEscape(g.Name) + "/delete"}
		for _, m := range g.Spec.Receivers {
			v := m.Name
			if m.Namespace != "" {
				v = m.Namespace + "/" + m.Name
			}
			row.Receivers = append(row.Receivers, v)
		}
		d.Groups = append(d.Groups, row)
	}
	if d.CanCreateGroup {
		_, _, d.Choices, _ = r.notifyChoices(sc)
	}
	r.showAlarmPage(w, sc, d)
}

func (s *Server) createReceiver(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "receivers")
	if !ok {
		return
	}
	_ = r.ParseForm()
	get := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := receiverForm{Name: get("name"), DisplayName: get("displayName"), Username: get("username"), Email: get("email"), Mobile: get("mobile"), WeChat: get("wechatOpenID")}
	rcv := &notifyv1.Receiver{TypeMeta: metav1.TypeMeta{APIVersion: notifyv1.GroupVersion.String(), Kind: "Receiver"},
		ObjectMeta: metav1.ObjectMeta{Namespace: sc.Namespace, Name: f.Name},
		Spec:       notifyv1.ReceiverSpec{DisplayName: f.DisplayName, Username: f.Username, Email: f.Email, Mobile: f.Mobile, WeChatOpenID: f.WeChat}}
	if f.Name == "" {
		rcv.GenerateName = "rcv-"
	}
	if f.Email+f.Mobile+f.WeChat == "" {
		f.Error = "give at least one address: an email, a mobile number or a WeChat OpenID"
	} else if err := r.create(rcv); err != nil {
		_, f.Error = explain(err)
	} else {
		s.Log.Info("console receiver created", "namespace", sc.Namespace, "name", rcv.Name, "by", r.user.Name())
		r.back(w, sc, "receivers", "Receiver "+rcv.Name+" created")
		return
	}
	s.renderReceivers(w, r, sc, f, groupForm{Receivers: map[string]bool{}})
}

func (s *Server) createReceiverGroup(w http.ResponseWriter, r *request) {
	sc, ok := r.scope(w, "receivers")
	if !ok {
		return
	}
	_ = r.ParseForm()
	f := groupForm{Name: strings.TrimSpace(r.PostFormValue("name")), DisplayName: strings.TrimSpace(r.PostFormValue("displayName")), Receivers: map[string]bool{}}
	g := &notifyv1.ReceiverGroup{TypeMeta: metav1.TypeMeta{APIVersion: notifyv1.GroupVersion.String(), Kind: "ReceiverGroup"},
		ObjectMeta: metav1.ObjectMeta{Namespace: sc.Namespace, Name: f.Name}, Spec: notifyv1.ReceiverGroupSpec{DisplayName: f.DisplayName}}
	if f.Name == "" {
		g.GenerateName = "rcvg-"
	}
	for _, v := range r.PostForm["receivers"] {
		f.Receivers[v] = true
		g.Spec.Receivers = append(g.Spec.Receivers, notifyRef(v))
	}
	if len(g.Spec.Receivers) == 0 {
		f.Error = "tick the group's receivers"
	} else if err := r.create(g); err != nil {
		_, f.Error = explain(err)
	} else {
		s.Log.Info("console receiver group created", "namespace", sc.Namespace, "name", g.Name, "by", r.user.Name())
		r.back(w, sc, "receivers", "Receiver group "+g.Name+" created")
		return
	}
	s.renderReceivers(w, r, sc, receiverForm{}, f)
}

// deleteNotifyObject deletes a channel, template, receiver or receiver
// group once its name is typed to confirm.
func (s *Server) deleteNotifyObject(w http.ResponseWriter, r *request) {
	kind, name := r.PathValue("kind"), r.PathValue("name")
	var obj client.Object
	var tab, noun string
	switch kind {
	case "channels":
		obj, tab, noun = &notifyv1.Channel{}, "channels", "Channel"
	case "templates":
		obj, tab, noun = &notifyv1.Template{}, "templates", "Template"
	case "receivers":
		obj, tab, noun = &notifyv1.Receiver{}, "receivers", "Receiver"
	case "receivergroups":
		obj, tab, noun = &notifyv1.ReceiverGroup{}, "receivers", "Receiver group"
	default:
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("the console has no page for %q", kind))
		return
	}
	sc, ok := r.scope(w, tab)
	if !ok {
		return
	}
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		s.fail(w, r.Request, http.StatusNotFound, fmt.Sprintf("no %s %q", strings.ToLower(noun), name))
		return
	}
	if r.PostFormValue("confirm") != name {
		s.fail(w, r.Request, http.StatusUnprocessableEntity, "type the name "+name+" to confirm the delete")
		return
	}
	obj.SetNamespace(sc.Namespace)
	obj.SetName(name)
	c, err := r.platform()
	if err == nil {
		err = c.Delete(r.Context(), obj)
	}
	if err != nil {
		r.fail(w, err)
		return
	}
	s.Log.Info("console notify object deleted", "kind", kind, "namespace", sc.Namespace, "name", name, "by", r.user.Name())
	r.back(w, sc, tab, noun+" "+name+" deleted")
}

// listIn lists l in the scope's namespace as the user. ok is false when
// the page has been answered (no client, or the login expired); otherwise
// msg is a refusal to show on the page, if any.
func (r *request) listIn(w http.ResponseWriter, sc alarmScope, l client.ObjectList) (msg string, ok bool) {
	c, err := r.platform()
	if err != nil {
		r.fail(w, err)
		return "", false
	}
	ctx, cancel := r.timeout()
	defer cancel()
	if err := c.List(ctx, l, client.InNamespace(sc.Namespace)); err != nil {
		code, msg := explain(err)
		if code == http.StatusUnauthorized {
			r.fail(w, err)
			return "", false
		}
		return msg, true
	}
	return "", true
}
