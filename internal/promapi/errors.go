package promapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is a failed query. Its message is one line that starts with the API
// name, so it can go straight into a check's reason:
//
//	prometheus: 400 bad_data: invalid parameter "query": 1:5: parse error: …
//	loki: 401 no org id
//	prometheus: 503 Service Unavailable (after 4 attempts)
//	prometheus: dial tcp 127.0.0.1:9090: connect: connection refused (after 4 attempts)
//	loki: no answer within 10s
type Error struct {
	API API
	// StatusCode is the HTTP status, or 0 when no answer arrived.
	StatusCode int
	// Type is the envelope's errorType (Prometheus), empty otherwise.
	Type string
	// Message is the server's error text, or the transport error.
	Message string
	// Attempts is how many requests were made.
	Attempts int
	// Timeout is set when the query ran out of time; Message then says how long.
	Timeout bool
	// Err is the underlying transport or decoding error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.API))
	b.WriteString(": ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d ", e.StatusCode)
	}
	if e.Type != "" {
		b.WriteString(e.Type)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may help: no answer, a
// timeout, 429 or a 5xx other than 501. 400/401/422 and unparseable answers
// are not temporary.
func (e *Error) Temporary() bool {
	if e.Timeout || e.StatusCode == 0 && e.Err != nil && !errors.Is(e.Err, errDecode) {
		return true
	}
	return e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500 && e.StatusCode != http.StatusNotImplemented
}

// errDecode marks answers that arrived but could not be understood.
var errDecode = errors.New("unparseable answer")

func timeoutError(api API, d time.Duration, attempts int, cause error) *Error {
	return &Error{API: api, Message: fmt.Sprintf("no answer within %s", d), Attempts: attempts, Timeout: true, Err: cause}
}
