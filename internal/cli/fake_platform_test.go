package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"

	"github.com/kstack/kstack/internal/apiclient"
)

// fakePlatform stands in for the platform's gateway: a store of JSON
// objects by path with the generic verbs, and the few actions the CLI
// calls. It records every request.
type fakePlatform struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	objects  map[string]map[string]any
	requests []fakeRequest
	seq      int
	// dataDir is the --data-dir of the last run (a fresh, absent one each time).
	dataDir string
	// records are the searches' records by list path (audit, a cluster's
	// events), newest first.
	records map[string][]map[string]any
	// actions answer a POST to their path (a channel's test-send, ...).
	actions map[string]func(body map[string]any) (int, any)
}

type fakeRequest struct {
	Method, Path string
	Body         map[string]any
}

func (r fakeRequest) String() string { return r.Method + " " + r.Path }

func newFakePlatform(t *testing.T) *fakePlatform {
	f := &fakePlatform{t: t, objects: map[string]map[string]any{}, records: map[string][]map[string]any{},
		actions: map[string]func(map[string]any) (int, any){}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// put stores an object at path (test set-up; not recorded).
func (f *fakePlatform) put(path string, obj map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[path] = obj
}

func (f *fakePlatform) get(path string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[path]
}

// writes are the requests that could change something.
func (f *fakePlatform) writes() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var w []fakeRequest
	for _, r := range f.requests {
		if r.Method != http.MethodGet {
			w = append(w, r)
		}
	}
	return w
}

func (f *fakePlatform) all() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fakePlatform) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, path string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"kind": "Status", "message": fmt.Sprintf("%s not found", path)})
}

func (f *fakePlatform) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	data, _ := io.ReadAll(r.Body)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad JSON: " + err.Error()})
			return
		}
	}
	path := r.URL.Path
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.RequestURI(), Body: body})
	f.seq++
	if list, ok := strings.CutSuffix(path, "/export"); ok && f.records[list] != nil {
		f.export(w, r, list)
		return
	}
	if f.records[path] != nil {
		f.search(w, r, path)
		return
	}
	if act := f.actions[path]; act != nil && r.Method == http.MethodPost {
		code, v := act(body)
		writeJSON(w, code, v)
		return
	}
	if strings.HasPrefix(path, "/event/") {
		cluster := strings.Split(strings.TrimPrefix(path, eventGroupPath), "/")[0]
		writeJSON(w, http.StatusNotFound, map[string]any{"kind": "Status", "code": 404, "message": fmt.Sprintf("no cluster %q on the platform", cluster)})
		return
	}
	switch {
	case path == "/auth/whoami":
		writeJSON(w, http.StatusOK, map[string]any{"username": "admin", "tenant": "default", "platformAdministrator": true})
		return
	case strings.HasSuffix(path, "/publish") && r.Method == http.MethodPost:
		var results []map[string]any
		clusters, _ := body["clusters"].([]any)
		for _, c := range clusters {
			results = append(results, map[string]any{"cluster": c, "object": "deployment/api", "ready": "2/2", "status": "Ready"})
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": results})
		return
	case strings.HasSuffix(path, "/clusterimports") && r.Method == http.MethodPost:
		name := fmt.Sprintf("cls-%08d", f.seq)
		obj := map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"displayName": body["displayName"], "type": "Imported"}}
		f.objects[clustersPath+"/"+name] = obj
		writeJSON(w, http.StatusCreated, obj)
		return
	case strings.HasSuffix(path, "/credential") && r.Method == http.MethodPut:
		cls := f.objects[strings.TrimSuffix(path, "/credential")]
		if cls == nil {
			notFound(w, path)
			return
		}
		writeJSON(w, http.StatusOK, cls)
		return
	case strings.HasSuffix(path, "/password") && r.Method == http.MethodPut:
		writeJSON(w, http.StatusOK, map[string]any{"status": "password changed"})
		return
	case strings.HasSuffix(path, "/move") && r.Method == http.MethodPost:
		old := f.objects[strings.TrimSuffix(path, "/move")]
		if old == nil {
			notFound(w, path)
			return
		}
		writeJSON(w, http.StatusOK, old)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if obj, ok := f.objects[path]; ok {
			writeJSON(w, http.StatusOK, obj)
			return
		}
		// A collection: the objects right under it.
		var items []map[string]any
		var keys []string
		for p := range f.objects {
			if rest, ok := strings.CutPrefix(p, path+"/"); ok && !strings.Contains(rest, "/") {
				keys = append(keys, p)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			items = append(items, f.objects[k])
		}
		if items == nil && !isCollection(path) {
			notFound(w, path)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	case http.MethodPost:
		obj, name := f.created(path, body)
		f.objects[path+"/"+name] = obj
		writeJSON(w, http.StatusCreated, obj)
	case http.MethodPut:
		if _, ok := f.objects[path]; !ok {
			notFound(w, path)
			return
		}
		f.objects[path] = body
		writeJSON(w, http.StatusOK, body)
	case http.MethodPatch:
		obj, ok := f.objects[path]
		if !ok {
			notFound(w, path)
			return
		}
		mergeInto(obj, body)
		writeJSON(w, http.StatusOK, obj)
	case http.MethodDelete:
		if _, ok := f.objects[path]; !ok {
			notFound(w, path)
			return
		}
		delete(f.objects, path)
		writeJSON(w, http.StatusOK, map[string]any{"kind": "Status", "status": "Success"})
	}
}

