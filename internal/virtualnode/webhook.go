package virtualnode

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	resourcehelper "k8s.io/component-helpers/resource"
)

// The mutating webhook (seed 002). Constraints that name lower nodes
// (nodeSelector, node affinity, tolerations) would make the upper scheduler
// find no node at all; they move into an annotation that the virtual node
// restores downstream. It also adds what keeps a pod off virtual nodes that
// cannot run it: the largest-free-slice requirement and, after the
// descheduler moved a pod of the same owner, the nodes to avoid.

const hostnameKey = "kubernetes.io/hostname"

// Mutate rewrites a pod for the upper scheduler. isVirtual says whether a
// node name is a virtual node; avoid lists virtual nodes to keep off.
func Mutate(pod *corev1.Pod, avoid []string, isVirtual func(string) bool) error {
	sched, err := ParseScheduling(pod.Annotations)
	if err != nil {
		return err
	}
	if sched == nil {
		sched = &Scheduling{}
	}
	upperKey := func(key string, values []string) bool {
		if UpperOnlyKey(key) {
			return true
		}
		if key != hostnameKey || len(values) == 0 {
			return false
		}
		for _, v := range values {
			if !isVirtual(v) {
				return false
			}
		}
		return true
	}
	// nodeSelector
	for k, v := range pod.Spec.NodeSelector {
		if upperKey(k, []string{v}) {
			continue
		}
		if sched.NodeSelector == nil {
			sched.NodeSelector = map[string]string{}
		}
		sched.NodeSelector[k] = v
		delete(pod.Spec.NodeSelector, k)
	}
	if len(pod.Spec.NodeSelector) == 0 {
		pod.Spec.NodeSelector = nil
	}
	// node affinity: the lower part moves, the upper part stays.
	if pod.Spec.Affinity != nil && pod.Spec.Affinity.NodeAffinity != nil {
		na := pod.Spec.Affinity.NodeAffinity
		isUpper := func(r corev1.NodeSelectorRequirement) bool { return upperKey(r.Key, r.Values) }
		lower := stripNodeAffinity(na, isUpper)
		if lower != nil {
			if sched.NodeAffinity != nil {
				return fmt.Errorf("annotation %s already has node affinity and the pod has more; put all lower-cluster node affinity in one place", AnnotationScheduling)
			}
			sched.NodeAffinity = lower
			pod.Spec.Affinity.NodeAffinity = stripNodeAffinity(na, func(r corev1.NodeSelectorRequirement) bool { return !isUpper(r) })
		}
	}
	// tolerations of taints the upper cluster does not have
	tols := pod.Spec.Tolerations[:0]
	for _, t := range pod.Spec.Tolerations {
		if upperOnlyToleration(t) || len(t.Key) > len("node.kubernetes.io/") && t.Key[:len("node.kubernetes.io/")] == "node.kubernetes.io/" {
			tols = append(tols, t)
			continue
		}
		sched.Tolerations = append(sched.Tolerations, t)
	}
	pod.Spec.Tolerations = tols

	if sched.NodeSelector != nil || sched.NodeAffinity != nil || len(sched.Tolerations) > 0 {
		raw, err := json.Marshal(sched)
		if err != nil {
			return err
		}
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[AnnotationScheduling] = string(raw)
	}
	if pod.Spec.NodeName == "" {
		addRequired(pod, sliceRequirements(pod))
		if len(avoid) > 0 {
			addRequired(pod, []corev1.NodeSelectorRequirement{{Key: hostnameKey, Operator: corev1.NodeSelectorOpNotIn, Values: avoid}})
		}
	}
	return nil
}

