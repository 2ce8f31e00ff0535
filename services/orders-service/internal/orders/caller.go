package orders

// Caller is who asks the service for something, and what they may do. The
// HTTP adapter builds it from the request's token; the rules of who may do
// what are the service's.
type Caller struct {
	// Subject identifies the caller; empty with auth off.
	Subject string
	// Customer is a caller identified by Subject and granted nothing
	// beyond its own orders.
	Customer bool
	// ReadAny reads every order (scope orders:read).
	ReadAny bool
	// CreateForAny creates orders for any customer (scope orders:write).
	CreateForAny bool
	// ManageAny changes any order's status (scope orders:manage).
	ManageAny bool
}

// Anyone may do everything: the caller of every request when auth is off.
var Anyone = Caller{ReadAny: true, CreateForAny: true, ManageAny: true}

// owns reports whether o is the customer c's.
func (c Caller) owns(o Order) bool { return c.Customer && o.Owner == c.Subject }

// ForbiddenError is a request the caller's rights do not allow, whatever
// the order: it says which right is missing.
type ForbiddenError struct {
	// Reason says what the caller would need.
	Reason string
}

func (e *ForbiddenError) Error() string { return "forbidden: " + e.Reason }
