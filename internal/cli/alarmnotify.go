package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kstack/kstack/internal/printer"
)

// This file has what the alarm and notify commands share: where their
// objects are (a project, or the tenant's shared ones in kstack-system),
// the list/get/create -f/delete commands of a kind, and record searches.

const notifyPath = "/notify/apis/notify.tkestack.io/v1"

// sharedScope is the namespace of objects that belong to no project: cluster
// alarm policies, and channels, templates and receivers the whole tenant
// shares. The platform names objects there itself.
const sharedScope = clusterRulesNamespace

// projectScope is where the objects of a command are: a project's
// namespace (--project), or kstack-system.
type projectScope struct{ project string }

func (s *projectScope) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&s.project, "project", "p", "",
		"project ID whose objects these are (see 'kstack project list'); without it, the tenant's shared objects in "+sharedScope)
}

func (s *projectScope) namespace() string {
	if s.project != "" {
		return s.project
	}
	return sharedScope
}

// apiObject is a pointer to a namespaced API object.
type apiObject[T any] interface {
	*T
	metav1.Object
	GetObjectKind() schema.ObjectKind
}

// kindCmds describes one namespaced kind of the alarm and notify groups
// for its list, get, create -f and delete commands.
type kindCmds[T any, PT apiObject[T], L any] struct {
	noun       string // "alarm policy", as in "alarm policy NAME created"
	kind       string // "AlarmPolicy"
	apiVersion string // "monitor.tkestack.io/v1"
	base       string // monitorPath or notifyPath
	plural     string // "alarmpolicies"
	headers    []string
	rows       func([]T) [][]string
	items      func(*L) []T
	// clean drops what the platform sets (status) from an object read
	// from a file; hide blanks what must never be printed (credentials).
	clean, hide func(*T)
}

func (k *kindCmds[T, PT, L]) path(ns, name string) string {
	p := k.base + "/namespaces/" + url.PathEscape(ns) + "/" + k.plural
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// commands are list, get, create -f and delete; help gives each its Long
// text and examples.
func (k *kindCmds[T, PT, L]) commands(o *Options, help map[string][2]string) []*cobra.Command {
	var scope projectScope
	var listOut string
	list := &cobra.Command{
		Use:     "list [--project ID]",
		Aliases: []string{"ls"},
		Short:   fmt.Sprintf("List the %s of a project, or the tenant's shared ones", plural(k.noun)),
		Long:    help["list"][0],
		Example: help["list"][1],
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return listRun(o, &listOut, k.path(scope.namespace(), ""), k.headers, func(l *L) [][]string { return k.rows(k.items(l)) })(cmd, args)
		},
	}
	scope.add(list)
	outputFlag(list, &listOut)

	obj := object[T]{noun: k.noun, path: func(name string) string { return k.path(scope.namespace(), name) }, headers: k.headers, rows: k.rows}
	get := obj.getCmd(o, &cobra.Command{
		Use: "get NAME [--project ID]", Short: "Show one " + k.noun,
		Long: help["get"][0], Example: help["get"][1],
	})
	scope.add(get)

	del := obj.deleteCmd(o, &cobra.Command{
		Use: "delete NAME [--project ID]", Aliases: []string{"rm"}, Short: "Delete " + article(k.noun) + " " + k.noun,
		Long: help["delete"][0], Example: help["delete"][1],
	})
	scope.add(del)

	var file, createOut string
	create := &cobra.Command{
		Use:     "create -f FILE [--project ID]",
		Short:   fmt.Sprintf("Create %s %s from a YAML or JSON file", article(k.noun), k.noun),
		Long:    help["create"][0],
		Example: help["create"][1],
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f FILE is required: a %s in YAML or JSON (- for stdin)", k.kind)
			}
			obj, err := readAPIObject[T, PT](o.In, file, k.kind, k.apiVersion, scope.namespace())
			if err != nil {
				return err
			}
			if k.clean != nil {
				k.clean(obj)
			}
			c, err := newAPIClient(o)
			if err != nil {
				return err
			}
			var out T
			if err := c.Do(cmd.Context(), http.MethodPost, k.path(scope.namespace(), ""), "", obj, &out); err != nil {
				return err
			}
			if k.hide != nil {
				k.hide(&out)
			}
			return o.done(createOut, &out, "%s %s created", k.noun, PT(&out).GetName())
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", article(k.kind)+" "+k.kind+" in YAML or JSON; - for stdin")
	scope.add(create)
	outputFlag(create, &createOut)
	return []*cobra.Command{list, get, create, del}
}

// article is "a" or "an" before word.
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func plural(noun string) string {
	switch {
	case strings.HasSuffix(noun, "y"):
		return strings.TrimSuffix(noun, "y") + "ies"
	case strings.HasSuffix(noun, "ce"):
		return noun + "s"
	}
	return noun + "s"
}

// readOneDocument reads file (- for in), YAML or JSON, which must hold one
// document (of kind, the message says); name is what messages call it.
func readOneDocument(in io.Reader, file, kind string) (name string, doc json.RawMessage, err error) {
	var data []byte
	name = file
	if file == "-" {
		data, err = io.ReadAll(in)
		name = "stdin"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return name, nil, fmt.Errorf("reading -f: %w", err)
	}
	var docs []json.RawMessage
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return name, nil, fmt.Errorf("%s is not YAML or JSON: %w", name, err)
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && string(t) != "null" {
			docs = append(docs, raw)
		}
	}
	if len(docs) != 1 {
		return name, nil, fmt.Errorf("%s holds %d documents: give one %s", name, len(docs), kind)
	}
	return name, docs[0], nil
}