// sliceRequirements keep a pod off virtual nodes whose roomiest lower node
// is too small for it. Nodes that are not virtual are not affected.
func sliceRequirements(pod *corev1.Pod) []corev1.NodeSelectorRequirement {
	req := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	var out []corev1.NodeSelectorRequirement
	if cpu, ok := req[corev1.ResourceCPU]; ok && cpu.MilliValue() > 0 {
		out = append(out, corev1.NodeSelectorRequirement{Key: LabelLargestCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{strconv.FormatInt(cpu.MilliValue()-1, 10)}})
	}
	if mem, ok := req[corev1.ResourceMemory]; ok && mem.Value() > 0 {
		mib := (mem.Value() + (1 << 20) - 1) / (1 << 20)
		out = append(out, corev1.NodeSelectorRequirement{Key: LabelLargestMem, Operator: corev1.NodeSelectorOpGt, Values: []string{strconv.FormatInt(mib-1, 10)}})
	}
	return out
}

// addRequired ANDs requirements on virtual nodes into the pod's required node
// affinity; a second term lets the pod still match nodes that are not
// virtual, which lack the labels the requirements read.
func addRequired(pod *corev1.Pod, reqs []corev1.NodeSelectorRequirement) {
	if len(reqs) == 0 {
		return
	}
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := pod.Spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}
	}
	var terms []corev1.NodeSelectorTerm
	for _, t := range na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if hasRequirement(t, LabelType, corev1.NodeSelectorOpNotIn) {
			terms = append(terms, t) // the non-virtual alternative of an earlier call
			continue
		}
		v := *t.DeepCopy()
		for _, r := range reqs {
			if !hasRequirement(v, r.Key, r.Operator) {
				v.MatchExpressions = append(v.MatchExpressions, r)
			} else if r.Operator == corev1.NodeSelectorOpNotIn {
				mergeValues(&v, r)
			}
		}
		terms = append(terms, v)
		if !targetsVirtual(t) {
			nv := *t.DeepCopy()
			nv.MatchExpressions = append(nv.MatchExpressions, corev1.NodeSelectorRequirement{Key: LabelType, Operator: corev1.NodeSelectorOpNotIn, Values: []string{TypeVirtual}})
			if !containsTerm(terms, nv) && !containsTerm(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, nv) {
				terms = append(terms, nv)
			}
		}
	}
	na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = terms
}

func hasRequirement(t corev1.NodeSelectorTerm, key string, op corev1.NodeSelectorOperator) bool {
	for _, r := range t.MatchExpressions {
		if r.Key == key && r.Operator == op {
			return true
		}
	}
	return false
}

func mergeValues(t *corev1.NodeSelectorTerm, r corev1.NodeSelectorRequirement) {
	for i := range t.MatchExpressions {
		e := &t.MatchExpressions[i]
		if e.Key != r.Key || e.Operator != r.Operator {
			continue
		}
		for _, v := range r.Values {
			found := false
			for _, have := range e.Values {
				found = found || have == v
			}
			if !found {
				e.Values = append(e.Values, v)
			}
		}
	}
}

// targetsVirtual: a term that already asks for virtual nodes needs no
// non-virtual alternative.
func targetsVirtual(t corev1.NodeSelectorTerm) bool {
	for _, r := range t.MatchExpressions {
		if r.Key == LabelType && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 && r.Values[0] == TypeVirtual {
			return true
		}
		if r.Key == LabelLowerCluster {
			return true
		}
	}
	return false
}

func containsTerm(ts []corev1.NodeSelectorTerm, t corev1.NodeSelectorTerm) bool {
	b, _ := json.Marshal(t)
	for _, o := range ts {
		ob, _ := json.Marshal(o)
		if string(ob) == string(b) {
			return true
		}
	}
	return false
}

// avoidStore remembers, per owner (a ReplicaSet, a Job), the virtual nodes
// its pods were moved off, so that the replacement the owner creates is kept
// off them too. It lives in the process that runs both the descheduler and
// the webhook; entries expire.
type avoidStore struct {
	mu      sync.Mutex
	entries map[string]*avoidEntry
	ttl     time.Duration
}

