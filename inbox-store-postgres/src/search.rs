//! Full-text search over a tenant's conversations: the few matches
//! fetched by key, or, for a common word, conversations walked in activity
//! order and probed one by one.
//!
//! Messages, contacts and tagged conversations carry the core's folded
//! words in `tsvector` columns (written by their writers, migration 25),
//! so a query compares the core's folded words (a `tsquery` literal, never
//! parsed text): case and accents never matter, and every store finds the
//! same. What each hit highlights is worked out by the core from the rows
//! found ([`ValidSearch::explain`]).

use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use inbox_core::error::Result;
use inbox_core::ids::TenantId;
use inbox_core::model::{Contact, Conversation, Message};
use inbox_core::query::{Cursor, Page, SearchHit, SearchQuery, SortOrder, ValidSearch};

use crate::error::db;
use crate::facts::tsquery_literal;
use crate::sql::{decode, document};
use crate::views::{push_filters, push_keyset};

/// What a search looks for: the `tsquery` of its folded words (the last a
/// prefix), the digits to find in a WhatsApp number and the user id to
/// find, if any.
struct Terms {
    tsquery: String,
    digits: Option<String>,
    user_id: Option<String>,
}

impl Terms {
    /// The terms of a checked search. Its words are letters and digits
    /// only, and quoted besides: nothing here is a tsquery or LIKE
    /// operator.
    fn of(search: &ValidSearch) -> Self {
        Self {
            tsquery: tsquery_literal(&search.tokens, true),
            digits: search.digits.clone(),
            user_id: search.user_id.clone(),
        }
    }

    /// `m.tsv` matches (the message `m`'s condition).
    fn push_message_match(&self, q: &mut QueryBuilder<'_, Postgres>) {
        q.push("m.tsv @@ ")
            .push_bind(self.tsquery.clone())
            .push("::tsquery");
    }

    /// `k.tsv` matches, `k.wa_id` holds the digits or `k.user_id` is the
    /// text (the contact `k`'s condition, in parentheses).
    fn push_contact_match(&self, q: &mut QueryBuilder<'_, Postgres>) {
        q.push("(k.tsv @@ ")
            .push_bind(self.tsquery.clone())
            .push("::tsquery");
        if let Some(d) = &self.digits {
            q.push(" OR k.wa_id LIKE ").push_bind(format!("%{d}%"));
        }
        if let Some(u) = &self.user_id {
            q.push(" OR k.user_id = ").push_bind(u.clone());
            q.push(" OR k.parent_user_id = ").push_bind(u.clone());
        }
        q.push(")");
    }

    /// The tags of the conversation `alias` match (in parentheses;
    /// `cardinality(tags) > 0` lets the planner use the partial index of
    /// tagged conversations, migration 25).
    fn push_tags_match(&self, q: &mut QueryBuilder<'_, Postgres>, alias: &str) {
        q.push(format!(
            "(cardinality({alias}.tags) > 0 AND {alias}.tags_tsv @@ "
        ))
        .push_bind(self.tsquery.clone())
        .push("::tsquery)");
    }
}

/// [`Reports::search`](inbox_core::ports::Reports::search); `few`: how many
/// matching conversations are still fetched by key (see
/// `PgStore::with_search_probe_limit`).
pub(crate) async fn search(
    pool: &PgPool,
    few: usize,
    tenant: &TenantId,
    query: &SearchQuery,
) -> Result<Page<SearchHit>> {
    let search = query.validate()?;
    let terms = Terms::of(&search);
    // A common word is searched by walking conversations; otherwise the
    // matching conversations are collected by index (up to a bound).
    let hits = match matching(pool, tenant, &search.tokens, &terms, few).await? {
        Some(ids) if ids.len() <= few => Some(ids),
        _ => None,
    };
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT c.data, (SELECT m.data FROM inbox_messages m WHERE m.tenant_id = c.tenant_id \
         AND m.conversation_id = c.conversation_id AND ",
    );
    terms.push_message_match(&mut q);
    q.push(
        " ORDER BY m.msg_seq DESC LIMIT 1), (SELECT k.data FROM inbox_contacts k \
         WHERE k.tenant_id = c.tenant_id AND k.contact_id = c.contact_id) \
         FROM inbox_conversations c WHERE c.tenant_id = ",
    )
    .push_bind(tenant.as_str());
    push_filters(&mut q, &query.filter);
    match hits {
        // Few matches: fetch exactly those conversations by key.
        Some(ids) => {
            q.push(" AND c.conversation_id = ANY(")
                .push_bind(ids)
                .push(")");
        }
        // Very many (a common word): walk the conversations in activity
        // order and probe each one's messages, contact and tags; the page
        // fills quickly.
        None => {
            q.push(
                " AND (EXISTS (SELECT 1 FROM inbox_messages m WHERE m.tenant_id = c.tenant_id \
                 AND m.conversation_id = c.conversation_id AND ",
            );
            terms.push_message_match(&mut q);
            q.push(
                ") OR EXISTS (SELECT 1 FROM inbox_contacts k WHERE k.tenant_id = c.tenant_id \
                 AND k.contact_id = c.contact_id AND ",
            );
            terms.push_contact_match(&mut q);
            q.push(") OR ");
            terms.push_tags_match(&mut q, "c");
            q.push(")");
        }
    }
    push_keyset(&mut q, SortOrder::LatestActivity, search.after.as_ref());
    q.push("c.conversation_id LIMIT ")
        .push_bind(i64::from(query.limit) + 1);
    let rows = q
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| db("search", e))?;
    let items = rows
        .iter()
        .map(|r| hit(&search, r))
        .collect::<Result<Vec<_>>>()?;
    let latest = SortOrder::LatestActivity;
    Ok(Page::first(items, query.limit, |h| {
        Cursor::after(latest, &latest.key(&h.conversation))
    }))
}

