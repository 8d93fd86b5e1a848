package monitorapi

import "github.com/kstack/kstack/internal/alarmrule"

// checkSpec is what a policy's spec is checked with before any read.
var checkSpec = alarmrule.CheckSpec
