package metricscollect

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// measured is what a node, pod or container used this round, rates
// already taken; a Gauge that is not OK is absent.
type measured struct {
	cpu, workingSet, memUsage, rx, tx Gauge
}

type podMeasured struct {
	measured
	containers map[string]measured
}

// roundInput is everything one cluster's round builds its series from.
type roundInput struct {
	cluster string
	src     stateSource
	// usage by node name: only the nodes whose resource metrics were read.
	usage map[string]*Usage
	// rates are the previous readings of counters by node; build returns
	// the next ones (failed nodes keep theirs).
	rates map[string]rateTracker
	// projects maps a member namespace to its project; quotas are the
	// projects' hard limits in this cluster.
	projects map[string]string
	quotas   map[string]corev1.ResourceList
}

// sum adds up the values present; absent when none was.
type sum struct {
	v  float64
	ok bool
}

func (s *sum) add(g Gauge) {
	if g.OK {
		s.v += g.Value
		s.ok = true
	}
}

func (s *sum) addValue(v float64) { s.v += v; s.ok = true }

func (s sum) gauge() Gauge { return Gauge{s.v, s.ok} }

// pct is 100·a/b, absent when either is absent or b is not positive.
func pct(a, b Gauge) (float64, bool) {
	if !a.OK || !b.OK || b.Value <= 0 {
		return 0, false
	}
	return a.Value * 100 / b.Value, true
}

// quantity reads a resource from a list in its base unit (cores, bytes).
func quantity(l corev1.ResourceList, name corev1.ResourceName) Gauge {
	q, ok := l[name]
	if !ok {
		return Gauge{}
	}
	return Gauge{q.AsApproximateFloat64(), true}
}

// active: pods that hold resources (not Succeeded or Failed).
func active(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// containersOf are the containers that run for the pod's life: the
// regular ones and sidecars (restartable init containers).
func containersOf(p *corev1.Pod) []corev1.Container {
	cs := append([]corev1.Container(nil), p.Spec.Containers...)
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cs = append(cs, c)
		}
	}
	return cs
}

// podRequests adds up the containers' requests (absent when none has
// one); podLimit is the sum of limits, absent when any container has
// none (the pod is then unbounded).
func podRequests(cs []corev1.Container, r corev1.ResourceName) Gauge {
	var s sum
	for _, c := range cs {
		s.add(quantity(c.Resources.Requests, r))
	}
	return s.gauge()
}

func podLimit(cs []corev1.Container, r corev1.ResourceName) Gauge {
	if len(cs) == 0 {
		return Gauge{}
	}
	var s sum
	for _, c := range cs {
		q := quantity(c.Resources.Limits, r)
		if !q.OK {
			return Gauge{}
		}
		s.add(q)
	}
	return s.gauge()
}

// usedOverRequest is 100·Σused/Σrequest over the containers that have a
// request, absent unless each of them has a usage value (a container
// without a request has no share to be measured against).
func usedOverRequest(cs []corev1.Container, m map[string]measured, r corev1.ResourceName, pick func(measured) Gauge) (float64, bool) {
	var used, req float64
	n := 0
	for _, c := range cs {
		q := quantity(c.Resources.Requests, r)
		if !q.OK || q.Value <= 0 {
			continue
		}
		cm, ok := m[c.Name]
		if !ok || !pick(cm).OK {
			return 0, false
		}
		used += pick(cm).Value
		req += q.Value
		n++
	}
	if n == 0 {
		return 0, false
	}
	return used * 100 / req, true
}

func pickCPU(m measured) Gauge        { return m.cpu }
func pickWorkingSet(m measured) Gauge { return m.workingSet }
func pickMemUsage(m measured) Gauge   { return m.memUsage }

