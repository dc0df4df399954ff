//! `inbox_conversations`: the writers (new conversations, updates under
//! their expected versions) and the lookups by key.

use sqlx::{PgConnection, PgExecutor, PgPool, QueryBuilder, Row};
use std::collections::BTreeMap;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::{AgentId, ContactId, ConversationId, TenantId};
use inbox_core::model::Conversation;
use inbox_core::ports::LoadScope;
use inbox_core::search::tag_words;

use crate::error::{db, unique_violation};
use crate::facts::{text_array_literal, tsvector_literal, ConversationFacts};
use crate::sql::{cast, json_texts, micros, priority_rank, scalar, Arrays, ByKey, Docs, Statement};

/// The columns of the table a writer fills, in the order of the `UNNEST`
/// arguments ([`columns`]) and of their names in the statements.
const NAMES: &str =
    "t, id, ch, k, st, a, tm, pr, tg, la, cr, wt, v, d, fr, rs, frb, rsb, ro, sp, sk, ss, sw, sd, tw";

/// Inserts `rows` (CTE `cn`, counted).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, rows: &[&'a Conversation]) -> Result<()> {
    let data = json_texts("conversation", rows.iter().copied())?;
    st.counted("cn", rows.len(), |q| {
        q.push(
            "INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, assignee, team_id, \
             priority_rank, tags, last_activity_us, created_us, waiting_us, version, data, \
             first_response_secs, resolution_secs, first_response_business_secs, resolution_business_secs, reopen_count, \
             sla_policy, sla_kinds, sla_states, sla_warn_us, sla_due_us, tags_tsv) \
             SELECT t, id, ch, k, st, a, tm, pr, tg::text[], la, cr, wt, v, d, fr, rs, frb, rsb, ro, sp, \
             sk::text[], ss::text[], sw::bigint[], sd::bigint[], tw FROM UNNEST(",
        );
        columns(q, rows, data);
        q.push(") AS u(").push(NAMES).push(")");
    });
    Ok(())
}

