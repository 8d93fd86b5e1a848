package gateway

import (
	"net/http"

	"github.com/kstack/kstack/internal/auth/directory"
)

// Authenticator finds the caller of a request: (nil, nil) when it carries
// no credentials, an error (whose message the 401 carries) for bad ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*directory.Principal, error)
}
