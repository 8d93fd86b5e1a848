package apigroup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Error is a refused request: the HTTP status and a message for the caller.
// It is the one error type of admission and of the groups' actions.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Refuse makes an *Error.
func Refuse(code int, format string, a ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// Invalid is a 422 refusal.
func Invalid(format string, a ...any) error {
	return Refuse(http.StatusUnprocessableEntity, format, a...)
}

var reasons = map[int]string{
	http.StatusBadRequest: "BadRequest", http.StatusUnauthorized: "Unauthorized", http.StatusTooManyRequests: "TooManyRequests", http.StatusForbidden: "Forbidden", http.StatusNotFound: "NotFound",
	http.StatusMethodNotAllowed: "MethodNotAllowed", http.StatusConflict: "Conflict",
	http.StatusRequestEntityTooLarge: "RequestEntityTooLarge", http.StatusUnsupportedMediaType: "UnsupportedMediaType",
	http.StatusUnprocessableEntity: "Invalid", http.StatusServiceUnavailable: "ServiceUnavailable",
}

// StatusReason is the Kubernetes Status reason of an HTTP code.
func StatusReason(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	return "InternalError"
}

// WriteError answers with err: its code and message when it is an *Error,
// 500 otherwise.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if errors.As(err, &e) {
		WriteStatus(w, e.Code, StatusReason(e.Code), e.Msg)
		return
	}
	WriteStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
}

// WriteStatus writes a Kubernetes-style Status error, which kubectl and
// client-go show as a readable message.
func WriteStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code,
	})
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeBody reads a JSON body of at most 1 MiB into v, refusing unknown
// fields.
func DecodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Refuse(http.StatusBadRequest, "the body is not valid JSON for this request: %v", err)
	}
	return nil
}

// MethodNotAllowed answers 405 with what to use instead.
func MethodNotAllowed(w http.ResponseWriter, msg string) {
	WriteStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", msg)
}
