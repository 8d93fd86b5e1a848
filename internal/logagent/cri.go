package logagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// criLine is one line of a container log file as the kubelet's runtime
// writes it:
//
//	2016-10-06T00:17:09.669794202Z stdout F the message
//
// Tag P marks a partial line (the runtime splits long lines); the message
// goes on in the next lines up to one tagged F.
type criLine struct {
	Time    time.Time
	Stream  string
	Partial bool
	Message []byte
}

var errNotCRI = errors.New("not a CRI log line")

// parseCRI parses one line without its newline. A line in Docker's json-file
// format ({"log":...,"stream":...,"time":...}) is accepted too, for nodes
// still on dockershim-era layouts; its "log" keeps the newline the runtime
// put there, which is removed.
func parseCRI(line []byte) (criLine, error) {
	if len(line) > 0 && line[0] == '{' {
		return parseDockerJSON(line)
	}
	var l criLine
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return l, errNotCRI
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return l, errNotCRI
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return l, errNotCRI
	}
	// The tag may be followed by nothing at all (an empty message written
	// without the separating space).
	tag, msg, _ := bytes.Cut(rest, []byte{' '})
	// The tag field may grow ':'-separated parts in the future; the first is
	// P or F.
	tag, _, _ = bytes.Cut(tag, []byte{':'})
	switch string(tag) {
	case "P":
		l.Partial = true
	case "F":
	default:
		return l, errNotCRI
	}
	l.Time, l.Stream, l.Message = t, string(stream), msg
	return l, nil
}

func parseDockerJSON(line []byte) (criLine, error) {
	var d struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &d); err != nil || d.Stream == "" {
		return criLine{}, errNotCRI
	}
	msg := []byte(d.Log)
	// Docker splits lines longer than 16k too; only the last part ends with
	// a newline.
	partial := !bytes.HasSuffix(msg, []byte{'\n'})
	msg = bytes.TrimSuffix(msg, []byte{'\n'})
	return criLine{Time: d.Time, Stream: d.Stream, Partial: partial, Message: msg}, nil
}
