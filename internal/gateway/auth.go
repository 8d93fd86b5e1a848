package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/kstack/kstack/internal/auth/directory"
)

// Authenticator finds the caller of a request: (nil, nil) when it carries
// no credentials, an error (whose message the 401 carries) for bad ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*directory.Principal, error)
}

// writeStatus writes a Kubernetes-style Status error, which kubectl and
// client-go show as a readable message.
func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code,
	})
}

func forbidden(w http.ResponseWriter, msg string) {
	writeStatus(w, http.StatusForbidden, "Forbidden", msg)
}
