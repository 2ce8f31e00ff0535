package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/orders-service/internal/orders"
)

// maxBodyBytes caps every request body: an order is a few hundred bytes, so
// anything near this limit is a mistake or an attack, not a customer.
const maxBodyBytes = 64 << 10

// shape says which API a request body belongs to: the two differ in how
// forgiving they are.
type shape int

const (
	// legacyShape is the original API: unknown fields are ignored and a
	// missing quantity means 1, as Spring Boot's Jackson defaults did.
	legacyShape shape = iota
	// v1Shape is the resource API: every field is required and unknown fields
	// are refused, so a typo never passes silently.
	v1Shape
)

// decode reads the JSON body of the request into dst, refusing bodies over
// maxBodyBytes (a *http.MaxBytesError) and, with strict, unknown fields.
func decode(c *gin.Context, dst any, strict bool) error {
	return decodeJSON(body(c), dst, strict)
}

// body is the request body cut off at maxBodyBytes; reading past the limit
// fails with *http.MaxBytesError, which httpapi's error table maps to 413.
func body(c *gin.Context) io.Reader {
	return http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
}

// decodeJSON is decode without HTTP, so that it can be fuzzed. Every error it
// returns is the client's fault and maps to a 4xx in the error table.
func decodeJSON(r io.Reader, dst any, strict bool) error {
	dec := json.NewDecoder(r)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// A second value after the object is as malformed as a broken one, and
	// reading on is also what enforces the size limit on trailing bytes.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return &httpapi.RequestError{Detail: "request body must contain a single JSON value"}
	default:
		return jsonError(err)
	}
}

// jsonError turns an encoding/json error into one that tells the client
// what to fix.
func jsonError(err error) error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return &httpapi.RequestError{Detail: "request body is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &httpapi.RequestError{Detail: "malformed JSON: unexpected end of body"}
	case errors.As(err, &syntax):
		return &httpapi.RequestError{Detail: fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &httpapi.RequestError{Detail: "request body must be a JSON object, not " + typ.Value}
		}
		return &orders.ValidationError{Fields: []orders.FieldError{{
			Field:   typ.Field,
			Message: "must be " + jsonTypeName(typ.Type.Kind().String()) + ", not " + typ.Value,
		}}}
	case errors.As(err, &unmarshal):
		// dst is always one of our own pointers; this is a programming error.
		return fmt.Errorf("cannot decode request: %w", err)
	}
	// DisallowUnknownFields reports its error only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return &orders.ValidationError{Fields: []orders.FieldError{{Field: name, Message: "is not a known field"}}}
	}
	return &httpapi.RequestError{Detail: "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

func jsonTypeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case kind == "string":
		return "a string"
	default:
		return "a " + kind
	}
}

// createOrderBody is the body of both create endpoints. Quantity is a pointer
// because absent and 0 mean different things: 1 on the legacy API, "is
// required" on v1, and "out of range" for an explicit 0 on both.
type createOrderBody struct {
	CustomerName string `json:"customerName"`
	Item         string `json:"item"`
	Quantity     *int   `json:"quantity"`
	// Owner names the customer an order is placed for; only a caller with
	// orders:write may name another than itself. Raw, so that the v1 API
	// can tell absent (the caller itself) from null or empty (refused).
	Owner json.RawMessage `json:"owner"`
}

// decodeCreateOrder reads and validates a create request of the given shape.
// It is pure, so FuzzDecodeCreateOrder can drive it without a database.
func decodeCreateOrder(r io.Reader, s shape) (orders.NewOrder, error) {
	var body createOrderBody
	if err := decodeJSON(r, &body, s == v1Shape); err != nil {
		return orders.NewOrder{}, err
	}
	n := orders.NewOrder{CustomerName: body.CustomerName, Item: body.Item, Quantity: 1}
	var v orders.ValidationError
	switch owner := string(body.Owner); {
	case owner == "" || owner == "null" && s == legacyShape:
		// Absent; the original API ignored what it did not know, null too.
	case json.Unmarshal(body.Owner, &n.Owner) != nil || n.Owner == "":
		v.Add("owner", "must be a non-empty string: leave it out to place the order for yourself")
	}
	if body.Quantity != nil {
		n.Quantity = *body.Quantity
	}
	checkStorable(&v, "customerName", n.CustomerName)
	checkStorable(&v, "item", n.Item)
	checkStorable(&v, "owner", n.Owner)
	if err := n.Validate(); err != nil {
		var ve *orders.ValidationError
		if !errors.As(err, &ve) {
			return orders.NewOrder{}, fmt.Errorf("cannot validate order: %w", err)
		}
		v.Fields = append(v.Fields, ve.Fields...)
	}
	if s == v1Shape && body.Quantity == nil {
		v.Add("quantity", "is required")
	}
	if err := v.OrNil(); err != nil {
		return orders.NewOrder{}, err
	}
	return n, nil
}

// checkStorable refuses text PostgreSQL cannot store (NUL characters,
// invalid UTF-8), which would otherwise surface as a 500 from the database.
// orders.NewOrder.Validate does not check it because it is a storage limit,
// not an order rule.
func checkStorable(v *orders.ValidationError, field, s string) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		v.Add(field, "must be valid UTF-8 text without NUL characters")
	}
}

// requestHash fingerprints a decoded create request for idempotency. It
// hashes the order after defaults rather than the raw bytes, so a retry that
// differs only in whitespace, key order or an omitted default still matches.
// The API's shape is part of it: the answer kept with a key is in that
// API's shape, so a key reused on the other API is another request.
func requestHash(n orders.NewOrder, s shape) string {
	var b bytes.Buffer
	// Lengths prefix the strings so that no two orders encode alike.
	fmt.Fprintf(&b, "%d:%s|%d:%s|%d|%d:%s|%d", len(n.CustomerName), n.CustomerName, len(n.Item), n.Item, n.Quantity,
		len(n.Owner), n.Owner, s)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// maxIdempotencyKeyLength bounds what the store indexes.
const maxIdempotencyKeyLength = 255

// idempotencyKey returns the request's Idempotency-Key, "" when absent. A
// header that is present but empty is refused rather than treated as absent:
// the client meant to be protected against duplicates and would not be.
func idempotencyKey(h http.Header) (string, error) {
	vals, ok := h[http.CanonicalHeaderKey("Idempotency-Key")]
	if !ok {
		return "", nil
	}
	if len(vals) != 1 || len(vals[0]) < 1 || len(vals[0]) > maxIdempotencyKeyLength {
		return "", &orders.ValidationError{Fields: []orders.FieldError{{
			Field: "Idempotency-Key", Message: "must be a single value of 1 to 255 bytes",
		}}}
	}
	var v orders.ValidationError
	checkStorable(&v, "Idempotency-Key", vals[0])
	return vals[0], v.OrNil()
}

// parseID reads the :id path parameter.
func parseID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, &orders.ValidationError{Fields: []orders.FieldError{{
			Field: "id", Message: "must be a positive integer, not " + strconv.Quote(c.Param("id")),
		}}}
	}
	return id, nil
}
