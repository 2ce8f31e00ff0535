package kafka

import (
	"fmt"
	"strings"

	"github.com/order-tracking/platform/pkg/events"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// Brokers is the bootstrap list, host:port[,host:port...].
	Brokers string `env:"KAFKA_BROKERS"`
	// GroupID is the consumer group; required. The replicas of one service
	// share it, so each record is handled by one of them. Services set
	// their default (e.g. "tracking-service") before parsing the
	// environment.
	GroupID string `env:"KAFKA_GROUP_ID"`
	// Topic is the topic consumed.
	Topic string `env:"KAFKA_TOPIC"`
	// DeadLetterTopic receives the records that could not be handled, with
	// dlt.* headers saying why. Empty means Topic + ".dlt".
	DeadLetterTopic string `env:"KAFKA_DLT_TOPIC"`
	// Security is how the consumer and its dead-letter producer
	// authenticate (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
	// KAFKA_SSL_CA_LOCATION): one user, so its ACLs must allow both
	// reading the topic and writing the dead-letter topic.
	Security Security
	// Extra is passed to librdkafka as is, for settings this struct lacks.
	// Connection settings among them (security.*, sasl.*, ssl.*, socket.*,
	// client.*) also apply to the dead-letter producer. Keys the delivery
	// guarantees depend on are refused by Validate.
	Extra map[string]string `env:"-"`
}

// reservedConsumerKeys are librdkafka settings the loop's at-least-once
// guarantee depends on; Extra may not change them.
var reservedConsumerKeys = []string{
	"group.id",
	"enable.auto.offset.store",
	"enable.auto.commit",
	"go.application.rebalance.enable",
	"go.events.channel.enable",
}

// sharedConnectionPrefixes select the Extra settings that also configure
// the dead-letter producer. Consumer-only settings would only make
// librdkafka warn there.
var sharedConnectionPrefixes = []string{"security.", "sasl.", "ssl.", "socket.", "client.", "broker.", "debug"}

// SetDefaults fills the fields left at zero: DefaultBrokers, events.Topic
// and a 10s retry budget. NewConsumer and Validate call it too, so 0 or ""
// always means the default.
func (c *ConsumerConfig) SetDefaults() {
	if c.Brokers == "" {
		c.Brokers = DefaultBrokers
	}
	if c.Topic == "" {
		c.Topic = events.Topic
	}
}

// complete is SetDefaults plus the dead-letter topic, which derives from
// Topic: config.Load calls SetDefaults before KAFKA_TOPIC is read, so
// deriving it there would follow the default topic, not the one set.
func (c *ConsumerConfig) complete() {
	c.SetDefaults()
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = c.Topic + ".dlt"
	}
}

// Validate reports every setting that cannot work, at once. Empty fields
// that have a default are fine.
func (c ConsumerConfig) Validate() error {
	c.complete()
	problems := c.Security.problems()
	if strings.TrimSpace(c.GroupID) == "" {
		problems = append(problems, "KAFKA_GROUP_ID is required")
	}
	if c.DeadLetterTopic == c.Topic {
		problems = append(problems, fmt.Sprintf("KAFKA_DLT_TOPIC must differ from KAFKA_TOPIC, both are %q", c.Topic))
	}
	for _, k := range reservedConsumerKeys {
		if _, ok := c.Extra[k]; ok {
			problems = append(problems, fmt.Sprintf("Extra must not set %s: the consumer's delivery guarantee depends on it", k))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid kafka consumer config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// connectionExtra is the part of Extra that also configures the
// dead-letter producer: it must reach the same brokers the same way.
func (c ConsumerConfig) connectionExtra() map[string]string {
	extra := map[string]string{}
	for k, v := range c.Extra {
		for _, p := range sharedConnectionPrefixes {
			if strings.HasPrefix(k, p) {
				extra[k] = v
			}
		}
	}
	return extra
}
