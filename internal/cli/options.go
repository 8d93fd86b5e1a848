package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kstack/kstack/internal/apiclient"
	"github.com/kstack/kstack/internal/printer"
)

// IOStreams are where a command reads and writes (kubectl's IOStreams):
// what it shows on Out, progress, prompts and warnings on ErrOut. No
// command touches the process's own streams, so each can be run in a test.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Options are the global flags and what every command is given.
type Options struct {
	DataDir string
	IOStreams
	// NewClient, when set, makes the platform client instead of the login
	// or the data dir (tests: a client of an httptest server).
	NewClient func() (*apiclient.Client, error)
}

// outputFlag adds -o to a command that shows objects, and checks its value
// before the command does anything (PreRunE). formats default to
// printer.Formats (table, json, yaml, name).
func outputFlag(cmd *cobra.Command, p *string, formats ...string) {
	if len(formats) == 0 {
		formats = printer.Formats
	}
	cmd.Flags().StringVarP(p, "output", "o", "table", "output format: "+strings.Join(formats, ", "))
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := printer.Check(*p, formats...); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// show prints objects: a table of headers and rows, or obj in -o's format.
func (o *Options) show(output string, obj any, headers []string, rows [][]string) error {
	return printer.Print(o.Out, output, obj, headers, rows)
}

// done says what a create, update or delete did, kubectl style ("project
// prj-x created") on stdout; with -o json|yaml|name it prints obj instead.
func (o *Options) done(output string, obj any, format string, args ...any) error {
	if output == "" || output == "table" {
		_, err := fmt.Fprintf(o.Out, format+"\n", args...)
		return err
	}
	return printer.Print(o.Out, output, obj, nil, nil)
}

// warn writes a notice on stderr.
func (o *Options) warn(format string, args ...any) {
	fmt.Fprintf(o.ErrOut, format+"\n", args...)
}

// deleteObject deletes the object at path. With an -o that prints the
// object, it is read first into obj (what was deleted).
func deleteObject(ctx context.Context, c *apiclient.Client, path, output string, obj any) error {
	if output != "" && output != "table" {
		if err := c.Do(ctx, http.MethodGet, path, "", nil, obj); err != nil {
			return err
		}
	}
	return c.Do(ctx, http.MethodDelete, path, "", nil, nil)
}

const requiredMark = " (required)"

// required marks flags that a command cannot do without: --help says
// "(required)", and a missing one is named in the error with what to give
// (see explainFlagError).
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(fmt.Sprintf("%s: %v", cmd.CommandPath(), err))
		}
		f := cmd.Flags().Lookup(n)
		f.Usage += requiredMark
	}
}

// deprecatedAlias keeps old as a hidden spelling of the flag name for one
// release: it sets the same value (and counts as name for required flags),
// and using it prints a deprecation notice on stderr.
func deprecatedAlias(cmd *cobra.Command, old, name string) {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		panic(fmt.Sprintf("%s: no flag --%s", cmd.CommandPath(), name))
	}
	alias := cmd.Flags().VarPF(&aliasValue{f}, old, "", f.Usage)
	alias.NoOptDefVal = f.NoOptDefVal
	_ = cmd.Flags().MarkDeprecated(old, "use --"+name+" instead; --"+old+" will be removed in the next release")
}

type aliasValue struct{ f *pflag.Flag }

func (a *aliasValue) Set(s string) error {
	a.f.Changed = true
	return a.f.Value.Set(s)
}
func (a *aliasValue) String() string { return a.f.Value.String() }
func (a *aliasValue) Type() string   { return a.f.Value.Type() }

// requiredHelp is the annotation of a command whose required flags are
// best explained together, in one sentence of its own.
const requiredHelp = "kstack.io/required-help"

var flagGroupPattern = regexp.MustCompile(`\[([^\]]*)\]`)

// explainFlagError rewrites cobra's errors about required flags so that
// they name each flag and say what to give.
func explainFlagError(cmd *cobra.Command, err error) error {
	if cmd == nil || err == nil {
		return err
	}
	msg := err.Error()
	help := fmt.Sprintf(" (see `%s --help`)", cmd.CommandPath())
	switch {
	case strings.HasPrefix(msg, "required flag(s)"):
		if h := cmd.Annotations[requiredHelp]; h != "" {
			return fmt.Errorf("%s%s", h, help)
		}
		var missing []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if v := f.Annotations[cobra.BashCompOneRequiredFlag]; len(v) == 1 && v[0] == "true" && !f.Changed {
				missing = append(missing, fmt.Sprintf("%s is required: %s", flagName(f), strings.TrimSuffix(f.Usage, requiredMark)))
			}
		})
		if len(missing) > 0 {
			return fmt.Errorf("%s%s", strings.Join(missing, "; "), help)
		}
	case strings.HasPrefix(msg, "at least one of the flags in the group"):
		if m := flagGroupPattern.FindStringSubmatch(msg); m != nil {
			var names, usages []string
			for _, n := range strings.Fields(m[1]) {
				if f := cmd.Flags().Lookup(n); f != nil {
					names = append(names, flagName(f))
					usages = append(usages, flagName(f)+": "+f.Usage)
				}
			}
			return fmt.Errorf("give at least one of %s (%s)%s", strings.Join(names, ", "), strings.Join(usages, "; "), help)
		}
	case strings.Contains(msg, "none of the others can be"):
		if m := flagGroupPattern.FindStringSubmatch(msg); m != nil {
			var names []string
			for _, n := range strings.Fields(m[1]) {
				names = append(names, "--"+n)
			}
			return fmt.Errorf("give only one of %s%s", strings.Join(names, ", "), help)
		}
	}
	return err
}

func flagName(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "-" + f.Shorthand + "/--" + f.Name
	}
	return "--" + f.Name
}
