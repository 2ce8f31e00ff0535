package kafka

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

const testPassword = "p@ss:w/rd?#%x"

func TestSecurityValidate(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
	sasl := Security{Protocol: ProtocolSASLSSL, Username: "orders-service", Password: testPassword, CALocation: ca}
	tests := []struct {
		name    string
		change  func(*Security)
		wantErr []string // substrings; nil means valid
	}{
		{name: "zero is plaintext", change: func(s *Security) { *s = Security{} }},
		{name: "explicit plaintext", change: func(s *Security) { *s = Security{Protocol: ProtocolPlaintext} }},
		{name: "sasl_ssl with CA", change: func(*Security) {}},
		{name: "sasl_ssl, system trust store", change: func(s *Security) { s.CALocation = "" }},
		{name: "sasl_plaintext, scram-sha-256", change: func(s *Security) {
			s.Protocol, s.Mechanism, s.CALocation = ProtocolSASLPlaintext, MechanismSCRAMSHA256, ""
		}},
		{name: "plain mechanism", change: func(s *Security) { s.Mechanism = MechanismPlain }},
		{name: "ssl without sasl", change: func(s *Security) { *s = Security{Protocol: ProtocolSSL, CALocation: ca} }},
		{name: "unknown protocol", change: func(s *Security) { s.Protocol = "sasl_ssl" },
			wantErr: []string{`KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got "sasl_ssl"`}},
		{name: "unknown mechanism", change: func(s *Security) { s.Mechanism = "GSSAPI" },
			wantErr: []string{`KAFKA_SASL_MECHANISM must be one of SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, got "GSSAPI"`}},
		{name: "sasl without password", change: func(s *Security) { s.Password = "" },
			wantErr: []string{"SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"}},
		{name: "sasl without username", change: func(s *Security) { s.Username = "" },
			wantErr: []string{"SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"}},
		{name: "credentials over plaintext", change: func(s *Security) { s.Protocol, s.CALocation = "", "" },
			wantErr: []string{"KAFKA_SASL_* are set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"}},
		{name: "CA without TLS", change: func(s *Security) { s.Protocol = ProtocolSASLPlaintext },
			wantErr: []string{"KAFKA_SSL_CA_LOCATION is set but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT"}},
		{name: "CA file missing", change: func(s *Security) { s.CALocation = filepath.Join(t.TempDir(), "none.crt") },
			wantErr: []string{"KAFKA_SSL_CA_LOCATION:", "no such file"}},
		{name: "every problem at once", change: func(s *Security) { s.Mechanism, s.Username, s.CALocation = "MD5", "", "/nonexistent/ca.crt" },
			wantErr: []string{"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SSL_CA_LOCATION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sasl
			tt.change(&s)
			checkProblems(t, s.Validate(), tt.wantErr)
		})
	}
}

// TestConfigsValidateSecurity checks that both client configs report a bad
// security setting alongside their own problems.
func TestConfigsValidateSecurity(t *testing.T) {
	bad := Security{Protocol: ProtocolSASLSSL}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"producer", ProducerConfig{DeliveryTimeout: 0, Security: bad}.Validate(), []string{"KAFKA_SASL_USERNAME", "KAFKA_DELIVERY_TIMEOUT"}},
		{"consumer", ConsumerConfig{Security: bad}.Validate(), []string{"KAFKA_SASL_USERNAME", "KAFKA_GROUP_ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, tt.err, tt.want)
		})
	}
}

// checkProblems fails t unless err mentions every string of want (or is nil
// when want is), and never the test password.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("got %v, want nil", err)
	case want == nil:
		return
	case err == nil:
		t.Fatalf("got nil, want an error mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("got %q, want it to mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("got %q, which shows the password", err)
	}
}

func TestSecurityApply(t *testing.T) {
	tests := []struct {
		name string
		s    Security
		want ckafka.ConfigMap
	}{
		{name: "zero adds nothing", s: Security{}, want: ckafka.ConfigMap{}},
		{name: "plaintext adds nothing", s: Security{Protocol: ProtocolPlaintext}, want: ckafka.ConfigMap{}},
		{
			name: "sasl_ssl, default mechanism",
			s:    Security{Protocol: ProtocolSASLSSL, Username: "u", Password: testPassword, CALocation: "/ca.crt"},
			want: ckafka.ConfigMap{"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": testPassword, "ssl.ca.location": "/ca.crt"},
		},
		{
			name: "sasl_plaintext, chosen mechanism",
			s:    Security{Protocol: ProtocolSASLPlaintext, Mechanism: MechanismPlain, Username: "u", Password: "p"},
			want: ckafka.ConfigMap{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN", "sasl.username": "u", "sasl.password": "p"},
		},
		{
			name: "ssl only",
			s:    Security{Protocol: ProtocolSSL, CALocation: "/ca.crt"},
			want: ckafka.ConfigMap{"security.protocol": "SSL", "ssl.ca.location": "/ca.crt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ckafka.ConfigMap{}
			tt.s.apply(got)
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSecretHidden checks every way a config is commonly printed.
func TestSecretHidden(t *testing.T) {
	cfg := ConsumerConfig{GroupID: "g", Security: Security{Protocol: ProtocolSASLSSL, Username: "u", Password: testPassword}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "kafka", cfg, "password", cfg.Security.Password)
	tests := []struct {
		name, got string
	}{
		{"%v", fmt.Sprintf("%v", cfg)},
		{"%+v", fmt.Sprintf("%+v", cfg)},
		{"%#v", fmt.Sprintf("%#v", cfg)},
		{"%s of the secret", fmt.Sprintf("%s", cfg.Security.Password)},
		{"slog JSON", logged.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, "w/rd") {
				t.Errorf("got %s, which shows the password", tt.got)
			}
		})
	}
}