// search answers a record search as the record APIs do: pages of limit
// (default 100) with a continue token (here the offset), 400 for a bad
// result. Filters are not applied: tests check the query sent.
func (f *fakePlatform) search(w http.ResponseWriter, r *http.Request, path string) {
	q := r.URL.Query()
	if res := q.Get("result"); res != "" && res != "success" && res != "failure" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"kind": "Status", "code": 400, "message": fmt.Sprintf("result %q: use success or failure", res)})
		return
	}
	limit, from := 100, 0
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := q.Get("continue"); v != "" {
		from, _ = strconv.Atoi(v)
	}
	all := f.records[path]
	to := min(from+limit, len(all))
	cont := ""
	if to < len(all) {
		cont = strconv.Itoa(to)
	}
	kind := "EventList"
	apiVersion := "v1"
	if strings.HasPrefix(path, "/audit/") {
		apiVersion = "audit.k8s.io/v1"
	}
	// Core and audit lists page in metadata.continue; the alarm and
	// notification record lists at the top.
	writeJSON(w, http.StatusOK, map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"continue": cont}, "continue": cont, "items": all[from:to]})
}

// export answers an export: every record as a JSON line.
func (f *fakePlatform) export(w http.ResponseWriter, _ *http.Request, path string) {
	w.Header().Set("Content-Type", "application/jsonl")
	for _, rec := range f.records[path] {
		data, _ := json.Marshal(rec)
		w.Write(append(data, '\n'))
	}
}

// isCollection: paths that end in a plural resource.
func isCollection(path string) bool {
	last := path[strings.LastIndex(path, "/")+1:]
	return strings.HasSuffix(last, "s")
}

// created is the object a POST to a collection stores, and its name, as the
// platform would give it.
func (f *fakePlatform) created(path string, body map[string]any) (map[string]any, string) {
	meta, _ := body["metadata"].(map[string]any)
	spec, _ := body["spec"].(map[string]any)
	name, _ := meta["name"].(string)
	switch {
	case strings.HasSuffix(path, "/users"):
		tenant, _ := spec["tenantID"].(string)
		if tenant == "" {
			tenant = "default"
		}
		name = tenant + "." + spec["username"].(string)
		return map[string]any{"metadata": map[string]any{"name": name}, "spec": spec}, name
	case strings.HasSuffix(path, "/apikeys"):
		name = fmt.Sprintf("ak-%05d", f.seq)
		return map[string]any{"name": name, "description": body["description"], "expiresAt": "2030-01-01T00:00:00Z", "key": "ksk_" + name + "_secret"}, name
	case strings.HasSuffix(path, "/projects") && name == "":
		name = fmt.Sprintf("prj-%08d", f.seq)
	case strings.HasSuffix(path, "/namespaces") && name == "":
		name = fmt.Sprintf("%s-%s", spec["clusterName"], spec["namespace"])
	case name == "":
		gen, _ := meta["generateName"].(string)
		name = fmt.Sprintf("%s%05d", gen, f.seq)
	}
	if meta == nil {
		meta = map[string]any{}
		body["metadata"] = meta
	}
	meta["name"] = name
	return body, name
}

func mergeInto(dst, patch map[string]any) {
	for k, v := range patch {
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, pm)
				continue
			}
		}
		if v == nil {
			delete(dst, k)
			continue
		}
		dst[k] = v
	}
}

// result is what one run of the CLI printed.
type result struct {
	Out, Err string
	Error    error
}

// kstack runs the CLI with args against the fake platform, through the
// stream abstraction, with stdin as its input.
func (f *fakePlatform) kstack(stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	o := &Options{
		IOStreams: IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut},
		NewClient: func() (*apiclient.Client, error) {
			return apiclient.NewWithToken(f.srv.URL, nil, func(context.Context) (string, error) { return "test-token", nil }), nil
		},
	}
	pflag.CommandLine = pflag.NewFlagSet("kstack", pflag.ContinueOnError)
	f.dataDir = filepath.Join(f.t.TempDir(), "data")
	err := run(context.Background(), newRoot(o), append(args, "--data-dir="+f.dataDir))
	return result{Out: out.String(), Err: errOut.String(), Error: err}
}

// must runs the CLI and fails the test on an error.
func (f *fakePlatform) must(args ...string) result {
	f.t.Helper()
	r := f.kstack("", args...)
	if r.Error != nil {
		f.t.Fatalf("kstack %s: %v\nstderr: %s", strings.Join(args, " "), r.Error, r.Err)
	}
	return r
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
