package platform

import (
	"strings"
	"testing"
	"time"
)

func TestAlarmOptionsCheck(t *testing.T) {
	if err := DefaultAlarmOptions().check(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, tt := range []struct {
		change func(*AlarmOptions)
		want   string
	}{
		{func(o *AlarmOptions) { o.PeriodUnit = 0 }, "--alarm-period-unit 0s"},
		{func(o *AlarmOptions) { o.GroupWait = -time.Second }, "--alarm-group-wait -1s"},
		{func(o *AlarmOptions) { o.GroupInterval = 0 }, "--alarm-group-interval 0s"},
		{func(o *AlarmOptions) { o.RepeatInterval = time.Minute }, "--alarm-repeat-interval 1m0s is shorter than --alarm-group-interval 5m0s"},
		{func(o *AlarmOptions) { o.MaxAttempts = 0 }, "--notify-max-attempts 0"},
		{func(o *AlarmOptions) { o.MaxAge = 0 }, "--notify-max-age 0s"},
	} {
		o := DefaultAlarmOptions()
		tt.change(&o)
		if err := o.check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want an error with %q", err, tt.want)
		}
	}
}
