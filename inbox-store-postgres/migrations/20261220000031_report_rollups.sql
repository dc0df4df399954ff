-- Reports from rollups (`rollups.rs`; the sums are the core's
-- `metrics::rollup::Tally`, encoded by the store).
--
-- `inbox_report_rollups`: per tenant, filter (number, and a team, an
-- owner, both, or a tag; '' for none) and UTC bucket (an hour, a day or a
-- month, `level` h/d/m, starting at `bucket_us`), the sum of the
-- contributions of the conversations opened in the bucket.
--
-- `inbox_report_contributions`: what each conversation adds now, as
-- summed (so a change takes exactly that away before adding the new one).
--
-- `inbox_report_dirty`: conversations whose contribution may have changed
-- since it was summed. Triggers on conversations (a column a report reads
-- changed) and on agents' messages add them in the writing transaction;
-- the store sums them before answering a report. The upsert bumps
-- `touched` so that a writer and the store summing the same conversation
-- wait for each other on the row: the store deletes it only once the
-- writer has committed, then reads what it wrote.
-- A report finds its buckets by the key's prefix (the number last: a
-- report on every number sums them).
CREATE TABLE inbox_report_rollups (
    tenant_id  text COLLATE "C" NOT NULL,
    team_id    text COLLATE "C" NOT NULL,
    owner      text COLLATE "C" NOT NULL,
    tag        text COLLATE "C" NOT NULL,
    level      text COLLATE "C" NOT NULL,
    bucket_us  bigint NOT NULL,
    channel_id text COLLATE "C" NOT NULL,
    tally      bytea NOT NULL,
    PRIMARY KEY (tenant_id, team_id, owner, tag, level, bucket_us, channel_id)
);

CREATE TABLE inbox_report_contributions (
    tenant_id       text COLLATE "C" NOT NULL,
    conversation_id text COLLATE "C" NOT NULL,
    contribution    bytea NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);

CREATE TABLE inbox_report_dirty (
    tenant_id       text COLLATE "C" NOT NULL,
    conversation_id text COLLATE "C" NOT NULL,
    touched         bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, conversation_id)
);

CREATE FUNCTION inbox_report_touch(tenant text, conversation text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO inbox_report_dirty AS d (tenant_id, conversation_id) VALUES (tenant, conversation)
    ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET touched = d.touched + 1;
$$;

CREATE FUNCTION inbox_report_touched() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM inbox_report_touch(OLD.tenant_id, OLD.conversation_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.conversation_id <> OLD.conversation_id) THEN
        PERFORM inbox_report_touch(NEW.tenant_id, NEW.conversation_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER inbox_report_conversation_written
    AFTER INSERT OR DELETE ON inbox_conversations
    FOR EACH ROW EXECUTE FUNCTION inbox_report_touched();

CREATE TRIGGER inbox_report_conversation_changed
    AFTER UPDATE ON inbox_conversations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
       OR OLD.channel_id IS DISTINCT FROM NEW.channel_id
       OR OLD.team_id IS DISTINCT FROM NEW.team_id
       OR OLD.assignee IS DISTINCT FROM NEW.assignee
       OR OLD.tags IS DISTINCT FROM NEW.tags
       OR OLD.created_us IS DISTINCT FROM NEW.created_us
       OR OLD.waiting_us IS DISTINCT FROM NEW.waiting_us
       OR OLD.reopen_count IS DISTINCT FROM NEW.reopen_count
       OR OLD.first_response_secs IS DISTINCT FROM NEW.first_response_secs
       OR OLD.resolution_secs IS DISTINCT FROM NEW.resolution_secs
       OR OLD.first_response_business_secs IS DISTINCT FROM NEW.first_response_business_secs
       OR OLD.resolution_business_secs IS DISTINCT FROM NEW.resolution_business_secs
       OR OLD.sla_policy IS DISTINCT FROM NEW.sla_policy
       OR OLD.sla_kinds IS DISTINCT FROM NEW.sla_kinds
       OR OLD.sla_states IS DISTINCT FROM NEW.sla_states
       OR OLD.unanswered_broadcast IS DISTINCT FROM NEW.unanswered_broadcast)
    EXECUTE FUNCTION inbox_report_touched();

CREATE TRIGGER inbox_report_message_written
    AFTER INSERT ON inbox_messages
    FOR EACH ROW WHEN (NEW.author_agent IS NOT NULL)
    EXECUTE FUNCTION inbox_report_touched();

CREATE TRIGGER inbox_report_message_changed
    AFTER UPDATE ON inbox_messages
    FOR EACH ROW
    WHEN ((OLD.author_agent IS NOT NULL OR NEW.author_agent IS NOT NULL)
      AND (OLD.author_agent IS DISTINCT FROM NEW.author_agent
       OR OLD.conversation_id IS DISTINCT FROM NEW.conversation_id
       OR OLD.direction IS DISTINCT FROM NEW.direction
       OR OLD.next_response_secs IS DISTINCT FROM NEW.next_response_secs
       OR OLD.next_response_business_secs IS DISTINCT FROM NEW.next_response_business_secs))
    EXECUTE FUNCTION inbox_report_touched();

CREATE TRIGGER inbox_report_message_deleted
    AFTER DELETE ON inbox_messages
    FOR EACH ROW WHEN (OLD.author_agent IS NOT NULL)
    EXECUTE FUNCTION inbox_report_touched();

-- Every conversation already stored is summed at the first report.
INSERT INTO inbox_report_dirty (tenant_id, conversation_id)
SELECT tenant_id, conversation_id FROM inbox_conversations
ON CONFLICT DO NOTHING;
