//! The inbox views: a page of conversations in one of the sort orders,
//! filtered, read by keyset (one index per sort order), and the query
//! builders that search shares.

use sqlx::{PgPool, Postgres, QueryBuilder};

use inbox_core::error::Result;
use inbox_core::ids::TenantId;
use inbox_core::model::Conversation;
use inbox_core::query::{
    AssigneeFilter, ConversationFilter, ConversationQuery, Cursor, Page, SortKey, SortOrder,
    VisibleTo,
};

use crate::error::db;
use crate::sql::{document, priority_rank};

/// [`Conversations::list_conversations`](inbox_core::ports::Conversations::list_conversations).
pub(crate) async fn list(
    pool: &PgPool,
    tenant: &TenantId,
    query: &ConversationQuery,
) -> Result<Page<Conversation>> {
    let after = query.validate()?;
    let limit = i64::from(query.limit) + 1;
    let q = match (&query.filter.visible_to, &query.filter.assignee) {
        // An agent's visibility (own, unrouted, their teams) is an OR no
        // index can serve in order; each branch can, so the page is the
        // merge of per-branch pages.
        (Some(v), AssigneeFilter::Any | AssigneeFilter::Unassigned) if v.teams.len() <= 32 => {
            merged(tenant, query, v, after.as_ref(), limit)
        }
        _ => {
            let mut q =
                QueryBuilder::new("SELECT c.data FROM inbox_conversations c WHERE c.tenant_id = ");
            q.push_bind(tenant.to_string());
            push_filters(&mut q, &query.filter);
            push_keyset(&mut q, query.sort, after.as_ref());
            q.push("c.conversation_id LIMIT ").push_bind(limit);
            q
        }
    };
    let mut q = q;
    let rows = q
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| db("list conversations", e))?;
    let items = rows
        .iter()
        .map(|r| document("conversation", r, 0))
        .collect::<Result<Vec<Conversation>>>()?;
    Ok(Page::first(items, query.limit, |c| {
        Cursor::after(query.sort, &query.sort.key(c))
    }))
}

/// [`Conversations::count_conversations`](inbox_core::ports::Conversations::count_conversations):
/// counts at most `cap` rows (the inner `LIMIT` stops the scan there).
pub(crate) async fn count(
    pool: &PgPool,
    tenant: &TenantId,
    filter: &ConversationFilter,
    cap: u32,
) -> Result<u64> {
    let mut q = QueryBuilder::new(
        "SELECT count(*) FROM (SELECT 1 FROM inbox_conversations c WHERE c.tenant_id = ",
    );
    q.push_bind(tenant.to_string());
    push_filters(&mut q, filter);
    q.push(" LIMIT ").push_bind(i64::from(cap)).push(") capped");
    let count: i64 = q
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(|e| db("count conversations", e))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The page of an agent's visible conversations as the merge, in the sort
/// order, of one page per branch of the visibility: their own, the
/// unrouted ones, each of their teams'.
fn merged<'a>(
    tenant: &TenantId,
    query: &'a ConversationQuery,
    v: &VisibleTo,
    after: Option<&'a SortKey>,
    limit: i64,
) -> QueryBuilder<'a, Postgres> {
    let (keys, descending) = sort_keys(query.sort);
    let mut narrowed = query.filter.clone();
    narrowed.visible_to = None;
    let mut q = QueryBuilder::new("SELECT u.data FROM (");
    let mut first = true;
    let mut branch = |q: &mut QueryBuilder<'a, Postgres>,
                      cond: &dyn Fn(&mut QueryBuilder<'a, Postgres>)| {
        if !first {
            q.push(" UNION ALL ");
        }
        first = false;
        q.push("(SELECT c.data");
        for (i, key) in keys.iter().enumerate() {
            q.push(format!(", {key} AS k{i}"));
        }
        q.push(", c.conversation_id AS id FROM inbox_conversations c WHERE c.tenant_id = ")
            .push_bind(tenant.to_string());
        push_filters(q, &narrowed);
        cond(q);
        push_keyset(q, query.sort, after);
        q.push("c.conversation_id LIMIT ")
            .push_bind(limit)
            .push(")");
    };
    let agent = v.agent.to_string();
    if query.filter.assignee == AssigneeFilter::Any {
        branch(&mut q, &|q| {
            q.push(" AND c.assignee = ").push_bind(agent.clone());
        });
    }
    branch(&mut q, &|q| {
        q.push(" AND c.team_id IS NULL AND c.assignee IS DISTINCT FROM ")
            .push_bind(agent.clone());
    });
    for t in &v.teams {
        branch(&mut q, &|q| {
            q.push(" AND c.team_id = ")
                .push_bind(t.to_string())
                .push(" AND c.assignee IS DISTINCT FROM ")
                .push_bind(agent.clone());
        });
    }
    q.push(") u ORDER BY ");
    for i in 0..keys.len() {
        q.push(format!("k{i}{}, ", if descending { " DESC" } else { "" }));
    }
    q.push("u.id LIMIT ").push_bind(limit);
    q
}

