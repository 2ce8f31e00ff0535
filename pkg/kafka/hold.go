package kafka

import (
	"context"
	"log/slog"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

const (
	// gateInterval is how often a failing gate (or a pending dead-letter
	// retry) is checked while consumption is on hold.
	gateInterval = 250 * time.Millisecond
	// gateTimeout bounds one gate call: a gate that hangs must not stop the
	// loop from polling, or the group would evict this member.
	gateTimeout = 5 * time.Second
)

// holdForGate holds consumption after the gate failed with err, until it
// passes again. It returns true then, and false when the message in hand
// must be abandoned (see hold).
func (c *Consumer) holdForGate(ctx context.Context, log *slog.Logger, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	log.Warn("kafka consumption paused: gate failing", "error", err)
	t := time.Now()
	ok := c.hold(ctx, func() bool {
		return c.checkGate(ctx) == nil
	})
	if ok {
		log.Info("kafka consumption resumed: gate passing", "paused_for", time.Since(t))
	}
	return ok
}

func (c *Consumer) checkGate(ctx context.Context) error {
	gctx, cancel := context.WithTimeout(ctx, gateTimeout)
	defer cancel()
	return c.gate(gctx)
}

// hold puts consumption on hold until ready returns true (checked every
// gateInterval): it pauses the assigned partitions and keeps polling, so
// the group neither evicts this member nor waits on it to rebalance. It
// returns false when the message in hand must be abandoned: ctx ended, the
// client failed, or the message's partition was revoked meanwhile.
func (c *Consumer) hold(ctx context.Context, ready func() bool) bool {
	c.pause()
	check := time.NewTicker(gateInterval)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			// No resume: Run is about to commit and close.
			return false
		case <-check.C:
			if ready() {
				c.resume()
				return !c.revoked(c.inHand)
			}
		default:
		}
		if km := c.poll(pollTimeout); km != nil {
			// A message fetched before the pause took effect, or for a
			// partition assigned during it. Handling it now would overtake
			// the message in hand, and dropping it would lose it: remember
			// where its partition must start again after the hold.
			p, off := km.TopicPartition.Partition, int64(km.TopicPartition.Offset)
			if prev, ok := c.rewind[p]; !ok || off < prev {
				c.rewind[p] = off
			}
		}
		if c.fatal != nil {
			return false
		}
	}
}

func (c *Consumer) pause() {
	c.paused = true
	clear(c.rewind)
	parts, err := c.kc.Assignment()
	if err != nil {
		c.logger.Warn("cannot read kafka assignment to pause it", "error", err)
		return
	}
	if err := c.kc.Pause(parts); err != nil {
		c.logger.Warn("cannot pause kafka partitions", "error", err)
	}
}

// resume resumes the assigned partitions and seeks each one it has taken
// messages from back to where handling must continue: right after the
// message in hand (which is handled again from memory) or the last one
// handled. Otherwise messages that librdkafka fetched before the pause, or
// that Poll returned during it, could be skipped.
func (c *Consumer) resume() {
	c.paused = false
	parts, err := c.kc.Assignment()
	if err != nil {
		c.logger.Error("cannot read kafka assignment to resume it", "error", err)
		return
	}
	if err := c.kc.Resume(parts); err != nil {
		c.logger.Error("cannot resume kafka partitions", "error", err)
	}
	var seeks []ckafka.TopicPartition
	for _, tp := range parts {
		off, ok := c.next[tp.Partition]
		if !ok {
			off, ok = c.rewind[tp.Partition]
		}
		if !ok {
			// Nothing taken from it since it was assigned: it still starts
			// from the committed offset.
			continue
		}
		tp.Offset = ckafka.Offset(off)
		seeks = append(seeks, tp)
	}
	clear(c.rewind)
	if len(seeks) == 0 {
		return
	}
	res, err := c.kc.SeekPartitions(seeks)
	if err != nil {
		c.logger.Error("cannot seek kafka partitions after a pause", "error", err)
		return
	}
	for _, tp := range res {
		if tp.Error != nil {
			c.logger.Error("cannot seek kafka partition after a pause", "partition", tp.Partition, "offset", tp.Offset, "error", tp.Error)
		}
	}
}
