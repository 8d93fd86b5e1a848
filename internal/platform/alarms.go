package platform

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kstack/kstack/internal/alarmdispatch"
	"github.com/kstack/kstack/internal/alarmeval"
	"github.com/kstack/kstack/internal/alarmsilence"
	"github.com/kstack/kstack/internal/dialcheck"
	"github.com/kstack/kstack/internal/notifychannel"
	"github.com/kstack/kstack/internal/notifyqueue"
	"github.com/kstack/kstack/internal/recordstore"
)

// AlarmOptions configure alarm evaluation and notification delivery.
type AlarmOptions struct {
	// PeriodUnit is the length of one "minute" of a policy's period
	// (tests shorten it).
	PeriodUnit time.Duration
	// GroupWait, GroupInterval and RepeatInterval are Alertmanager's
	// route timings, for every policy.
	GroupWait, GroupInterval, RepeatInterval time.Duration
	// MaxAttempts and MaxAge bound the retries of one delivery.
	MaxAttempts int
	MaxAge      time.Duration
}

// DefaultAlarmOptions are the flags' defaults (Alertmanager's timings).
func DefaultAlarmOptions() AlarmOptions {
	return AlarmOptions{PeriodUnit: time.Minute, GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute,
		RepeatInterval: 4 * time.Hour, MaxAttempts: 6, MaxAge: 10 * time.Minute}
}

// check refuses timings Alertmanager would misread (it silently ignores a
// repeat interval shorter than the group interval).
func (o AlarmOptions) check() error {
	switch {
	case o.PeriodUnit <= 0:
		return fmt.Errorf("--alarm-period-unit %s: want a positive duration (1m outside tests)", o.PeriodUnit)
	case o.GroupWait < 0:
		return fmt.Errorf("--alarm-group-wait %s: want 0 or more", o.GroupWait)
	case o.GroupInterval <= 0:
		return fmt.Errorf("--alarm-group-interval %s: want a positive duration such as 5m", o.GroupInterval)
	case o.RepeatInterval < o.GroupInterval:
		return fmt.Errorf("--alarm-repeat-interval %s is shorter than --alarm-group-interval %s: make it at least as long", o.RepeatInterval, o.GroupInterval)
	case o.MaxAttempts < 1:
		return fmt.Errorf("--notify-max-attempts %d: want 1 or more", o.MaxAttempts)
	case o.MaxAge <= 0:
		return fmt.Errorf("--notify-max-age %s: want a positive duration such as 10m", o.MaxAge)
	}
	return nil
}

// alarming is what evaluates alarm policies and delivers notifications:
// every replica evaluates over its own metric store (so the "for" state is
// warm when it becomes leader); the leader alone dispatches, keeps the
// records and delivers, through the outbox in the record store.
type alarming struct {
	queue *notifyqueue.Queue
	setup func(mgr ctrl.Manager) error
}

// wireAlarms builds the pieces; without a metric store nothing is
// evaluated, without a record store nothing can be sent once across
// replicas, so alarms are off (and the API says so).
func (r *runner) wireAlarms(dial *dialcheck.Policy) (*alarming, error) {
	o := r.o.Alarms
	if err := o.check(); err != nil {
		return nil, err
	}
	if r.monitoring == nil || r.records == nil {
		r.log.Warn("alarms are off: they need the metric store (--metrics-dir) and the record store (--record-store)")
		return nil, nil
	}
	state, ok := r.records.store.(recordstore.NotifyState)
	if !ok {
		return nil, fmt.Errorf("the record store %s keeps no notification state", r.records.store.Dialect())
	}
	log := r.log.With("component", "alarms")
	host, _ := os.Hostname()
	queue := &notifyqueue.Queue{State: state, Sender: &notifychannel.Sender{Dial: dial}, Client: r.mgr.GetClient(), Records: r.records.writer,
		MaxAttempts: o.MaxAttempts, MaxAge: o.MaxAge, Owner: fmt.Sprintf("%s-%d", host, os.Getpid()), Log: log.With("part", "queue")}
	a := &alarming{queue: queue}
	a.setup = func(mgr ctrl.Manager) error {
		ctx := context.Background()
		// Alertmanager's alert store needs a registry (it panics without
		// one); its figures stay private to it.
		alerts, err := mem.NewAlerts(ctx, 30*time.Minute, 0, nil, log.With("part", "alerts"), eventrecorder.NopRecorder(), prometheus.NewRegistry(), nil)
		if err != nil {
			return err
		}
		elected := mgr.Elected()
		eval := &alarmeval.Evaluator{Store: r.monitoring.store, Client: mgr.GetClient(), Unit: o.PeriodUnit, Alerts: alerts,
			Records: r.records.writer, OpenRecords: r.records.store, IsLeader: isClosed(elected), AdoptGrace: 2 * r.o.Metrics.Interval, Log: log.With("part", "evaluator")}
		if err := eval.SetupWithManager(mgr); err != nil {
			return err
		}
		if err := mgr.Add(eval); err != nil {
			return err
		}
		d := &alarmdispatch.Dispatcher{Alerts: alerts, Client: mgr.GetClient(), Muter: &alarmsilence.Muter{Client: mgr.GetClient()},
			State: state, Queue: queue, Timing: alarmdispatch.Timing{GroupWait: o.GroupWait, GroupInterval: o.GroupInterval, RepeatInterval: o.RepeatInterval},
			ConsoleURL: r.o.ExternalURL, Log: log.With("part", "dispatcher")}
		// The dispatcher, the silences' collector and the queue run on the
		// leader only (NeedLeaderElection).
		if err := mgr.Add(d); err != nil {
			return err
		}
		if err := mgr.Add(&alarmsilence.GC{Client: mgr.GetClient(), Keep: alarmsilence.DefaultKeep, Log: log.With("part", "silence-gc")}); err != nil {
			return err
		}
		return mgr.Add(queue)
	}
	return a, nil
}

// isClosed reports whether ch is closed (the manager's "elected").
func isClosed(ch <-chan struct{}) func() bool {
	return func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
}
