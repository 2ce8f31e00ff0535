-- +goose Up
-- Each order's status timeline: one row per version, written in the
-- statement of the change that made the version. It is what tracking-service
-- rebuilds its timelines from when Redis loses them. Orders that existed
-- before it start with their current status at their current version.
CREATE TABLE order_status_history (
    order_id BIGINT      NOT NULL REFERENCES orders (id),
    version  BIGINT      NOT NULL,
    status   TEXT        NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (order_id, version)
);
INSERT INTO order_status_history (order_id, version, status, at)
SELECT id, version, status, updated_at FROM orders;

-- +goose Down
DROP TABLE order_status_history;
