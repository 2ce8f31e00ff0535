-- +goose Up
-- Who an order belongs to (the customer's token subject; NULL for orders
-- placed with auth off), and its private tracking link. Orders placed
-- before this migration get a code like every new one: "trk_" and 32 hex
-- digits (gen_random_uuid's 122 random bits; new codes have 128).
ALTER TABLE orders ADD COLUMN owner TEXT CHECK (char_length(owner) BETWEEN 1 AND 255);
-- The default fills existing rows, and any written without the service.
ALTER TABLE orders ADD COLUMN tracking_code TEXT NOT NULL
    DEFAULT 'trk_' || replace(gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX orders_tracking_code_idx ON orders (tracking_code);
-- A customer's list: its orders in id order.
CREATE INDEX orders_owner_idx ON orders (owner, id);

-- Idempotency keys belong to the caller that sent them (scope: its token's
-- subject, '' with auth off), expire (created_at, swept in the
-- background), and keep the first answer, which a retry gets back. Keys
-- recorded before this migration have no answer kept; a retry of one is
-- answered from the order.
ALTER TABLE idempotency_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN response_status INTEGER;
ALTER TABLE idempotency_keys ADD COLUMN response_header JSONB;
ALTER TABLE idempotency_keys ADD COLUMN response_body BYTEA;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (scope, key);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP INDEX idempotency_keys_created_at_idx;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
DELETE FROM idempotency_keys WHERE scope <> '';
ALTER TABLE idempotency_keys ADD PRIMARY KEY (key);
ALTER TABLE idempotency_keys DROP COLUMN response_body, DROP COLUMN response_header,
    DROP COLUMN response_status, DROP COLUMN scope;
DROP INDEX orders_owner_idx;
DROP INDEX orders_tracking_code_idx;
ALTER TABLE orders DROP COLUMN tracking_code, DROP COLUMN owner;
