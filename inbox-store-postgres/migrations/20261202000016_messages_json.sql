-- Messages are stored as the application serialised them: `data` becomes
-- `json`, which PostgreSQL validates but does not parse into `jsonb` on
-- every write (an inbound message, and again each delivery status that
-- rewrites an outbound one) nor print back to text on every read (the
-- ingest's duplicate check, a status report's message, the history).
--
-- What queries look at no longer comes out of the document: the report
-- columns generated from it since migration 7 become ordinary columns,
-- keeping their values, and every writer fills them from the message
-- (`facts.rs`, the same rules); the status lookup filters on `direction`.
ALTER TABLE inbox_messages
    ALTER COLUMN author_agent DROP EXPRESSION,
    ALTER COLUMN direction DROP EXPRESSION,
    ALTER COLUMN next_response_secs DROP EXPRESSION,
    ALTER COLUMN next_response_business_secs DROP EXPRESSION;
-- This rewrites the table and its indexes once (an exclusive lock for its
-- duration).
ALTER TABLE inbox_messages ALTER COLUMN data TYPE json USING data::json;
