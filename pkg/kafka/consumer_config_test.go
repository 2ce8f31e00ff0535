package kafka_test

import (
	"strings"
	"testing"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/pkg/kafka"
)

func TestConsumerConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     kafka.ConsumerConfig
		wantErr []string // substrings; nil means valid
	}{
		{name: "group only, defaults for the rest", cfg: kafka.ConsumerConfig{GroupID: "tracking-service"}},
		{name: "full", cfg: kafka.ConsumerConfig{GroupID: "g", Topic: "t", DeadLetterTopic: "t.dead", Extra: map[string]string{"session.timeout.ms": "6000"}}},
		{name: "missing group", cfg: kafka.ConsumerConfig{}, wantErr: []string{"KAFKA_GROUP_ID is required"}},
		{name: "dead-letter topic equals topic", cfg: kafka.ConsumerConfig{GroupID: "g", Topic: "t", DeadLetterTopic: "t"}, wantErr: []string{"KAFKA_DLT_TOPIC must differ"}},
		{name: "extra breaks at-least-once", cfg: kafka.ConsumerConfig{GroupID: "g", Extra: map[string]string{"enable.auto.offset.store": "true"}}, wantErr: []string{"enable.auto.offset.store"}},
		{name: "blank group", cfg: kafka.ConsumerConfig{GroupID: "  "}, wantErr: []string{"KAFKA_GROUP_ID is required"}},
		{name: "dead-letter topic equals the default topic", cfg: kafka.ConsumerConfig{GroupID: "g", DeadLetterTopic: events.Topic}, wantErr: []string{"KAFKA_DLT_TOPIC must differ"}},
		{name: "extra sets the group", cfg: kafka.ConsumerConfig{GroupID: "g", Extra: map[string]string{"group.id": "other"}}, wantErr: []string{"group.id"}},
		{name: "extra turns auto-commit off", cfg: kafka.ConsumerConfig{GroupID: "g", Extra: map[string]string{"enable.auto.commit": "false"}}, wantErr: []string{"enable.auto.commit"}},
		{name: "extra takes the rebalance callback away", cfg: kafka.ConsumerConfig{GroupID: "g", Extra: map[string]string{"go.application.rebalance.enable": "false"}}, wantErr: []string{"go.application.rebalance.enable"}},
		{name: "extra moves events to a channel", cfg: kafka.ConsumerConfig{GroupID: "g", Extra: map[string]string{"go.events.channel.enable": "true"}}, wantErr: []string{"go.events.channel.enable"}},
		{
			name:    "every problem at once",
			cfg:     kafka.ConsumerConfig{Topic: "t", DeadLetterTopic: "t", Extra: map[string]string{"group.id": "x"}},
			wantErr: []string{"KAFKA_GROUP_ID", "KAFKA_DLT_TOPIC", "group.id"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want an error mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

// TestSecurityFromEnvironment checks the variable names both configs read
// their security settings from, and that the password arrives whole.
func TestSecurityFromEnvironment(t *testing.T) {
	t.Setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
	t.Setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
	t.Setenv("KAFKA_SASL_USERNAME", "tracking-service")
	t.Setenv("KAFKA_SASL_PASSWORD", "p@ss:w/rd?#%x")
	t.Setenv("KAFKA_GROUP_ID", "tracking-service")
	want := kafka.Security{Protocol: "SASL_PLAINTEXT", Mechanism: "SCRAM-SHA-256", Username: "tracking-service", Password: "p@ss:w/rd?#%x"}

	c, err := config.Load[kafka.ConsumerConfig]()
	if err != nil {
		t.Fatalf("consumer: got %v, want nil", err)
	}
	if c.Security != want {
		t.Errorf("consumer: got %+v, want %+v", c.Security, want)
	}
	p, err := config.Load[kafka.ProducerConfig]()
	if err != nil {
		t.Fatalf("producer: got %v, want nil", err)
	}
	if p.Security != want {
		t.Errorf("producer: got %+v, want %+v", p.Security, want)
	}
	if string(p.Security.Password) != "p@ss:w/rd?#%x" {
		t.Errorf("producer: got a password of %d bytes, want the one set", len(p.Security.Password))
	}
}
