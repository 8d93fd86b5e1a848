package cronschedule

import (
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, expr string, loc *time.Location) *Schedule {
	t.Helper()
	s, err := Parse(expr, loc)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

func at(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNext(t *testing.T) {
	utc := time.UTC
	// 2026-12-04 is a Friday, 2026-12-06 a Sunday.
	for _, tt := range []struct{ expr, from, want string }{
		{"0 20 * * 5", "2026-12-02 10:00", "2026-12-04 20:00"},
		{"0 23 * * 7", "2026-12-02 10:00", "2026-12-06 23:00"}, // the seed's "7 means Sunday"
		{"0 23 * * 0", "2026-12-02 10:00", "2026-12-06 23:00"},
		{"0 8 * * 5-7", "2026-12-05 09:00", "2026-12-06 08:00"}, // Saturday 9:00 -> Sunday
		{"0 8 * * 6-7", "2026-12-06 09:00", "2026-12-12 08:00"}, // Sunday 9:00 -> next Saturday
		{"0 8 * * 1,7", "2026-12-06 09:00", "2026-12-07 08:00"},
		{"*/15 * * * *", "2026-12-02 10:07", "2026-12-02 10:15"},
		{"@daily", "2026-12-02 10:07", "2026-12-03 00:00"},
		{"0 0 29 2 *", "2026-12-02 10:00", "2028-02-29 00:00"},
	} {
		got := mustParse(t, tt.expr, utc).Next(at(t, tt.from, utc))
		if want := at(t, tt.want, utc); !got.Equal(want) {
			t.Errorf("%q after %s: %s, want %s", tt.expr, tt.from, got, want)
		}
	}
}

func TestTimeZones(t *testing.T) {
	sh, err := LoadZone("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// 20:00 in Shanghai is 12:00 UTC.
	got := mustParse(t, "0 20 * * *", sh).Next(at(t, "2026-12-02 00:00", time.UTC))
	if want := at(t, "2026-12-02 12:00", time.UTC); !got.Equal(want) {
		t.Fatalf("20:00 Asia/Shanghai: %s, want %s", got.UTC(), want)
	}
	// Across a daylight saving change: 08:00 in Paris is 07:00 UTC in
	// winter, 06:00 UTC in summer (clocks went forward on 2026-03-29).
	paris, err := LoadZone("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, "0 8 * * *", paris)
	if got := s.Next(at(t, "2026-03-28 12:00", time.UTC)); !got.Equal(at(t, "2026-03-29 06:00", time.UTC)) {
		t.Fatalf("08:00 Paris on the day clocks go forward: %s", got.UTC())
	}
	if got := s.Next(at(t, "2026-03-27 12:00", time.UTC)); !got.Equal(at(t, "2026-03-28 07:00", time.UTC)) {
		t.Fatalf("08:00 Paris the day before: %s", got.UTC())
	}
	if loc, err := LoadZone(""); err != nil || loc != time.UTC {
		t.Fatalf("no zone: %v %v", loc, err)
	}
	for _, bad := range []string{"Mars/Olympus", "local", "UTC+8"} {
		if _, err := LoadZone(bad); err == nil || !strings.Contains(err.Error(), "IANA") {
			t.Errorf("zone %q: %v", bad, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{"", "empty schedule"},
		{"0 20 * *", "has 4 fields, want 5"},
		{"0 0 20 * * 5", "has 6 fields, want 5"},
		{"61 * * * *", "schedule \"61 * * * *\""},
		{"0 25 * * *", "above maximum"},
		{"0 8 * * 8", "above maximum"},
		{"0 8 * * 3-7/2", "cannot end at 7"},
		{"0 8 * * 7/2", "steps past the week"},
		{"@every 5m", "@every is an interval"},
		{"CRON_TZ=Asia/Shanghai 0 8 * * *", "timeZone"},
		{"@fortnightly", "schedule \"@fortnightly\""},
	} {
		if _, err := Parse(tt.expr, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q): %v, want an error with %q", tt.expr, err, tt.want)
		}
	}
}

// TestMissed: a controller down across several firings applies the latest
// one only; one that saw everything applies nothing; on a tie the later
// schedule in the list wins.
func TestMissed(t *testing.T) {
	utc := time.UTC
	// The seed's second example: 60 from 8 to 9 and from 19 to 21, else 10.
	var list []*Schedule
	for _, e := range []string{"0 8 * * *", "0 9 * * *", "0 19 * * *", "0 21 * * *"} {
		list = append(list, mustParse(t, e, utc))
	}
	for _, tt := range []struct {
		what, after, now string
		ok               bool
		index            int
		at               string
	}{
		{"down from 07:00 to 20:00: only 19:00 applies", "2026-12-02 07:00", "2026-12-02 20:00", true, 2, "2026-12-02 19:00"},
		{"down from 07:00 to 08:30: 08:00 applies", "2026-12-02 07:00", "2026-12-02 08:30", true, 0, "2026-12-02 08:00"},
		{"down overnight: yesterday's 21:00 applies", "2026-12-01 20:00", "2026-12-02 07:59", true, 3, "2026-12-01 21:00"},
		{"down for three days: the last one, not the twelve", "2026-11-29 07:00", "2026-12-02 10:00", true, 1, "2026-12-02 09:00"},
		{"nothing since the last applied", "2026-12-02 08:00", "2026-12-02 08:59", false, 0, ""},
		{"exactly at a firing", "2026-12-02 08:00", "2026-12-02 09:00", true, 1, "2026-12-02 09:00"},
	} {
		f, ok := Due(list, at(t, tt.after, utc), at(t, tt.now, utc))
		if ok != tt.ok || (ok && (f.Index != tt.index || !f.At.Equal(at(t, tt.at, utc)))) {
			t.Errorf("%s: %+v %v, want index %d at %s (%v)", tt.what, f, ok, tt.index, tt.at, tt.ok)
		}
	}
	// Two schedules firing at the same minute: the later in the list.
	tie := []*Schedule{mustParse(t, "0 8 * * *", utc), mustParse(t, "0 8 * * 3", utc)}
	if f, ok := Due(tie, at(t, "2026-12-02 07:00", utc), at(t, "2026-12-02 09:00", utc)); !ok || f.Index != 1 {
		t.Errorf("a tie: %+v %v, want the later schedule", f, ok)
	}
	// A yearly schedule missed months ago is still found.
	yearly := []*Schedule{mustParse(t, "0 0 1 1 *", utc)}
	if f, ok := Due(yearly, at(t, "2025-12-01 00:00", utc), at(t, "2026-12-02 09:00", utc)); !ok || !f.At.Equal(at(t, "2026-01-01 00:00", utc)) {
		t.Errorf("a yearly schedule: %+v %v", f, ok)
	}
	if next := NextAny(list, at(t, "2026-12-02 09:30", utc)); !next.Equal(at(t, "2026-12-02 19:00", utc)) {
		t.Errorf("NextAny: %s", next)
	}
}
