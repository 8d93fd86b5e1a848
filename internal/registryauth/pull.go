package registryauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	businessv1 "github.com/kstack/kstack/api/business/v1"
	registryv1 "github.com/kstack/kstack/api/registry/v1"
)

// Pull credentials: one per project, the username and password that the
// project's business namespaces' pull secrets hold.
const (
	// PullControllerName names the controller, and is the managed-by label
	// of the Secrets it keeps (businessnamespace watches that label).
	PullControllerName = "registry-pull-credentials"
	// LabelManagedBy marks the Secrets of pull credentials.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// PullUsernamePrefix + project is a pull credential's username.
	PullUsernamePrefix = "kstack-pull-"
	// PullPasswordPrefix starts a pull credential's password:
	// "kspull_<project>_<secret>"; the prefix says what the password is.
	PullPasswordPrefix = "kspull_"
	// PullSecretPrefix + project names the Secret in the system namespace.
	PullSecretPrefix = "registry-pull-"

	DefaultRotation = 24 * time.Hour
	DefaultGrace    = time.Hour
)

// Keys of the Secret's data.
const (
	keyUsername           = "username"
	keyPassword           = "password"
	keyCreatedAt          = "createdAt"
	keyPreviousHash       = "previousHash"
	keyPreviousValidUntil = "previousValidUntil"
)

// projectName is what a project's name may be (an object name without dots).
var projectName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// PullUsername is the username of project's pull credential.
func PullUsername(project string) string { return PullUsernamePrefix + project }

// PullSecretName is the Secret that holds project's pull credential.
func PullSecretName(project string) string { return PullSecretPrefix + project }

// PullCredentials keeps the projects' pull credentials: a controller
// rotates them, the registry API rotates one on demand, and the business
// namespace controller copies the current one into members.
type PullCredentials struct {
	// Client reads from the cache and writes.
	Client client.Client
	// Reader reads past the cache (Rotate reads what it replaces); nil: Client.
	Reader          client.Reader
	SystemNamespace string
	// Rotation is how old a credential grows before it is replaced
	// (default 24h); Grace how long the replaced one still works (default 1h).
	Rotation, Grace time.Duration
	Now             func() time.Time
}

func (p *PullCredentials) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *PullCredentials) rotation() time.Duration {
	if p.Rotation > 0 {
		return p.Rotation
	}
	return DefaultRotation
}

func (p *PullCredentials) grace() time.Duration {
	if p.Grace > 0 {
		return p.Grace
	}
	return DefaultGrace
}

func (p *PullCredentials) reader() client.Reader {
	if p.Reader != nil {
		return p.Reader
	}
	return p.Client
}

// SetupWithManager registers controller "registry-pull-credentials": it
// runs on the leader, as every controller of the manager does.
func (p *PullCredentials) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named(PullControllerName).
		For(&businessv1.Project{}).
		// A deleted or edited Secret is put back (with a new password).
		Owns(&corev1.Secret{}).
		Complete(p)
}

// stored is a pull credential as its Secret holds it.
type stored struct {
	password           string
	createdAt          time.Time
	previousHash       string
	previousValidUntil time.Time
}

func parseStored(s *corev1.Secret) (stored, bool) {
	st := stored{password: string(s.Data[keyPassword]), previousHash: string(s.Data[keyPreviousHash])}
	t, err := time.Parse(time.RFC3339, string(s.Data[keyCreatedAt]))
	if err != nil || st.password == "" {
		return st, false
	}
	st.createdAt = t
	if v := s.Data[keyPreviousValidUntil]; len(v) > 0 {
		if st.previousValidUntil, err = time.Parse(time.RFC3339, string(v)); err != nil {
			st.previousHash = ""
		}
	}
	return st, true
}

func hashPassword(pw string) string {
	s := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(s[:])
}

func newPassword(project string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return PullPasswordPrefix + project + "_" + hex.EncodeToString(b), nil
}

