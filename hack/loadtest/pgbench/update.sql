-- update: what orders-service sends PostgreSQL for a status change
-- (services/orders-service/internal/postgres/store.go Update,
-- internal/outbox/outbox.go Enqueue): the order read, then ONE statement
-- that moves it to its next status with version + 1, only if it is still at
-- the version read, and from its output writes the outbox row with the
-- event's JSON. No pg_notify, as for create.sql. The status always changes,
-- as it does for a valid move, so the status index is written as the
-- service's updates write it. Orders are picked at random among the first
-- :pool rows (pgbench -D pool=N).
\set id random(1, :pool)
SELECT id, customer_name, item, quantity, status, version, created_at, updated_at FROM orders WHERE id = :id \gset prev_
WITH o AS (
  UPDATE orders SET status = (ARRAY['CONFIRMED', 'SHIPPED', 'OUT_FOR_DELIVERY', 'DELIVERED'])[version % 4 + 1],
      version = version + 1, updated_at = now()
    WHERE id = :id AND version = :prev_version
    RETURNING id, customer_name, item, quantity, status, version, created_at, updated_at)
INSERT INTO outbox (event_id, event_type, order_id, version, message_key, payload, headers, traceparent)
  SELECT gen_random_uuid(), 'OrderUpdatedEvent', o.id, o.version, convert_to(o.id::text, 'UTF8'),
    convert_to(format('{"eventId":"%s","eventType":"OrderUpdatedEvent","orderId":%s,"version":%s,"occurredAt":"%s","order":{"id":%s,"customerName":"%s","item":"%s","quantity":%s,"status":"%s","createdAt":"%s","updatedAt":"%s"},"previousStatus":"%s"}',
      gen_random_uuid(), o.id, o.version, o.updated_at, o.id, o.customer_name, o.item, o.quantity, o.status, o.created_at, o.updated_at, :prev_status::text), 'UTF8'),
    '[{"Key":"ce_specversion","Value":"MS4w"},{"Key":"ce_id","Value":"YjdlMmQxZjAtNGMzYS00ZTU5LThhNmItMGQ5YzhmN2U2YTUx"},{"Key":"ce_source","Value":"L29yZGVycy1zZXJ2aWNl"},{"Key":"ce_type","Value":"T3JkZXJVcGRhdGVkRXZlbnQ="},{"Key":"ce_time","Value":"MjAyNS0wMy0xNVQwODowMDowMFo="},{"Key":"ce_subject","Value":"MTA0Mg=="},{"Key":"content-type","Value":"YXBwbGljYXRpb24vanNvbg=="}]',
    NULL
  FROM o;
