package gateway

import (
	"context"
	"testing"

	"github.com/kstack/kstack/internal/apigroup"
)

// stubGroup is a group with no resources of its own, for tests of the
// gateway's internals.
type stubGroup struct{ group string }

func (g stubGroup) Info() apigroup.Info {
	return apigroup.Info{Group: g.group, Prefix: "/stub"}
}
func (stubGroup) Resources() []apigroup.Resource                    { return nil }
func (stubGroup) Admit(context.Context, *apigroup.Request) error    { return nil }
func (stubGroup) Validate(context.Context, *apigroup.Request) error { return nil }
func (stubGroup) Routes() []apigroup.Route                          { return nil }
func (stubGroup) Indexes() []apigroup.Index                         { return nil }
func (stubGroup) Controllers() []apigroup.Controller                { return nil }

func testGroups(t *testing.T) *apigroup.Registry {
	reg, err := apigroup.NewRegistry(stubGroup{"widgets.example.io"})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
