package framework

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ConsoleClient is an HTTP client logged in to the console through the
// platform's OpenID flow (the same redirects a browser follows), for tests
// and benchmarks that read pages without a browser.
type ConsoleClient struct {
	*http.Client
	Base string
	// CSRF is the token the console's pages carry for their forms.
	CSRF string
}

var authRequestRE = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// ConsoleLogin logs in as user of the default tenant and returns the client.
func ConsoleLogin(t testing.TB, base, user, password string) *ConsoleClient {
	t.Helper()
	return ConsoleLoginTenant(t, base, "", user, password)
}

// ConsoleLoginTenant logs in as user of tenant ("" for the default one).
func ConsoleLoginTenant(t testing.TB, base, tenant, user, password string) *ConsoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &ConsoleClient{Base: strings.TrimSuffix(base, "/"), Client: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 8}}}
	code, page := c.Get(t, "/console/")
	m := authRequestRE.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("the console did not lead to the login page: %d\n%s", code, page)
	}
	resp, err := c.PostForm(c.Base+"/oidc/login", url.Values{"authRequestID": {m[1]}, "tenant": {tenant}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the login answer: %v", err)
	}
	if !strings.HasPrefix(resp.Request.URL.Path, "/console/") || resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s ended at %s with %d:\n%s", user, resp.Request.URL, resp.StatusCode, body)
	}
	if m := csrfRE.FindStringSubmatch(string(body)); m != nil {
		c.CSRF = m[1]
	}
	return c
}

// Get fetches a path and returns the status and body.
func (c *ConsoleClient) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := c.Client.Get(c.Base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// Post posts a form (with the CSRF token unless the form sets one).
func (c *ConsoleClient) Post(t testing.TB, path string, form url.Values) (int, string) {
	t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.CSRF)
	}
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// String names the client in messages.
func (c *ConsoleClient) String() string { return fmt.Sprintf("console client of %s", c.Base) }
