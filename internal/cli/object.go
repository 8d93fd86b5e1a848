package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/kstack/kstack/internal/apiclient"
)

// object is a kind of API object as its "get NAME" and "delete NAME"
// commands see it: where an object of that name is, and how a list shows it.
type object[T any] struct {
	noun    string                   // as in "user NAME deleted"
	path    func(name string) string // API path of the object NAME
	qualify bool                     // NAME is TENANT.NAME, or NAME in your tenant (see qualify)
	headers []string
	rows    func([]T) [][]string
}

// client is the platform client, and the name of the object NAME.
func (k object[T]) client(ctx context.Context, o *Options, arg string) (*apiclient.Client, string, error) {
	c, err := newAPIClient(o)
	if err != nil || !k.qualify {
		return c, arg, err
	}
	name, err := qualify(ctx, c, arg)
	return c, name, err
}

// getCmd makes cmd, which has its help texts, the "get NAME" command: it
// shows the object as list does, or whole with -o.
func (k object[T]) getCmd(o *Options, cmd *cobra.Command) *cobra.Command {
	var output string
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, name, err := k.client(cmd.Context(), o, args[0])
		if err != nil {
			return err
		}
		var obj T
		if err := c.Do(cmd.Context(), http.MethodGet, k.path(name), "", nil, &obj); err != nil {
			return err
		}
		return o.show(output, &obj, k.headers, k.rows([]T{obj}))
	}
	outputFlag(cmd, &output)
	return cmd
}

// deleteCmd makes cmd, which has its help texts, the "delete NAME" command:
// it says "<noun> NAME deleted", or prints what was deleted with -o.
func (k object[T]) deleteCmd(o *Options, cmd *cobra.Command) *cobra.Command {
	var output string
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, name, err := k.client(cmd.Context(), o, args[0])
		if err != nil {
			return err
		}
		var obj T
		if err := deleteObject(cmd.Context(), c, k.path(name), output, &obj); err != nil {
			return err
		}
		return o.done(output, &obj, "%s %s deleted", k.noun, name)
	}
	outputFlag(cmd, &output)
	return cmd
}

// listRun is the RunE of a plain "list" command: GET path into an L, shown
// with headers and the rows of its items.
func listRun[L any](o *Options, output *string, path string, headers []string, rows func(*L) [][]string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		c, err := newAPIClient(o)
		if err != nil {
			return err
		}
		var l L
		if err := c.Do(cmd.Context(), http.MethodGet, path, "", nil, &l); err != nil {
			return err
		}
		return o.show(*output, l, headers, rows(&l))
	}
}
