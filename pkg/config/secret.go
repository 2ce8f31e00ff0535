package config

import "log/slog"

// Secret is a string that does not show itself: printed with fmt or logged
// with slog it reads "[redacted]", so a config dumped into a log or an
// error does not carry the password along.
type Secret string

// String hides the value.
func (Secret) String() string { return "[redacted]" }

// GoString hides the value from %#v too.
func (Secret) GoString() string { return `"[redacted]"` }

// MarshalText hides the value from encoding/json and the like, which slog's
// JSON handler uses for a struct holding a Secret.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// LogValue hides the value from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }
