package httpapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Problem types of the errors every service shares (RFC 9457). They are
// relative references: they identify the kind of problem and need not be
// dereferenced.
const (
	// TypeInvalidRequest is a request the client must change: a 400.
	TypeInvalidRequest = "/problems/invalid-request"
	// TypeBodyTooLarge is a request body over the handler's limit: a 413.
	TypeBodyTooLarge = "/problems/body-too-large"
	// TypeBlank is the type of a problem that needs no more explanation
	// than its status code (RFC 9457 §4.2.1); its title is the status text.
	TypeBlank = "about:blank"
)

// Problem is an RFC 9457 problem detail, and the description of an error
// that every body shape is rendered from.
//
// A service that needs extension members declares a struct embedding
// Problem and adds them after it: encoding/json writes the embedded members
// first, so the standard ones always lead.
type Problem struct {
	// Type identifies the kind of problem; empty means TypeBlank.
	Type string `json:"type"`
	// Title names the kind of problem; empty means the status text.
	Title string `json:"title"`
	// Status is the HTTP status code. A Mapper must set it.
	Status int `json:"status"`
	// Detail explains this occurrence, for the client to read. It must
	// never carry internal error text.
	Detail string `json:"detail"`
	// Instance is the request path; Responder.Error fills it in.
	Instance string `json:"instance,omitempty"`
	// Errors lists the invalid fields of a 400. omitzero, not omitempty: a
	// list that is there but empty is written as such.
	Errors []FieldError `json:"errors,omitzero"`
}

// Core returns p itself. Through embedding it is also how the writer
// reaches the Problem inside a service's extended problem.
func (p *Problem) Core() *Problem { return p }

// Body is a described error as a Mapper returns it: a *Problem, or a
// pointer to a service's struct that embeds Problem to add extension
// members. ProblemJSON writes all of it; PlainText writes only its detail.
type Body interface {
	// Core returns the embedded Problem, which the writer completes.
	Core() *Problem
}

// FieldError is one problem with one input field: an element of a
// problem's "errors".
type FieldError struct {
	// Field names the field as the client sent it: a JSON member, a query
	// parameter, a header.
	Field string `json:"field"`
	// Message says what is wrong with it, to follow the name: "is required".
	Message string `json:"message"`
}

// RequestError is a request the client must change before retrying: any
// service's handler returns it for input that is wrong, and the writer
// answers it with 400 and its Detail (and Fields) as they are.
type RequestError struct {
	// Detail says what is wrong, in words the client can act on.
	Detail string
	// Fields, when set, lists the invalid fields one by one.
	Fields []FieldError
}

// Error returns the detail, which is safe to show: it is written for the
// client.
func (e *RequestError) Error() string { return e.Detail }

// InvalidRequest is the problem of a 400: the answer to a *RequestError,
// and what a Mapper returns for a validation error of its domain, so that
// every invalid request reads the same whatever found it.
func InvalidRequest(detail string, fields []FieldError) *Problem {
	return &Problem{
		Type: TypeInvalidRequest, Title: "Invalid request", Status: http.StatusBadRequest,
		Detail: detail, Errors: fields,
	}
}

// StatusError is a request refused by the edge rather than by a domain:
// no or a bad token (401), a token without the right (403), a body that is
// not JSON (415), a client over its rate (429), the identity provider out
// of reach (503). It carries its status and the headers that explain it
// (WWW-Authenticate, Retry-After), which Responder.Error sends with the
// body, so that these answers take each route group's body shape like any
// other error.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Type and Title name the kind of problem; empty means TypeBlank and
	// the status text.
	Type, Title string
	// Detail explains the refusal, for the client to read.
	Detail string
	// Header is sent with the answer.
	Header http.Header
}

// Error returns the detail, which is written for the client.
func (e *StatusError) Error() string { return e.Detail }

// Mapper is a service's part of the error table: the problem for an error
// of its domain, or nil for an error it does not know. It is called once
// per error and must return a new value each time, which the writer
// completes. Errors arrive wrapped: match them with errors.Is and errors.As.
type Mapper func(err error) Body

// Describe is the one error table: the errors every service shares first
// (a body over its limit, a *RequestError, a *StatusError), then m's (nil m knows none),
// and anything else is a 500 whose text is never shown. The result has its
// Status, Type and Title set; Instance is left to Responder.Error, which
// knows the request.
func Describe(m Mapper, err error) Body {
	var (
		tooLarge *http.MaxBytesError
		request  *RequestError
		refused  *StatusError
		b        Body
	)
	switch {
	case errors.As(err, &tooLarge):
		b = &Problem{
			Type: TypeBodyTooLarge, Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("request body must be at most %d bytes", tooLarge.Limit),
		}
	case errors.As(err, &request):
		b = InvalidRequest(request.Detail, request.Fields)
	case errors.As(err, &refused):
		b = &Problem{Type: refused.Type, Title: refused.Title, Status: refused.Status, Detail: refused.Detail}
	case m != nil:
		b = m(err)
	}
	if b == nil {
		b = &Problem{Status: http.StatusInternalServerError, Detail: "internal server error"}
	}
	p := b.Core()
	if p.Type == "" {
		p.Type = TypeBlank
	}
	if p.Title == "" {
		// RFC 9457 §4.2.1: an about:blank problem's title is the status
		// text, and a service that maps only a status gets the same.
		p.Title = http.StatusText(p.Status)
	}
	return b
}
