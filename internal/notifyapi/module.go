// Package notifyapi is the notify.tkestack.io API group: the channels
// messages are sent through (email, webhook, SMS, WeChat), the templates
// they are made with, and the receivers and receiver groups they go to;
// a channel's test-send; and the search of the notification records.
//
// Objects of a project live in the project's namespace (its policies
// govern them); objects a whole tenant shares live in the platform's
// namespace, where their names are always generated, so that no tenant
// learns another's names. A channel's credentials are moved into a Secret
// of the platform before the channel is stored, and never served back.
package notifyapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/randomid"
	"github.com/kstack/kstack/internal/recordstore"
)

const (
	// Group is the API group.
	Group = "notify.tkestack.io"
	// Prefix is where the gateway serves it.
	Prefix    = "/notify"
	groupPath = Prefix + "/apis/" + Group + "/v1/"
	// LabelChannel marks the Secret that holds a channel's credentials:
	// "<namespace>.<name>" of the channel.
	LabelChannel = notifychannel.LabelChannel
	// RecordKind is the record store's kind for notifications.
	RecordKind = "notification"
)

// Sender makes one synchronous delivery attempt (notifyqueue.Queue).
type Sender interface {
	SendNow(ctx context.Context, ch types.NamespacedName, m Message, rec recordstore.Record) Result
}

// Module is the notify group.
type Module struct {
	apigroup.Env
	// Dial decides which addresses users may give (SMTP servers, webhooks,
	// provider endpoints).
	Dial *dialcheck.Policy
	// Queue sends test messages; nil: notifications are off (503).
	Queue Sender
	// Store is the record store the notifications are searched in (nil: 503).
	Store recordstore.Store
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Info names the group.
func (m *Module) Info() apigroup.Info { return apigroup.Info{Group: Group, Prefix: Prefix} }

// kinds: the singular resource, its Kind, and the prefix of generated names.
var kinds = map[string]struct{ kind, prefix string }{
	"channel":       {"Channel", "chn-"},
	"template":      {"Template", "tpl-"},
	"receiver":      {"Receiver", "rcv-"},
	"receivergroup": {"ReceiverGroup", "rcvg-"},
}

// Resources: the four kinds, each governed by the policies of the project
// it lives in (none for the tenant-wide ones in the platform's namespace).
func (m *Module) Resources() []apigroup.Resource {
	project := func(a attributes.Attributes) string { return ProjectOf(m.SystemNamespace, a.Namespace) }
	return []apigroup.Resource{
		{Kind: "channel", TenantScoped: true, Project: project,
			// Credentials come in whole bodies only, where Admit moves them out.
			Patch: apigroup.PatchAdmins, NoPatch: "except by administrators: credentials are sent with a create or a replace (PUT) of the whole channel, never in a patch"},
		{Kind: "template", TenantScoped: true, Project: project},
		{Kind: "receiver", TenantScoped: true, Project: project},
		{Kind: "receivergroup", TenantScoped: true, Project: project},
	}
}

// ProjectOf is the project whose policies govern an object in namespace:
// the namespace itself, except the platform's (tenant-wide objects).
func ProjectOf(systemNamespace, namespace string) string {
	if namespace == systemNamespace {
		return ""
	}
	return namespace
}

// Indexes: none.
func (m *Module) Indexes() []apigroup.Index { return nil }

// Controllers: the collection of the credentials Secrets of deleted
// channels (the platform wires the queue and the dispatcher itself).
func (m *Module) Controllers() []apigroup.Controller {
	return []apigroup.Controller{{Name: "notify-credentials", Setup: func(mgr ctrl.Manager) error {
		return (&Credentials{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), SystemNamespace: m.SystemNamespace}).SetupWithManager(mgr)
	}}}
}

// Routes: a channel's test-send, and the notification records of a cluster
// or a project.
func (m *Module) Routes() []apigroup.Route {
	rs := m.records()
	return []apigroup.Route{
		{Pattern: "POST " + groupPath + "namespaces/{ns}/channels/{name}/test", Handler: m.testSend},
		{Pattern: "GET " + groupPath + "clusters/{cluster}/notifications", Handler: rs.ClusterList},
		{Pattern: "GET " + groupPath + "clusters/{cluster}/notifications/export", Handler: rs.ClusterExport},
		{Pattern: "GET " + groupPath + "namespaces/{project}/notifications", Handler: rs.ProjectList},
		{Pattern: "GET " + groupPath + "namespaces/{project}/notifications/export", Handler: rs.ProjectExport},
	}
}

