// Package notifychannel delivers one rendered message (notifymsg.Message)
// over one notification channel: a webhook, an SMTP server, or an SMS or
// WeChat provider's HTTP API. Every connection to an address a user gave
// goes through the platform's dial policy, checked on the address actually
// dialled. Credentials come from the channel's Secret at send time and are
// never put into messages, results or logs.
package notifychannel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifymsg"
)

const (
	// SystemNamespace holds the channels' credentials Secrets.
	SystemNamespace = "kstack-system"
	// LabelChannel marks a channel's credentials Secret: "<namespace>.<name>".
	LabelChannel = "notify.tkestack.io/channel"

	// Keys of the credentials Secret.
	KeyPassword     = "password" // email
	KeyHeaderPrefix = "header."  // + header name: a secret webhook header
	KeyProvider     = "key"      // sms, wechat
)

// SecretName is the start of the names of the Secrets (in SystemNamespace)
// that hold the credentials of channel namespace/name: "channel-<ns>-<name>",
// or, when that would pass 244 characters, its start and a hash of the
// whole. Each Secret of the channel is named SecretName + "-" + 8 hex
// digits of a hash of what it holds (Versioned): a replace writes a new
// Secret and never changes the one the stored channel names.
func SecretName(namespace, name string) string {
	n := "channel-" + namespace + "-" + name
	if len(n) <= maxSecretBase {
		return n
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return n[:maxSecretBase-17] + "-" + hex.EncodeToString(sum[:8])
}

// maxSecretBase leaves room for the version ("-" and 8 hex digits) in a
// name of at most 253 characters.
const maxSecretBase = 253 - 1 - versionLen

const versionLen = 8

// Versioned is the name of channel namespace/name's credentials Secret of
// version, the hex hash of its contents (its first 8 digits are used).
func Versioned(namespace, name, version string) string {
	if len(version) > versionLen {
		version = version[:versionLen]
	}
	return SecretName(namespace, name) + "-" + version
}

// OwnSecret reports whether secret is a name of channel namespace/name's
// credentials Secrets: SecretName and "-" and 8 lower-case hex digits
// (another channel's, whose name only starts like this one's, has more).
func OwnSecret(namespace, name, secret string) bool {
	v, ok := strings.CutPrefix(secret, SecretName(namespace, name)+"-")
	if !ok || len(v) != versionLen {
		return false
	}
	for _, r := range v {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// Resolved is a channel and its credentials.
type Resolved struct {
	Channel *notifyv1.Channel
	Secret  map[string][]byte
}

// Resolve reads channel key and its credentials Secret. A channel whose
// spec names a Secret other than one of its own (OwnSecret, labelled with
// the channel) is refused: its credentials could be another channel's.
func Resolve(ctx context.Context, c client.Reader, key types.NamespacedName) (*Resolved, error) {
	ch := &notifyv1.Channel{}
	if err := c.Get(ctx, key, ch); err != nil {
		return nil, fmt.Errorf("channel %s: %w", key, err)
	}
	r := &Resolved{Channel: ch}
	name := ch.Spec.CredentialsSecret
	if name == "" {
		return r, nil
	}
	if !OwnSecret(key.Namespace, key.Name, name) {
		return nil, fmt.Errorf("channel %s: credentialsSecret %q is not the channel's own (%s-…)", key, name, SecretName(key.Namespace, key.Name))
	}
	sec := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: SystemNamespace, Name: name}, sec); err != nil {
		return nil, fmt.Errorf("channel %s: credentials: %w", key, err)
	}
	if l := sec.Labels[LabelChannel]; l != key.Namespace+"."+key.Name {
		return nil, fmt.Errorf("channel %s: Secret %s is not labelled as its credentials", key, name)
	}
	r.Secret = sec.Data
	return r, nil
}

// Result is how one attempt ended: Err nil means delivered; otherwise Retry
// says whether trying again may succeed (a network error, a busy server) or
// not (refused credentials, a bad request, a TLS failure). Code is the HTTP
// status or SMTP reply code, 0 when there was none.
type Result struct {
	Code  int
	Retry bool
	Err   error
}

func failed(code int, format string, args ...any) Result {
	return Result{Code: code, Err: fmt.Errorf(format, args...)}
}

func retry(code int, format string, args ...any) Result {
	return Result{Code: code, Retry: true, Err: fmt.Errorf(format, args...)}
}

// Sender sends messages over channels.
type Sender struct {
	// Dial checks every connection to a user-given address; nil refuses
	// nothing (unit tests only).
	Dial *dialcheck.Policy
	// Providers by name; nil means the built-in tencentcloud-sms and
	// wechat-mp.
	Providers map[string]Provider
}

var builtin = map[string]Provider{}

func init() {
	for _, p := range []Provider{&TencentCloudSMS{}, &WeChatMP{}} {
		builtin[p.Name()] = p
	}
}

// KnownProviders are the built-in providers' names, sorted.
func KnownProviders() []string {
	out := make([]string, 0, len(builtin))
	for n := range builtin {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Send makes one attempt to deliver m over ch. ctx bounds it.
func (s *Sender) Send(ctx context.Context, ch *Resolved, m notifymsg.Message) Result {
	if ch == nil || ch.Channel == nil {
		return failed(0, "no channel")
	}
	spec := &ch.Channel.Spec
	switch spec.Type {
	case notifyv1.ChannelWebhook:
		if spec.Webhook == nil {
			return failed(0, "channel has no webhook settings")
		}
		return s.webhook(ctx, spec.Webhook, ch.Secret, m)
	case notifyv1.ChannelEmail:
		if spec.Email == nil {
			return failed(0, "channel has no email settings")
		}
		return s.smtp(ctx, spec.Email, ch.Secret, m)
	case notifyv1.ChannelSMS:
		return s.provider(ctx, "sms", spec.SMS, ch.Secret, m)
	case notifyv1.ChannelWeChat:
		return s.provider(ctx, "wechat", spec.WeChat, ch.Secret, m)
	}
	return failed(0, "unknown channel type %q", spec.Type)
}

// refused reports whether err is the dial policy's refusal: permanent
// until an administrator changes --dial-allow or the user the address.
func refused(err error) bool {
	var re *dialcheck.RefusedError
	return errors.As(err, &re)
}
