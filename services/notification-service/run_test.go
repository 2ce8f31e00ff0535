package main

import (
	"context"
	"io"

	"github.com/order-tracking/platform/pkg/service"
)

// run is the whole service minus signals, as the tests start it in-process.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	return service.Run(ctx, args, stderr, spec)
}