// GenerateName names an object being created when the body names none
// (from generateName, or prefix), and always in the platform's namespace,
// where the objects of every tenant meet: a name given there could tell
// whether another tenant's object has it.
func GenerateName(u *unstructured.Unstructured, namespace, systemNamespace, prefix string) {
	if u.GetName() != "" && namespace != systemNamespace {
		return
	}
	if g := u.GetGenerateName(); g != "" && len(g) <= 40 {
		prefix = g
	}
	u.SetName(randomid.New(prefix, 8))
}

// Admit completes a create or replace: a generated name, and a channel's
// credentials moved into a new Secret (the channel is stored without
// them). A dry run (?dryRun) checks and blanks them but writes nothing.
func (m *Module) Admit(ctx context.Context, r *apigroup.Request) error {
	if r.Object == nil {
		return nil
	}
	a := r.Attributes
	k, ok := kinds[a.Kind]
	if !ok {
		return nil
	}
	if a.Verb == "create" {
		GenerateName(r.Object, a.Namespace, m.SystemNamespace, k.prefix)
	}
	if a.Kind != "channel" {
		return nil
	}
	var ch notifyv1.Channel
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &ch); err != nil {
		return apigroup.Invalid("not a Channel: %v", err)
	}
	if a.Verb == "update" && a.Name != "" && ch.Name != a.Name {
		// The gateway decided on the URL's channel: the body's is never
		// the one whose credentials are written.
		return apigroup.Refuse(http.StatusBadRequest, "metadata.name %q is not the channel of the URL (%q): a replace (PUT) keeps the channel's name", ch.Name, a.Name)
	}
	if a.Namespace != "" {
		// The API server stores the channel in the URL's namespace.
		ch.Namespace = a.Namespace
	}
	if ch.Namespace == "" || ch.Name == "" {
		return nil // Validate refuses
	}
	if err := m.beforeCredentials(ctx, &ch, a.Verb == "create"); err != nil {
		return err
	}
	dryRun := r.DryRun || (r.Query != nil && r.Query.Has("dryRun"))
	if err := m.moveCredentials(ctx, r.Principal, &ch, a.Verb == "create", dryRun); err != nil {
		return err
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&ch)
	if err != nil {
		return err
	}
	r.Object.Object = obj
	return nil
}

// beforeCredentials refuses, before any credential is written, what the
// write would be refused for anyway: a channel that would not validate
// (its Secret would then hold credentials of a write that never
// happened), a credential that is not well formed, and a create over a
// channel that exists (whose credentials the create would otherwise
// replace).
func (m *Module) beforeCredentials(ctx context.Context, ch *notifyv1.Channel, create bool) error {
	if create {
		var cur notifyv1.Channel
		key := client.ObjectKeyFromObject(ch)
		if err := m.getFresh(ctx, key, &cur); err == nil {
			return apigroup.Refuse(http.StatusConflict, "channels %q already exists", ch.Name)
		}
	}
	if err := CheckNamespace(ctx, m.Env, ch.Namespace, tenantOf(ch.Spec.TenantID, nil)); err != nil {
		return err
	}
	if w := ch.Spec.Webhook; w != nil {
		// Secret values are blanked before the checks below: these are
		// checked here, as the others are there.
		for i, h := range w.Headers {
			if h.Secret && hasCRLF(h.Value) {
				return apigroup.Invalid("spec.webhook.headers[%d].value: a header value holds no CR, LF or NUL", i)
			}
		}
	}
	blank := ch.DeepCopy()
	for _, c := range credentialsOf(&blank.Spec) {
		c.clear()
	}
	blank.Spec.CredentialsSecret = ""
	return m.checkChannel(ctx, blank)
}

// credential is one of a channel's credential fields: its key in the
// Secret, its value in the body, whether the channel cannot work without
// it, and clear, which blanks it in the channel.
type credential struct {
	field, key, value string
	required          bool
	clear             func()
}

