-- create: the transaction orders-service runs for a create without an
-- Idempotency-Key (services/orders-service/internal/postgres/store.go Create,
-- internal/outbox/outbox.go Enqueue): the order row INSERT ... RETURNING, the
-- outbox row with the event's JSON (the size of the real one), pg_notify to
-- wake the relay, in one transaction. The JSON is built here with format()
-- where the service encodes it in Go: a few microseconds of server CPU more.
BEGIN;
INSERT INTO orders (customer_name, item, quantity, status) VALUES ('loadtest', 'Laptop', 1, 'PENDING')
  RETURNING id, customer_name, item, quantity, status, version, created_at, updated_at \gset
INSERT INTO outbox (event_id, event_type, order_id, version, message_key, payload, headers, traceparent)
  SELECT e.id, 'OrderCreatedEvent', :id::bigint, 1, convert_to(:id::text, 'UTF8'),
    convert_to(format('{"eventId":"%s","eventType":"OrderCreatedEvent","orderId":%s,"version":1,"occurredAt":"%s","order":{"id":%s,"customerName":"%s","item":"%s","quantity":%s,"status":"PENDING","createdAt":"%s","updatedAt":"%s"}}',
      e.id, :id::text, :updated_at::text, :id::text, :customer_name::text, :item::text, :quantity::text, :created_at::text, :updated_at::text), 'UTF8'),
    '[{"Key":"ce_specversion","Value":"MS4w"},{"Key":"ce_id","Value":"M2YxYzlhNTItOGQ0ZS00YjdhLTljMWUtMmE2ZjVkOGIwZTQx"},{"Key":"ce_source","Value":"L29yZGVycy1zZXJ2aWNl"},{"Key":"ce_type","Value":"T3JkZXJDcmVhdGVkRXZlbnQ="},{"Key":"ce_time","Value":"MjAyNS0wMy0xNFQwOToyNjo1My41ODk3OTNa"},{"Key":"ce_subject","Value":"MTA0Mg=="},{"Key":"content-type","Value":"YXBwbGljYXRpb24vanNvbg=="}]',
    NULL
  FROM (SELECT gen_random_uuid() AS id) e;
SELECT pg_notify('outbox', '');
END;