/// The filter's conditions (`AND …`) on the conversations `c`.
pub(crate) fn push_filters(q: &mut QueryBuilder<'_, Postgres>, f: &ConversationFilter) {
    if !f.statuses.is_empty() {
        let s: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_string()).collect();
        q.push(" AND c.status = ANY(").push_bind(s).push(")");
    }
    match &f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => {
            q.push(" AND c.assignee IS NULL");
        }
        AssigneeFilter::Agent(a) => {
            q.push(" AND c.assignee = ").push_bind(a.to_string());
        }
    }
    if let Some(t) = &f.team {
        q.push(" AND c.team_id = ").push_bind(t.to_string());
    }
    if let Some(ch) = &f.channel {
        q.push(" AND c.channel_id = ").push_bind(ch.to_string());
    }
    if let Some(k) = &f.contact {
        q.push(" AND c.contact_id = ").push_bind(k.to_string());
    }
    if let Some(tag) = &f.tag {
        // `cardinality(c.tags) > 0` (implied) lets the planner use the partial
        // index of tagged conversations (migration 14).
        q.push(" AND cardinality(c.tags) > 0 AND c.tags @> ARRAY[")
            .push_bind(tag.clone())
            .push("]::text[]");
    }
    if let Some(p) = f.min_priority {
        q.push(" AND c.priority_rank >= ")
            .push_bind(priority_rank(p));
    }
    if let Some(v) = &f.visible_to {
        let teams: Vec<String> = v.teams.iter().map(|t| t.to_string()).collect();
        q.push(" AND (c.assignee = ")
            .push_bind(v.agent.to_string())
            .push(" OR c.team_id IS NULL OR c.team_id = ANY(")
            .push_bind(teams)
            .push("))");
    }
}

/// Keyset condition and ORDER BY for `order` (the caller appends the id
/// column and the limit).
pub(crate) fn push_keyset(
    q: &mut QueryBuilder<'_, Postgres>,
    order: SortOrder,
    after: Option<&SortKey>,
) {
    let (keys, descending) = sort_keys(order);
    match (after, descending) {
        (Some(k), false) => {
            q.push(" AND (");
            for key in keys {
                q.push(*key).push(", ");
            }
            q.push("c.conversation_id) > (");
            q.push_bind(k.a);
            if keys.len() > 1 {
                q.push(", ").push_bind(k.b);
            }
            q.push(", ").push_bind(k.id.clone()).push(" COLLATE \"C\")");
        }
        // Oldest first: after (a, id) in ascending activity is, on the
        // negated activity the index holds, (-a) or less, and at (-a)
        // itself a greater id. The bound on the key is an index condition
        // (where the backward scan starts); the rest filters the ties.
        (Some(k), true) => {
            let key = keys.first().copied().unwrap_or("(-c.last_activity_us)");
            let bound = k.a.saturating_neg();
            q.push(" AND ").push(key).push(" <= ").push_bind(bound);
            q.push(" AND (").push(key).push(" < ").push_bind(bound);
            q.push(" OR c.conversation_id > ")
                .push_bind(k.id.clone())
                .push(" COLLATE \"C\")");
        }
        (None, _) => {}
    }
    q.push(" ORDER BY ");
    for key in keys {
        q.push(*key).push(if descending { " DESC, " } else { ", " });
    }
}

/// The expressions `order` sorts by before the conversation id (which is
/// always ascending), as the keyset indexes hold them, and whether they
/// run descending. Only oldest first does, with one key: it is the
/// `latest` index, `(tenant_id, (-last_activity_us), conversation_id)`,
/// read backwards (and the per-owner and per-team `…_latest` indexes with
/// those filters), the ties on the activity time put in id order by an
/// incremental sort; so no index of its own has to be written on every
/// customer message.
pub(crate) fn sort_keys(order: SortOrder) -> (&'static [&'static str], bool) {
    match order {
        SortOrder::LatestActivity => (&["(-c.last_activity_us)"], false),
        SortOrder::OldestActivity => (&["(-c.last_activity_us)"], true),
        SortOrder::WaitingLongest => (&["COALESCE(c.waiting_us, 9223372036854775807)"], false),
        SortOrder::Priority => (
            &["(-c.priority_rank)::bigint", "(-c.last_activity_us)"],
            false,
        ),
        SortOrder::Newest => (&["(-c.created_us)"], false),
    }
}