func credentialsOf(s *notifyv1.ChannelSpec) []credential {
	var out []credential
	if e := s.Email; e != nil {
		// A server that takes no login takes no password either.
		out = append(out, credential{"spec.email.password", notifychannel.KeyPassword, e.Password, e.Username != "", func() { e.Password = "" }})
	}
	if w := s.Webhook; w != nil {
		for i := range w.Headers {
			h := &w.Headers[i]
			if h.Secret {
				out = append(out, credential{fmt.Sprintf("spec.webhook.headers[%d].value", i), notifychannel.KeyHeaderPrefix + h.Name, h.Value, true, func() { h.Value = "" }})
			}
		}
	}
	for f, pc := range map[string]*notifyv1.ProviderChannel{"spec.sms.key": s.SMS, "spec.wechat.key": s.WeChat} {
		if pc != nil {
			out = append(out, credential{f, notifychannel.KeyProvider, pc.Key, true, func() { pc.Key = "" }})
		}
	}
	return out
}

// Annotations of a credentials Secret.
const (
	// AnnotationDestination is the hash of the destination (destinationOf)
	// the Secret's credentials were given for: they are kept for that
	// destination only, so that changing where a channel sends never sends
	// its kept credentials somewhere new.
	AnnotationDestination = "notify.tkestack.io/destination"
	// AnnotationWrittenAt is when the Secret was written (RFC 3339); the
	// collection's grace runs from it.
	AnnotationWrittenAt = "notify.tkestack.io/written-at"
)

// destField is one field of where a channel sends its credentials.
type destField struct{ field, value string }

// destinationOf is where the channel's credentials go: the type, the SMTP
// server, its TLS, CA and user name; the webhook's URL and CA; the
// provider and its endpoint. (A secret header's name is its key.)
func destinationOf(s *notifyv1.ChannelSpec) []destField {
	out := []destField{{"spec.type", s.Type}}
	if e := s.Email; e != nil {
		out = append(out, destField{"spec.email.smtpHost", e.SMTPHost}, destField{"spec.email.smtpPort", strconv.Itoa(int(e.SMTPPort))},
			destField{"spec.email.tls", e.TLS}, destField{"spec.email.caBundle", e.CABundle}, destField{"spec.email.username", e.Username})
	}
	if w := s.Webhook; w != nil {
		out = append(out, destField{"spec.webhook.url", w.URL}, destField{"spec.webhook.caBundle", w.CABundle})
	}
	for _, p := range []struct {
		f  string
		pc *notifyv1.ProviderChannel
	}{{"spec.sms", s.SMS}, {"spec.wechat", s.WeChat}} {
		if p.pc != nil {
			out = append(out, destField{p.f + ".provider", p.pc.Provider}, destField{p.f + ".endpoint", p.pc.Endpoint})
		}
	}
	return out
}