/// Updates `rows`, each `(conversation, expected version)`, only where the
/// stored version is the expected one and the channel and contact are the
/// same (CTE `cu`, counted).
pub(crate) fn update<'a>(st: &mut Statement<'a>, rows: &[(&'a Conversation, i64)]) -> Result<()> {
    let values: Vec<&Conversation> = rows.iter().map(|(c, _)| *c).collect();
    let data = json_texts("conversation", values.iter().copied())?;
    st.counted("cu", rows.len(), |q| {
        q.push(
            "UPDATE inbox_conversations c SET status = u.st, assignee = u.a, team_id = u.tm, priority_rank = u.pr, \
             tags = u.tg::text[], \
             last_activity_us = u.la, created_us = u.cr, waiting_us = u.wt, version = u.v, data = u.d, \
             first_response_secs = u.fr, resolution_secs = u.rs, first_response_business_secs = u.frb, \
             resolution_business_secs = u.rsb, reopen_count = u.ro, sla_policy = u.sp, sla_kinds = u.sk::text[], \
             sla_states = u.ss::text[], sla_warn_us = u.sw::bigint[], sla_due_us = u.sd::bigint[], \
             tags_tsv = u.tw FROM UNNEST(",
        );
        columns(q, &values, data);
        q.push(", ");
        q.push_bind(rows.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        q.push("::bigint[]) AS u(").push(NAMES).push(
            ", expected) \
             WHERE c.tenant_id = u.t AND c.conversation_id = u.id AND c.channel_id = u.ch AND c.contact_id = u.k \
             AND c.version = u.expected",
        );
    });
    Ok(())
}

/// Pushes the columns of `cs` as bound arrays, in the order of [`NAMES`]
/// (`data`: their documents, serialised).
fn columns<'a>(
    q: &mut QueryBuilder<'a, sqlx::Postgres>,
    cs: &[&'a Conversation],
    data: Vec<String>,
) {
    let f: Vec<ConversationFacts<'a>> = cs.iter().map(|c| ConversationFacts::of(c)).collect();
    Arrays::on(q)
        .col(cast::TEXT, cs, |c| c.tenant.as_str())
        .col(cast::TEXT, cs, |c| c.id.as_str())
        .col(cast::TEXT, cs, |c| c.channel.as_str())
        .col(cast::TEXT, cs, |c| c.contact.as_str())
        .col(cast::TEXT, cs, |c| c.status.as_str())
        .col(cast::TEXT, cs, |c| c.assignee.as_ref().map(|a| a.as_str()))
        .col(cast::TEXT, cs, |c| c.team.as_ref().map(|t| t.as_str()))
        .col(cast::SMALLINT, cs, |c| priority_rank(c.priority))
        // Each conversation's tags as one array literal (`{"a","b"}`): an
        // array of arrays of different lengths cannot be bound.
        .col(cast::TEXT, cs, |c| text_array_literal(&c.tags))
        .col(cast::BIGINT, cs, |c| micros(c.last_activity_at))
        .col(cast::BIGINT, cs, |c| micros(c.created_at))
        .col(cast::BIGINT, cs, |c| c.waiting_since.map(micros))
        .col(cast::BIGINT, cs, |c| c.version as i64)
        .bind(cast::JSON, data)
        .col(cast::BIGINT, &f, |f| f.first_response_secs)
        .col(cast::BIGINT, &f, |f| f.resolution_secs)
        .col(cast::BIGINT, &f, |f| f.first_response_business_secs)
        .col(cast::BIGINT, &f, |f| f.resolution_business_secs)
        .col(cast::BIGINT, &f, |f| f.reopen_count)
        .col(cast::TEXT, &f, |f| f.sla_policy)
        // The SLA arrays as literals, cast per row by the statement.
        .col(cast::TEXT, &f, |f| f.sla_kinds.clone())
        .col(cast::TEXT, &f, |f| f.sla_states.clone())
        .col(cast::TEXT, &f, |f| f.sla_warn_us.clone())
        .col(cast::TEXT, &f, |f| f.sla_due_us.clone())
        // The words search compares with the tags (`inbox_core::search`).
        .col(cast::TSVECTOR, cs, |c| tsvector_literal(&tag_words(c)));
}

/// Moves every conversation of the contact `from` to the contact `into`
/// (a merge), each at its next version. One active conversation per
/// contact and number: a collision is a duplicate active conversation.
pub(crate) async fn move_to_contact(
    tx: &mut PgConnection,
    tenant: &TenantId,
    from: &ContactId,
    into: &ContactId,
) -> Result<()> {
    sqlx::query(
        "UPDATE inbox_conversations SET contact_id = $3, version = version + 1, \
         data = jsonb_set(jsonb_set(data::jsonb, '{contact}', to_jsonb($3::text)), '{version}', to_jsonb(version + 1))::json \
         WHERE tenant_id = $1 AND contact_id = $2",
    )
    .bind(tenant.as_str())
    .bind(from.as_str())
    .bind(into.as_str())
    .execute(&mut *tx)
    .await
    .map_err(|e| match unique_violation(&e) {
        Some(_) => Error::Duplicate {
            what: Unique::ActiveConversation,
            existing: into.to_string(),
        },
        None => db("merge: conversations", e),
    })?;
    Ok(())
}

/// The stored version of a conversation: `(tenant, conversation id)` (to
/// explain an update that wrote nothing, [`crate::sql::version`]).
pub(crate) const VERSION: &str =
    "SELECT version FROM inbox_conversations WHERE tenant_id = $1 AND conversation_id = $2";

/// Whether the conversation exists.
pub(crate) async fn exists(
    conn: impl PgExecutor<'_>,
    tenant: &TenantId,
    id: &ConversationId,
) -> std::result::Result<bool, sqlx::Error> {
    let sql = "SELECT 1 FROM inbox_conversations WHERE tenant_id = $1 AND conversation_id = $2";
    let found: Option<i32> = scalar(conn, sql, &[tenant.as_str(), id.as_str()]).await?;
    Ok(found.is_some())
}

/// `inbox_conversations`.
const CONVERSATIONS: Docs = Docs::new(Entity::Conversation, "inbox_conversations");

/// A conversation: `(tenant, conversation id)`.
pub(crate) const BY_ID: ByKey<Conversation> =
    CONVERSATIONS.by("conversation", "tenant_id = $1 AND conversation_id = $2");

/// The contact's conversation on a channel, the active one, else the
/// latest: `(tenant, channel id, contact id)`.
pub(crate) const LATEST: ByKey<Conversation> = CONVERSATIONS.by("latest conversation", "tenant_id = $1 AND channel_id = $2 AND contact_id = $3 AND conversation_id NOT LIKE 'imported:%' ORDER BY (status <> 'resolved') DESC, row_seq DESC LIMIT 1");

/// The owner of the contact's most recently active conversation that has
/// one.
pub(crate) async fn last_assignee(
    pool: &PgPool,
    tenant: &TenantId,
    contact: &ContactId,
) -> Result<Option<AgentId>> {
    let sql = "SELECT assignee FROM inbox_conversations WHERE tenant_id = $1 AND contact_id = $2 \
               AND assignee IS NOT NULL ORDER BY last_activity_us DESC, conversation_id DESC LIMIT 1";
    let found: Option<String> = scalar(pool, sql, &[tenant.as_str(), contact.as_str()])
        .await
        .map_err(|e| db("last assignee", e))?;
    found.map(AgentId::new).transpose()
}

/// How many active conversations each agent in `scope` who owns any
/// owns: one query over the counts the conversation writes keep
/// (`inbox_live_counts`, migration 30), not over the conversations.
pub(crate) async fn loads(
    pool: &PgPool,
    tenant: &TenantId,
    scope: &LoadScope,
) -> Result<BTreeMap<AgentId, u32>> {
    let query = match scope {
        LoadScope::Tenant => sqlx::query(
            "SELECT assignee, sum(open + pending + snoozed)::int8 FROM inbox_live_counts \
             WHERE tenant_id = $1 AND assignee <> '' GROUP BY assignee \
             HAVING sum(open + pending + snoozed) > 0",
        )
        .bind(tenant.as_str()),
        LoadScope::Agents(ids) => sqlx::query(
            "SELECT assignee, sum(open + pending + snoozed)::int8 FROM inbox_live_counts \
             WHERE tenant_id = $1 AND assignee = ANY($2) GROUP BY assignee \
             HAVING sum(open + pending + snoozed) > 0",
        )
        .bind(tenant.as_str())
        .bind(ids.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
    };
    let rows = query
        .fetch_all(pool)
        .await
        .map_err(|e| db("agent loads", e))?;
    let mut out = BTreeMap::new();
    for r in rows {
        let id: String = r.get(0);
        let n: i64 = r.get(1);
        out.insert(AgentId::new(id)?, n as u32);
    }
    Ok(out)
}
