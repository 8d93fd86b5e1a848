package notifymsg

import "time"

// AlertOf is the Alert of an alarm with these labels and annotations (the
// evaluator's annotations: metric, operator, threshold, value). It is
// resolved when endsAt is set and not after now. Object is what the alarm
// is about: the pod, else the node, else the workload, else the cluster.
func AlertOf(labels, annotations map[string]string, startsAt, endsAt, now time.Time) Alert {
	a := Alert{Status: "firing", Metric: annotations["metric"], Operator: annotations["operator"], Threshold: annotations["threshold"],
		Value: annotations["value"], Labels: labels, StartsAt: startsAt}
	if a.Metric == "" {
		a.Metric = labels["alarm_metric"]
	}
	if !endsAt.IsZero() && !endsAt.After(now) {
		a.Status, a.EndsAt = "resolved", endsAt
	}
	for _, k := range []string{"pod", "node", "workload_name", "cluster"} {
		if v := labels[k]; v != "" {
			a.Object = v
			break
		}
	}
	return a
}

// StatusOf is a notification's status: firing while any alert fires.
func StatusOf(alerts []Alert) string {
	for _, a := range alerts {
		if a.Status == "firing" {
			return "firing"
		}
	}
	return "resolved"
}

// CommonLabels are the labels (name and value) every alert has.
func CommonLabels(alerts []Alert) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	for k, v := range alerts[0].Labels {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		for k, v := range out {
			if a.Labels[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}