func destinationHash(s *notifyv1.ChannelSpec) string {
	h := sha256.New()
	for _, d := range destinationOf(s) {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(d.field), d.field, len(d.value), d.value)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// changedDestination is the first destination field that differs between
// old and s ("" when none does).
func changedDestination(old, s *notifyv1.ChannelSpec) string {
	was := map[string]string{}
	for _, d := range destinationOf(old) {
		was[d.field] = d.value
	}
	for _, d := range destinationOf(s) {
		if v, ok := was[d.field]; !ok || v != d.value {
			return d.field
		}
	}
	return ""
}

// credentialNames names the credentials of a channel type in a message.
var credentialNames = map[string]string{
	notifyv1.ChannelEmail:   "spec.email.password",
	notifyv1.ChannelWebhook: "the secret header values",
	notifyv1.ChannelSMS:     "spec.sms.key",
	notifyv1.ChannelWeChat:  "spec.wechat.key",
}

// secretKey is what a key of a Secret is made of.
var secretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// moveCredentials puts the channel's credentials into a new Secret of its
// own and blanks them. A replace without a value keeps the stored one,
// when the channel sends to the same destination; keys the channel no
// longer uses are dropped. A create keeps nothing.
//
// The Secret the stored channel names is never changed: a replace that
// changes a credential writes a new Secret (its name the channel's and a
// random version) and points the channel at it, so a write the API server
// then refuses leaves the stored channel with its credentials. The
// collection (Credentials) deletes the Secrets the channel does not name.
func (m *Module) moveCredentials(ctx context.Context, p *directory.Principal, ch *notifyv1.Channel, create, dryRun bool) error {
	given := map[string][]byte{}
	creds := credentialsOf(&ch.Spec)
	for _, c := range creds {
		if c.value != "" {
			given[c.key] = []byte(c.value)
			c.clear()
		}
	}
	labels := map[string]string{LabelChannel: ch.Namespace + "." + ch.Name, apigroup.LabelTenant: tenantOf(ch.Spec.TenantID, p)}
	dest := destinationHash(&ch.Spec)

	// What is kept: the Secret the stored channel names, for the same
	// destination.
	var cur *corev1.Secret
	changed := ""
	if !create {
		stored := &notifyv1.Channel{}
		err := m.get(ctx, client.ObjectKeyFromObject(ch), stored)
		switch {
		case err != nil && !apierrors.IsNotFound(err):
			return apigroup.Refuse(http.StatusServiceUnavailable, "reading the channel's kept credentials: %v", err)
		case err == nil && stored.Spec.CredentialsSecret != "" && notifychannel.OwnSecret(ch.Namespace, ch.Name, stored.Spec.CredentialsSecret):
			sec := &corev1.Secret{}
			err := m.get(ctx, client.ObjectKey{Namespace: m.SystemNamespace, Name: stored.Spec.CredentialsSecret}, sec)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return apigroup.Refuse(http.StatusServiceUnavailable, "reading the channel's kept credentials: %v", err)
			case sec.Labels[LabelChannel] != labels[LabelChannel] || sec.Labels[apigroup.LabelTenant] != labels[apigroup.LabelTenant]:
				return apigroup.Refuse(http.StatusConflict, "the channel names Secret %s of the platform, which is not labelled as this channel's credentials: it is not taken over; an administrator removes spec.credentialsSecret, and the credentials are sent again", sec.Name)
			case sec.Annotations[AnnotationDestination] != dest:
				changed = changedDestination(&stored.Spec, &ch.Spec)
				if changed == "" {
					changed = "the destination"
				}
			default:
				cur = sec
			}
		}
	}
	data := map[string][]byte{}
	for _, c := range creds {
		v := given[c.key]
		if len(v) == 0 && cur != nil {
			v = cur.Data[c.key]
		}
		if len(v) > 0 {
			data[c.key] = v
			continue
		}
		if !c.required {
			continue
		}
		if changed != "" {
			return apigroup.Invalid("%s changed: send %s again (stored credentials are only kept for the same destination)", changed, credentialNames[ch.Spec.Type])
		}
		return apigroup.Invalid("%s: give it: the channel cannot send without it, and none is kept (it is sent with a create or a replace, and kept in a Secret of the platform)", c.field)
	}
	for k := range data {
		if !secretKey.MatchString(k) {
			// checkWebhook refuses such names first.
			return apigroup.Invalid("%s: not a key of a Secret", k)
		}
	}
	ch.Spec.CredentialsSecret = ""
	if len(data) == 0 {
		// The Secret the stored channel names is left to the collection.
		return nil
	}
	if msgs := validation.IsValidLabelValue(labels[LabelChannel]); len(msgs) > 0 {
		return apigroup.Invalid("metadata.name %q: a channel with credentials has a name of at most %d characters in namespace %s, so that its credentials Secret can name it (%s)",
			ch.Name, validation.LabelValueMaxLength-len(ch.Namespace)-1, ch.Namespace, strings.Join(msgs, "; "))
	}
	if cur != nil && maps.EqualFunc(cur.Data, data, bytes.Equal) {
		// Nothing changes: the channel keeps its Secret.
		ch.Spec.CredentialsSecret = cur.Name
		return nil
	}
	if dryRun {
		ch.Spec.CredentialsSecret = notifychannel.Versioned(ch.Namespace, ch.Name, "00000000")
		return nil
	}
	t := true
	for range 5 {
		var v [4]byte
		if _, err := rand.Read(v[:]); err != nil {
			return err
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.SystemNamespace, Name: notifychannel.Versioned(ch.Namespace, ch.Name, hex.EncodeToString(v[:])),
			Labels:      labels,
			Annotations: map[string]string{AnnotationDestination: dest, AnnotationWrittenAt: m.now().UTC().Format(time.RFC3339)}},
			Data: data, Type: corev1.SecretTypeOpaque, Immutable: &t}
		err := m.Client.Create(ctx, sec)
		if apierrors.IsAlreadyExists(err) {
			// Another Secret has that name: never taken over.
			continue
		}
		if err != nil {
			return apigroup.Refuse(http.StatusServiceUnavailable, "keeping the channel's credentials: %v", err)
		}
		ch.Spec.CredentialsSecret = sec.Name
		return nil
	}
	return apigroup.Refuse(http.StatusConflict, "keeping the channel's credentials: the names tried for its Secret are taken; try again")
}

