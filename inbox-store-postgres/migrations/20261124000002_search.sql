-- Full-text search over message text and contact names, and number search.
-- Uses PostgreSQL text search with the 'simple' configuration (lower-cased
-- words, no stemming: names, order numbers and mixed languages match
-- literally) and a trigram index for digits anywhere in a number.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE inbox_messages ADD COLUMN body text;
ALTER TABLE inbox_messages
    ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(body, ''))) STORED;
CREATE INDEX inbox_messages_tsv ON inbox_messages USING gin (tsv);

ALTER TABLE inbox_contacts
    ADD COLUMN name_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(data->>'profile_name', ''))) STORED;
CREATE INDEX inbox_contacts_name_tsv ON inbox_contacts USING gin (name_tsv);
CREATE INDEX inbox_contacts_wa_id_trgm ON inbox_contacts USING gin (wa_id gin_trgm_ops);
