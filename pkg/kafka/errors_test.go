package kafka_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/order-tracking/platform/pkg/kafka"
)

func TestPermanent(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantIsBase    bool
	}{
		{name: "nil", err: nil},
		{name: "plain error is transient", err: base, wantIsBase: true},
		{name: "marked", err: kafka.Permanent(base), wantPermanent: true, wantIsBase: true},
		{name: "marked then wrapped", err: fmt.Errorf("handle order: %w", kafka.Permanent(base)), wantPermanent: true, wantIsBase: true},
		{name: "wrapped then marked", err: kafka.Permanent(fmt.Errorf("handle order: %w", base)), wantPermanent: true, wantIsBase: true},
		{name: "joined with a marked one", err: errors.Join(errors.New("other"), kafka.Permanent(base)), wantPermanent: true, wantIsBase: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kafka.IsPermanent(tt.err); got != tt.wantPermanent {
				t.Errorf("IsPermanent: got %v, want %v", got, tt.wantPermanent)
			}
			if got := errors.Is(tt.err, base); got != tt.wantIsBase {
				t.Errorf("errors.Is(err, base): got %v, want %v", got, tt.wantIsBase)
			}
		})
	}
	if kafka.Permanent(nil) != nil {
		t.Error("Permanent(nil): got non-nil, want nil")
	}
	if got, want := kafka.Permanent(base).Error(), "boom"; got != want {
		t.Errorf("Permanent(err).Error(): got %q, want %q", got, want)
	}
}
