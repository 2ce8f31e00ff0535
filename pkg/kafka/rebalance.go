package kafka

import ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

// rebalance is the group's rebalance callback, called by librdkafka from
// inside Poll or Close on Run's goroutine.
func (c *Consumer) rebalance(kc *ckafka.Consumer, ev ckafka.Event) error {
	// cooperative-sticky is configured, but ask: Extra may have changed
	// the strategy, and each protocol needs its own calls.
	cooperative := kc.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		c.logger.Info("kafka partitions assigned", "partitions", partitionList(e.Partitions))
		var err error
		if cooperative {
			err = kc.IncrementalAssign(e.Partitions)
		} else {
			err = kc.Assign(e.Partitions)
		}
		if err != nil {
			c.logger.Error("cannot assign kafka partitions", "error", err)
			return err
		}
		if c.paused {
			// Consumption is on hold: new partitions join it, rather than
			// deliver messages while the gate is failing.
			if err := kc.Pause(e.Partitions); err != nil {
				c.logger.Warn("cannot pause newly assigned kafka partitions", "error", err)
			}
		}
	case ckafka.RevokedPartitions:
		if kc.AssignmentLost() {
			// The partitions may already belong to another member (this one
			// was evicted, e.g. after a network split): committing could
			// move the group's offsets under the new owner. Just drop them;
			// the new owner redelivers what was not committed.
			c.logger.Warn("kafka partitions lost", "partitions", partitionList(e.Partitions))
		} else {
			c.logger.Info("kafka partitions revoked", "partitions", partitionList(e.Partitions))
			// Commit what was stored before the partitions go, so the next
			// owner starts right after the last message handled here.
			// librdkafka's auto-commit also does this on unassign; doing it
			// here keeps the guarantee explicit and its failures logged.
			if _, err := kc.Commit(); err != nil && !isNoOffset(err) {
				c.logger.Warn("cannot commit kafka offsets on revocation", "error", err)
			}
		}
		for _, tp := range e.Partitions {
			if tp.Topic == nil || *tp.Topic != c.cfg.Topic {
				continue
			}
			delete(c.next, tp.Partition)
			delete(c.rewind, tp.Partition)
			c.metrics.lag.DeleteLabelValues(c.cfg.Topic, partitionLabel(tp.Partition))
			c.epoch[tp.Partition]++
		}
		var err error
		if cooperative {
			err = kc.IncrementalUnassign(e.Partitions)
		} else {
			err = kc.Unassign()
		}
		if err != nil {
			c.logger.Error("cannot unassign kafka partitions", "error", err)
			return err
		}
	}
	return nil
}

// partitionList is tps's partition numbers, for log lines.
func partitionList(tps []ckafka.TopicPartition) []int32 {
	ps := make([]int32, len(tps))
	for i, tp := range tps {
		ps[i] = tp.Partition
	}
	return ps
}
