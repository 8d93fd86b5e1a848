package notifymsg

import (
	"time"

	notifyv1 "github.com/kstack/kstack/api/notify/v1"
)

// Sample is a full example notification: what Check renders and what a
// test-send sends when there is no real alarm.
func Sample() *Data {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	common := map[string]string{
		"alarm_policy": "prj-sample/alarm-sample", "cluster": "cls-sample",
		"namespace": "shop", "project": "prj-sample", "tenant": "default",
	}
	alert := func(pod, value string) Alert {
		l := map[string]string{"pod": pod, "workload_kind": "Deployment", "workload_name": "shop",
			"alarm_condition": "0", "alarm_metric": "k8s_pod_restart_total"}
		for k, v := range common {
			l[k] = v
		}
		return Alert{
			Status: "firing", Metric: "k8s_pod_restart_total", Operator: ">", Threshold: "2",
			Value: value, Object: pod, Labels: l, StartsAt: start,
		}
	}
	return &Data{
		Status: "firing",
		Policy: Policy{
			Name: "alarm-sample", DisplayName: "Pod restarts (sample)", Namespace: "prj-sample",
			Project: "prj-sample", Cluster: "cls-sample", ObjectType: "Pod",
		},
		Receiver:     Receiver{Name: "rcv-sample", DisplayName: "Sample receiver"},
		Alerts:       []Alert{alert("shop-7d4b9c-abcde", "5"), alert("shop-7d4b9c-fghij", "3")},
		CommonLabels: common,
		URL:          "https://console.example/console/business/projects/prj-sample/alarms/records?cluster=cls-sample&policy=prj-sample%2Falarm-sample",
	}
}

const emailSubject = `[{{ .Status | upper }}] {{ .Policy.DisplayName | default .Policy.Name }}: {{ len .Alerts }} alarm(s) in cluster {{ .Policy.Cluster }}`

const emailBody = `Alarm policy: {{ .Policy.DisplayName | default .Policy.Name }} ({{ .Policy.Namespace }}/{{ .Policy.Name }})
Status: {{ .Status }}
Cluster: {{ .Policy.Cluster }}{{ with .Policy.Project }}
Project: {{ . }}{{ end }}
Object type: {{ .Policy.ObjectType }}
{{ range .Alerts }}
- [{{ .Status }}] {{ .Object }}: {{ .Metric }} = {{ .Value }} ({{ .Operator }} {{ .Threshold }}) since {{ time .StartsAt }}{{ if eq .Status "resolved" }}, resolved {{ time .EndsAt }}{{ end }}
{{- end }}

Records: {{ .URL }}
`

// webhookBody is shaped as Alertmanager's webhook payload (version 4), so
// receivers written for Alertmanager understand it.
const webhookBody = `{
  "version": "4",
  "groupKey": {{ json (printf "%s/%s" .Policy.Namespace .Policy.Name) }},
  "truncatedAlerts": 0,
  "status": {{ json .Status }},
  "receiver": {{ json (.Receiver.Name | default .Policy.Name) }},
  "groupLabels": {"alarm_policy": {{ json (printf "%s/%s" .Policy.Namespace .Policy.Name) }}},
  "commonLabels": {{ json .CommonLabels }},
  "commonAnnotations": {"policy": {{ json (.Policy.DisplayName | default .Policy.Name) }}},
  "externalURL": {{ json .URL }},
  "alerts": [{{ range $i, $a := .Alerts }}{{ if $i }},{{ end }}
    {
      "status": {{ json $a.Status }},
      "labels": {{ json $a.Labels }},
      "annotations": {"metric": {{ json $a.Metric }}, "operator": {{ json $a.Operator }}, "threshold": {{ json $a.Threshold }}, "value": {{ json $a.Value }}, "object": {{ json $a.Object }}},
      "startsAt": {{ json $a.StartsAt }},
      "endsAt": {{ json $a.EndsAt }},
      "generatorURL": {{ json $.URL }}
    }{{ end }}
  ]
}
`

const shortBody = `[{{ .Status | upper }}] {{ .Policy.DisplayName | default .Policy.Name }}: {{ len .Alerts }} alarm(s) in {{ .Policy.Cluster }}{{ with .Alerts }}{{ with index . 0 }}, {{ .Object }} {{ .Metric }}={{ .Value }}{{ end }}{{ end }}`

// Default is the built-in template of a channel type, used when a policy
// names none and by test-send.
func Default(channelType string) notifyv1.TemplateSpec {
	switch channelType {
	case notifyv1.ChannelWebhook:
		return notifyv1.TemplateSpec{DisplayName: "Default webhook (Alertmanager v4)", ChannelType: channelType, Body: webhookBody, ContentType: ContentJSON}
	case notifyv1.ChannelSMS:
		return notifyv1.TemplateSpec{DisplayName: "Default SMS", ChannelType: channelType, Body: shortBody}
	case notifyv1.ChannelWeChat:
		return notifyv1.TemplateSpec{DisplayName: "Default WeChat", ChannelType: channelType, Subject: emailSubject, Body: shortBody}
	default:
		return notifyv1.TemplateSpec{DisplayName: "Default email", ChannelType: notifyv1.ChannelEmail, Subject: emailSubject, Body: emailBody}
	}
}
