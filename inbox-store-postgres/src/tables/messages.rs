//! `inbox_messages`: the writers (new messages, mutated ones) and the
//! lookups by key.

use sqlx::{PgConnection, Row};

use inbox_core::error::{Entity, Result};
use inbox_core::ids::{MessageId, TenantId};
use inbox_core::model::Message;
use inbox_core::search::message_words;

use crate::error::db;
use crate::facts::{tsvector_literal, MessageFacts};
use crate::sql::{cast, document, json_texts, Arrays, ByKey, Docs, Statement};

/// Inserts `rows` (CTE `m`, counted).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, rows: &[&'a Message]) -> Result<()> {
    let data = json_texts("message", rows.iter().copied())?;
    let tsv: Vec<String> = rows
        .iter()
        .map(|m| tsvector_literal(&message_words(m)))
        .collect();
    st.counted("m", rows.len(), |q| {
        q.push(
            "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, idempotency_key, data, body, tsv, \
             author_agent, direction, next_response_secs, next_response_business_secs, sent_us, pricing) SELECT * FROM UNNEST(",
        );
        let a = Arrays::on(q)
            .col(cast::TEXT, rows, |m| m.tenant.as_str())
            .col(cast::TEXT, rows, |m| m.id.as_str())
            .col(cast::TEXT, rows, |m| m.conversation.as_str())
            .col(cast::TEXT, rows, |m| m.channel.as_str())
            .col(cast::TEXT, rows, |m| m.external_id.as_deref())
            .col(cast::TEXT, rows, |m| m.idempotency_key.as_deref())
            .bind(cast::JSON, data)
            .col(cast::TEXT, rows, |m| m.content.text_body())
            .bind(cast::TSVECTOR, tsv);
        facts(a, rows.iter().copied());
        q.push(")");
    });
    Ok(())
}

/// Writes `rows`, messages changed by mutations (CTE `mu`, counted), each
/// only if its row is still the version (`xmin`, as text) at the same
/// position of `versions`. Their provider ids may collide with another
/// message's: the statement then fails.
pub(crate) fn update<'a>(
    st: &mut Statement<'a>,
    rows: &'a [Message],
    versions: &'a [String],
) -> Result<()> {
    let data = json_texts("message", rows.iter())?;
    st.counted("mu", rows.len(), |q| {
        q.push(
            "UPDATE inbox_messages m SET external_id = u.ext, data = u.d, author_agent = u.aa, direction = u.dir, \
             next_response_secs = u.nr, next_response_business_secs = u.nrb, sent_us = u.su, pricing = u.pr FROM UNNEST(",
        );
        let a = Arrays::on(q)
            .col(cast::TEXT, rows, |m| m.tenant.as_str())
            .col(cast::TEXT, rows, |m| m.id.as_str())
            .col(cast::TEXT, rows, |m| m.external_id.as_deref())
            .bind(cast::JSON, data)
            .bind(cast::TEXT, versions);
        facts(a, rows.iter());
        q.push(
            ") AS u(t, id, ext, d, x, aa, dir, nr, nrb, su, pr) \
             WHERE m.tenant_id = u.t AND m.message_id = u.id AND m.xmin = u.x::xid",
        );
    });
    Ok(())
}

/// The messages' derived columns ([`crate::facts`]) as bound arrays: author
/// agent, direction, next response and its business seconds, sent time
/// and pricing.
fn facts<'a>(a: Arrays<'_, 'a>, messages: impl Iterator<Item = &'a Message>) {
    let f: Vec<MessageFacts<'a>> = messages.map(MessageFacts::of).collect();
    a.col(cast::TEXT, &f, |f| f.author_agent)
        .col(cast::TEXT, &f, |f| f.direction)
        .col(cast::BIGINT, &f, |f| f.next_response_secs)
        .col(cast::BIGINT, &f, |f| f.next_response_business_secs)
        .col(cast::BIGINT, &f, |f| f.sent_us)
        .col(cast::JSONB_TEXT, &f, |f| f.pricing.clone());
}

/// A message and its row version (`xmin`, as text), locked until the end
/// of the transaction.
pub(crate) async fn locked(
    tx: &mut PgConnection,
    tenant: &TenantId,
    id: &MessageId,
) -> Result<Option<(Message, String)>> {
    let row = sqlx::query(
        "SELECT data, xmin::text FROM inbox_messages WHERE tenant_id = $1 AND message_id = $2 FOR UPDATE",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| db("update message", e))?;
    match row {
        Some(r) => Ok(Some((document("message", &r, 0)?, r.get(1)))),
        None => Ok(None),
    }
}

/// `inbox_messages`.
const MESSAGES: Docs = Docs::new(Entity::Message, "inbox_messages");

/// A message: `(tenant, message id)`.
pub(crate) const BY_ID: ByKey<Message> =
    MESSAGES.by("message", "tenant_id = $1 AND message_id = $2");

/// A conversation's messages, in the order they were stored: `(tenant,
/// conversation id)`.
pub(crate) const OF_CONVERSATION: ByKey<Message> = MESSAGES.by(
    "messages",
    "tenant_id = $1 AND conversation_id = $2 ORDER BY msg_seq",
);

/// The message with the provider's id on a channel: `(tenant, channel id,
/// external id)`.
pub(crate) const BY_EXTERNAL_ID: ByKey<Message> = MESSAGES.by(
    "message by external id",
    "tenant_id = $1 AND channel_id = $2 AND external_id = $3",
);

/// The message stored with an idempotency key: `(tenant, key)`.
pub(crate) const BY_IDEMPOTENCY_KEY: ByKey<Message> =
    MESSAGES.by("message", "tenant_id = $1 AND idempotency_key = $2");