// fill writes a fresh credential into sec, keeping the one it replaces (if
// any) for the grace period.
func (p *PullCredentials) fill(sec *corev1.Secret, prj *businessv1.Project, now time.Time) error {
	pw, err := newPassword(prj.Name)
	if err != nil {
		return err
	}
	old, ok := parseStored(sec)
	now = now.UTC().Truncate(time.Second)
	data := map[string][]byte{
		keyUsername:  []byte(PullUsername(prj.Name)),
		keyPassword:  []byte(pw),
		keyCreatedAt: []byte(now.Format(time.RFC3339)),
	}
	if ok {
		data[keyPreviousHash] = []byte(hashPassword(old.password))
		data[keyPreviousValidUntil] = []byte(now.Add(p.grace()).Format(time.RFC3339))
	}
	sec.Data = data
	sec.Type = corev1.SecretTypeOpaque
	p.meta(sec, prj)
	return nil
}

// meta sets the name, labels and owner (the Project: the garbage collector
// deletes the credential with it).
func (p *PullCredentials) meta(sec *corev1.Secret, prj *businessv1.Project) bool {
	changed := false
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	for k, v := range map[string]string{businessv1.LabelProject: prj.Name, LabelManagedBy: PullControllerName} {
		if sec.Labels[k] != v {
			sec.Labels[k], changed = v, true
		}
	}
	yes := true
	ref := metav1.OwnerReference{APIVersion: businessv1.GroupVersion.String(), Kind: "Project", Name: prj.Name, UID: prj.UID, Controller: &yes, BlockOwnerDeletion: &yes}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != prj.UID || sec.OwnerReferences[0].Controller == nil {
		sec.OwnerReferences, changed = []metav1.OwnerReference{ref}, true
	}
	sec.Name, sec.Namespace = PullSecretName(prj.Name), p.SystemNamespace
	return changed
}

// Reconcile makes a project's credential, and replaces it when it is due.
func (p *PullCredentials) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var prj businessv1.Project
	if err := p.Client.Get(ctx, req.NamespacedName, &prj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if prj.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // the garbage collector takes the Secret
	}
	now := p.now()
	var sec corev1.Secret
	err := p.Client.Get(ctx, client.ObjectKey{Namespace: p.SystemNamespace, Name: PullSecretName(prj.Name)}, &sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = corev1.Secret{}
		if err := p.fill(&sec, &prj, now); err != nil {
			return ctrl.Result{}, err
		}
		if err := p.Client.Create(ctx, &sec); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, fmt.Errorf("creating the pull credential of project %s: %w", prj.Name, err)
		}
		return ctrl.Result{RequeueAfter: p.rotation()}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	st, ok := parseStored(&sec)
	switch {
	case !ok || now.Sub(st.createdAt) >= p.rotation():
		if err := p.fill(&sec, &prj, now); err != nil {
			return ctrl.Result{}, err
		}
		if err := p.Client.Update(ctx, &sec); err != nil {
			return ctrl.Result{}, fmt.Errorf("rotating the pull credential of project %s: %w", prj.Name, err)
		}
		return ctrl.Result{RequeueAfter: p.rotation()}, nil
	case p.meta(&sec, &prj):
		if err := p.Client.Update(ctx, &sec); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: st.createdAt.Add(p.rotation()).Sub(now) + time.Second}, nil
}

// Rotate replaces project's credential now; the one it replaces works for
// the grace period (rotating again within it ends that one at once).
func (p *PullCredentials) Rotate(ctx context.Context, project string) (registryv1.PullCredentialStatus, error) {
	var out registryv1.PullCredentialStatus
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var prj businessv1.Project
		if err := p.reader().Get(ctx, client.ObjectKey{Name: project}, &prj); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("project %s not found: %w", project, err)
			}
			return err
		}
		if prj.DeletionTimestamp != nil {
			return fmt.Errorf("project %s is being deleted: its pull credential goes with it", project)
		}
		now := p.now()
		var sec corev1.Secret
		err := p.reader().Get(ctx, client.ObjectKey{Namespace: p.SystemNamespace, Name: PullSecretName(project)}, &sec)
		exists := err == nil
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := p.fill(&sec, &prj, now); err != nil {
			return err
		}
		if exists {
			err = p.Client.Update(ctx, &sec)
		} else {
			err = p.Client.Create(ctx, &sec)
			if apierrors.IsAlreadyExists(err) {
				// The controller made it meanwhile: replace that one.
				return apierrors.NewConflict(corev1.Resource("secrets"), sec.Name, err)
			}
		}
		if err != nil {
			return err
		}
		out = status(project, &sec)
		return nil
	})
	if err != nil {
		return registryv1.PullCredentialStatus{}, fmt.Errorf("rotating the pull credential of project %s: %w", project, err)
	}
	return out, nil
}

