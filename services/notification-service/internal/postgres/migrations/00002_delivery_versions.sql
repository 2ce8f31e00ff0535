-- +goose Up
-- The order version each notification reports, so that one older than the
-- newest already sent for its order and channel is not sent (a replayed
-- dead letter, say), but recorded as superseded. Rows from before have none
-- and count for nothing.
ALTER TABLE notification_deliveries ADD COLUMN version BIGINT;
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_status_check;
ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_status_check
    CHECK (status IN ('pending', 'sent', 'superseded'));
CREATE INDEX notification_deliveries_newest_idx ON notification_deliveries (order_id, channel, version)
    WHERE status = 'sent';

-- +goose Down
DROP INDEX notification_deliveries_newest_idx;
DELETE FROM notification_deliveries WHERE status = 'superseded';
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_status_check;
ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_status_check
    CHECK (status IN ('pending', 'sent'));
ALTER TABLE notification_deliveries DROP COLUMN version;
