-- +goose Up
-- One row per notification, claimed before it is sent. (event_id, channel)
-- is what makes a redelivered event send nothing new; see package notify.
CREATE TABLE notification_deliveries (
    -- id orders rows by claim time, which is event order for one order
    -- (Kafka keeps one order's events in one partition).
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   UUID        NOT NULL,
    channel    TEXT        NOT NULL CHECK (channel IN ('email', 'sms')),
    order_id   BIGINT      NOT NULL,
    recipient  TEXT        NOT NULL,
    text       TEXT        NOT NULL,
    status     TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts   INTEGER     NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at    TIMESTAMPTZ,
    UNIQUE (event_id, channel)
);
CREATE INDEX notification_deliveries_order_id_idx ON notification_deliveries (order_id, id DESC);

-- +goose Down
DROP TABLE notification_deliveries;
