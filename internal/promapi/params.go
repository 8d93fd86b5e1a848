package promapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// The widest range a TSDB timestamp (int64 milliseconds) can express; series
// and label requests without start or end cover all of it.
var (
	minTime = time.UnixMilli(math.MinInt64 / 2).UTC()
	maxTime = time.UnixMilli(math.MaxInt64 / 2).UTC()
)

// Clients such as promtool and client_golang send these strings for "no bound".
// They are outside what time.Parse accepts (years beyond 9999), so are matched verbatim.
var openBounds = map[string]time.Time{
	time.Unix(math.MinInt64/1000+62135596801, 0).UTC().Format(time.RFC3339Nano):         minTime,
	time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC().Format(time.RFC3339Nano): maxTime,
}

// Unix seconds a parameter may name: years 0001 to 9999, what RFC3339 can say too.
const (
	minUnixSeconds = -62135596800
	maxUnixSeconds = 253402300799
)

// parseTime reads a time given as unix seconds (with up to millisecond
// fraction) or RFC3339.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || f < minUnixSeconds || f > maxUnixSeconds {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp: out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, ok := openBounds[s]; ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp (want RFC3339 or unix seconds)", s)
}

// parseDuration reads a duration given as float seconds or as a Prometheus
// duration ("15s", "1m30s").
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d := f * float64(time.Second)
		if math.IsNaN(d) || d >= math.MaxInt64 || d <= math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration: out of range", s)
		}
		return time.Duration(d), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration (want seconds or a duration such as 15s)", s)
}

// timeParam is the named time parameter, or def when it is absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.Form.Get(name)
	if s == "" {
		return def, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, badData(fmt.Errorf("invalid parameter %q: %w", name, err))
	}
	return t, nil
}

// requiredTime is the named time parameter, which must be given.
func requiredTime(r *http.Request, name string) (time.Time, error) {
	if r.Form.Get(name) == "" {
		return time.Time{}, badData(fmt.Errorf("invalid parameter %q: missing", name))
	}
	return timeParam(r, name, time.Time{})
}

// limitParam is the optional "limit" parameter; 0 means none.
func limitParam(r *http.Request) (int, error) {
	s := r.Form.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData(fmt.Errorf("invalid parameter \"limit\": %q is not a non-negative integer", s))
	}
	return n, nil
}
