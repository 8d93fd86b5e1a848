package inprocess

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStreamsAndStatus(t *testing.T) {
	release := make(chan struct{})
	tr := &Transport{Serve: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"no"}`)
			return
		}
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release // the caller reads the first line before the handler ends
		_, _ = io.WriteString(w, "second\n")
	}}
	c := &http.Client{Transport: tr}
	resp, err := c.Get(Host + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"message":"no"}` {
		t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, body)
	}

	resp, err = c.Get(Host + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q %v", line, err)
	}
	close(release)
	line, _ = br.ReadString('\n')
	if line != "second\n" {
		t.Fatalf("second line %q", line)
	}
	resp.Body.Close()
}

func TestCloseEndsTheHandler(t *testing.T) {
	ended := make(chan struct{})
	tr := &Transport{Serve: func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		_, _ = io.WriteString(w, "x")
		<-r.Context().Done()
	}}
	resp, err := (&http.Client{Transport: tr}).Get(Host + "/follow")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the body did not end the handler")
	}
}

func TestAbortedResponseDoesNotCrash(t *testing.T) {
	tr := &Transport{Serve: func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic(http.ErrAbortHandler) // what httputil.ReverseProxy does mid-copy
	}}
	resp, err := (&http.Client{Transport: tr}).Get(Host + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "partial") {
		t.Fatalf("body %q", body)
	}
}
