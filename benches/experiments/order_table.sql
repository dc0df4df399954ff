-- Ingest experiment (BENCHMARKS.md, Ingest, fifth session): the inbox views'
-- order columns and keyset indexes in a narrow table of their own, kept by
-- statement-level triggers, so that conversation updates are HOT. Run with
--   cargo run --release -p inbox-benches --bin ingest -- --store postgres ... \
--       --setup-sql "$(cat benches/experiments/order_table.sql)"
-- Measured: no gain (the narrow row is re-indexed on every message).
DROP INDEX inbox_conversations_latest, inbox_conversations_oldest, inbox_conversations_priority, inbox_conversations_assignee_latest, inbox_conversations_team_latest, inbox_conversations_unassigned, inbox_conversations_waiting;
ALTER TABLE inbox_conversations SET (fillfactor = 80);
CREATE TABLE conv_order (tenant_id text COLLATE "C", conversation_id text COLLATE "C", status text, assignee text COLLATE "C", team_id text COLLATE "C", priority_rank smallint, last_activity_us bigint, waiting_us bigint, PRIMARY KEY (tenant_id, conversation_id));
CREATE INDEX ON conv_order (tenant_id, (-last_activity_us), conversation_id);
CREATE INDEX ON conv_order (tenant_id, last_activity_us, conversation_id);
CREATE INDEX ON conv_order (tenant_id, (COALESCE(waiting_us, 9223372036854775807)), conversation_id);
CREATE INDEX ON conv_order (tenant_id, (-priority_rank), (-last_activity_us), conversation_id);
CREATE INDEX ON conv_order (tenant_id, assignee, (-last_activity_us), conversation_id);
CREATE INDEX ON conv_order (tenant_id, team_id, (-last_activity_us), conversation_id);
CREATE INDEX ON conv_order (tenant_id, team_id, (-last_activity_us), conversation_id) WHERE assignee IS NULL;
CREATE FUNCTION conv_order_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO conv_order SELECT tenant_id, conversation_id, status, assignee, team_id, priority_rank, last_activity_us, waiting_us FROM n; RETURN NULL; END $$;
CREATE FUNCTION conv_order_upd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE conv_order o SET status = n.status, assignee = n.assignee, team_id = n.team_id, priority_rank = n.priority_rank, last_activity_us = n.last_activity_us, waiting_us = n.waiting_us FROM n WHERE o.tenant_id = n.tenant_id AND o.conversation_id = n.conversation_id; RETURN NULL; END $$;
CREATE TRIGGER conv_order_a AFTER INSERT ON inbox_conversations REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION conv_order_ins();
CREATE TRIGGER conv_order_b AFTER UPDATE ON inbox_conversations REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION conv_order_upd();
