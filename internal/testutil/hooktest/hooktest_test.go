package hooktest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("X-Token", "t1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReceivesAndAnswers(t *testing.T) {
	h := Start(t, Options{})
	if !strings.HasPrefix(h.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q", h.URL())
	}
	if code := post(t, h.URL(), `{"a":1}`); code != 200 {
		t.Fatalf("status %d", code)
	}
	h.SetStatus(503)
	if code := post(t, h.URL(), `{"a":2}`); code != 503 {
		t.Fatalf("status %d, want 503", code)
	}
	got := h.Wait(t, 2, 5*time.Second)
	if len(got) != 2 || string(got[0].Body) != `{"a":1}` || got[1].Header.Get("X-Token") != "t1" || got[0].Method != "POST" {
		t.Fatalf("got %+v", got)
	}
	if len(h.Received()) != 2 {
		t.Fatal("Received")
	}
}

func TestDelay(t *testing.T) {
	h := Start(t, Options{Delay: 300 * time.Millisecond, Status: 202})
	start := time.Now()
	if code := post(t, h.URL(), "x"); code != 202 {
		t.Fatalf("status %d", code)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("answered after %s, want >= 300ms", d)
	}
	h.SetDelay(0)
	start = time.Now()
	post(t, h.URL(), "y")
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("answered after %s without delay", d)
	}
}

func TestWaitBlocksUntilArrival(t *testing.T) {
	h := Start(t, Options{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		if resp, err := http.Post(h.URL(), "text/plain", strings.NewReader("late")); err == nil {
			resp.Body.Close()
		}
	}()
	got := h.Wait(t, 1, 5*time.Second)
	if string(got[0].Body) != "late" {
		t.Fatalf("got %q", got[0].Body)
	}
}

type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = format
}

func TestWaitFailsWithWhatArrived(t *testing.T) {
	h := Start(t, Options{})
	post(t, h.URL(), "one")
	f := &fakeTB{TB: t}
	got := h.Wait(f, 2, 200*time.Millisecond)
	if f.failed == "" || len(got) != 1 {
		t.Fatalf("Wait did not fail: %v %d", f.failed, len(got))
	}
}
