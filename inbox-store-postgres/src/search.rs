//! Full-text search over a tenant's conversations: the few matches
//! fetched by key, or, for a common word, conversations walked in activity
//! order and probed one by one.

use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use inbox_core::error::Result;
use inbox_core::ids::TenantId;
use inbox_core::model::Conversation;
use inbox_core::query::{Cursor, Page, SearchHit, SearchQuery, SortOrder, ValidSearch};

use crate::error::db;
use crate::sql::{decode, document};
use crate::views::{push_filters, push_keyset};

/// What a search looks for: the `tsquery` of its words (the last a
/// prefix), and the digits to find in a WhatsApp number, if any.
struct Terms {
    tsquery: String,
    digits: Option<String>,
}

impl Terms {
    /// `k.name_tsv` matches, or `k.wa_id` holds the digits (the contact
    /// `k`'s condition, in parentheses).
    fn push_contact_match(&self, q: &mut QueryBuilder<'_, Postgres>) {
        q.push("(k.name_tsv @@ to_tsquery('simple', ")
            .push_bind(self.tsquery.clone())
            .push(")");
        if let Some(d) = &self.digits {
            q.push(" OR k.wa_id LIKE ").push_bind(format!("%{d}%"));
        }
        q.push(")");
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
    let ValidSearch {
        tokens,
        digits,
        after,
    } = query.validate()?;
    // Words are letters and digits only: nothing here is a tsquery or
    // LIKE operator.
    let last = tokens.len() - 1;
    let tsquery = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i == last {
                format!("{t}:*")
            } else {
                t.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" & ");
    let terms = Terms { tsquery, digits };
    // A common word is searched by walking conversations; otherwise the
    // matching conversations are collected by index (up to a bound).
    let hits = match matching(pool, tenant, &tokens, &terms, few).await? {
        Some(ids) if ids.len() <= few => Some(ids),
        _ => None,
    };
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT c.data, (SELECT m.data FROM inbox_messages m WHERE m.tenant_id = c.tenant_id \
         AND m.conversation_id = c.conversation_id AND m.tsv @@ to_tsquery('simple', ",
    );
    q.push_bind(terms.tsquery.clone()).push(
        ") ORDER BY m.msg_seq DESC LIMIT 1), EXISTS (SELECT 1 FROM inbox_contacts k WHERE k.tenant_id = c.tenant_id \
         AND k.contact_id = c.contact_id AND ",
    );
    terms.push_contact_match(&mut q);
    q.push(") FROM inbox_conversations c WHERE c.tenant_id = ")
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
        // order and probe each one's messages; the page fills quickly.
        None => {
            q.push(
                " AND (EXISTS (SELECT 1 FROM inbox_messages m WHERE m.tenant_id = c.tenant_id \
                 AND m.conversation_id = c.conversation_id AND m.tsv @@ to_tsquery('simple', ",
            )
            .push_bind(terms.tsquery.clone())
            .push(
                ")) OR EXISTS (SELECT 1 FROM inbox_contacts k WHERE k.tenant_id = c.tenant_id \
                 AND k.contact_id = c.contact_id AND ",
            );
            terms.push_contact_match(&mut q);
            q.push("))");
        }
    }
    push_keyset(&mut q, SortOrder::LatestActivity, after.as_ref());
    q.push("c.conversation_id LIMIT ")
        .push_bind(i64::from(query.limit) + 1);
    let rows = q
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| db("search", e))?;
    let items = rows.iter().map(hit).collect::<Result<Vec<_>>>()?;
    let latest = SortOrder::LatestActivity;
    Ok(Page::first(items, query.limit, |h| {
        Cursor::after(latest, &latest.key(&h.conversation))
    }))
}

/// A hit from a row of (conversation, its latest matching message, whether
/// its contact matched).
fn hit(r: &sqlx::postgres::PgRow) -> Result<SearchHit> {
    let conversation: Conversation = document("conversation", r, 0)?;
    let message: Option<serde_json::Value> = r.get(1);
    Ok(SearchHit {
        conversation,
        message: message.map(|m| decode("message", m)).transpose()?,
        contact_matched: r.get(2),
    })
}

/// The ids of the conversations that match, collected by index, or `None`
/// when they are too many to fetch by key: the planner's estimate of the
/// matching messages says the word is common, or either probe reached its
/// bound (`few` × 5 rows).
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
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM inbox_messages m WHERE m.tenant_id = $1 AND m.tsv @@ to_tsquery('simple', $2)",
    )
    .bind(t)
    // Estimated on whole words: PostgreSQL estimates prefix matches with a
    // flat default, but knows how common each word is.
    .bind(tokens.join(" & "))
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
    in_messages
        .push_bind(t)
        .push(" AND m.tsv @@ to_tsquery('simple', ")
        .push_bind(terms.tsquery.clone())
        .push(") LIMIT ")
        .push_bind(cap as i64);
    let mut in_contacts: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT c2.conversation_id FROM inbox_contacts k JOIN inbox_conversations c2 \
         ON c2.tenant_id = k.tenant_id AND c2.contact_id = k.contact_id WHERE k.tenant_id = ",
    );
    in_contacts.push_bind(t).push(" AND ");
    terms.push_contact_match(&mut in_contacts);
    in_contacts.push(" LIMIT ").push_bind(cap as i64);
    let mut ids = Vec::new();
    for mut probe in [in_messages, in_contacts] {
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
