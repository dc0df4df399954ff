-- Conversations are stored as the application serialised them, as
-- messages are since migration 16: `data` becomes `json`, validated but not
-- parsed into `jsonb` on every write (each customer message and each agent
-- action rewrites its conversation) nor printed back to text on every read
-- (each inbound message's ingest lookup, every inbox list).
--
-- Reports and the live snapshot read what they aggregate from columns of
-- their own instead of the document (on `json`, each `->>` would parse the
-- whole document again), filled by every writer from the conversation
-- (`facts.rs`) and here, once, from the stored documents by the rules the
-- queries used: durations in whole seconds from opening, the business-hours
-- figures, the reopen count, and the SLA: its policy and each target's
-- kind, state, warning and due instants (microseconds), in target order.
ALTER TABLE inbox_conversations
    ADD COLUMN first_response_secs bigint,
    ADD COLUMN resolution_secs bigint,
    ADD COLUMN first_response_business_secs bigint,
    ADD COLUMN resolution_business_secs bigint,
    ADD COLUMN reopen_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN sla_policy text COLLATE "C",
    ADD COLUMN sla_kinds text[],
    ADD COLUMN sla_states text[],
    ADD COLUMN sla_warn_us bigint[],
    ADD COLUMN sla_due_us bigint[];

CREATE FUNCTION pg_temp.inbox_us(t text) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS $$ SELECT (extract(epoch FROM t::timestamptz) * 1000000)::bigint $$;

UPDATE inbox_conversations SET
    first_response_secs = CASE WHEN data->>'first_response_at' IS NOT NULL THEN
        (pg_temp.inbox_us(data->>'first_response_at') - pg_temp.inbox_us(data->>'created_at')) / 1000000 END,
    resolution_secs = CASE WHEN data->>'resolved_at' IS NOT NULL THEN
        (pg_temp.inbox_us(data->>'resolved_at') - pg_temp.inbox_us(data->>'created_at')) / 1000000 END,
    first_response_business_secs = (data->>'first_response_business_secs')::bigint,
    resolution_business_secs = (data->>'resolution_business_secs')::bigint,
    reopen_count = COALESCE((data->>'reopen_count')::bigint, 0),
    sla_policy = CASE WHEN jsonb_typeof(data->'sla') = 'object' THEN data->'sla'->>'policy' END,
    sla_kinds = CASE WHEN jsonb_typeof(data->'sla') = 'object' THEN ARRAY(
        SELECT t->>'kind' FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data->'sla'->'targets') = 'array'
            THEN data->'sla'->'targets' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(t, o) ORDER BY o) END,
    sla_states = CASE WHEN jsonb_typeof(data->'sla') = 'object' THEN ARRAY(
        SELECT t->'state'->>'state' FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data->'sla'->'targets') = 'array'
            THEN data->'sla'->'targets' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(t, o) ORDER BY o) END,
    sla_warn_us = CASE WHEN jsonb_typeof(data->'sla') = 'object' THEN ARRAY(
        SELECT pg_temp.inbox_us(t->>'warn_at') FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data->'sla'->'targets') = 'array'
            THEN data->'sla'->'targets' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(t, o) ORDER BY o) END,
    sla_due_us = CASE WHEN jsonb_typeof(data->'sla') = 'object' THEN ARRAY(
        SELECT pg_temp.inbox_us(t->>'due_at') FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data->'sla'->'targets') = 'array'
            THEN data->'sla'->'targets' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(t, o) ORDER BY o) END
WHERE data->>'first_response_at' IS NOT NULL OR data->>'resolved_at' IS NOT NULL
   OR data->>'first_response_business_secs' IS NOT NULL OR data->>'resolution_business_secs' IS NOT NULL
   OR COALESCE((data->>'reopen_count')::bigint, 0) <> 0 OR jsonb_typeof(data->'sla') = 'object';

-- This rewrites the table and its indexes once (an exclusive lock for its
-- duration), which also leaves behind the versions the update above made.
ALTER TABLE inbox_conversations ALTER COLUMN data TYPE json USING data::json;