type avoidEntry struct {
	nodes   map[string]time.Time
	moves   int
	updated time.Time
}

func newAvoidStore(ttl time.Duration) *avoidStore {
	return &avoidStore{entries: map[string]*avoidEntry{}, ttl: ttl}
}

// add records a move of a pod of owner off node and returns the owner's moves.
func (s *avoidStore) add(owner, node string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[owner]
	if e == nil || time.Since(e.updated) > s.ttl {
		e = &avoidEntry{nodes: map[string]time.Time{}}
		s.entries[owner] = e
	}
	e.nodes[node] = time.Now()
	e.moves++
	e.updated = time.Now()
	return e.moves
}

func (s *avoidStore) moves(owner string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[owner]; e != nil && time.Since(e.updated) <= s.ttl {
		return e.moves
	}
	return 0
}

func (s *avoidStore) avoid(owner string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[owner]
	if e == nil {
		return nil
	}
	var out []string
	for n, at := range e.nodes {
		if time.Since(at) <= s.ttl {
			out = append(out, n)
		}
	}
	return out
}

func controllerUID(pod *corev1.Pod) string {
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return string(ref.UID)
	}
	return ""
}

// webhook serves AdmissionReview requests.
type webhook struct {
	avoid     *avoidStore
	isVirtual func(string) bool
	log       *slog.Logger
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(rw, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(rw, "the body is not an AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	review.Response = w.admit(review.Request)
	review.Response.UID = review.Request.UID
	review.Request = nil
	out, _ := json.Marshal(review)
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(out)
}

func (w *webhook) admit(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	deny := func(msg string) *admissionv1.AdmissionResponse {
		w.log.Warn("webhook refused a pod", "namespace", req.Namespace, "name", req.Name, "reason", msg)
		return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid, Message: msg}}
	}
	if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return deny("the object is not a Pod: " + err.Error())
	}
	mutated := pod.DeepCopy()
	if err := Mutate(mutated, w.avoid.avoid(controllerUID(&pod)), w.isVirtual); err != nil {
		return deny("kstack virtual-node webhook: " + err.Error())
	}
	orig, _ := json.Marshal(&pod)
	next, _ := json.Marshal(mutated)
	ops, err := jsonpatch.CreatePatch(orig, next)
	if err != nil {
		return deny("kstack virtual-node webhook: " + err.Error())
	}
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	if len(ops) > 0 {
		patch, _ := json.Marshal(ops)
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return resp
}

// WebhookName is the MutatingWebhookConfiguration kstack registers upstream.
const WebhookName = "kstack-virtual-node"

// registerWebhook points the upper cluster at this process. Opt in with the
// label virtualnode.kstack.io/webhook=enabled on a namespace or on a pod.
// failurePolicy is Fail: an opted-in pod created while the webhook is down
// is refused rather than left unschedulable.
func registerWebhook(ctx context.Context, cs kubernetes.Interface, url string, caPEM []byte) error {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	enabled := map[string]string{LabelWebhook: "enabled"}
	rule := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	hook := func(name string) admissionregistrationv1.MutatingWebhook {
		u := url
		return admissionregistrationv1.MutatingWebhook{
			Name: name, ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: caPEM},
			Rules: rule, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	byNamespace := hook("namespaces.virtualnode.kstack.io")
	byNamespace.NamespaceSelector = &metav1.LabelSelector{MatchLabels: enabled}
	byPod := hook("pods.virtualnode.kstack.io")
	byPod.ObjectSelector = &metav1.LabelSelector{MatchLabels: enabled}
	byPod.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: LabelWebhook, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"enabled"}}}}
	want := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: WebhookName, Labels: map[string]string{"app.kubernetes.io/managed-by": "kstack"}},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{byNamespace, byPod},
	}
	c := cs.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cur, err := c.Get(ctx, WebhookName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cur.Webhooks = want.Webhooks
	_, err = c.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}
