//! The lookups every webhook makes before it can be planned, as multi-key
//! queries (`UNNEST … WITH ORDINALITY`): a single lookup is the query with
//! one key, and the batched readers ([`crate::reads`]) send the keys that
//! arrive while another query runs together.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use inbox_core::error::Result;
use inbox_core::ids::{ChannelId, MessageId, TenantId};
use inbox_core::model::{ContactIdentity, Message};
use inbox_core::ports::IngestContext;

use crate::error::db;
use crate::sql::{cast, column, Arrays};

/// The SQL of a scalar subquery selecting `$col` of the message a status
/// report concerns ([`PgStore::message_for_status`](crate::PgStore::message_for_status)): the outbound message
/// with our id `u.ours` on channel `u.ch` of tenant `u.t`, else the one
/// with the provider's id `u.ext` there.
macro_rules! status_target {
    ($col:literal) => {
        concat!(
            "SELECT x.",
            $col,
            " FROM ( \
                SELECT ",
            $col,
            ", 0 AS pref FROM inbox_messages \
                 WHERE tenant_id = u.t AND message_id = u.ours AND channel_id = u.ch \
                   AND direction = 'outbound' \
                UNION ALL \
                SELECT ",
            $col,
            ", 1 AS pref FROM inbox_messages \
                 WHERE tenant_id = u.t AND channel_id = u.ch AND external_id = u.ext) x \
             ORDER BY pref LIMIT 1"
        )
    };
}
pub(crate) use status_target;

/// Where a lookup looks: the tenant, the number and the provider's
/// message id.
pub(crate) struct Scope {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub external_id: String,
}

impl Scope {
    /// The scope of `external_id` on `channel` of `tenant`.
    pub(crate) fn of(tenant: &TenantId, channel: &ChannelId, external_id: &str) -> Self {
        Self {
            tenant: tenant.clone(),
            channel: channel.clone(),
            external_id: external_id.to_string(),
        }
    }
}

/// One webhook message's lookup: the message's scope and its sender.
pub(crate) struct ContextKey {
    pub at: Scope,
    pub identity: ContactIdentity,
}

/// One status's lookup: the scope of the provider's id and our message's
/// id, if the report carries it.
pub(crate) struct StatusKey {
    pub at: Scope,
    pub our_id: Option<MessageId>,
}

/// The rows of a multi-key query of `n` keys, in key order (`ord`,
/// 1-based, is column 0; a key without a row has `None`).
async fn in_order(
    conn: &mut PgConnection,
    mut q: QueryBuilder<'_, Postgres>,
    n: usize,
    context: &'static str,
) -> Result<Vec<Option<PgRow>>> {
    let rows = q
        .build()
        .fetch_all(conn)
        .await
        .map_err(|e| db(context, e))?;
    let mut out: Vec<Option<PgRow>> = (0..n).map(|_| None).collect();
    for row in rows {
        let ord: i64 = row.get(0);
        if let Some(slot) = usize::try_from(ord - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = Some(row);
        }
    }
    Ok(out)
}

/// [`Conversations::ingest_context`](inbox_core::ports::Conversations::ingest_context) of
/// each key, in order.
pub(crate) async fn contexts(
    conn: &mut PgConnection,
    keys: &[ContextKey],
) -> Result<Vec<Result<IngestContext>>> {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT u.ord, \
            (SELECT m.data FROM inbox_messages m \
              WHERE m.tenant_id = u.t AND m.channel_id = u.ch AND m.external_id = u.ext), \
            k.data, \
            (SELECT c.data FROM inbox_conversations c \
              WHERE c.tenant_id = u.t AND c.channel_id = u.ch AND c.contact_id = k.contact_id \
                AND c.conversation_id NOT LIKE 'imported:%' \
              ORDER BY (c.status <> 'resolved') DESC, c.row_seq DESC LIMIT 1) \
         FROM UNNEST(",
    );
    Arrays::on(&mut q)
        .col(cast::TEXT, keys, |k| k.at.tenant.as_str())
        .col(cast::TEXT, keys, |k| k.at.channel.as_str())
        .col(cast::TEXT, keys, |k| k.identity.wa_id.as_deref())
        .col(cast::TEXT, keys, |k| k.identity.user_id.as_deref())
        .col(cast::TEXT, keys, |k| k.identity.parent_user_id.as_deref())
        .col(cast::TEXT, keys, |k| k.at.external_id.as_str());
    q.push(
        ") WITH ORDINALITY AS u(t, ch, wa, uid, puid, ext, ord) \
         LEFT JOIN LATERAL ( \
            SELECT contact_id, data FROM ( \
                SELECT contact_id, data, 0 AS pref FROM inbox_contacts WHERE tenant_id = u.t AND wa_id = u.wa \
                UNION ALL \
                SELECT contact_id, data, 1 AS pref FROM inbox_contacts WHERE tenant_id = u.t AND user_id = u.uid \
                UNION ALL \
                (SELECT contact_id, data, 2 AS pref FROM inbox_contacts \
                  WHERE tenant_id = u.t AND parent_user_id = u.puid ORDER BY contact_id LIMIT 1)) x \
            ORDER BY pref LIMIT 1) k ON true",
    );
    let rows = in_order(conn, q, keys.len(), "ingest context").await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let Some(row) = row else {
                return Ok(IngestContext::default());
            };
            Ok(IngestContext {
                existing: column(&row, 1, "message")?,
                contact: column(&row, 2, "contact")?,
                latest: column(&row, 3, "conversation")?,
            })
        })
        .collect())
}

/// [`PgStore::message_for_status`](crate::PgStore::message_for_status)
/// of each key, in order.
pub(crate) async fn statuses(
    conn: &mut PgConnection,
    keys: &[StatusKey],
) -> Result<Vec<Result<Option<Message>>>> {
    let mut q = sqlx::QueryBuilder::new(concat!(
        "SELECT u.ord, (",
        status_target!("data"),
        ") FROM UNNEST("
    ));
    Arrays::on(&mut q)
        .col(cast::TEXT, keys, |k| k.at.tenant.as_str())
        .col(cast::TEXT, keys, |k| k.at.channel.as_str())
        .col(cast::TEXT, keys, |k| k.our_id.as_ref().map(|m| m.as_str()))
        .col(cast::TEXT, keys, |k| k.at.external_id.as_str());
    q.push(") WITH ORDINALITY AS u(t, ch, ours, ext, ord)");
    let rows = in_order(conn, q, keys.len(), "message for status").await?;
    Ok(rows
        .into_iter()
        .map(|row| match row {
            Some(row) => column(&row, 1, "message"),
            None => Ok(None),
        })
        .collect())
}

/// [`contexts`] of one key, on a connection of `pool`.
pub(crate) async fn context(pool: &PgPool, key: ContextKey) -> Result<IngestContext> {
    let mut conn = pool.acquire().await.map_err(|e| db("ingest context", e))?;
    let answer = contexts(&mut conn, &[key]).await?.into_iter().next();
    answer.unwrap_or_else(|| Ok(IngestContext::default()))
}

/// [`statuses`] of one key, on a connection of `pool`.
pub(crate) async fn status(pool: &PgPool, key: StatusKey) -> Result<Option<Message>> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db("message for status", e))?;
    let answer = statuses(&mut conn, &[key]).await?.into_iter().next();
    answer.unwrap_or(Ok(None))
}
