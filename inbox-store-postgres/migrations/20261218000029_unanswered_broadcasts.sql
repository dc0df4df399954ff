-- Conversations a broadcast started that the customer has not answered
-- are not the team's work: reports leave them out
-- (Conversation::unanswered_broadcast). A stored column, kept by the
-- database from the document, so that the reports' population filters on
-- it without reading the JSON of every row.
ALTER TABLE inbox_conversations
    ADD COLUMN unanswered_broadcast boolean NOT NULL GENERATED ALWAYS AS (
        coalesce(data::jsonb -> 'started' -> 'by' ->> 'kind' = 'broadcast', false)
        AND coalesce(data::jsonb -> 'last_customer_message_at', 'null'::jsonb) = 'null'::jsonb
    ) STORED;
