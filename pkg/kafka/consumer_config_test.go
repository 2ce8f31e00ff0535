package kafka_test

import (
	"strings"
	"testing"

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
