package kafka

import (
	"context"
	"runtime/debug"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel/trace"
)

// batched is a gathered message on its way through a BatchHandler, with
// its consumer span, started once however many calls it takes.
type batched struct {
	taken
	m    Message
	ctx  context.Context
	span trace.Span
}

// handleBatch hands the gathered messages to the batch handler, and the
// one it fails on, if any, to process, until all are done with. Messages
// of partitions revoked meanwhile (during a hold in process) are dropped
// unstored, as process drops its own; when ctx ends, the rest are left
// for redelivery.
func (c *Consumer) handleBatch(ctx context.Context, gathered []taken) {
	if len(gathered) == 0 {
		return
	}
	base := context.WithoutCancel(ctx)
	items := make([]batched, len(gathered))
	for i, t := range gathered {
		items[i] = batched{taken: t, m: toMessage(t.km)}
		items[i].ctx, items[i].span = c.tel.startProcess(base, c.cfg.GroupID, items[i].m)
	}
	for len(items) > 0 {
		if ctx.Err() != nil {
			endAll(items, "left for redelivery")
			return
		}
		kept := items[:0]
		for _, it := range items {
			if c.revoked(it.taken) {
				it.span.AddEvent("partition revoked, left for its new owner")
				it.span.End()
				continue
			}
			kept = append(kept, it)
		}
		items = kept
		if len(items) == 0 {
			return
		}
		done, err := c.callBatch(items)
		for _, it := range items[:done] {
			it.span.End()
		}
		items = items[done:]
		if len(items) == 0 {
			return
		}
		// process records err on the span, as the first attempt's.
		it := items[0]
		c.process(ctx, it.taken, it.m, &attempt{ctx: it.ctx, span: it.span, err: err})
		items = items[1:]
	}
}

// callBatch calls the batch handler on items, stores the offsets of those
// it reports done, and returns how many that is, with the error of the
// next one when not all are done. A panic counts as a failure of the
// first message, which then takes the Handler's path: the handler bug it
// triggers costs that one record, as with a Handler.
func (c *Consumer) callBatch(items []batched) (done int, err error) {
	ctxs := make([]context.Context, len(items))
	ms := make([]Message, len(items))
	for i, it := range items {
		ctxs[i], ms[i] = it.ctx, it.m
	}
	t := time.Now()
	done, err = c.runBatch(ctxs, ms)
	took := time.Since(t)
	switch {
	case err == nil || done >= len(items):
		// A handler that says all are done is taken at its word, error or not.
		done, err = len(items), nil
	case done < 0:
		done = 0
	}
	// The histogram counts attempts at a message, so a batch's duration
	// is shared equally among the messages it handled or failed on.
	attempted := done
	if done < len(items) {
		attempted++
	}
	per := (took / time.Duration(len(items))).Seconds()
	for range attempted {
		c.metrics.duration.WithLabelValues(c.cfg.Topic).Observe(per)
	}
	if done > 0 {
		c.metrics.handled.WithLabelValues(c.cfg.Topic).Add(float64(done))
		c.storeBatch(items[:done])
	}
	return done, err
}

// runBatch runs the batch handler, turning a panic into a failure of the
// first message.
func (c *Consumer) runBatch(ctxs []context.Context, ms []Message) (done int, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("kafka batch handler panicked", "messages", len(ms), "panic", r, "stack", string(debug.Stack()))
			done, err = 0, &panicError{value: r}
		}
	}()
	return c.batch(ctxs, ms)
}

// storeBatch stores, for each partition, the offset after the last of
// items, all done with and in offset order per partition: one call for
// the whole batch. No Poll ran since the caller dropped the revoked ones,
// so all are still owned.
func (c *Consumer) storeBatch(items []batched) {
	last := map[int32]int{}
	for i, it := range items {
		last[it.km.TopicPartition.Partition] = i
	}
	offsets := make([]ckafka.TopicPartition, 0, len(last))
	for _, i := range last {
		tp := items[i].km.TopicPartition
		tp.Offset++
		offsets = append(offsets, tp)
	}
	if _, err := c.kc.StoreOffsets(offsets); err != nil {
		c.logger.Warn("cannot store kafka offsets, messages will be redelivered", "error", err, "messages", len(items))
	}
}

// endAll ends the spans of items left unhandled, saying why.
func endAll(items []batched, why string) {
	for _, it := range items {
		it.span.AddEvent(why)
		it.span.End()
	}
}
