//! The data set of the PostgreSQL read benchmarks (`list`, `snapshot`),
//! seeded with set-based SQL. The rows are exactly what the store writes:
//! the JSON documents decode into the core's model, and the facts columns
//! beside them agree with the documents.
//!
//! One tenant (`bench`) on one number with [`TEAMS`] teams and [`AGENTS`]
//! agents (`agent0` a supervisor); `n` conversations opened 1 ms apart
//! from 2025-06-15 15:06:40 UTC, half of them active (open, open, pending,
//! snoozed, then four resolved, by a hash of the index), three in four
//! owned, one in twenty tagged `vip`, one in three waiting; `n` contacts.
//!
//! Each conversation has a first-response SLA target whose due time is
//! spread over two hours around [`now_us`] (from 40 minutes before to 80
//! after) with its warning 10 minutes earlier: the open ones past due are
//! marked breached, as the timer does, except one in 997 (the timer's
//! lag); pending and snoozed ones are paused; resolved ones met, one in ten
//! breached. So about 8% of the open ones are at risk at [`now_us`].

use std::time::Instant;

/// Runs `steps` on the database of `store` unless it holds exactly `n`
/// conversations already (a data set seeded once and kept between runs),
/// saying how long each took.
pub async fn seed_once(
    store: &inbox_store_postgres::PgStore,
    n: i64,
    steps: Vec<String>,
) -> Result<(), String> {
    let pool = store.pool();
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox_conversations")
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
    if have == n {
        eprintln!("reusing {have} seeded conversations");
        return Ok(());
    }
    eprintln!("seeding {n} conversations (once)...");
    for (i, sql) in steps.iter().enumerate() {
        let t = Instant::now();
        sqlx::query(sql)
            .execute(pool)
            .await
            .map_err(|e| format!("seed step {i}: {e}"))?;
        eprintln!("  step {i} done in {:.1?}", t.elapsed());
    }
    Ok(())
}

/// The statements that end a seed (after [`conversation_steps`] and any
/// [`message_step`]): writes mark conversations for the report rollups
/// again, and every seeded conversation is marked, so the next
/// `PgStore::refresh_reports` builds the rollups from them all.
pub fn finish_steps() -> Vec<String> {
    vec![
        "ALTER TABLE inbox_conversations ENABLE TRIGGER inbox_report_conversation_written".into(),
        "ALTER TABLE inbox_messages ENABLE TRIGGER inbox_report_message_written".into(),
        "INSERT INTO inbox_report_dirty (tenant_id, conversation_id) \
         SELECT tenant_id, conversation_id FROM inbox_conversations"
            .into(),
    ]
}

/// Agents of the tenant.
pub const AGENTS: i64 = 200;
/// Teams of the tenant.
pub const TEAMS: i64 = 10;

/// The gap between two conversations' openings in the `list` and
/// `snapshot` data sets: 1 ms.
pub const LIST_GAP_US: i64 = 1000;

/// The first conversation's opening, in microseconds (2025-06-15 15:06:40
/// UTC).
pub const START_US: i64 = 1_750_000_000_000_000;

/// The instant the data set's reports and snapshot are read at, in
/// microseconds: twice the span of the openings after the first.
pub fn now_us(n: i64, gap_us: i64) -> i64 {
    START_US + 2 * n * gap_us
}

