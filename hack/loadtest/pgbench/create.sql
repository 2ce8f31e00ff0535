-- create: what orders-service sends PostgreSQL for a create without an
-- Idempotency-Key (services/orders-service/internal/postgres/store.go Create,
-- internal/outbox/outbox.go Enqueue): ONE statement that inserts the order
-- row and, from its output, the outbox row with the event's JSON (the size
-- of the real one). The service takes the id from a block of 50 it fetched
-- earlier and encodes the JSON in Go; here nextval and format() stand in for
-- both, a few microseconds of server CPU more. No pg_notify: the service's
-- relay runs in the same process and is woken there (outbox.Wakeup); a
-- write from another replica adds pg_notify to the statement.
WITH o AS (
  INSERT INTO orders (id, customer_name, item, quantity, status, version, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    VALUES (nextval(pg_get_serial_sequence('orders', 'id')), 'loadtest', 'Laptop', 1, 'PENDING', 1, now(), now())
    RETURNING id, customer_name, item, quantity, created_at, updated_at)
INSERT INTO outbox (event_id, event_type, order_id, version, message_key, payload, headers, traceparent)
  SELECT gen_random_uuid(), 'OrderCreatedEvent', o.id, 1, convert_to(o.id::text, 'UTF8'),
    convert_to(format('{"eventId":"%s","eventType":"OrderCreatedEvent","orderId":%s,"version":1,"occurredAt":"%s","order":{"id":%s,"customerName":"%s","item":"%s","quantity":%s,"status":"PENDING","createdAt":"%s","updatedAt":"%s"}}',
      gen_random_uuid(), o.id, o.updated_at, o.id, o.customer_name, o.item, o.quantity, o.created_at, o.updated_at), 'UTF8'),
    '[{"Key":"ce_specversion","Value":"MS4w"},{"Key":"ce_id","Value":"M2YxYzlhNTItOGQ0ZS00YjdhLTljMWUtMmE2ZjVkOGIwZTQx"},{"Key":"ce_source","Value":"L29yZGVycy1zZXJ2aWNl"},{"Key":"ce_type","Value":"T3JkZXJDcmVhdGVkRXZlbnQ="},{"Key":"ce_time","Value":"MjAyNS0wMy0xNFQwOToyNjo1My41ODk3OTNa"},{"Key":"ce_subject","Value":"MTA0Mg=="},{"Key":"content-type","Value":"YXBwbGljYXRpb24vanNvbg=="}]',
    NULL
  FROM o;