// measure takes the rates of this round's counters against the previous
// readings: per node, the tracker is replaced by this round's readings.
func measure(in *roundInput) (map[string]measured, map[PodKey]*podMeasured, map[string]rateTracker) {
	nodes := map[string]measured{}
	pods := map[PodKey]*podMeasured{}
	next := map[string]rateTracker{}
	for node, u := range in.usage {
		prev, cur := in.rates[node], rateTracker{}
		nm := measured{workingSet: u.Node.WorkingSet, memUsage: u.Node.MemUsage}
		nm.cpu = gaugeOf(rate(prev, cur, "cpu", u.Node.CPU))
		nm.rx = gaugeOf(rate(prev, cur, "rx", u.Node.RxBytes))
		nm.tx = gaugeOf(rate(prev, cur, "tx", u.Node.TxBytes))
		nodes[node] = nm
		for k, pu := range u.Pods {
			id := k.Namespace + "/" + k.Name
			pm := &podMeasured{containers: map[string]measured{}}
			pm.workingSet, pm.memUsage = pu.WorkingSet, pu.MemUsage
			pm.cpu = gaugeOf(rate(prev, cur, "cpu/"+id, pu.CPU))
			pm.rx = gaugeOf(rate(prev, cur, "rx/"+id, pu.RxBytes))
			pm.tx = gaugeOf(rate(prev, cur, "tx/"+id, pu.TxBytes))
			for name, cu := range pu.Containers {
				cm := measured{workingSet: cu.WorkingSet, memUsage: cu.MemUsage}
				cm.cpu = gaugeOf(rate(prev, cur, "cpu/"+id+"/"+name, cu.CPU))
				pm.containers[name] = cm
			}
			pods[k] = pm
		}
		next[node] = cur
	}
	return nodes, pods, next
}

func gaugeOf(v float64, ok bool) Gauge { return Gauge{v, ok} }

// workloadAgg adds up a workload's pods.
type workloadAgg struct {
	pods                   int
	restarts               float64
	cpuReq, memReq         sum
	cpuLim, memLim         sum
	unboundedCPU, unbndMem bool
	cpu, memUsage, ws      sum
	rx, tx                 sum
}