/// The statements that empty the inbox's tables and seed the tenant, its
/// teams and agents, `n` conversations opened `gap_us` apart and `n`
/// contacts (the messages are [`message_step`]).
pub fn conversation_steps(n: i64, gap_us: i64) -> Vec<String> {
    vec![
        "TRUNCATE inbox_tenants, inbox_channels, inbox_teams, inbox_agents, inbox_contacts, \
         inbox_conversations, inbox_messages, inbox_events, inbox_outbox, inbox_routing_cursors, \
         inbox_live_counts, inbox_live_sla, inbox_report_rollups, inbox_report_contributions, \
         inbox_report_dirty CASCADE"
            .to_string(),
        // Report rollups are built once the data is in (`finish_steps`),
        // not marked row by row.
        "ALTER TABLE inbox_conversations DISABLE TRIGGER inbox_report_conversation_written".to_string(),
        "ALTER TABLE inbox_messages DISABLE TRIGGER inbox_report_message_written".to_string(),
        "INSERT INTO inbox_tenants (tenant_id, name) VALUES ('bench', 'Bench'), ('other', 'Other')"
            .to_string(),
        r#"INSERT INTO inbox_channels (tenant_id, channel_id, phone_number_id, data) VALUES
           ('bench', 'main', '106540352242922', '{"tenant":"bench","id":"main","phone_number_id":"106540352242922","display_number":"+1","name":"main","secrets_ref":null}')"#.to_string(),
        format!(
            r#"INSERT INTO inbox_teams (tenant_id, team_id, data)
               SELECT 'bench', 'team' || t, jsonb_build_object('tenant','bench','id','team' || t,'name','Team ' || t)
               FROM generate_series(0, {}) t"#,
            TEAMS - 1
        ),
        format!(
            r#"INSERT INTO inbox_agents (tenant_id, agent_id, data)
               SELECT 'bench', 'agent' || a, jsonb_build_object('tenant','bench','id','agent' || a,'name','Agent ' || a,
                 'role', CASE WHEN a = 0 THEN 'supervisor' ELSE 'agent' END, 'teams', jsonb_build_array('team' || (a % {TEAMS})),
                 'skills','[]'::jsonb,'capacity',0,'presence','online','active',true)
               FROM generate_series(0, {}) a"#,
            AGENTS - 1
        ),
        // Loaded with the live counts' trigger off, then counted once
        // (a counter updated a million times in one statement costs more
        // with every version it leaves).
        "ALTER TABLE inbox_conversations DISABLE TRIGGER inbox_live_written".to_string(),
        conversations(n, gap_us),
        "ALTER TABLE inbox_conversations ENABLE TRIGGER inbox_live_written".to_string(),
        "SELECT inbox_live_rebuild()".to_string(),
        format!(
            r#"INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, version, data, tsv)
               SELECT 'bench', 'k' || i, (34600000000 + i)::text, 1,
                 jsonb_build_object('tenant','bench','id','k' || i,'identity',jsonb_build_object('wa_id',(34600000000 + i)::text,'user_id',NULL),
                   'profile_name',nm,
                   'tags','[]'::jsonb,'attributes','{{}}'::jsonb,'created_at','2026-03-02T09:00:00Z','version',1),
                 array_to_tsvector(array_remove(regexp_split_to_array(lower(nm), '[^a-z0-9]+'), ''))
               FROM (SELECT i, (ARRAY['Marta','Jon','Kim','Ana','Luis','Sofia','Omar','Li'])[1 + i % 8] || ' ' || i AS nm
                     FROM generate_series(1::bigint, {n}) i) s"#
        ),
    ]
}

/// The conversations, their SLA targets (see the module docs) written both
/// in the document and in the facts columns.
fn conversations(n: i64, gap_us: i64) -> String {
    let now = now_us(n, gap_us);
    format!(
        r#"INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, assignee, team_id,
             priority_rank, tags, last_activity_us, created_us, waiting_us, version,
             first_response_secs, resolution_secs, first_response_business_secs, resolution_business_secs,
             sla_policy, sla_kinds, sla_states, sla_warn_us, sla_due_us, data, tags_tsv)
           SELECT 'bench', id, 'main', 'k' || i, st, asg, tm, pr, tg, la, cr, wt, 3,
             CASE WHEN asg IS NOT NULL THEN i % 3600 END, CASE WHEN st = 'resolved' THEN i % 86400 END,
             CASE WHEN asg IS NOT NULL THEN i % 1800 END, CASE WHEN st = 'resolved' THEN i % 30000 END,
             'std', ARRAY['first_response'], ARRAY[sst], ARRAY[due - 600000000], ARRAY[due],
             jsonb_build_object('tenant','bench','id',id,'channel','main','contact','k' || i,'status',st,'assignee',asg,'team',tm,
               'tags',to_jsonb(tg),'priority',(ARRAY['low','normal','high','urgent'])[pr + 1],'snoozed_until',NULL,
               'created_at',to_jsonb(to_timestamp(cr / 1e6)),'updated_at',to_jsonb(to_timestamp(la / 1e6)),
               'last_activity_at',to_jsonb(to_timestamp(la / 1e6)),'last_customer_message_at',to_jsonb(to_timestamp(la / 1e6)),
               'last_agent_reply_at',NULL,'waiting_since',CASE WHEN wt IS NULL THEN NULL ELSE to_jsonb(to_timestamp(wt / 1e6)) END,
               'window_expires_at',to_jsonb(to_timestamp(la / 1e6) + interval '24 hours'),
               'resolved_at',CASE WHEN st = 'resolved' THEN to_jsonb(to_timestamp((cr + i % 86400 * 1000000) / 1e6)) END,
               'resolution_business_secs',CASE WHEN st = 'resolved' THEN i % 30000 END,
               'first_response_at',CASE WHEN asg IS NOT NULL THEN to_jsonb(to_timestamp((cr + i % 3600 * 1000000) / 1e6)) END,
               'first_response_business_secs',CASE WHEN asg IS NOT NULL THEN i % 1800 END,
               'reopen_count',0,'message_count',10,'version',3,
               'sla',jsonb_build_object('policy','std','targets',jsonb_build_array(jsonb_build_object(
                 'kind','first_response','started_at',to_jsonb(to_timestamp(cr / 1e6)),
                 'due_at',to_jsonb(to_timestamp(due / 1e6)),'warn_at',to_jsonb(to_timestamp((due - 600000000) / 1e6)),
                 'warned',due - 600000000 <= {now},
                 'state',CASE sst
                   WHEN 'active' THEN '{{"state":"active"}}'::jsonb
                   WHEN 'paused' THEN '{{"state":"paused","remaining_secs":1800,"warn_remaining_secs":1200}}'::jsonb
                   WHEN 'met' THEN jsonb_build_object('state','met','at',to_jsonb(to_timestamp((cr + i % 3600 * 1000000) / 1e6)))
                   ELSE jsonb_build_object('state','breached','at',to_jsonb(to_timestamp(due / 1e6))) END)))),
             array_to_tsvector(tg)
           FROM (SELECT s0.*,
                   CASE WHEN st IN ('pending', 'snoozed') THEN 'paused'
                        WHEN st = 'resolved' THEN CASE WHEN i % 10 = 0 THEN 'breached' ELSE 'met' END
                        WHEN due <= {now} AND i % 997 <> 0 THEN 'breached'
                        ELSE 'active' END AS sst
                 FROM (SELECT i, 'c' || lpad(i::text, 9, '0') AS id,
                   (ARRAY['open','open','pending','snoozed','resolved','resolved','resolved','resolved'])[1 + abs(hashint8(i * 5 + 1)) % 8] AS st,
                   CASE WHEN abs(hashint8(i * 5 + 2)) % 4 = 0 THEN NULL ELSE 'agent' || (abs(hashint8(i * 5 + 3)) % {AGENTS}) END AS asg,
                   'team' || (abs(hashint8(i * 5 + 4)) % {TEAMS}) AS tm, (abs(hashint8(i * 5)) % 4)::smallint AS pr,
                   CASE WHEN abs(hashint8(i * 7 + 6)) % 20 = 0 THEN ARRAY['vip'] ELSE ARRAY[]::text[] END AS tg,
                   1760000000000000 + i * 7919 % 30000000000 AS la, 1750000000000000 + i * {gap_us} AS cr,
                   CASE WHEN i % 3 = 0 THEN 1760000000000000 + i * 13 % 3600000000 END AS wt,
                   {now} + (abs(hashint8(i * 5 + 8)) % 7200 - 2400)::bigint * 1000000 AS due
                 FROM generate_series(1::bigint, {n}) i) s0) s"#
    )
}

