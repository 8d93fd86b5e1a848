// Package cronschedule computes when crontab schedules fire, for CronHPA
// (seed 004 §5.3): five-field crontab expressions (and @hourly, @daily,
// @weekly, @monthly, @yearly) in a time zone, where a day of week of 7
// means Sunday as the seed's examples write it ("0 23 * * 7"). A
// controller that was down applies only the latest schedule it missed,
// never a replay of all of them (Due).
package cronschedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// The zones a CronHPA names are looked up in Go's own copy of the
	// IANA database: a platform image without /usr/share/zoneinfo still
	// knows Asia/Shanghai.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// parser reads five fields and the descriptors, not seconds.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is one parsed expression in its zone.
type Schedule struct {
	Expr string
	spec *cron.SpecSchedule
}

// Parse reads expr in zone loc (nil: UTC). Its errors say which part is
// wrong and what would be right.
func Parse(expr string, loc *time.Location) (*Schedule, error) {
	e := strings.TrimSpace(expr)
	switch {
	case e == "":
		return nil, fmt.Errorf("empty schedule: write a crontab expression of five fields (minute hour day-of-month month day-of-week), e.g. \"0 20 * * 5\"")
	case strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ="):
		return nil, fmt.Errorf("schedule %q: give the time zone in the CronHPA's timeZone, not in the expression", expr)
	case strings.HasPrefix(e, "@every"):
		return nil, fmt.Errorf("schedule %q: @every is an interval, not a crontab schedule; write it as fields (e.g. \"*/5 * * * *\")", expr)
	}
	if !strings.HasPrefix(e, "@") {
		fields := strings.Fields(e)
		if len(fields) != 5 {
			return nil, fmt.Errorf("schedule %q has %d fields, want 5: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-7, 0 and 7 are Sunday)", expr, len(fields))
		}
		dow, err := sundayAsZero(fields[4])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: day of week %q: %v", expr, fields[4], err)
		}
		fields[4] = dow
		e = strings.Join(fields, " ")
	}
	s, err := parser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v (five fields: minute hour day-of-month month day-of-week, e.g. \"0 20 * * 5\")", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("schedule %q is not a crontab schedule", expr)
	}
	if loc == nil {
		loc = time.UTC
	}
	spec.Location = loc
	return &Schedule{Expr: expr, spec: spec}, nil
}

// sundayAsZero rewrites a day-of-week field so that 7 (Sunday, as the
// seed and Vixie cron accept it) is 0, which the parser knows: "7" is
// "0", "5-7" is "5-6,0", "*/7" stays a step.
func sundayAsZero(field string) (string, error) {
	var out []string
	for _, part := range strings.Split(field, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		lo, hi, isRange := strings.Cut(rng, "-")
		switch {
		case rng == "*" || rng == "?":
			out = append(out, part)
		case !isRange:
			if lo == "7" {
				if hasStep {
					return "", fmt.Errorf("7/%s starts at Sunday and steps past the week: write 0/%s", step, step)
				}
				out = append(out, "0")
			} else {
				out = append(out, part)
			}
		case hi == "7":
			n, err := strconv.Atoi(lo)
			switch {
			case err != nil:
				out = append(out, part) // a name (MON-7): the parser says what is wrong
			case hasStep:
				return "", fmt.Errorf("%s: a stepped range cannot end at 7; end it at 6 and add 0 for Sunday", part)
			case n == 7:
				out = append(out, "0")
			case n == 6:
				out = append(out, "6", "0")
			default:
				out = append(out, lo+"-6", "0")
			}
		default:
			out = append(out, part)
		}
	}
	return strings.Join(out, ","), nil
}

// Next is the first time the schedule fires after t.
func (s *Schedule) Next(t time.Time) time.Time { return s.spec.Next(t) }

// Latest is the last time the schedule fired in (after, now], and whether
// it did. It looks back through windows that grow until one holds a firing
// (a schedule fires at least every 8 years: 29 February).
func (s *Schedule) Latest(after, now time.Time) (time.Time, bool) {
	for _, w := range []time.Duration{2 * time.Minute, 2 * time.Hour, 2 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 8*366*24*time.Hour + time.Hour} {
		from := now.Add(-w)
		if !after.IsZero() && from.Before(after) {
			from = after
		}
		var last time.Time
		for t := s.spec.Next(from); !t.IsZero() && !t.After(now); t = s.spec.Next(t) {
			last = t
		}
		if !last.IsZero() {
			return last, true
		}
		if !after.IsZero() && !from.After(after) {
			return time.Time{}, false // the whole span since after was searched
		}
	}
	return time.Time{}, false
}

// Firing is which schedule fired when.
type Firing struct {
	Index int
	At    time.Time
}

// Due answers the one schedule to apply at now, given that everything up
// to after was applied: of the firings in (after, now], the latest (on a
// tie, the later in the list), so that a controller that was down applies
// the state the schedules say now and replays nothing. ok is false when
// none fired.
func Due(schedules []*Schedule, after, now time.Time) (f Firing, ok bool) {
	for i, s := range schedules {
		t, fired := s.Latest(after, now)
		if fired && (!ok || !t.Before(f.At)) {
			f, ok = Firing{Index: i, At: t}, true
		}
	}
	return f, ok
}

// NextAny is the first firing of any schedule after t (zero: none).
func NextAny(schedules []*Schedule, t time.Time) time.Time {
	var next time.Time
	for _, s := range schedules {
		if n := s.Next(t); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next
}

// LoadZone reads a CronHPA's time zone: an IANA name ("" is UTC).
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("time zone %q: name a zone (an IANA name such as Asia/Shanghai or Europe/Paris), not the platform's local time", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Asia/Shanghai, Europe/Paris or UTC", name)
	}
	return loc, nil
}
