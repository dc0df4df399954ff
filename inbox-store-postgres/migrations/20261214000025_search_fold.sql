-- Search ignores case and accents ("Joao" finds "João") and looks at more
-- than message text and profile names: a contact's display name, tags and
-- attribute values, and a conversation's tags.
--
-- The words are cut and folded by the core (`inbox_core::search`: runs of
-- letters and digits, lower case, NFD, nonspacing marks dropped), the one
-- definition every store shares. PostgreSQL only keeps and indexes them:
-- its own parser would cut differently (`user@example.com`, `e-mail`) and
-- `unaccent` folds differently (`ł`, `ß`), so every writer fills these
-- columns with the core's words, as a tsvector of quoted lexemes
-- (`facts::tsvector_literal`), and queries compare folded words
-- (`'joao' & 'sil':*`), never parsing text.
--
-- * inbox_messages.tsv: no longer generated from `body`.
-- * inbox_contacts.tsv (was name_tsv): profile name, display name, tags and
--   attribute values, taken together.
-- * inbox_conversations.tags_tsv: the conversation's tags; its GIN index
--   holds tagged conversations only, as the tag filter's does (queries say
--   `cardinality(tags) > 0`).
--
-- Rows written before this migration keep their old words (PostgreSQL's
-- parser, not folded: still found by their words as written) until the
-- store re-indexes them with the core's: `PgStore::migrate` does, in
-- batches, after the migrations (`PgStore::reindex_search` for embedders
-- who run `MIGRATOR` themselves). inbox_search_reindex says how far it
-- got, per table, and under which version of the core's rules
-- (`inbox_core::search::WORDS_VERSION`): a later version re-indexes again.

ALTER TABLE inbox_messages ALTER COLUMN tsv DROP EXPRESSION;

ALTER TABLE inbox_contacts ALTER COLUMN name_tsv DROP EXPRESSION;
ALTER TABLE inbox_contacts RENAME COLUMN name_tsv TO tsv;
ALTER INDEX inbox_contacts_name_tsv RENAME TO inbox_contacts_tsv;

ALTER TABLE inbox_conversations ADD COLUMN tags_tsv tsvector;
CREATE INDEX inbox_conversations_tags_tsv ON inbox_conversations USING gin (tags_tsv)
    WHERE cardinality(tags) > 0;

-- Re-indexing's progress, per table: the version of the rules the rows up
-- to (tenant_id, id) were re-indexed with; `done` once the table is.
CREATE TABLE inbox_search_reindex (
    table_name  text PRIMARY KEY,
    version     smallint NOT NULL,
    tenant_id   text COLLATE "C",
    id          text COLLATE "C",
    done        boolean NOT NULL
);
INSERT INTO inbox_search_reindex (table_name, version, done) VALUES
    ('inbox_messages', 0, false),
    ('inbox_contacts', 0, false),
    ('inbox_conversations', 0, false);
