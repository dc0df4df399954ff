-- Events are written once and read whole (by sequence number or by
-- conversation); no query looks inside them. As `json` they are stored as
-- the text the application serialised, which PostgreSQL only validates,
-- instead of being parsed into `jsonb` (object keys sorted, values
-- converted) on every write and printed back to text on every read. At
-- one to three events per webhook, that parsing was the largest share of
-- the `jsonb` input cost under ingest load.
-- This rewrites the table once (an exclusive lock for its duration).
ALTER TABLE inbox_events ALTER COLUMN data TYPE json USING data::json;
