-- update: the transaction orders-service runs for a status change
-- (services/orders-service/internal/postgres/store.go Update, internal/outbox
-- Enqueue): the order row locked and read, updated to its next status with
-- version + 1 RETURNING the row, the outbox row with the event's JSON, and
-- pg_notify, in one transaction. The status always changes, as it does for a
-- valid move, so the status index is written as the service's updates write
-- it. Orders are picked at random among the first :pool rows (pgbench -D pool=N).
\set id random(1, :pool)
BEGIN;
SELECT id, customer_name, item, quantity, status, version, created_at, updated_at FROM orders WHERE id = :id FOR UPDATE \gset prev_
UPDATE orders SET status = (ARRAY['CONFIRMED', 'SHIPPED', 'OUT_FOR_DELIVERY', 'DELIVERED'])[version % 4 + 1],
    version = version + 1, updated_at = now()
  WHERE id = :id RETURNING id, customer_name, item, quantity, status, version, created_at, updated_at \gset
INSERT INTO outbox (event_id, event_type, order_id, version, message_key, payload, headers, traceparent)
  SELECT e.id, 'OrderUpdatedEvent', :id::bigint, :version::bigint, convert_to(:id::text, 'UTF8'),
    convert_to(format('{"eventId":"%s","eventType":"OrderUpdatedEvent","orderId":%s,"version":%s,"occurredAt":"%s","order":{"id":%s,"customerName":"%s","item":"%s","quantity":%s,"status":"%s","createdAt":"%s","updatedAt":"%s"},"previousStatus":"%s"}',
      e.id, :id::text, :version::text, :updated_at::text, :id::text, :customer_name::text, :item::text, :quantity::text, :status::text, :created_at::text, :updated_at::text, :prev_status::text), 'UTF8'),
    '[{"Key":"ce_specversion","Value":"MS4w"},{"Key":"ce_id","Value":"YjdlMmQxZjAtNGMzYS00ZTU5LThhNmItMGQ5YzhmN2U2YTUx"},{"Key":"ce_source","Value":"L29yZGVycy1zZXJ2aWNl"},{"Key":"ce_type","Value":"T3JkZXJVcGRhdGVkRXZlbnQ="},{"Key":"ce_time","Value":"MjAyNS0wMy0xNVQwODowMDowMFo="},{"Key":"ce_subject","Value":"MTA0Mg=="},{"Key":"content-type","Value":"YXBwbGljYXRpb24vanNvbg=="}]',
    NULL
  FROM (SELECT gen_random_uuid() AS id) e;
SELECT pg_notify('outbox', '');
END;
