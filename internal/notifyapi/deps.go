package notifyapi

import (
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifymsg"
)

// What this group uses of the message and channel packages.
type (
	// Message is a rendered message.
	Message = notifymsg.Message
	// Result is how one delivery attempt ended.
	Result = notifychannel.Result
)

var (
	checkTemplate   = notifymsg.Check
	renderTemplate  = notifymsg.Render
	sample          = notifymsg.Sample
	defaultTemplate = notifymsg.Default
	knownProviders  = notifychannel.KnownProviders
	secretName      = notifychannel.SecretName
)
