// Package e2e runs the three services as separate processes, built from the
// repository, against the real local PostgreSQL, Redis and Kafka, and checks
// the platform's promises from the outside: every change tracked, every
// event notified once, poison messages dead-lettered, crashes and replays
// harmless.
package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/order-tracking/platform/pkg/testinfra"
)

// path is the delivery path; a walk moves forward along it, skipping steps.
var path = []string{"PENDING", "CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED"}

// platform is the three services sharing one database, topic and Redis prefix.
type platform struct {
	orders, tracking, notification *service
	brokers, topic                 string
	redisAddr, redisPrefix         string
	groups                         []string
	c                              *client
}

// startPlatform starts the three services; env is added to each one's.
func startPlatform(t *testing.T, env map[string]string) *platform {
	t.Helper()
	db := testinfra.NewDatabase(t)
	brokers := testinfra.KafkaBrokers(t)
	redis := testinfra.RedisAddr(t)
	bins := buildServices(t, "orders-service", "tracking-service", "notification-service")
	p := &platform{brokers: brokers, topic: testinfra.UniqueName("e2e-order-events-"), c: newClient(),
		redisAddr: redis, redisPrefix: testinfra.UniqueName("e2e") + ":"}
	// Auth, rate limits and stream caps are off unless env switches them
	// on: the other tests drive the platform as one unlimited client.
	common := map[string]string{"KAFKA_BROKERS": brokers, "KAFKA_TOPIC": p.topic,
		"AUTH_MODE": "off", "RATE_LIMIT_PER_SECOND": "0", "SSE_MAX_STREAMS": "0", "SSE_MAX_STREAMS_PER_CLIENT": "0"}
	for k, v := range env {
		common[k] = v
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	p.orders = newService(t, "orders-service", bins["orders-service"], with(map[string]string{
		"DATABASE_URL": db, "OUTBOX_POLL_INTERVAL": "200ms",
	}))
	p.orders.start(t)
	trackingGroup, notificationGroup := testinfra.UniqueName("e2e-tracking-"), testinfra.UniqueName("e2e-notification-")
	p.groups = []string{trackingGroup, notificationGroup}
	p.tracking = newService(t, "tracking-service", bins["tracking-service"], with(map[string]string{
		"REDIS_ADDR": redis, "KAFKA_GROUP_ID": trackingGroup, "ORDERS_SERVICE_URL": p.orders.url(""),
		"REDIS_KEY_PREFIX": p.redisPrefix,
	}))
	p.notification = newService(t, "notification-service", bins["notification-service"], with(map[string]string{
		"DATABASE_URL": db, "KAFKA_GROUP_ID": notificationGroup,
	}))
	p.tracking.start(t)
	p.notification.start(t)
	return p
}

// order is one order as the test drove it: what orders-service accepted.
type order struct {
	id       int64
	accepted []string // statuses of accepted changes, PENDING first
}

type orderJSON struct {
	ID           int64  `json:"id"`
	OrderID      int64  `json:"orderId"`
	CustomerName string `json:"customerName"`
	Item         string `json:"item"`
	Quantity     int    `json:"quantity"`
	Status       string `json:"status"`
	Version      int64  `json:"version"`
}

// randomWalk picks a valid sequence of target statuses: forward along the
// path with random skips, sometimes ending in CANCELLED while that is allowed.
func randomWalk(r *rand.Rand) []string {
	var walk []string
	for i := 1; i < len(path); i++ {
		if r.IntN(3) == 0 {
			continue
		}
		if i <= 2 && r.IntN(6) == 0 {
			return append(walk, "CANCELLED")
		}
		walk = append(walk, path[i])
	}
	return walk
}

// create makes an order through the original API (legacy) or /api/v1.
func (p *platform) create(t *testing.T, ctx context.Context, n int, legacy bool) int64 {
	var o orderJSON
	body := fmt.Sprintf(`{"customerName":"customer-%d","item":"item-%d","quantity":%d}`, n, n, 1+n%5)
	url := p.orders.url("/api/v1/orders")
	if legacy {
		url = p.orders.url("/orders/createOrder")
	}
	code, _, err := p.c.do(ctx, "POST", url, body, nil, &o)
	if err != nil || code != 201 {
		t.Errorf("create %d: got %d %v, want 201", n, code, err)
		return 0
	}
	return o.ID
}

// walk drives order id through statuses with the original API and returns
// the statuses it accepted (201), in the order accepted.
func (p *platform) walkLegacy(t *testing.T, ctx context.Context, id int64, statuses []string) []string {
	var accepted []string
	for _, s := range statuses {
		code, _, err := p.c.do(ctx, "PUT", p.orders.url(fmt.Sprintf("/orders/updateOrderStatus/%d?status=%s", id, s)), "", nil, nil)
		switch {
		case err != nil:
			t.Errorf("update %d to %s: %v", id, s, err)
		case code == 201:
			accepted = append(accepted, s)
		case code != 200 && code != 409: // 200: already there; 409: a racer moved it past s
			t.Errorf("update %d to %s: got %d, want 201, 200 or 409", id, s, code)
		}
	}
	return accepted
}

// walkV1 drives order id with PATCH and If-Match; each accepted change
// bumps the version by one.
func (p *platform) walkV1(t *testing.T, ctx context.Context, id int64, statuses []string) []string {
	var accepted []string
	version := int64(1)
	for _, s := range statuses {
		var o orderJSON
		code, _, err := p.c.do(ctx, "PATCH", p.orders.url(fmt.Sprintf("/api/v1/orders/%d/status", id)),
			fmt.Sprintf(`{"status":%q}`, s), map[string]string{"If-Match": fmt.Sprintf("%q", fmt.Sprint(version))}, &o)
		if err != nil || code != 200 || o.Version != version+1 {
			t.Errorf("patch %d to %s at version %d: got %d version %d %v, want 200 version %d", id, s, version, code, o.Version, err, version+1)
			return accepted
		}
		version = o.Version
		accepted = append(accepted, s)
	}
	return accepted
}

// drive creates n orders (numbered from first), half through each API, and
// walks each; every fifth order has two clients racing over the same walk.
func (p *platform) drive(t *testing.T, ctx context.Context, first, n int, seed uint64) []*order {
	out := make([]*order, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				legacy := i%2 == 0
				o := &order{id: p.create(t, ctx, first+i, legacy), accepted: []string{"PENDING"}}
				out[i] = o
				if o.id == 0 {
					continue
				}
				walk := randomWalk(r)
				switch {
				case i%5 == 0:
					var mu sync.Mutex
					var racers sync.WaitGroup
					for range 2 {
						racers.Go(func() {
							acc := p.walkLegacy(t, ctx, o.id, walk)
							mu.Lock()
							o.accepted = append(o.accepted, acc...)
							mu.Unlock()
						})
					}
					racers.Wait()
					// Accepted changes only move forward, so path order is acceptance order.
					slices.SortFunc(o.accepted[1:], func(a, b string) int { return position(a) - position(b) })
				case legacy:
					o.accepted = append(o.accepted, p.walkLegacy(t, ctx, o.id, walk)...)
				default:
					o.accepted = append(o.accepted, p.walkV1(t, ctx, o.id, walk)...)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

func position(s string) int {
	if s == "CANCELLED" {
		return len(path)
	}
	return slices.Index(path, s)
}

// verify checks, once tracking caught up, that every order's tracked state
// equals orders-service's, its timeline equals the accepted changes in
// order, and exactly one notification was recorded per event.
func (p *platform) verify(t *testing.T, ctx context.Context, os []*order) {
	t.Helper()
	testinfra.Eventually(t, 90*time.Second, func() (bool, string) {
		for _, o := range os {
			var tr orderJSON
			code, _, err := p.c.do(ctx, "GET", p.tracking.url(fmt.Sprintf("/track/%d", o.id)), "", nil, &tr)
			if err != nil || code != 200 || tr.Version != int64(len(o.accepted)) {
				return false, fmt.Sprintf("order %d: tracked %d version %d (%v), want version %d", o.id, code, tr.Version, err, len(o.accepted))
			}
			var ns []map[string]any
			if code, _, err := p.c.do(ctx, "GET", p.notification.url(fmt.Sprintf("/notifications?orderId=%d", o.id)), "", nil, &ns); err != nil || code != 200 || len(ns) < len(o.accepted) {
				return false, fmt.Sprintf("order %d: %d notifications (%d %v), want %d", o.id, len(ns), code, err, len(o.accepted))
			}
		}
		return true, ""
	})
	for _, o := range os {
		var want, tr orderJSON
		if code, _, err := p.c.do(ctx, "GET", p.orders.url(fmt.Sprintf("/api/v1/orders/%d", o.id)), "", nil, &want); err != nil || code != 200 {
			t.Fatalf("order %d: orders-service answered %d %v", o.id, code, err)
		}
		if _, _, err := p.c.do(ctx, "GET", p.tracking.url(fmt.Sprintf("/track/%d", o.id)), "", nil, &tr); err != nil {
			t.Fatal(err)
		}
		if tr.OrderID != want.ID || tr.Status != want.Status || tr.Version != want.Version ||
			tr.CustomerName != want.CustomerName || tr.Item != want.Item || tr.Quantity != want.Quantity {
			t.Errorf("order %d: tracked %+v, want orders-service's %+v", o.id, tr, want)
		}
		if want.Status != o.accepted[len(o.accepted)-1] {
			t.Errorf("order %d: orders-service has %s, want the last accepted %s", o.id, want.Status, o.accepted[len(o.accepted)-1])
		}
		var history []struct {
			Status  string `json:"status"`
			Version int64  `json:"version"`
		}
		if _, _, err := p.c.do(ctx, "GET", p.tracking.url(fmt.Sprintf("/track/%d/history", o.id)), "", nil, &history); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, h := range history {
			got = append(got, h.Status)
			if h.Version != int64(i+1) {
				t.Errorf("order %d: timeline entry %d has version %d, want %d", o.id, i, h.Version, i+1)
			}
		}
		if !slices.Equal(got, o.accepted) {
			t.Errorf("order %d: timeline %v, want the accepted changes %v", o.id, got, o.accepted)
		}
		var ns []struct {
			EventID string `json:"eventId"`
			Channel string `json:"channel"`
		}
		if _, _, err := p.c.do(ctx, "GET", p.notification.url(fmt.Sprintf("/notifications?orderId=%d", o.id)), "", nil, &ns); err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		email := 0
		for _, n := range ns {
			ids[n.EventID] = true
			if strings.EqualFold(n.Channel, "email") {
				email++
			}
		}
		if len(ns) != len(o.accepted) || len(ids) != len(ns) || email != 1 {
			t.Errorf("order %d: %d notifications for %d distinct events (%d emails), want exactly %d, one email", o.id, len(ns), len(ids), email, len(o.accepted))
		}
	}
}

// sends counts the mock notifications notification-service logged so far.
func (p *platform) sends() int {
	return strings.Count(p.notification.logs.String(), "mock notification sent")
}

func events(os []*order) int {
	n := 0
	for _, o := range os {
		n += len(o.accepted)
	}
	return n
}

// poison returns n records no consumer can handle, of four kinds in turn:
// not JSON, an unknown event type, an event without its fields, a JSON
// array.
func poison(n int) []ckafka.Message {
	kinds := []ckafka.Message{
		{Value: []byte(`{not json`)},
		{Value: []byte(`{"eventId":"3b0c6f5e-6f7e-4f59-9d77-0d8a4a1c2f10","eventType":"OrderShreddedEvent","orderId":1,"version":1}`),
			Headers: []ckafka.Header{{Key: "ce_type", Value: []byte("OrderShreddedEvent")}}},
		{Value: []byte(`{"eventType":"OrderCreatedEvent"}`)},
		{Value: []byte(`[]`)},
	}
	out := make([]ckafka.Message, n)
	for i := range out {
		out[i] = kinds[i%len(kinds)]
		out[i].Key = fmt.Appendf(nil, "poison-%d", i)
	}
	return out
}

// produce writes records to topic and waits until the broker acknowledged
// each.
func produce(t *testing.T, brokers, topic string, records []ckafka.Message) {
	t.Helper()
	prod, err := ckafka.NewProducer(&ckafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	acks := make(chan ckafka.Event, len(records))
	for _, m := range records {
		m.TopicPartition = ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny}
		if err := prod.Produce(&m, acks); err != nil {
			t.Fatal(err)
		}
	}
	for range records {
		select {
		case ev := <-acks:
			if m := ev.(*ckafka.Message); m.TopicPartition.Error != nil {
				t.Fatalf("record not written: %v", m.TopicPartition.Error)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("records not acknowledged within 30s")
		}
	}
}

// dlt returns the messages in the dead-letter topic so far.
func (p *platform) dlt(t *testing.T) []*ckafka.Message {
	t.Helper()
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers": p.brokers, "group.id": testinfra.UniqueName("e2e-dlt-reader-"),
		"auto.offset.reset": "earliest", "enable.auto.commit": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(nil, true, 5000)
	if err != nil {
		t.Fatal(err)
	}
	tm, ok := md.Topics[p.topic+".dlt"]
	if !ok || len(tm.Partitions) == 0 {
		return nil
	}
	var out []*ckafka.Message
	for _, part := range tm.Partitions {
		_, high, err := c.QueryWatermarkOffsets(p.topic+".dlt", part.ID, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if high == 0 {
			continue
		}
		topic := p.topic + ".dlt"
		if err := c.Assign([]ckafka.TopicPartition{{Topic: &topic, Partition: part.ID, Offset: ckafka.OffsetBeginning}}); err != nil {
			t.Fatal(err)
		}
		for n := int64(0); n < high; {
			m, err := c.ReadMessage(10 * time.Second)
			if err != nil {
				t.Fatalf("cannot read the dead-letter topic: %v", err)
			}
			out = append(out, m)
			n = int64(m.TopicPartition.Offset) + 1
		}
	}
	return out
}

// resetGroups moves both consumer groups back to the start of the topic;
// the services must be stopped, so the groups are empty.
func (p *platform) resetGroups(t *testing.T) {
	t.Helper()
	admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": p.brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.GetMetadata(&p.topic, false, 5000)
	if err != nil {
		t.Fatal(err)
	}
	var tps []ckafka.TopicPartition
	for _, part := range md.Topics[p.topic].Partitions {
		tps = append(tps, ckafka.TopicPartition{Topic: &p.topic, Partition: part.ID, Offset: 0})
	}
	for _, g := range p.groups {
		testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := admin.AlterConsumerGroupOffsets(ctx, []ckafka.ConsumerGroupTopicPartitions{{Group: g, Partitions: tps}})
			if err != nil {
				return false, fmt.Sprintf("cannot reset group %s (members may still be leaving): %v", g, err)
			}
			return true, ""
		})
	}
}

// caughtUp reports whether both groups committed up to the topic's end.
func (p *platform) caughtUp(t *testing.T) (bool, string) {
	admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": p.brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": p.brokers, "group.id": "e2e-watermarks"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := admin.GetMetadata(&p.topic, false, 5000)
	if err != nil {
		return false, err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, g := range p.groups {
		res, err := admin.ListConsumerGroupOffsets(ctx, []ckafka.ConsumerGroupTopicPartitions{{Group: g}})
		if err != nil {
			return false, err.Error()
		}
		committed := map[int32]int64{}
		for _, r := range res.ConsumerGroupsTopicPartitions {
			for _, tp := range r.Partitions {
				committed[tp.Partition] = int64(tp.Offset)
			}
		}
		for _, part := range md.Topics[p.topic].Partitions {
			_, high, err := c.QueryWatermarkOffsets(p.topic, part.ID, 5000)
			if err != nil {
				return false, err.Error()
			}
			if high > 0 && committed[part.ID] < high {
				return false, fmt.Sprintf("group %s partition %d committed %d of %d", g, part.ID, committed[part.ID], high)
			}
		}
	}
	return true, ""
}

// TestIntegrationPlatform is the end-to-end proof of the read side.
func TestIntegrationPlatform(t *testing.T) {
	p := startPlatform(t, nil)
	ctx := t.Context()
	var all []*order

	t.Run("orders flow into tracking and notifications", func(t *testing.T) {
		os := p.drive(t, ctx, 0, 200, 1)
		all = append(all, os...)
		p.verify(t, ctx, os)
		if got := p.dlt(t); len(got) != 0 {
			t.Errorf("got %d messages in the dead-letter topic, want none", len(got))
		}
	})

	t.Run("poison messages are dead-lettered and do not block", func(t *testing.T) {
		produce(t, p.brokers, p.topic, poison(20))
		os := p.drive(t, ctx, 1000, 10, 2)
		all = append(all, os...)
		p.verify(t, ctx, os)
		// Both consumer groups dead-letter each poison message.
		testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
			n := len(p.dlt(t))
			return n >= 40, fmt.Sprintf("%d of 40 dead-letter copies (20 per consumer group)", n)
		})
		for _, m := range p.dlt(t) {
			h := map[string]string{}
			for _, x := range m.Headers {
				h[x.Key] = string(x.Value)
			}
			if h["dlt.error"] == "" || h["dlt.original.topic"] != p.topic || h["dlt.consumer.group"] == "" {
				t.Errorf("dead-letter message %s: got headers %v, want dlt.error, dlt.original.topic, dlt.consumer.group", m.Key, h)
			}
		}
	})

	t.Run("SIGKILL in a burst loses no update and duplicates no notification", func(t *testing.T) {
		before := p.sends()
		var burst []*order
		done := make(chan struct{})
		go func() { defer close(done); burst = p.drive(t, ctx, 2000, 60, 3) }()
		// Kill once the burst is well under way.
		testinfra.Eventually(t, 60*time.Second, func() (bool, string) {
			n := p.sends() - before
			return n >= 20, fmt.Sprintf("%d notifications into the burst", n)
		})
		p.tracking.stop(t, syscall.SIGKILL)
		p.notification.stop(t, syscall.SIGKILL)
		p.tracking.start(t)
		p.notification.start(t)
		<-done
		all = append(all, burst...)
		p.verify(t, ctx, burst)
		// A crash between a send and its log entry may repeat that one
		// send; two crashes allow two.
		if got, want := p.sends()-before, events(burst); got < want || got > want+2 {
			t.Errorf("got %d sends for %d events, want %d (at most one repeat per killed process)", got, want, want)
		}
	})

	t.Run("replaying everything changes nothing and sends nothing", func(t *testing.T) {
		p.tracking.stop(t, syscall.SIGTERM)
		p.notification.stop(t, syscall.SIGTERM)
		before := p.sends()
		p.resetGroups(t)
		p.tracking.start(t)
		p.notification.start(t)
		testinfra.Eventually(t, 120*time.Second, func() (bool, string) { return p.caughtUp(t) })
		p.verify(t, ctx, all)
		if got := p.sends() - before; got != 0 {
			t.Errorf("got %d notifications sent by the replay, want 0", got)
		}
	})
}