// get reads key from the API server when the module has a reader (the
// cache may lag a write just made), else from the cache.
func (m *Module) get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	if m.Reader != nil {
		return m.Reader.Get(ctx, key, obj)
	}
	return m.Client.Get(ctx, key, obj)
}

// getFresh reads key from the cache, and from the API server when the
// cache has not seen it (yet): a channel made a moment ago is found.
func (m *Module) getFresh(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := m.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && m.Reader != nil {
		err = m.Reader.Get(ctx, key, obj)
	}
	return err
}

func (m *Module) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func tenantOf(tenant string, p *directory.Principal) string {
	if tenant != "" {
		return tenant
	}
	if p != nil && p.Tenant != "" {
		return p.Tenant
	}
	return apigroup.DefaultTenant
}

// Validate checks an object as it would be stored.
func (m *Module) Validate(ctx context.Context, r *apigroup.Request) error {
	if r.Object == nil {
		return nil
	}
	if _, ok := kinds[r.Attributes.Kind]; ok {
		tenant, _, _ := unstructured.NestedString(r.Object.Object, "spec", "tenantID")
		if err := CheckNamespace(ctx, m.Env, r.Object.GetNamespace(), tenant); err != nil {
			return err
		}
	}
	switch r.Attributes.Kind {
	case "channel":
		var ch notifyv1.Channel
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &ch); err != nil {
			return apigroup.Invalid("not a Channel: %v", err)
		}
		return m.checkChannel(ctx, &ch)
	case "template":
		var t notifyv1.Template
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &t); err != nil {
			return apigroup.Invalid("not a Template: %v", err)
		}
		return checkTemplateSpec(&t.Spec)
	case "receiver":
		var rc notifyv1.Receiver
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &rc); err != nil {
			return apigroup.Invalid("not a Receiver: %v", err)
		}
		return checkReceiver(&rc.Spec)
	case "receivergroup":
		var g notifyv1.ReceiverGroup
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.Object.Object, &g); err != nil {
			return apigroup.Invalid("not a ReceiverGroup: %v", err)
		}
		if len(g.Spec.Receivers) == 0 {
			return apigroup.Invalid("spec.receivers: name at least one receiver")
		}
		refs := m.Refs(r.Principal, g.Namespace, g.Spec.TenantID)
		seen := map[string]bool{}
		for i, ref := range g.Spec.Receivers {
			field := fmt.Sprintf("spec.receivers[%d]", i)
			if err := refs.Check(ctx, field, "receiver", ref.Namespace, ref.Name, &notifyv1.Receiver{}); err != nil {
				return err
			}
			key := refs.Target(ref.Namespace) + "/" + ref.Name
			if seen[key] {
				return apigroup.Invalid("%s: receiver %s is named twice", field, key)
			}
			seen[key] = true
		}
	}
	return nil
}

var channelTypes = []string{notifyv1.ChannelEmail, notifyv1.ChannelWebhook, notifyv1.ChannelSMS, notifyv1.ChannelWeChat}