// build makes a cluster's series from its cache and this round's usage.
func build(in *roundInput) (*batch, map[string]rateTracker, error) {
	b := newBatch(lCluster, in.cluster)
	nodeM, podM, nextRates := measure(in)
	// Nodes whose scrape failed keep their previous readings.
	for node, t := range in.rates {
		if _, ok := nextRates[node]; !ok {
			nextRates[node] = t
		}
	}

	nodes, err := in.src.Nodes().List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	pods, err := in.src.Pods().List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	reps, err := readReplicas(in.src)
	if err != nil {
		return nil, nil, err
	}
	quotas, err := in.src.ResourceQuotas().List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
	}
	for node := range nextRates {
		if !known[node] {
			delete(nextRates, node)
		}
	}
	capacity := map[string]corev1.ResourceList{}
	for _, n := range nodes {
		capacity[n.Name] = n.Status.Capacity
	}

	workloads := map[workloadKey]*workloadAgg{}
	for k := range reps {
		workloads[k] = &workloadAgg{}
	}
	podsOnNode := map[string]int{}
	activePods := 0
	var prjCPU, prjMem, prjWS = map[string]*sum{}, map[string]*sum{}, map[string]*sum{}
	// Sorted, so that a round's samples come in a stable order.
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	for _, p := range pods {
		kind, wname := workloadOf(in.src, p)
		node := p.Spec.NodeName
		kv := []string{lNamespace, p.Namespace, lPod, p.Name, lNode, node, lWorkloadKind, kind, lWorkloadName, wname}
		cs := containersOf(p)
		isActive := active(p)
		var w *workloadAgg
		if kind != "" {
			k := workloadKey{p.Namespace, kind, wname}
			if w = workloads[k]; w == nil {
				w = &workloadAgg{}
				workloads[k] = w
			}
		}

		// State, from the cache.
		if p.Status.Phase != "" {
			b.add(podPhase, 1, append(kv, lPhase, string(p.Status.Phase))...)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				b.add(podStatusReady, boolValue(c.Status == corev1.ConditionTrue), kv...)
			}
		}
		restarts := restartsOf(p, cs)
		var podRestartTotal float64
		for name, n := range restarts {
			podRestartTotal += float64(n)
			b.add(containerRestarts, float64(n), append(kv, lContainer, name)...)
		}
		if len(restarts) > 0 {
			b.add(podRestarts, podRestartTotal, kv...)
			if w != nil {
				w.restarts += podRestartTotal
			}
		}
		cpuReq, memReq := podRequests(cs, corev1.ResourceCPU), podRequests(cs, corev1.ResourceMemory)
		cpuLim, memLim := podLimit(cs, corev1.ResourceCPU), podLimit(cs, corev1.ResourceMemory)
		if isActive {
			activePods++
			if node != "" {
				podsOnNode[node]++
			}
			b.addOpt(podCPURequest, cpuReq.Value, cpuReq.OK, kv...)
			b.addOpt(podMemRequest, memReq.Value, memReq.OK, kv...)
			b.addOpt(podCPULimit, cpuLim.Value, cpuLim.OK, kv...)
			b.addOpt(podMemLimit, memLim.Value, memLim.OK, kv...)
			for _, c := range cs {
				ckv := append(kv, lContainer, c.Name)
				for _, r := range []struct {
					name string
					g    Gauge
				}{
					{containerCPURequest, quantity(c.Resources.Requests, corev1.ResourceCPU)},
					{containerCPULimit, quantity(c.Resources.Limits, corev1.ResourceCPU)},
					{containerMemRequest, quantity(c.Resources.Requests, corev1.ResourceMemory)},
					{containerMemLimit, quantity(c.Resources.Limits, corev1.ResourceMemory)},
				} {
					b.addOpt(r.name, r.g.Value, r.g.OK, ckv...)
				}
			}
			if w != nil {
				w.pods++
				w.cpuReq.add(cpuReq)
				w.memReq.add(memReq)
				w.cpuLim.add(cpuLim)
				w.memLim.add(memLim)
				w.unboundedCPU = w.unboundedCPU || !cpuLim.OK
				w.unbndMem = w.unbndMem || !memLim.OK
			}
		}

		// Usage, from the node the pod runs on.
		pm := podM[PodKey{p.Namespace, p.Name}]
		if pm == nil {
			continue
		}
		nodeCap := capacity[node]
		b.addOpt(podCPUUsed, pm.cpu.Value, pm.cpu.OK, kv...)
		b.addOpt(podMemNoCache, pm.workingSet.Value, pm.workingSet.OK, kv...)
		b.addOpt(podMemUsage, pm.memUsage.Value, pm.memUsage.OK, kv...)
		b.addOpt(podNetReceiveBW, pm.rx.Value, pm.rx.OK, kv...)
		b.addOpt(podNetTransmitBW, pm.tx.Value, pm.tx.OK, kv...)
		addPct := func(name string, a, base Gauge) {
			v, ok := pct(a, base)
			b.addOpt(name, v, ok, kv...)
		}
		addPct(podCPURateNode, pm.cpu, quantity(nodeCap, corev1.ResourceCPU))
		addPct(podCPURateLimit, pm.cpu, cpuLim)
		addPct(podMemRateNode, pm.memUsage, quantity(nodeCap, corev1.ResourceMemory))
		addPct(podMemRateLimit, pm.memUsage, memLim)
		addPct(podMemNoCacheRateNode, pm.workingSet, quantity(nodeCap, corev1.ResourceMemory))
		v, ok := usedOverRequest(cs, pm.containers, corev1.ResourceCPU, pickCPU)
		b.addOpt(podCPURateRequest, v, ok, kv...)
		v, ok = usedOverRequest(cs, pm.containers, corev1.ResourceMemory, pickMemUsage)
		b.addOpt(podMemRateRequest, v, ok, kv...)
		v, ok = usedOverRequest(cs, pm.containers, corev1.ResourceMemory, pickWorkingSet)
		b.addOpt(podMemNoCacheRateReq, v, ok, kv...)
		for _, c := range cs {
			cm, ok := pm.containers[c.Name]
			if !ok {
				continue
			}
			ckv := append(kv, lContainer, c.Name)
			b.addOpt(containerCPUUsed, cm.cpu.Value, cm.cpu.OK, ckv...)
			b.addOpt(containerMemNoCache, cm.workingSet.Value, cm.workingSet.OK, ckv...)
			b.addOpt(containerMemUsage, cm.memUsage.Value, cm.memUsage.OK, ckv...)
			one := []corev1.Container{c}
			only := map[string]measured{c.Name: cm}
			v, ok := usedOverRequest(one, only, corev1.ResourceCPU, pickCPU)
			b.addOpt(containerCPURateReq, v, ok, ckv...)
			v, ok = usedOverRequest(one, only, corev1.ResourceMemory, pickMemUsage)
			b.addOpt(containerMemRateReq, v, ok, ckv...)
			v, ok = usedOverRequest(one, only, corev1.ResourceMemory, pickWorkingSet)
			b.addOpt(containerMemNoCacheReq, v, ok, ckv...)
		}
		if w != nil {
			w.cpu.add(pm.cpu)
			w.memUsage.add(pm.memUsage)
			w.ws.add(pm.workingSet)
			w.rx.add(pm.rx)
			w.tx.add(pm.tx)
		}
		if prj := in.projects[p.Namespace]; prj != "" {
			for _, x := range []struct {
				m map[string]*sum
				g Gauge
			}{{prjCPU, pm.cpu}, {prjMem, pm.memUsage}, {prjWS, pm.workingSet}} {
				if x.m[prj] == nil {
					x.m[prj] = &sum{}
				}
				x.m[prj].add(x.g)
			}
		}
	}

	buildWorkloads(b, workloads, reps)
	buildNodes(b, nodes, nodeM, podsOnNode, activePods)
	buildQuotas(b, quotas)
	buildProjects(b, in, prjCPU, prjMem, prjWS)
	return b, nextRates, nil
}

