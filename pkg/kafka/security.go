package kafka

import (
	"fmt"
	"os"
	"slices"
	"strings"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/config"
)

// Security protocols librdkafka knows (security.protocol), as Kafka names
// its listeners.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// SASL mechanisms accepted (sasl.mechanisms). SCRAM-SHA-512 is what
// Strimzi's KafkaUser of type scram-sha-512 creates.
const (
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismPlain       = "PLAIN"
)

var (
	protocols  = []string{ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL}
	mechanisms = []string{MechanismSCRAMSHA512, MechanismSCRAMSHA256, MechanismPlain}
)

// Security says how a client authenticates to the brokers and checks their
// certificates. The zero value is PLAINTEXT, the local broker's default
// listener. On Kubernetes the values come from the Secrets Strimzi creates:
// the KafkaUser's Secret (password) and the cluster CA's (ca.crt).
type Security struct {
	// Protocol is security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or
	// SASL_SSL. Empty means PLAINTEXT.
	Protocol string `env:"KAFKA_SECURITY_PROTOCOL"`
	// Mechanism is sasl.mechanisms with a SASL protocol; empty means
	// SCRAM-SHA-512.
	Mechanism string `env:"KAFKA_SASL_MECHANISM"`
	// Username is the SASL user, the KafkaUser's name on Strimzi.
	Username string `env:"KAFKA_SASL_USERNAME"`
	// Password is the SASL user's password. Never logged.
	Password config.Secret `env:"KAFKA_SASL_PASSWORD"`
	// CALocation is a PEM file of the CA that signed the brokers'
	// certificates (ssl.ca.location), with SSL or SASL_SSL. Empty means
	// the system's trust store.
	CALocation string `env:"KAFKA_SSL_CA_LOCATION"`
}

// usesSASL tells whether the protocol authenticates with SASL.
func (s Security) usesSASL() bool {
	return s.Protocol == ProtocolSASLPlaintext || s.Protocol == ProtocolSASLSSL
}

// usesTLS tells whether the protocol encrypts with TLS.
func (s Security) usesTLS() bool {
	return s.Protocol == ProtocolSSL || s.Protocol == ProtocolSASLSSL
}

// problems lists every setting that cannot work, empty when none. It never
// quotes the password.
func (s Security) problems() []string {
	var out []string
	protocol := s.Protocol
	if protocol == "" {
		protocol = ProtocolPlaintext
	}
	if !slices.Contains(protocols, protocol) {
		out = append(out, fmt.Sprintf("KAFKA_SECURITY_PROTOCOL must be one of %s, got %q", strings.Join(protocols, ", "), s.Protocol))
		return out
	}
	s.Protocol = protocol
	if s.usesSASL() {
		if s.Mechanism != "" && !slices.Contains(mechanisms, s.Mechanism) {
			out = append(out, fmt.Sprintf("KAFKA_SASL_MECHANISM must be one of %s, got %q", strings.Join(mechanisms, ", "), s.Mechanism))
		}
		if s.Username == "" || s.Password == "" {
			out = append(out, fmt.Sprintf("%s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD", s.Protocol))
		}
	} else if s.Mechanism != "" || s.Username != "" || s.Password != "" {
		// Credentials with a protocol that does not send them are a
		// deployment that believes it authenticates and does not.
		out = append(out, fmt.Sprintf("KAFKA_SASL_* are set but KAFKA_SECURITY_PROTOCOL is %s, which does not use them", s.Protocol))
	}
	if s.CALocation != "" {
		if !s.usesTLS() {
			out = append(out, fmt.Sprintf("KAFKA_SSL_CA_LOCATION is set but KAFKA_SECURITY_PROTOCOL is %s, which does not use TLS", s.Protocol))
		} else if _, err := os.Stat(s.CALocation); err != nil {
			out = append(out, fmt.Sprintf("KAFKA_SSL_CA_LOCATION: %v", err))
		}
	}
	return out
}

// Validate reports every security setting that cannot work, at once.
func (s Security) Validate() error {
	if p := s.problems(); len(p) > 0 {
		return fmt.Errorf("invalid kafka security config: %s", strings.Join(p, "; "))
	}
	return nil
}

// apply sets s's librdkafka settings in cm. PLAINTEXT sets nothing, so a
// client without security settings is configured exactly as before.
func (s Security) apply(cm ckafka.ConfigMap) {
	if s.Protocol == "" || s.Protocol == ProtocolPlaintext {
		return
	}
	cm["security.protocol"] = s.Protocol
	if s.usesSASL() {
		mechanism := s.Mechanism
		if mechanism == "" {
			mechanism = MechanismSCRAMSHA512
		}
		cm["sasl.mechanisms"] = mechanism
		cm["sasl.username"] = s.Username
		cm["sasl.password"] = string(s.Password)
	}
	if s.usesTLS() && s.CALocation != "" {
		cm["ssl.ca.location"] = s.CALocation
	}
}
