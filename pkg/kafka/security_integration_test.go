package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/kafka"
	"github.com/order-tracking/platform/pkg/testinfra"
)

// The topics the devenv's service users have ACLs on. The tests use them,
// not topics of their own, because the ACLs under test name them; their
// records have unique keys, and their consumers unique groups under the
// service's group prefix, so they neither see nor disturb other records.
const (
	saslTopic    = "order-events"
	saslDLTTopic = "order-events.dlt"
)

// saslSecurity is a service user's settings on the devenv's SASL_SSL
// listener, as a deployment would set them from Strimzi's Secrets.
func saslSecurity(l testinfra.KafkaSASL, user, password string) kafka.Security {
	return kafka.Security{
		Protocol:   kafka.ProtocolSASLSSL,
		Mechanism:  kafka.MechanismSCRAMSHA512,
		Username:   user,
		Password:   config.Secret(password),
		CALocation: l.CALocation,
	}
}

// ensureSASLTopics creates the events topic and its dead-letter topic
// through the PLAINTEXT listener (a super user), as a Strimzi KafkaTopic
// would on a cluster, so the tests do not depend on who creates them.
func ensureSASLTopics(t *testing.T, brokers string) {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(5 * time.Second)
	for _, topic := range []string{saslTopic, saslDLTTopic} {
		if err := p.EnsureTopic(t.Context(), topic, 3); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegrationSASLServiceUsers runs the services' Kafka settings over
// SASL_SSL with their own users: orders-service publishes, and each
// consumer reads the record with its group and dead-letters it, which
// needs every ACL it has (READ on the topic and the group, WRITE on the
// dead-letter topic).
func TestIntegrationSASLServiceUsers(t *testing.T) {
	l := testinfra.KafkaSASLListener(t)
	brokers := testinfra.KafkaBrokers(t)
	ensureSASLTopics(t, brokers)

	key := testinfra.UniqueName("sasl-test-")
	p, err := kafka.NewProducer(kafka.ProducerConfig{
		Brokers: l.Brokers, ClientID: "orders-service", Security: saslSecurity(l, "orders-service", l.Password),
	}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, []kafka.Message{{Topic: saslTopic, Key: []byte(key), Value: []byte("not an event")}})[0]; err != nil {
		t.Fatalf("orders-service publishing over SASL_SSL: got %v, want nil", err)
	}

	for _, svc := range []string{"tracking-service", "notification-service"} {
		t.Run(svc, func(t *testing.T) {
			group := testinfra.UniqueName(svc + "-sasl-test-")
			handler := func(_ context.Context, m kafka.Message) error {
				if string(m.Key) == key {
					return kafka.Permanent(errors.New("sasl test record"))
				}
				return nil // another test's record, or a developer's
			}
			start(t, kafka.ConsumerConfig{
				Brokers: l.Brokers, GroupID: group, Topic: saslTopic, DeadLetterTopic: saslDLTTopic,
				Security: saslSecurity(l, svc, l.Password),
			}, handler, kafka.ConsumerOptions{})
			waitDeadLettered(t, brokers, key, group)
		})
	}
}

// waitDeadLettered waits until the dead-letter topic holds the record of
// key, dead-lettered by group. It reads through the PLAINTEXT listener:
// no service user may read the dead-letter topic.
func waitDeadLettered(t *testing.T, brokers, key, group string) {
	t.Helper()
	c := newReader(t, brokers, saslDLTTopic)
	defer c.Close()
	testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
		m, err := c.ReadMessage(100 * time.Millisecond)
		if err != nil {
			return false, fmt.Sprintf("no record with key %s from group %s in %s yet", key, group, saslDLTTopic)
		}
		g, _ := header(m, kafka.HeaderDLTConsumerGroup)
		return string(m.Key) == key && g == group, fmt.Sprintf("no record with key %s from group %s in %s yet", key, group, saslDLTTopic)
	})
}