func boolValue(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// restartsOf are the restart counts of the containers that run for the
// pod's life, by name.
func restartsOf(p *corev1.Pod, cs []corev1.Container) map[string]int32 {
	names := map[string]bool{}
	for _, c := range cs {
		names[c.Name] = true
	}
	out := map[string]int32{}
	for _, statuses := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for _, s := range statuses {
			if names[s.Name] {
				out[s.Name] = s.RestartCount
			}
		}
	}
	return out
}

func buildWorkloads(b *batch, workloads map[workloadKey]*workloadAgg, reps map[workloadKey]replicas) {
	for k, w := range workloads {
		kv := []string{lNamespace, k.namespace, lWorkloadKind, k.kind, lWorkloadName, k.name}
		b.add(workloadPodTotal, float64(w.pods), kv...)
		if r, ok := reps[k]; ok {
			b.add(workloadReplicas, float64(r.desired), kv...)
			b.add(workloadReplicasReady, float64(r.ready), kv...)
		}
		if w.pods > 0 {
			b.add(workloadRestarts, w.restarts, kv...)
		}
		b.addOpt(workloadCPURequests, w.cpuReq.v, w.cpuReq.ok, kv...)
		b.addOpt(workloadMemRequests, w.memReq.v, w.memReq.ok, kv...)
		b.addOpt(workloadCPULimits, w.cpuLim.v, w.cpuLim.ok && !w.unboundedCPU, kv...)
		b.addOpt(workloadMemLimits, w.memLim.v, w.memLim.ok && !w.unbndMem, kv...)
		b.addOpt(workloadCPUUsed, w.cpu.v, w.cpu.ok, kv...)
		b.addOpt(workloadMemUsage, w.memUsage.v, w.memUsage.ok, kv...)
		b.addOpt(workloadMemNoCache, w.ws.v, w.ws.ok, kv...)
		b.addOpt(workloadNetReceiveBW, w.rx.v, w.rx.ok, kv...)
		b.addOpt(workloadNetTransmitBW, w.tx.v, w.tx.ok, kv...)
	}
}