// readAPIObject reads the one object of kind in file (- for in), YAML or
// JSON, strictly, into namespace; what the platform sets (status,
// resourceVersion, uid) is dropped, so an exported object can be created
// again. A file without metadata.name gets a name from the platform.
func readAPIObject[T any, PT apiObject[T]](in io.Reader, file, kind, apiVersion, namespace string) (*T, error) {
	name, doc, err := readOneDocument(in, file, kind)
	if err != nil {
		return nil, err
	}
	var obj T
	jd := json.NewDecoder(bytes.NewReader(doc))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%s is not %s %s: %w", name, article(kind), kind, err)
	}
	p := PT(&obj)
	gvk := p.GetObjectKind().GroupVersionKind()
	if (gvk.Version != "" && gvk.GroupVersion().String() != apiVersion) || (gvk.Kind != "" && gvk.Kind != kind) {
		return nil, fmt.Errorf("%s holds a %s %s, not %s %s %s", name, gvk.GroupVersion(), gvk.Kind, article(apiVersion), apiVersion, kind)
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	p.GetObjectKind().SetGroupVersionKind(gv.WithKind(kind))
	if ns := p.GetNamespace(); ns != "" && ns != namespace {
		return nil, fmt.Errorf("%s: metadata.namespace is %s, but the %s goes to %s (--project, or none for the shared %s): drop metadata.namespace or change the flag",
			name, ns, kind, namespace, sharedScope)
	}
	p.SetNamespace(namespace)
	p.SetResourceVersion("")
	p.SetUID("")
	p.SetGeneration(0)
	p.SetManagedFields(nil)
	p.SetCreationTimestamp(metav1.Time{})
	return &obj, nil
}

// recordList is a page of alarm or notification records, as their searches
// answer.
type recordList struct {
	Kind       string       `json:"kind,omitempty"`
	APIVersion string       `json:"apiVersion,omitempty"`
	Items      []recordItem `json:"items"`
	Continue   string       `json:"continue,omitempty"`
}

type recordItem struct {
	ID        int64           `json:"id,omitempty"`
	Kind      string          `json:"kind,omitempty"`
	Time      time.Time       `json:"time"`
	Tenant    string          `json:"tenant,omitempty"`
	User      string          `json:"user,omitempty"`
	Cluster   string          `json:"cluster,omitempty"`
	Namespace string          `json:"namespace,omitempty"`
	Project   string          `json:"project,omitempty"`
	Resource  string          `json:"resource,omitempty"`
	Name      string          `json:"name,omitempty"`
	Verb      string          `json:"verb,omitempty"`
	Code      int             `json:"code,omitempty"`
	UID       string          `json:"uid,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// recordSearch is a search of a cluster's or a project's records.
type recordSearch struct {
	rangeFlags
	pageFlags
	cluster, project string
	output, file     string
	export           bool
}

func (s *recordSearch) add(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.StringVar(&s.cluster, "cluster", "", "the "+what+" of this member cluster (ID): those of the namespaces whose pods you may list")
	fl.StringVarP(&s.project, "project", "p", "", "the "+what+" of this project (ID)")
	cmd.MarkFlagsOneRequired("cluster", "project")
	cmd.MarkFlagsMutuallyExclusive("cluster", "project")
	s.rangeFlags.add(cmd)
	s.pageFlags.add(cmd)
	fl.BoolVar(&s.export, "export", false, "write every matching record as JSON lines (to stdout, or -f FILE) instead of a table")
	fl.StringVarP(&s.file, "file", "f", "", "with --export: write to this file instead of stdout")
	outputFlag(cmd, &s.output, printer.DataFormats...)
}

// run searches base + clusters/{c}/plural or namespaces/{p}/plural with the
// filters kv (name, value, ...) and shows the records with headers and rows.
func (s *recordSearch) run(cmd *cobra.Command, o *Options, base, plural string, headers []string, rows func([]recordItem) [][]string, kv ...string) error {
	q := url.Values{}
	if err := s.rangeFlags.set(q, time.Now()); err != nil {
		return err
	}
	setFilters(q, kv...)
	path := base + "/namespaces/" + url.PathEscape(s.project) + "/" + plural
	if s.cluster != "" {
		path = base + "/clusters/" + url.PathEscape(s.cluster) + "/" + plural
	}
	if s.export {
		if s.pageFlags.limit != 0 || s.pageFlags.cont != "" || s.pageFlags.all {
			return errors.New("--export writes every record: drop --limit, --continue and --all")
		}
		return o.export(cmd.Context(), path+"/export?"+q.Encode(), s.file)
	}
	if s.file != "" {
		return errors.New("-f is for --export")
	}
	if err := s.pageFlags.set(q); err != nil {
		return err
	}
	c, err := newAPIClient(o)
	if err != nil {
		return err
	}
	list, more, err := searchPages(cmd.Context(), c, path, q, s.pageFlags.all,
		func(l *recordList) *string { return &l.Continue },
		func(into, page *recordList) { into.Items = append(into.Items, page.Items...) })
	if err != nil {
		return err
	}
	if list.Items == nil {
		list.Items = []recordItem{}
	}
	if err := o.show(s.output, list, headers, rows(list.Items)); err != nil {
		return err
	}
	if more != "" {
		o.warn(moreHint, more)
	}
	return nil
}

// when formats a record's time; "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// sortedLabels is "k=v,k=v" of m, sorted.
func sortedLabels(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