// TestIntegrationSASLRefuses checks that the broker refuses, with an error
// that says why and within a bound, a user it does not know the password
// of and a user without ACLs; and, so that the refusal is known to come
// from the missing ACL and not from a broken connection, that the same
// user is let through once granted one.
func TestIntegrationSASLRefuses(t *testing.T) {
	l := testinfra.KafkaSASLListener(t)
	brokers := testinfra.KafkaBrokers(t)
	ensureSASLTopics(t, brokers)
	admin := newSCRAMAdmin(t, brokers)

	tests := []struct {
		name     string
		user     string
		password string
		grant    bool   // WRITE on the topic for user
		wantErr  string // in Publish's error; "" means delivered
	}{
		{name: "wrong password", user: "orders-service", password: "not-" + l.Password, wantErr: "the broker refused the credentials: sasl_ssl://"},
		{name: "unknown user", user: testinfra.UniqueName("nobody-"), password: l.Password, wantErr: "the broker refused the credentials: sasl_ssl://"},
		{name: "user without ACLs", user: admin.newUser(t, l.Password), password: l.Password, wantErr: "Broker: Topic authorization failed"},
		{name: "tracking-service may not write the events topic", user: "tracking-service", password: l.Password, wantErr: "Broker: Topic authorization failed"},
		{name: "the same user granted WRITE", user: admin.newUser(t, l.Password), password: l.Password, grant: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.grant {
				admin.allowWrite(t, tt.user, saslTopic)
			}
			var logged testinfra.Buffer
			logger := slog.New(slog.NewTextHandler(&logged, nil))
			p, err := kafka.NewProducer(kafka.ProducerConfig{
				Brokers: l.Brokers, DeliveryTimeout: 5 * time.Second, Security: saslSecurity(l, tt.user, tt.password),
			}, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(time.Second)
			// The delivery timeout bounds the wait; the context is the
			// backstop, so a hang fails the test instead of stalling it.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			began := time.Now()
			err = p.Publish(ctx, []kafka.Message{{Topic: saslTopic, Key: []byte("refused"), Value: []byte("x")}})[0]
			took := time.Since(began)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want the record delivered", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got the record delivered, want it refused with %q", tt.wantErr)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got no answer within %s (%v), want a refusal within the delivery timeout", took, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want it to say %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error()+logged.String(), tt.password) {
				t.Errorf("got %v, logged:\n%s\nwhich shows the password", err, logged.String())
			}
		})
	}
}

// scramAdmin manages the users and ACLs of one test through the PLAINTEXT
// listener, whose clients are super users, and removes them at its end.
type scramAdmin struct {
	a *ckafka.AdminClient
}

func newSCRAMAdmin(t *testing.T, brokers string) *scramAdmin {
	t.Helper()
	a, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &scramAdmin{a: a}
}

// newUser creates a SCRAM-SHA-512 user with a unique name and no ACLs, and
// deletes it when the test ends.
func (s *scramAdmin) newUser(t *testing.T, password string) string {
	t.Helper()
	user := testinfra.UniqueName("sasl-test-user-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.a.AlterUserScramCredentials(ctx, []ckafka.UserScramCredentialUpsertion{{
		User:                user,
		ScramCredentialInfo: ckafka.ScramCredentialInfo{Mechanism: ckafka.ScramMechanismSHA512, Iterations: 4096},
		Password:            []byte(password),
	}}, nil)
	if err == nil {
		err = firstError(res.Errors)
	}
	if err != nil {
		t.Fatalf("cannot create user %s: %v", user, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.a.AlterUserScramCredentials(ctx, nil, []ckafka.UserScramCredentialDeletion{{User: user, Mechanism: ckafka.ScramMechanismSHA512}})
	})
	return user
}

// allowWrite grants user WRITE on topic until the test ends.
func (s *scramAdmin) allowWrite(t *testing.T, user, topic string) {
	t.Helper()
	binding := ckafka.ACLBinding{
		Type: ckafka.ResourceTopic, Name: topic, ResourcePatternType: ckafka.ResourcePatternTypeLiteral,
		Principal: "User:" + user, Host: "*", Operation: ckafka.ACLOperationWrite, PermissionType: ckafka.ACLPermissionTypeAllow,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.a.CreateACLs(ctx, ckafka.ACLBindings{binding})
	if err == nil && res[0].Error.Code() != ckafka.ErrNoError {
		err = res[0].Error
	}
	if err != nil {
		t.Fatalf("cannot grant %s WRITE on %s: %v", user, topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.a.DeleteACLs(ctx, ckafka.ACLBindingFilters{binding})
	})
}

// firstError returns one of errs that is an error, nil when none is.
func firstError(errs map[string]ckafka.Error) error {
	for user, err := range errs {
		if err.Code() != ckafka.ErrNoError {
			return fmt.Errorf("%s: %w", user, err)
		}
	}
	return nil
}

// TestIntegrationSASLConsumerRefusedOtherGroup checks that a consumer user
// may not join another service's group: tracking-service's user in
// notification-service's groups is refused, and the consumer says so in
// its log within a bound rather than waiting silently.
func TestIntegrationSASLConsumerRefusedOtherGroup(t *testing.T) {
	l := testinfra.KafkaSASLListener(t)
	ensureSASLTopics(t, testinfra.KafkaBrokers(t))
	var logged testinfra.Buffer
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: l.Brokers, GroupID: testinfra.UniqueName("notification-service-sasl-test-"), Topic: saslTopic,
		DeadLetterTopic: saslDLTTopic, Security: saslSecurity(l, "tracking-service", l.Password),
	}, nopHandler, slog.New(slog.NewTextHandler(&logged, nil)), kafka.ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testinfra.Eventually(t, 30*time.Second, func() (bool, string) {
		return strings.Contains(logged.String(), "Group authorization failed"), "the consumer logged no group authorization failure:\n" + logged.String()
	})
}
