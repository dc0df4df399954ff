-- The live snapshot without reading the active conversations: what it
-- counts is kept, in the transaction that writes a conversation, by a
-- trigger on `inbox_conversations`.
--
-- `inbox_live_counts`: the active (not resolved) conversations by number,
-- team and owner ('' for none): how many are open, pending and snoozed,
-- how many have the customer waiting, and how many have an SLA target
-- marked breached. The snapshot adds up a tenant's rows (at most numbers ×
-- teams × owners of them), agents' loads are its rows by owner.
--
-- `inbox_live_sla`: what an active conversation's running (`active`) SLA
-- targets make of it at any instant, as rows an index range finds:
--   * at risk from `from_us` until `to_us`: the union of its targets'
--     [warning, due) intervals, merged so that they do not overlap (so a
--     conversation is counted once however many targets are at risk);
--   * past due from `from_us` on (`to_us` NULL): its earliest due time,
--     kept only while no target is marked breached (those are counted in
--     `inbox_live_counts`).
-- The timer marks a target breached at its due time, so the rows an
-- instant's ranges scan are the answer plus the timer's lag.
CREATE TABLE inbox_live_counts (
    tenant_id  text COLLATE "C" NOT NULL,
    channel_id text COLLATE "C" NOT NULL,
    team_id    text COLLATE "C" NOT NULL,
    assignee   text COLLATE "C" NOT NULL,
    open       bigint NOT NULL DEFAULT 0,
    pending    bigint NOT NULL DEFAULT 0,
    snoozed    bigint NOT NULL DEFAULT 0,
    waiting    bigint NOT NULL DEFAULT 0,
    breached   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, channel_id, team_id, assignee)
);

CREATE TABLE inbox_live_sla (
    tenant_id       text COLLATE "C" NOT NULL,
    conversation_id text COLLATE "C" NOT NULL,
    channel_id      text COLLATE "C" NOT NULL,
    team_id         text COLLATE "C",
    from_us         bigint NOT NULL,
    to_us           bigint
);
CREATE INDEX inbox_live_sla_risk ON inbox_live_sla (tenant_id, from_us)
    INCLUDE (to_us, channel_id, team_id) WHERE to_us IS NOT NULL;
CREATE INDEX inbox_live_sla_due ON inbox_live_sla (tenant_id, from_us)
    INCLUDE (channel_id, team_id) WHERE to_us IS NULL;
CREATE INDEX inbox_live_sla_conversation ON inbox_live_sla (tenant_id, conversation_id);

