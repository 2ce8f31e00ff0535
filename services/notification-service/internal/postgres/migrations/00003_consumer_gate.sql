-- +goose Up
-- One row the consumer's gate writes: it passes only while the database
-- accepts writes (not read-only, not out of disk), which a ping cannot tell.
CREATE TABLE consumer_gate (
    id INTEGER     PRIMARY KEY CHECK (id = 1),
    at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE consumer_gate;
