package notifyapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/apigroup"
	"github.com/kstack/kstack/internal/auth/attributes"
	"github.com/kstack/kstack/internal/auth/directory"
	"github.com/kstack/kstack/internal/recordstore"
)

// testSend makes one synchronous delivery through a channel, of a sample
// notification rendered with the template named (or the channel type's
// built-in one), to the receiver named. The caller needs to update the
// channel, so that those who only read it cannot send through it.
func (m *Module) testSend(w http.ResponseWriter, r *http.Request, p *directory.Principal) {
	res, err := m.doTestSend(r, p)
	if err != nil {
		apigroup.WriteError(w, err)
		return
	}
	apigroup.WriteJSON(w, http.StatusOK, res)
}

func (m *Module) doTestSend(r *http.Request, p *directory.Principal) (*notifyv1.TestSendResult, error) {
	ctx := r.Context()
	ns, name := r.PathValue("ns"), r.PathValue("name")
	var ch notifyv1.Channel
	// The console's Test follows the channel's creation at once.
	err := m.getFresh(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ch)
	tenant := ch.Labels[apigroup.LabelTenant]
	if tenant == "" {
		tenant = ch.Spec.TenantID
	}
	a := attributes.Attributes{Verb: "update", APIGroup: Group, Kind: "channel", Namespace: ns, Name: name,
		Action: "updateChannel", Resource: "namespace:" + ns + "/channel:" + name, Project: ProjectOf(m.SystemNamespace, ns)}
	if err != nil {
		tenant = ""
	}
	d := m.Decider.Platform(ctx, p, a, tenant)
	switch {
	case err != nil || d.NotFound:
		return nil, apigroup.Refuse(http.StatusNotFound, "channel %q not found in namespace %s", name, ns)
	case !d.Allowed:
		return nil, apigroup.Refuse(http.StatusForbidden, "%s may not test channel %s (it needs updateChannel): %s", p.Name(), name, d.Reason)
	}
	if m.Queue == nil || isNil(m.Queue) {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "notifications are off on this platform: it runs without a record store (--record-store), which holds the outbox")
	}
	var req notifyv1.TestSendRequest
	if r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, apigroup.Refuse(http.StatusBadRequest, "reading the body: %v", err)
		}
		if len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				return nil, apigroup.Refuse(http.StatusBadRequest, "the body is not a TestSendRequest ({\"receiver\": {\"name\": ...}, \"template\": {\"name\": ...}}): %v", err)
			}
		}
	}
	refs := m.Refs(p, ns, ch.Spec.TenantID)
	spec := defaultTemplate(ch.Spec.Type)
	if req.Template != nil {
		var t notifyv1.Template
		if err := refs.Check(ctx, "template", "template", req.Template.Namespace, req.Template.Name, &t); err != nil {
			return nil, err
		}
		if t.Spec.ChannelType != ch.Spec.Type {
			return nil, apigroup.Invalid("template: template %s is for %s, channel %s is %s", t.Name, t.Spec.ChannelType, name, ch.Spec.Type)
		}
		spec = t.Spec
	}
	var to []string
	user := ""
	if req.Receiver != nil {
		var rc notifyv1.Receiver
		if err := refs.Check(ctx, "receiver", "receiver", req.Receiver.Namespace, req.Receiver.Name, &rc); err != nil {
			return nil, err
		}
		addr, field := AddressOf(&rc.Spec, ch.Spec.Type)
		if ch.Spec.Type != notifyv1.ChannelWebhook && addr == "" {
			return nil, apigroup.Invalid("receiver: receiver %s has no %s, which a %s channel sends to", rc.Name, field, ch.Spec.Type)
		}
		if addr != "" {
			to = []string{addr}
		}
		user = rc.Name
	} else if ch.Spec.Type != notifyv1.ChannelWebhook {
		return nil, apigroup.Invalid("receiver: name the receiver a test %s goes to", ch.Spec.Type)
	}
	msg, err := renderTemplate(&spec, sample())
	if err != nil {
		return nil, apigroup.Invalid("template: %v", err)
	}
	msg.To = to
	rec := recordstore.Record{Kind: RecordKind, Time: time.Now(), Tenant: tenantOf(ch.Spec.TenantID, p), User: user,
		Project: ProjectOf(m.SystemNamespace, ns), Resource: "channel", Name: ns + "/" + name, Verb: "test"}
	res, ok := m.sendNow(ctx, types.NamespacedName{Namespace: ns, Name: name}, msg, rec)
	if !ok {
		return nil, apigroup.Refuse(http.StatusServiceUnavailable, "notifications cannot be sent from this replica yet: its queue is not ready; try again")
	}
	out := &notifyv1.TestSendResult{Status: "sent", Code: res.Code}
	if res.Err != nil {
		out.Status, out.Error = "failed", res.Err.Error()
	}
	return out, nil
}

// sendNow is Queue.SendNow; ok is false when the queue could not try (a
// queue without the client it resolves channels with panics).
func (m *Module) sendNow(ctx context.Context, ch types.NamespacedName, msg Message, rec recordstore.Record) (res Result, ok bool) {
	defer func() {
		if recover() != nil {
			res, ok = Result{}, false
		}
	}()
	return m.Queue.SendNow(ctx, ch, msg, rec), true
}

// isNil: an interface holding a nil pointer.
func isNil(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// AddressOf is the receiver's address a channel of channelType sends to
// ("" for a webhook, which sends to its URL), and the field it is in.
func AddressOf(s *notifyv1.ReceiverSpec, channelType string) (addr, field string) {
	switch channelType {
	case notifyv1.ChannelEmail:
		return s.Email, "email"
	case notifyv1.ChannelSMS:
		return s.Mobile, "mobile"
	case notifyv1.ChannelWeChat:
		return s.WeChatOpenID, "wechatOpenID"
	}
	return "", ""
}