// checkChannel: exactly the field of its type, well formed, dialling only
// addresses the platform may dial, and no credential stored.
func (m *Module) checkChannel(ctx context.Context, ch *notifyv1.Channel) error {
	s := &ch.Spec
	if !slices.Contains(channelTypes, s.Type) {
		return apigroup.Invalid("spec.type %q: use email, webhook, sms or wechat", s.Type)
	}
	set := map[string]bool{notifyv1.ChannelEmail: s.Email != nil, notifyv1.ChannelWebhook: s.Webhook != nil, notifyv1.ChannelSMS: s.SMS != nil, notifyv1.ChannelWeChat: s.WeChat != nil}
	for _, t := range channelTypes {
		if set[t] != (t == s.Type) {
			return apigroup.Invalid("spec: a channel of type %s sets spec.%s and no other type's field", s.Type, s.Type)
		}
	}
	if len(s.DisplayName) > 60 {
		return apigroup.Invalid("spec.displayName: at most 60 characters")
	}
	if s.Concurrency < 0 || s.Concurrency > 32 {
		return apigroup.Invalid("spec.concurrency %d is out of range: 1 to 32 (0: the default, 4)", s.Concurrency)
	}
	var err error
	switch s.Type {
	case notifyv1.ChannelEmail:
		err = m.checkEmail(ctx, s.Email)
	case notifyv1.ChannelWebhook:
		err = m.checkWebhook(ctx, s.Webhook)
	case notifyv1.ChannelSMS:
		err = m.checkProvider(ctx, "spec.sms", s.SMS)
	case notifyv1.ChannelWeChat:
		err = m.checkProvider(ctx, "spec.wechat", s.WeChat)
	}
	if err != nil {
		return err
	}
	if s.CredentialsSecret != "" && !notifychannel.OwnSecret(ch.Namespace, ch.Name, s.CredentialsSecret) {
		// The workers would send that Secret's values to this channel's address.
		return apigroup.Invalid("spec.credentialsSecret %q is not this channel's (%s-…): the platform sets it; send the credentials instead", s.CredentialsSecret, secretName(ch.Namespace, ch.Name))
	}
	return nil
}

