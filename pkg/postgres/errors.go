package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means the database cannot serve the
// request now, rather than that the request or the code is wrong: no
// connection, a connection lost, a deadline or statement_timeout passed, a
// lock not granted within lock_timeout, the server shutting down, starting,
// out of resources or read-only. A caller answers these with 503 and
// Retry-After, never 500: the same request may well succeed in a moment.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),  // insufficient resources
			strings.HasPrefix(pgErr.Code, "57P"), // shutting down, cannot connect now
			pgErr.Code == "57014",                // query_canceled: statement_timeout
			pgErr.Code == "55P03",                // lock_not_available: lock_timeout
			pgErr.Code == "25006":                // read_only_sql_transaction: a standby
			return true
		}
		return false
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