/// A hit from a row of (conversation, its latest matching message, its
/// contact): what matched, by the core's reference
/// ([`ValidSearch::explain`]), from the same words the indexes hold.
fn hit(search: &ValidSearch, r: &sqlx::postgres::PgRow) -> Result<SearchHit> {
    let conversation: Conversation = document("conversation", r, 0)?;
    let message: Option<serde_json::Value> = r.get(1);
    let message: Option<Message> = message.map(|m| decode("message", m)).transpose()?;
    let contact: Option<serde_json::Value> = r.get(2);
    let contact: Option<Contact> = contact.map(|k| decode("contact", k)).transpose()?;
    Ok(search.explain(&conversation, contact.as_ref(), message.as_ref()))
}

/// The ids of the conversations that match, collected by index, or `None`
/// when they are too many to fetch by key: the planner's estimate of the
/// matching messages says the word is common, or either probe reached its
/// bound (`few` × 5 rows). Probes messages, contacts and tags, each by its
/// index.
async fn matching(
    pool: &PgPool,
    tenant: &TenantId,
    tokens: &[String],
    terms: &Terms,
    few: usize,
) -> Result<Option<Vec<String>>> {
    let t = tenant.as_str();
    // How many messages match, as the planner estimates it (cheap).
    let estimate: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM inbox_messages m WHERE m.tenant_id = $1 AND m.tsv @@ $2::tsquery",
    )
    .bind(t)
    // Estimated on whole words: PostgreSQL estimates prefix matches with a
    // flat default, but knows how common each word is.
    .bind(tsquery_literal(tokens, false))
    .fetch_one(pool)
    .await
    .map_err(|e| db("search estimate", e))?;
    let estimated = estimate[0]["Plan"]["Plan Rows"]
        .as_f64()
        .unwrap_or(f64::MAX);
    // A word the statistics do not know gets PostgreSQL's flat default
    // estimate (0.5% of the rows), so only a clearly common word skips
    // the probe. The probe itself is bounded: each branch stops at `cap`
    // rows, so a mis-estimated common word costs a bounded read, never a
    // sort of millions.
    let cap = few.saturating_mul(5).max(1);
    if estimated > (few as f64) * 50.0 {
        return Ok(None);
    }
    let mut in_messages: QueryBuilder<'_, Postgres> =
        QueryBuilder::new("SELECT m.conversation_id FROM inbox_messages m WHERE m.tenant_id = ");
    in_messages.push_bind(t).push(" AND ");
    terms.push_message_match(&mut in_messages);
    in_messages.push(" LIMIT ").push_bind(cap as i64);
    let mut in_contacts: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT c2.conversation_id FROM inbox_contacts k JOIN inbox_conversations c2 \
         ON c2.tenant_id = k.tenant_id AND c2.contact_id = k.contact_id WHERE k.tenant_id = ",
    );
    in_contacts.push_bind(t).push(" AND ");
    terms.push_contact_match(&mut in_contacts);
    in_contacts.push(" LIMIT ").push_bind(cap as i64);
    let mut in_tags: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT c2.conversation_id FROM inbox_conversations c2 WHERE c2.tenant_id = ",
    );
    in_tags.push_bind(t).push(" AND ");
    terms.push_tags_match(&mut in_tags, "c2");
    in_tags.push(" LIMIT ").push_bind(cap as i64);
    let mut ids = Vec::new();
    for mut probe in [in_messages, in_contacts, in_tags] {
        let found: Vec<String> = probe
            .build_query_scalar()
            .fetch_all(pool)
            .await
            .map_err(|e| db("search", e))?;
        if found.len() >= cap {
            return Ok(None);
        }
        ids.extend(found);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(Some(ids))
}
