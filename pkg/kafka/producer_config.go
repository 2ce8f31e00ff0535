package kafka

import (
	"fmt"
	"strings"
	"time"
)

// DefaultBrokers is the bootstrap list of every client when KAFKA_BROKERS
// is unset: the local broker of hack/devenv.sh.
const DefaultBrokers = "127.0.0.1:9092"

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	// Brokers is the bootstrap list, host:port[,host:port...].
	Brokers string `env:"KAFKA_BROKERS"`
	// ClientID names this producer in the broker's logs and metrics.
	ClientID string `env:"KAFKA_CLIENT_ID"`
	// DeliveryTimeout bounds how long one message may wait for the broker's
	// acknowledgement, retries included (message.timeout.ms). Past it the
	// message is reported failed and the caller decides what to do.
	DeliveryTimeout time.Duration `env:"KAFKA_DELIVERY_TIMEOUT"`
	// Security is how the producer authenticates (KAFKA_SECURITY_PROTOCOL,
	// KAFKA_SASL_*, KAFKA_SSL_CA_LOCATION).
	Security Security
	// Extra is passed to librdkafka as is, for settings this struct lacks.
	Extra map[string]string `env:"-"`
}

// SetDefaults fills the fields left at zero: DefaultBrokers, and 30s to
// deliver. NewProducer calls it too, so a Config literal needs only what
// differs.
func (c *ProducerConfig) SetDefaults() {
	if c.Brokers == "" {
		c.Brokers = DefaultBrokers
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = 30 * time.Second
	}
}

// Validate reports every setting that cannot work, at once.
func (c ProducerConfig) Validate() error {
	problems := c.Security.problems()
	if c.DeliveryTimeout < time.Second {
		problems = append(problems, "KAFKA_DELIVERY_TIMEOUT must be at least 1s")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid kafka producer config: %s", strings.Join(problems, "; "))
	}
	return nil
}
