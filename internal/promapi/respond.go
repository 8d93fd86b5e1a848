package promapi

import (
	"encoding/json"
	"errors"
	"net/http"
)

// errorType is the "errorType" of a Prometheus error answer; clients (Grafana,
// promtool) branch on it.
type errorType string

const (
	errBadData    errorType = "bad_data"
	errExec       errorType = "execution"
	errTimeout    errorType = "timeout"
	errCanceled   errorType = "canceled"
	errInternal   errorType = "internal"
	errNotFound   errorType = "not_found"
	errNotAllowed errorType = "method_not_allowed"
)

// statusClientClosed is the nginx convention Prometheus uses for a canceled query.
const statusClientClosed = 499

func (t errorType) status() int {
	switch t {
	case errBadData:
		return http.StatusBadRequest
	case errExec:
		return http.StatusUnprocessableEntity
	case errTimeout:
		return http.StatusServiceUnavailable
	case errCanceled:
		return statusClientClosed
	case errNotFound:
		return http.StatusNotFound
	case errNotAllowed:
		return http.StatusMethodNotAllowed
	default:
		return http.StatusInternalServerError
	}
}

// apiError is an error with the errorType it is answered with.
type apiError struct {
	typ errorType
	err error
}

func (e *apiError) Error() string { return e.err.Error() }

func badData(err error) *apiError { return &apiError{errBadData, err} }

type response struct {
	Status    string    `json:"status"`
	Data      any       `json:"data,omitempty"`
	ErrorType errorType `json:"errorType,omitempty"`
	Error     string    `json:"error,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
	Infos     []string  `json:"infos,omitempty"`
}

func respond(w http.ResponseWriter, data any, warnings, infos []string) {
	write(w, http.StatusOK, response{Status: "success", Data: data, Warnings: warnings, Infos: infos})
}

func respondError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{errInternal, err}
	}
	write(w, ae.typ.status(), response{Status: "error", ErrorType: ae.typ, Error: ae.err.Error()})
}

func write(w http.ResponseWriter, code int, r response) {
	b, err := json.Marshal(r)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(response{Status: "error", ErrorType: errInternal, Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}
