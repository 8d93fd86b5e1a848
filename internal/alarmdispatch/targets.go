package alarmdispatch

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/alarmrule"
	"github.com/kstack/kstack/internal/notifymsg"
)

// Target is one destination of a policy's notifications: a (channel,
// template) pair of spec.notifications, and for channels other than
// webhooks one receiver. Each has its own notification log entry, so each
// is deduplicated and repeated on its own.
type Target struct {
	// ID names the target in the notification log:
	// "<channel ns/name>|<template ns/name>[|<receiver ns/name>]".
	ID          string
	Channel     types.NamespacedName
	ChannelType string
	Template    notifyv1.TemplateSpec
	Receiver    *notifyv1.Receiver // nil for a webhook
	To          string             // the receiver's address for the channel type
}

// ref resolves a reference made from namespace from ("" = from's).
func ref(from string, ns, name string) types.NamespacedName {
	if ns == "" {
		ns = from
	}
	return types.NamespacedName{Namespace: ns, Name: name}
}

// Targets reads policy key's policy and resolves its current receivers ×
// (channel, template). A policy that no longer exists gives a NotFound
// error; a reference that cannot be resolved is skipped (warn says why).
func Targets(ctx context.Context, c client.Reader, key string, warn func(msg string, args ...any)) (*monitorv1.AlarmPolicy, []Target, error) {
	ns, name := alarmrule.SplitPolicyKey(key)
	if ns == "" || name == "" {
		return nil, nil, apierrors.NewNotFound(monitorv1.GroupVersion.WithResource("alarmpolicies").GroupResource(), key)
	}
	p := &monitorv1.AlarmPolicy{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, p); err != nil {
		return nil, nil, err
	}
	// Receivers: the policy's and its groups' members, once each.
	seen := map[types.NamespacedName]bool{}
	var recvs []*notifyv1.Receiver
	addRecv := func(k types.NamespacedName) error {
		if seen[k] {
			return nil
		}
		seen[k] = true
		r := &notifyv1.Receiver{}
		if err := c.Get(ctx, k, r); err != nil {
			if apierrors.IsNotFound(err) {
				warn("alarm policy names a receiver that does not exist", "policy", key, "receiver", k.String())
				return nil
			}
			return err
		}
		recvs = append(recvs, r)
		return nil
	}
	for _, r := range p.Spec.Receivers {
		if err := addRecv(ref(p.Namespace, r.Namespace, r.Name)); err != nil {
			return nil, nil, err
		}
	}
	for _, g := range p.Spec.ReceiverGroups {
		gk := ref(p.Namespace, g.Namespace, g.Name)
		grp := &notifyv1.ReceiverGroup{}
		if err := c.Get(ctx, gk, grp); err != nil {
			if apierrors.IsNotFound(err) {
				warn("alarm policy names a receiver group that does not exist", "policy", key, "group", gk.String())
				continue
			}
			return nil, nil, err
		}
		for _, r := range grp.Spec.Receivers {
			if err := addRecv(ref(grp.Namespace, r.Namespace, r.Name)); err != nil {
				return nil, nil, err
			}
		}
	}
	sort.Slice(recvs, func(i, j int) bool {
		return recvs[i].Namespace+"/"+recvs[i].Name < recvs[j].Namespace+"/"+recvs[j].Name
	})

	var out []Target
	done := map[string]bool{}
	for i, n := range p.Spec.Notifications {
		ck := ref(p.Namespace, n.Channel.Namespace, n.Channel.Name)
		ch := &notifyv1.Channel{}
		if err := c.Get(ctx, ck, ch); err != nil {
			if apierrors.IsNotFound(err) {
				warn("alarm policy names a channel that does not exist", "policy", key, "notification", i, "channel", ck.String())
				continue
			}
			return nil, nil, err
		}
		tk := ref(p.Namespace, n.Template.Namespace, n.Template.Name)
		spec := notifymsg.Default(ch.Spec.Type)
		if n.Template.Name != "" {
			t := &notifyv1.Template{}
			switch err := c.Get(ctx, tk, t); {
			case apierrors.IsNotFound(err):
				warn("alarm policy names a template that does not exist; using the default one", "policy", key, "notification", i, "template", tk.String())
			case err != nil:
				return nil, nil, err
			case t.Spec.ChannelType != ch.Spec.Type:
				warn("alarm policy's template is for another channel type; using the default one", "policy", key, "notification", i, "template", tk.String())
			default:
				spec = t.Spec
			}
		}
		base := ck.String() + "|" + tk.String()
		if ch.Spec.Type == notifyv1.ChannelWebhook {
			if !done[base] {
				done[base] = true
				out = append(out, Target{ID: base, Channel: ck, ChannelType: ch.Spec.Type, Template: spec})
			}
			continue
		}
		for _, r := range recvs {
			to := Address(ch.Spec.Type, r)
			if to == "" {
				continue // no identity for this channel type
			}
			id := base + "|" + r.Namespace + "/" + r.Name
			if done[id] {
				continue
			}
			done[id] = true
			out = append(out, Target{ID: id, Channel: ck, ChannelType: ch.Spec.Type, Template: spec, Receiver: r, To: to})
		}
	}
	return p, out, nil
}

// Address is a receiver's identity for a channel type: email address,
// mobile number or WeChat openID ("" for webhooks, or when it has none).
func Address(channelType string, r *notifyv1.Receiver) string {
	switch channelType {
	case notifyv1.ChannelEmail:
		return r.Spec.Email
	case notifyv1.ChannelSMS:
		return r.Spec.Mobile
	case notifyv1.ChannelWeChat:
		return r.Spec.WeChatOpenID
	}
	return ""
}

func (t Target) String() string { return fmt.Sprintf("target %s", t.ID) }
