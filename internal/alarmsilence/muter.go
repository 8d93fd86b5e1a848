// Package alarmsilence mutes alarm notifications with AlarmSilence objects:
// an Alertmanager notify.Muter over the silences the platform's API keeps
// (tenant-checked there), rather than Alertmanager's own silence store.
//
// A silence mutes only its own alarms: one in namespace N matches only
// alerts whose alarm_policy is "N/…" (a project cannot silence another
// project's alarms), and only alerts of its own tenant (cluster policies of
// every tenant live in kstack-system). Both rules are added here, whatever
// the silence's matchers say.
package alarmsilence

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1 "github.com/kstack/kstack/api/auth/v1"
	monitorv1 "github.com/kstack/kstack/api/monitor/v1"
	"github.com/kstack/kstack/internal/alarmrule"
)

// Muter is a notify.Muter over the AlarmSilences Client reads.
type Muter struct {
	Client client.Reader
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// OnError is told when silences cannot be listed (nil: ignored); the
	// alert is then not muted.
	OnError func(error)
	// CacheFor is how long one listing of the silences serves (default
	// DefaultCacheFor): a flush asks about each of its alerts in turn.
	CacheFor time.Duration

	mu     sync.Mutex
	listed time.Time
	cached []parsed
}

// DefaultCacheFor is Muter's default CacheFor.
const DefaultCacheFor = time.Second

// parsed is an AlarmSilence with its matchers parsed.
type parsed struct {
	s  *monitorv1.AlarmSilence
	ms labels.Matchers
}

func (m *Muter) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// silences lists the silences with usable matchers, at most once per
// CacheFor.
func (m *Muter) silences(ctx context.Context, now time.Time) ([]parsed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	every := m.CacheFor
	if every <= 0 {
		every = DefaultCacheFor
	}
	if !m.listed.IsZero() && now.Sub(m.listed) < every && !now.Before(m.listed) {
		return m.cached, nil
	}
	var list monitorv1.AlarmSilenceList
	if err := m.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	out := make([]parsed, 0, len(list.Items))
	for i := range list.Items {
		s := &list.Items[i]
		ms, err := Matchers(s.Spec.Matchers)
		if err != nil || len(ms) == 0 {
			continue
		}
		out = append(out, parsed{s: s, ms: ms})
	}
	m.listed, m.cached = now, out
	return out, nil
}

// Matchers parses a silence's matchers (Type "" is "=").
func Matchers(ms []monitorv1.Matcher) (labels.Matchers, error) {
	out := make(labels.Matchers, 0, len(ms))
	for i, m := range ms {
		t, ok := matchTypes[m.Type]
		if !ok {
			return nil, fmt.Errorf("spec.matchers[%d].type %q: use =, !=, =~ or !~", i, m.Type)
		}
		if !model.LabelName(m.Name).IsValid() { //nolint:staticcheck // the legacy check is what alert labels satisfy
			return nil, fmt.Errorf("spec.matchers[%d].name %q is not a label name", i, m.Name)
		}
		lm, err := labels.NewMatcher(t, m.Name, m.Value)
		if err != nil {
			return nil, fmt.Errorf("spec.matchers[%d]: %v", i, err)
		}
		out = append(out, lm)
	}
	return out, nil
}

var matchTypes = map[string]labels.MatchType{
	"": labels.MatchEqual, "=": labels.MatchEqual, "!=": labels.MatchNotEqual,
	"=~": labels.MatchRegexp, "!~": labels.MatchNotRegexp,
}

// Active reports whether s is in force at now: from startsAt (or its
// creation) until endsAt.
func Active(s *monitorv1.AlarmSilence, now time.Time) bool {
	start := s.CreationTimestamp.Time
	if s.Spec.StartsAt != nil {
		start = s.Spec.StartsAt.Time
	}
	return !now.Before(start) && now.Before(s.Spec.EndsAt.Time)
}

// Tenant is a silence's tenant.
func Tenant(s *monitorv1.AlarmSilence) string {
	if s.Spec.TenantID != "" {
		return s.Spec.TenantID
	}
	if t := s.Labels[authv1.LabelTenant]; t != "" {
		return t
	}
	return authv1.DefaultTenant
}

// Mutes implements notify.Muter.
func (m *Muter) Mutes(ctx context.Context, lset labelset.LabelSet) bool {
	policy := string(lset.LabelSet[alarmrule.LabelPolicy])
	if policy == "" {
		return false
	}
	now := m.now()
	list, err := m.silences(ctx, now)
	if err != nil {
		if m.OnError != nil {
			m.OnError(err)
		}
		return false
	}
	tenant := string(lset.LabelSet[alarmrule.LabelTenant])
	if tenant == "" {
		tenant = authv1.DefaultTenant
	}
	for _, sl := range list {
		s := sl.s
		if !strings.HasPrefix(policy, s.Namespace+"/") || Tenant(s) != tenant || !Active(s, now) {
			continue
		}
		if sl.ms.Matches(lset.LabelSet) {
			return true
		}
	}
	return false
}