func buildNodes(b *batch, nodes []*corev1.Node, nodeM map[string]measured, podsOnNode map[string]int, activePods int) {
	var cpuTotal, memTotal, cpuUsed, memUsage, ws, rx, tx sum
	for _, n := range nodes {
		kv := []string{lNode, n.Name}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				b.add(nodeStatusReady, boolValue(c.Status == corev1.ConditionTrue), kv...)
			}
		}
		b.add(nodePodNum, float64(podsOnNode[n.Name]), kv...)
		capCPU, capMem := quantity(n.Status.Capacity, corev1.ResourceCPU), quantity(n.Status.Capacity, corev1.ResourceMemory)
		allocCPU, allocMem := quantity(n.Status.Allocatable, corev1.ResourceCPU), quantity(n.Status.Allocatable, corev1.ResourceMemory)
		capPods := quantity(n.Status.Capacity, corev1.ResourcePods)
		b.addOpt(nodeCPUCapacity, capCPU.Value, capCPU.OK, kv...)
		b.addOpt(nodeMemCapacity, capMem.Value, capMem.OK, kv...)
		b.addOpt(nodeCPUAllocatable, allocCPU.Value, allocCPU.OK, kv...)
		b.addOpt(nodeMemAllocatable, allocMem.Value, allocMem.OK, kv...)
		b.addOpt(nodePodCapacity, capPods.Value, capPods.OK, kv...)
		cpuTotal.add(allocCPU)
		memTotal.add(allocMem)
		m, ok := nodeM[n.Name]
		if !ok {
			continue
		}
		b.addOpt(nodeCPUUsed, m.cpu.Value, m.cpu.OK, kv...)
		b.addOpt(nodeMemUsageBytes, m.memUsage.Value, m.memUsage.OK, kv...)
		b.addOpt(nodeMemNoCacheBytes, m.workingSet.Value, m.workingSet.OK, kv...)
		b.addOpt(nodeNetReceiveBW, m.rx.Value, m.rx.OK, kv...)
		b.addOpt(nodeNetTransmitBW, m.tx.Value, m.tx.OK, kv...)
		v, ok := pct(m.cpu, capCPU)
		b.addOpt(nodeCPUUsage, v, ok, kv...)
		v, ok = pct(m.memUsage, capMem)
		b.addOpt(nodeMemUsage, v, ok, kv...)
		v, ok = pct(m.workingSet, capMem)
		b.addOpt(nodeMemNoCacheRate, v, ok, kv...)
		cpuUsed.add(m.cpu)
		memUsage.add(m.memUsage)
		ws.add(m.workingSet)
		rx.add(m.rx)
		tx.add(m.tx)
	}
	b.add(clusterNodeTotal, float64(len(nodes)))
	b.add(clusterPodTotal, float64(activePods))
	b.addOpt(clusterCPUTotal, cpuTotal.v, cpuTotal.ok)
	b.addOpt(clusterMemTotal, memTotal.v, memTotal.ok)
	b.addOpt(clusterCPUUsed, cpuUsed.v, cpuUsed.ok)
	b.addOpt(clusterMemUsage, memUsage.v, memUsage.ok)
	b.addOpt(clusterMemNoCache, ws.v, ws.ok)
	b.addOpt(clusterNetReceiveBW, rx.v, rx.ok)
	b.addOpt(clusterNetTransmitBW, tx.v, tx.ok)
	v, ok := pct(cpuUsed.gauge(), cpuTotal.gauge())
	b.addOpt(clusterCPURate, v, ok)
	v, ok = pct(memUsage.gauge(), memTotal.gauge())
	b.addOpt(clusterMemRate, v, ok)
	v, ok = pct(ws.gauge(), memTotal.gauge())
	b.addOpt(clusterMemNoCacheRate, v, ok)
}

// buildQuotas: every ResourceQuota's hard limits and usage, per resource,
// in the resource's base unit (cores, bytes, counts).
func buildQuotas(b *batch, quotas []*corev1.ResourceQuota) {
	for _, q := range quotas {
		for _, x := range []struct {
			name string
			l    corev1.ResourceList
		}{{quotaHard, q.Status.Hard}, {quotaUsed, q.Status.Used}} {
			for r, v := range x.l {
				b.add(x.name, v.AsApproximateFloat64(), lNamespace, q.Namespace, lQuota, q.Name, lResource, string(r))
			}
		}
	}
}

// buildProjects: each project's usage in this cluster (the sum over its
// namespaces' pods) and its quota here. The quota is requests.cpu and
// requests.memory (kstack's quotas are on requests), or cpu and memory,
// which a ResourceQuota reads as the same.
func buildProjects(b *batch, in *roundInput, cpu, mem, ws map[string]*sum) {
	for prj, s := range cpu {
		b.addOpt(projectCPUUsed, s.v, s.ok, lProject, prj)
	}
	for prj, s := range mem {
		b.addOpt(projectMemUsage, s.v, s.ok, lProject, prj)
	}
	for prj, s := range ws {
		b.addOpt(projectMemNoCache, s.v, s.ok, lProject, prj)
	}
	for prj, hard := range in.quotas {
		for _, x := range []struct {
			name string
			keys []corev1.ResourceName
		}{
			{projectCPUQuota, []corev1.ResourceName{corev1.ResourceRequestsCPU, corev1.ResourceCPU}},
			{projectMemQuota, []corev1.ResourceName{corev1.ResourceRequestsMemory, corev1.ResourceMemory}},
		} {
			for _, k := range x.keys {
				if g := quantity(hard, k); g.OK {
					b.add(x.name, g.Value, lProject, prj)
					break
				}
			}
		}
	}
}
