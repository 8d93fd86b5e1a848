package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is a headless Debian chromium driven through chromedp, with its
// own cookies: one per user of a test.
type Browser struct {
	T    testing.TB
	Base string
	ctx  context.Context
	name string
}

// ChromiumPath is Debian's chromium (`.ci/run` installs it).
func ChromiumPath(t testing.TB) string {
	for _, p := range []string{os.Getenv("KSTACK_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run hack/install-deps.sh (apt-get install chromium)")
	return ""
}

// NewBrowser starts a browser for base (the platform's URL), at 1280x800.
// It trusts the platform's self-signed certificate.
func NewBrowser(t testing.TB, base, name string) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(t)), chromedp.NoSandbox,
		chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-"+name)))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{T: t, Base: strings.TrimSuffix(base, "/"), ctx: ctx, name: name}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// Ctx bounds one step.
func (b *Browser) step(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, d)
}

// Do runs steps, failing the test (with a screenshot) if one fails.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	ctx, cancel := b.step(60 * time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.Screenshot(fmt.Sprintf("failed-%d", time.Now().UnixMilli()%1000000))
		loc, _ := b.location()
		b.T.Fatalf("browser %s at %s: %v", b.name, loc, err)
	}
}

func (b *Browser) location() (string, error) {
	ctx, cancel := b.step(5 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Location())
}

// Open navigates to a path of the platform and waits for its body.
func (b *Browser) Open(path string) {
	b.T.Helper()
	b.Do(chromedp.Navigate(b.Base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// Text is the visible text of the first element sel matches.
func (b *Browser) Text(sel string) string {
	b.T.Helper()
	ctx, cancel := b.step(30 * time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.Screenshot(fmt.Sprintf("failed-%d", time.Now().UnixMilli()%1000000))
		b.T.Fatalf("browser %s: reading %s: %v", b.name, sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.T.Helper()
	ctx, cancel := b.step(30 * time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.T.Fatalf("browser %s: evaluating %s: %v", b.name, expr, err)
	}
	return v
}

// WaitText waits until the text of sel contains want (the page may update
// itself, or the test may reload it with reload set).
func (b *Browser) WaitText(sel, want string, timeout time.Duration, reload bool) {
	b.T.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ctx, cancel := b.step(10 * time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)))
		cancel()
		if err == nil {
			last = s
			if strings.Contains(s, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Screenshot(fmt.Sprintf("failed-%d", time.Now().UnixMilli()%1000000))
			loc, _ := b.location()
			b.T.Fatalf("browser %s at %s: %s never showed %q; last:\n%s", b.name, loc, sel, want, last)
		}
		if reload {
			ctx, cancel := b.step(30 * time.Second)
			_ = chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("body")))
			cancel()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Location is the page's URL.
func (b *Browser) Location() string {
	b.T.Helper()
	loc, err := b.location()
	if err != nil {
		b.T.Fatal(err)
	}
	return loc
}

// Screenshot saves a full-page PNG as a test artifact and returns its path.
func (b *Browser) Screenshot(name string) string {
	ctx, cancel := b.step(30 * time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.T.Logf("screenshot %s: %v", name, err)
		return ""
	}
	// One folder per top-level test, for subtests' screenshots too.
	root := strings.SplitN(b.T.Name(), "/", 2)[0]
	dir := filepath.Join(RepoRoot(), "test", "e2e", "artifacts", root, "screenshots")
	_ = os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, b.name+"-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.T.Logf("screenshot %s: %v", name, err)
	}
	return p
}

// Login logs in through the console's OpenID flow with a password.
func (b *Browser) Login(user, password string) {
	b.T.Helper()
	b.Do(chromedp.Navigate(b.Base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#whoami")))
}

// In is the same browser reporting to t (a subtest).
func (b *Browser) In(t testing.TB) *Browser {
	c := *b
	c.T = t
	return &c
}

// Set sets the value of a form field as a user's typing would (an input
// event follows), failing the test if sel matches nothing.
func (b *Browser) Set(sel, value string) {
	b.T.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false;
		el.value = %q; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, sel, value)
	if !Eval[bool](b, js) {
		b.Screenshot(fmt.Sprintf("failed-%d", time.Now().UnixMilli()%1000000))
		b.T.Fatalf("browser %s: no field %s to set", b.name, sel)
	}
}
