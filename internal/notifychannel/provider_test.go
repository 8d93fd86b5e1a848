package notifychannel

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kstack/kstack/internal/notifymsg"
)

// TestWeChatTokenPerSecret: the access token cached for one channel's
// AppSecret is not handed to another channel that names the same (public)
// appID with another key.
func TestWeChatTokenPerSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cgi-bin/token":
			if r.URL.Query().Get("secret") != "victim-secret" {
				io.WriteString(w, `{"errcode":40125,"errmsg":"invalid appsecret"}`)
				return
			}
			io.WriteString(w, `{"access_token":"victim-token","expires_in":7200}`)
		case "/cgi-bin/message/template/send":
			if r.URL.Query().Get("access_token") != "victim-token" {
				io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
				return
			}
			io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
		}
	}))
	defer srv.Close()
	wx := &WeChatMP{}
	params := map[string]string{"appID": "wx-public", "templateID": "tpl"}
	m := notifymsg.Message{Subject: "s", Body: "b"}
	if r := wx.Send(context.Background(), srv.Client(), srv.URL, params, []byte("victim-secret"), "openid", m); r.Err != nil {
		t.Fatalf("victim: %+v", r)
	}
	r := wx.Send(context.Background(), srv.Client(), srv.URL, params, []byte("attacker-guess"), "openid", m)
	if r.Err == nil {
		t.Fatal("a channel with the same appID and another key sent with the victim's cached token")
	}
	// The victim's token is still cached (one token fetch would fail now
	// only for the wrong secret).
	if r := wx.Send(context.Background(), srv.Client(), srv.URL, params, []byte("victim-secret"), "openid", m); r.Err != nil {
		t.Fatalf("victim again: %+v", r)
	}
}

func TestWeChatTokenCacheBounded(t *testing.T) {
	wx := &WeChatMP{}
	now := time.Now()
	wx.mu.Lock()
	defer wx.mu.Unlock()
	// Expired tokens go first.
	for i := 0; i < maxWxTokens; i++ {
		wx.putToken(fmt.Sprint("old", i), wxToken{token: "t", expires: now.Add(-time.Second)}, now)
	}
	wx.putToken("new", wxToken{token: "t", expires: now.Add(time.Hour)}, now)
	if len(wx.tokens) != 1 {
		t.Fatalf("%d tokens cached; the expired ones stayed", len(wx.tokens))
	}
	// Full of live tokens: the one expiring first goes.
	for i := 1; i < maxWxTokens; i++ {
		wx.putToken(fmt.Sprint("live", i), wxToken{token: "t", expires: now.Add(time.Hour + time.Duration(i)*time.Second)}, now)
	}
	wx.putToken("extra", wxToken{token: "t", expires: now.Add(2 * time.Hour)}, now)
	if _, ok := wx.tokens["new"]; ok || len(wx.tokens) != maxWxTokens {
		t.Fatalf("%d tokens; the first to expire stayed: %v", len(wx.tokens), ok)
	}
	for i := 0; i < 3*maxWxTokens; i++ {
		wx.putToken(fmt.Sprint("more", i), wxToken{token: "t", expires: now.Add(time.Hour)}, now)
	}
	if len(wx.tokens) > maxWxTokens {
		t.Fatalf("%d tokens cached", len(wx.tokens))
	}
}