/// `m` messages over the `n` conversations (message `j` in conversation
/// `1 + j % n`): two in three from customers, the rest agents' replies
/// (with response times; one in six a first response) and notes.
pub fn message_step(n: i64, m: i64) -> String {
    format!(
        r#"INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, body, tsv, data,
               author_agent, direction, next_response_secs, next_response_business_secs)
           SELECT 'bench', 'm' || j, 'c' || lpad((1 + j % {n})::text, 9, '0'), 'main', 'wamid.seed.' || j, b,
             array_to_tsvector(array_remove(regexp_split_to_array(lower(b), '[^a-z0-9]+'), '')), d,
             CASE WHEN d->'author'->>'kind' = 'agent' THEN d->'author'->>'id' END, d->>'direction',
             CASE WHEN d->'response'->>'first' = 'false' THEN (d->'response'->>'secs')::bigint END,
             CASE WHEN d->'response'->>'first' = 'false' THEN (d->'response'->>'business_secs')::bigint END
           FROM (SELECT j,
             (ARRAY['Hello, where is my order ', 'Can I change the size of order ', 'Refund for ticket ', 'Do you ship to Portugal? ref '])[1 + j % 4] || j AS b,
             jsonb_build_object('tenant','bench','id','m' || j,'conversation','c' || lpad((1 + j % {n})::text, 9, '0'),
               'channel','main',
               'direction',CASE WHEN j % 10 = 0 THEN 'note' WHEN j % 3 = 0 THEN 'outbound' ELSE 'inbound' END,
               'author',CASE WHEN j % 10 = 0 OR j % 3 = 0 THEN jsonb_build_object('kind','agent','id','agent' || (j % {AGENTS}))
                 ELSE jsonb_build_object('kind','customer','id','k' || (1 + j % {n})) END,
               'response',CASE WHEN j % 3 = 0 AND j % 10 <> 0 THEN jsonb_build_object('secs',j % 3600,'business_secs',j % 1800,'first',j % 6 = 3) END,
               'content',jsonb_build_object('type','text','body',(ARRAY['Hello, where is my order ', 'Can I change the size of order ', 'Refund for ticket ', 'Do you ship to Portugal? ref '])[1 + j % 4] || j,'preview_url',false),
               'external_id','wamid.seed.' || j,'idempotency_key',NULL,'context','{{}}'::jsonb,'mentions','[]'::jsonb,
               'sent_at','2026-03-02T09:00:00Z','created_at','2026-03-02T09:00:00Z','delivery',NULL) AS d
           FROM generate_series(1::bigint, {m}) j) s"#
    )
}