// credentialMsg is the refusal of a credential in a stored channel: Admit
// moves those of a create or replace, so this one came in a patch.
func credentialMsg(field string) error {
	return apigroup.Invalid("%s: a credential is sent with a create or a replace (PUT) of the whole channel, never in a patch: the platform keeps it in a Secret", field)
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func hasCRLF(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

func checkCABundle(field, pem string) error {
	if pem == "" {
		return nil
	}
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(pem)) {
		return apigroup.Invalid("%s: no PEM certificate in it", field)
	}
	return nil
}

func (m *Module) checkEmail(ctx context.Context, e *notifyv1.EmailChannel) error {
	switch {
	case e.SMTPHost == "" || hasCRLF(e.SMTPHost) || strings.ContainsAny(e.SMTPHost, " /"):
		return apigroup.Invalid("spec.email.smtpHost %q: give the SMTP server's host name or address", e.SMTPHost)
	case strings.Contains(e.SMTPHost, ":") && !isIP(e.SMTPHost):
		return apigroup.Invalid("spec.email.smtpHost %q: give the host alone; the port goes in spec.email.smtpPort", e.SMTPHost)
	case e.SMTPPort < 1 || e.SMTPPort > 65535:
		return apigroup.Invalid("spec.email.smtpPort %d is out of range: 1 to 65535", e.SMTPPort)
	case e.TLS != "starttls" && e.TLS != "implicit":
		return apigroup.Invalid("spec.email.tls %q: use starttls (the server must offer STARTTLS) or implicit (TLS from the first byte, usually port 465); mail is never sent in clear", e.TLS)
	}
	if err := m.Dial.CheckHostPort(ctx, "spec.email.smtpHost", net.JoinHostPort(e.SMTPHost, strconv.Itoa(int(e.SMTPPort)))); err != nil {
		return apigroup.Invalid("%v", err)
	}
	if hasCRLF(e.From) {
		return apigroup.Invalid("spec.email.from: an address holds no CR or LF")
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return apigroup.Invalid("spec.email.from %q is not a mail address (such as Alarms <alarms@example.com>): %v", e.From, err)
	}
	if hasCRLF(e.Username) {
		return apigroup.Invalid("spec.email.username: a user name holds no CR or LF")
	}
	if err := checkCABundle("spec.email.caBundle", e.CABundle); err != nil {
		return err
	}
	if e.Password != "" {
		return credentialMsg("spec.email.password")
	}
	return nil
}

// hopHeaders are the headers a webhook channel may not set: they are the
// connection's, which the platform's client owns.
var hopHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Connection"}

// token matches an RFC 7230 token (a header name).
var token = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

func (m *Module) checkWebhook(ctx context.Context, w *notifyv1.WebhookChannel) error {
	if err := m.Dial.CheckURL(ctx, "spec.webhook.url", w.URL); err != nil {
		return apigroup.Invalid("%v", err)
	}
	if w.TimeoutSeconds < 0 || w.TimeoutSeconds > 30 {
		return apigroup.Invalid("spec.webhook.timeoutSeconds %d is out of range: 1 to 30 (0: the default, 10)", w.TimeoutSeconds)
	}
	seen := map[string]bool{}
	for i, h := range w.Headers {
		f := fmt.Sprintf("spec.webhook.headers[%d]", i)
		if !token.MatchString(h.Name) {
			return apigroup.Invalid("%s.name %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~, RFC 7230)", f, h.Name)
		}
		canon := http.CanonicalHeaderKey(h.Name)
		if slices.Contains(hopHeaders, canon) {
			return apigroup.Invalid("%s.name: %s is the connection's header, which the platform sets; it cannot be given", f, canon)
		}
		if seen[canon] {
			return apigroup.Invalid("%s.name: %s is given twice", f, canon)
		}
		if h.Secret && !secretKey.MatchString(h.Name) {
			return apigroup.Invalid("%s.name %q: a secret header's name is made of letters, digits, -, . and _ only (it names the key its value is kept under in a Secret of the platform)", f, h.Name)
		}
		seen[canon] = true
		if hasCRLF(h.Value) {
			return apigroup.Invalid("%s.value: a header value holds no CR, LF or NUL", f)
		}
		if h.Secret && h.Value != "" {
			return credentialMsg(f + ".value")
		}
	}
	return checkCABundle("spec.webhook.caBundle", w.CABundle)
}

func (m *Module) checkProvider(ctx context.Context, f string, pc *notifyv1.ProviderChannel) error {
	known := knownProviders()
	if !slices.Contains(known, pc.Provider) {
		return apigroup.Invalid("%s.provider %q: known providers: %s", f, pc.Provider, strings.Join(known, ", "))
	}
	if pc.Endpoint != "" {
		if err := m.Dial.CheckURL(ctx, f+".endpoint", pc.Endpoint); err != nil {
			return apigroup.Invalid("%v", err)
		}
	}
	for k, v := range pc.Params {
		if k == "" || hasCRLF(k) || hasCRLF(v) {
			return apigroup.Invalid("%s.params[%q]: names and values hold no CR, LF or NUL", f, k)
		}
	}
	if pc.Key != "" {
		return credentialMsg(f + ".key")
	}
	return nil
}

func checkTemplateSpec(s *notifyv1.TemplateSpec) error {
	if !slices.Contains(channelTypes, s.ChannelType) {
		return apigroup.Invalid("spec.channelType %q: use email, webhook, sms or wechat", s.ChannelType)
	}
	if len(s.DisplayName) > 60 {
		return apigroup.Invalid("spec.displayName: at most 60 characters")
	}
	if err := checkTemplate(s); err != nil {
		return apigroup.Invalid("%v", err)
	}
	return nil
}

var mobile = regexp.MustCompile(`^\+?[0-9]{6,15}$`)
var openID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func checkReceiver(s *notifyv1.ReceiverSpec) error {
	if s.Email == "" && s.Mobile == "" && s.WeChatOpenID == "" {
		return apigroup.Invalid("spec: give at least one address: email, mobile or wechatOpenID")
	}
	if len(s.DisplayName) > 60 {
		return apigroup.Invalid("spec.displayName: at most 60 characters")
	}
	if s.Email != "" {
		if err := checkAddress(s.Email); err != nil {
			return apigroup.Invalid("spec.email %q is not a mail address such as ops@example.com", s.Email)
		}
	}
	if s.Mobile != "" && !mobile.MatchString(s.Mobile) {
		return apigroup.Invalid("spec.mobile %q is not a mobile number: 6 to 15 digits, with an optional leading + (e.g. +8613800000000)", s.Mobile)
	}
	if s.WeChatOpenID != "" && !openID.MatchString(s.WeChatOpenID) {
		return apigroup.Invalid("spec.wechatOpenID %q is not an OpenID: up to 128 letters, digits, - and _", s.WeChatOpenID)
	}
	if hasCRLF(s.Username) {
		return apigroup.Invalid("spec.username: a user name holds no CR or LF")
	}
	return nil
}

// checkAddress accepts a bare mail address (no display name, no list).
func checkAddress(s string) error {
	if hasCRLF(s) {
		return fmt.Errorf("CR or LF")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return err
	}
	if a.Name != "" || a.Address != s {
		return fmt.Errorf("not a bare address")
	}
	return nil
}
