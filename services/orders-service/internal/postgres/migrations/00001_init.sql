-- +goose Up
CREATE TABLE orders (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_name TEXT        NOT NULL CHECK (char_length(customer_name) BETWEEN 1 AND 200),
    item          TEXT        NOT NULL CHECK (char_length(item) BETWEEN 1 AND 200),
    quantity      INTEGER     NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    status        TEXT        NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'SHIPPED', 'OUT_FOR_DELIVERY', 'DELIVERED', 'CANCELLED')),
    version       BIGINT      NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_name_idx ON orders (customer_name);
CREATE INDEX orders_status_idx ON orders (status);

-- One row per event not yet acknowledged by Kafka. The relay deletes a row
-- only after the broker acknowledged it; rows are read in id order.
CREATE TABLE outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    UUID        NOT NULL UNIQUE,
    event_type  TEXT        NOT NULL,
    order_id    BIGINT      NOT NULL,
    version     BIGINT      NOT NULL,
    message_key BYTEA       NOT NULL,
    payload     BYTEA       NOT NULL,
    headers     JSONB       NOT NULL DEFAULT '[]',
    -- W3C traceparent of the request that made the change, so one trace
    -- spans request, relay and consumers.
    traceparent TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash TEXT        NOT NULL,
    order_id     BIGINT      NOT NULL REFERENCES orders (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TABLE orders;