func status(project string, sec *corev1.Secret) registryv1.PullCredentialStatus {
	st, _ := parseStored(sec)
	out := registryv1.PullCredentialStatus{Project: project, Username: PullUsername(project), RotatedAt: metav1.NewTime(st.createdAt)}
	if st.previousHash != "" {
		t := metav1.NewTime(st.previousValidUntil)
		out.PreviousValidUntil = &t
	}
	return out
}

// ErrNoPullCredential: the controller has not made the project's
// credential yet (callers try again shortly).
var ErrNoPullCredential = errors.New("the project's pull credential is not made yet")

// Current is project's pull credential, for its pull secrets.
func (p *PullCredentials) Current(ctx context.Context, project string) (username, password string, err error) {
	var sec corev1.Secret
	err = p.Client.Get(ctx, client.ObjectKey{Namespace: p.SystemNamespace, Name: PullSecretName(project)}, &sec)
	if apierrors.IsNotFound(err) {
		return "", "", fmt.Errorf("project %s: %w", project, ErrNoPullCredential)
	}
	if err != nil {
		return "", "", err
	}
	st, ok := parseStored(&sec)
	if !ok {
		return "", "", fmt.Errorf("project %s: %w (its Secret is being replaced)", project, ErrNoPullCredential)
	}
	return PullUsername(project), st.password, nil
}

// parsePullPassword splits "kspull_<project>_<secret>".
func parsePullPassword(pw string) (project string, ok bool) {
	rest, ok := strings.CutPrefix(pw, PullPasswordPrefix)
	if !ok {
		return "", false
	}
	project, secret, ok := strings.Cut(rest, "_")
	return project, ok && len(project) <= 63 && projectName.MatchString(project) && len(secret) >= 32
}

// checkPull checks a pull credential's password against the project's
// Secret: the current one, or the previous one within its grace. It reads
// the cache first and the API server when the cache may lag behind a
// rotation. A nil error means the password is good.
func checkPull(ctx context.Context, cache, direct client.Reader, namespace, project, password string, now time.Time) error {
	key := client.ObjectKey{Namespace: namespace, Name: PullSecretName(project)}
	var err error
	for _, r := range []client.Reader{cache, direct} {
		if r == nil {
			continue
		}
		var sec corev1.Secret
		if gerr := r.Get(ctx, key, &sec); gerr != nil {
			if !apierrors.IsNotFound(gerr) {
				return gerr
			}
			err = errBadCredentials
			continue
		}
		if err = matchPull(&sec, password, now); err == nil || !errors.Is(err, errBadCredentials) {
			return err
		}
	}
	return err
}

func matchPull(sec *corev1.Secret, password string, now time.Time) error {
	st, ok := parseStored(sec)
	if !ok {
		return errBadCredentials
	}
	if subtle.ConstantTimeCompare([]byte(hashPassword(password)), []byte(hashPassword(st.password))) == 1 {
		return nil
	}
	if st.previousHash != "" && subtle.ConstantTimeCompare([]byte(hashPassword(password)), []byte(st.previousHash)) == 1 {
		if now.Before(st.previousValidUntil) {
			return nil
		}
		return &refusal{msg: fmt.Sprintf("this pull credential was rotated at %s and its grace period ended at %s; the namespace's pull secret (kstack-registry) holds the new one",
			st.createdAt.UTC().Format(time.RFC3339), st.previousValidUntil.UTC().Format(time.RFC3339))}
	}
	return errBadCredentials
}