-- Adds (`sign` 1) or takes away (-1) what an active conversation counts.
CREATE FUNCTION inbox_live_count(r inbox_conversations, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF r.status = 'resolved' THEN
        RETURN;
    END IF;
    INSERT INTO inbox_live_counts AS c
        (tenant_id, channel_id, team_id, assignee, open, pending, snoozed, waiting, breached)
    VALUES (
        r.tenant_id, r.channel_id, COALESCE(r.team_id, ''), COALESCE(r.assignee, ''),
        sign * (r.status = 'open')::integer,
        sign * (r.status = 'pending')::integer,
        sign * (r.status = 'snoozed')::integer,
        sign * (r.waiting_us IS NOT NULL)::integer,
        sign * COALESCE('breached' = ANY (r.sla_states), false)::integer)
    ON CONFLICT (tenant_id, channel_id, team_id, assignee) DO UPDATE SET
        open = c.open + EXCLUDED.open,
        pending = c.pending + EXCLUDED.pending,
        snoozed = c.snoozed + EXCLUDED.snoozed,
        waiting = c.waiting + EXCLUDED.waiting,
        breached = c.breached + EXCLUDED.breached;
END $$;

-- The rows of an active conversation's running targets (see the table).
CREATE FUNCTION inbox_live_targets(r inbox_conversations) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    risk_from bigint;
    risk_to bigint;
    first_due bigint;
BEGIN
    IF r.status = 'resolved' OR r.sla_states IS NULL THEN
        RETURN;
    END IF;
    FOR t IN
        SELECT u.warn_us, u.due_us
        FROM UNNEST(r.sla_states, r.sla_warn_us, r.sla_due_us) AS u(st, warn_us, due_us)
        WHERE u.st = 'active'
        ORDER BY u.warn_us, u.due_us
    LOOP
        first_due := LEAST(first_due, t.due_us);
        CONTINUE WHEN t.warn_us >= t.due_us;
        IF risk_from IS NOT NULL AND t.warn_us <= risk_to THEN
            risk_to := GREATEST(risk_to, t.due_us);
        ELSE
            IF risk_from IS NOT NULL THEN
                INSERT INTO inbox_live_sla VALUES
                    (r.tenant_id, r.conversation_id, r.channel_id, r.team_id, risk_from, risk_to);
            END IF;
            risk_from := t.warn_us;
            risk_to := t.due_us;
        END IF;
    END LOOP;
    IF risk_from IS NOT NULL THEN
        INSERT INTO inbox_live_sla VALUES
            (r.tenant_id, r.conversation_id, r.channel_id, r.team_id, risk_from, risk_to);
    END IF;
    IF first_due IS NOT NULL AND NOT COALESCE('breached' = ANY (r.sla_states), false) THEN
        INSERT INTO inbox_live_sla VALUES
            (r.tenant_id, r.conversation_id, r.channel_id, r.team_id, first_due, NULL);
    END IF;
END $$;

CREATE FUNCTION inbox_live_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM inbox_live_count(OLD, -1);
        IF OLD.status <> 'resolved' AND OLD.sla_states IS NOT NULL THEN
            DELETE FROM inbox_live_sla
            WHERE tenant_id = OLD.tenant_id AND conversation_id = OLD.conversation_id;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM inbox_live_count(NEW, 1);
        PERFORM inbox_live_targets(NEW);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER inbox_live_written AFTER INSERT OR DELETE ON inbox_conversations
    FOR EACH ROW EXECUTE FUNCTION inbox_live_track();
-- Most writes (a message moves the activity time) change nothing counted.
CREATE TRIGGER inbox_live_changed AFTER UPDATE ON inbox_conversations
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status
        OR OLD.channel_id IS DISTINCT FROM NEW.channel_id
        OR OLD.team_id IS DISTINCT FROM NEW.team_id
        OR OLD.assignee IS DISTINCT FROM NEW.assignee
        OR (OLD.waiting_us IS NULL) <> (NEW.waiting_us IS NULL)
        OR OLD.sla_states IS DISTINCT FROM NEW.sla_states
        OR OLD.sla_warn_us IS DISTINCT FROM NEW.sla_warn_us
        OR OLD.sla_due_us IS DISTINCT FROM NEW.sla_due_us)
    EXECUTE FUNCTION inbox_live_track();

-- Recounts everything from the conversations (what is there already, or
-- after rows were loaded with the trigger off: one statement per table
-- instead of a counter update per row).
CREATE FUNCTION inbox_live_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM inbox_live_counts;
    DELETE FROM inbox_live_sla;
    INSERT INTO inbox_live_counts
        (tenant_id, channel_id, team_id, assignee, open, pending, snoozed, waiting, breached)
    SELECT tenant_id, channel_id, COALESCE(team_id, ''), COALESCE(assignee, ''),
           count(*) FILTER (WHERE status = 'open'),
           count(*) FILTER (WHERE status = 'pending'),
           count(*) FILTER (WHERE status = 'snoozed'),
           count(*) FILTER (WHERE waiting_us IS NOT NULL),
           count(*) FILTER (WHERE 'breached' = ANY (sla_states))
    FROM inbox_conversations
    WHERE status <> 'resolved'
    GROUP BY 1, 2, 3, 4;
    PERFORM inbox_live_targets(c) FROM inbox_conversations c
    WHERE c.status <> 'resolved' AND c.sla_states IS NOT NULL;
END $$;

SELECT inbox_live_rebuild();
