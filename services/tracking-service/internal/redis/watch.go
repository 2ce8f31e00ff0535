package redis

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

const (
	// watchIdle is how long Watch waits for a message before it pings the
	// connection, which tells a quiet subscription from a dead one.
	watchIdle = 30 * time.Second
	// watchRetry is the pause between attempts while Redis is unreachable.
	watchRetry = time.Second
)

// Watch subscribes to the changes of every order, with ONE pattern
// subscription (one connection) however many streams listen, and calls
// changed with each state Apply stores, in the order stored. It returns nil
// when ctx ends.
//
// subscribed is called each time the subscription is established: at the
// start and after every reconnection. Messages published while the
// subscription was down are lost (pub/sub does not queue), so the caller
// uses it to make listeners read the current state again.
//
// changed and subscribed run on Watch's goroutine and must not block.
func (s *Store) Watch(ctx context.Context, changed func(tracking.Order), subscribed func()) error {
	ps := s.client.PSubscribe(ctx, s.pattern())
	// Closing the subscription is what interrupts a blocked receive when
	// ctx ends. AfterFunc's goroutine is either stopped before it ran or
	// waited for, so none outlives Watch.
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = ps.Close()
		close(closed)
	})
	defer func() {
		if stop() {
			_ = ps.Close()
		} else {
			<-closed
		}
	}()

	down := false // whether the last receive failed, to log transitions only
	for {
		msg, err := ps.ReceiveTimeout(ctx, watchIdle)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var timeout interface{ Timeout() bool }
			if errors.As(err, &timeout) && timeout.Timeout() {
				// Quiet, not broken: a failed ping marks the connection
				// bad and the next receive reconnects and resubscribes.
				_ = ps.Ping(ctx)
				continue
			}
			if !down {
				s.logger.Warn("redis change subscription lost; retrying", "error", err)
				down = true
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(watchRetry):
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind != "psubscribe" {
				continue
			}
			if down {
				s.logger.Info("redis change subscription restored")
				down = false
			}
			subscribed()
		case *goredis.Message:
			var st state
			if err := json.Unmarshal([]byte(m.Payload), &st); err != nil {
				// Only Apply publishes here; a foreign message on our
				// channels is someone else's mistake, not a reason to stop.
				s.logger.Warn("ignoring undecodable change message", "channel", m.Channel, "error", err)
				continue
			}
			changed(st.order())
		}
	}
}
