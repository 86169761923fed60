package denial

import "errors"

// Error is a hop the gateway refused. It wraps the client's own error (which
// often hides the reason) and carries the denial read from the response.
type Error struct {
	Denial Denial
	// Err is what the protocol client returned; nil when the denial was read
	// from a successful response.
	Err error
}

func (e *Error) Error() string { return "denied: " + e.Denial.String() }

func (e *Error) Unwrap() error { return e.Err }

// From returns the denial err carries, if it is (or wraps) an *Error.
func From(err error) (Denial, bool) {
	var de *Error
	if errors.As(err, &de) {
		return de.Denial, true
	}
	return Denial{}, false
}
