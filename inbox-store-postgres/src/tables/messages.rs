//! `inbox_messages`: the writers (new messages, mutated ones) and the
//! lookups by key.

use sqlx::{PgConnection, PgPool, Row};

use inbox_core::error::Result;
use inbox_core::ids::{ChannelId, ConversationId, MessageId, TenantId};
use inbox_core::model::Message;

use crate::error::db;
use crate::facts::MessageFactColumns;
use crate::sql::{cast, document, document_of, documents, json_texts, Arrays, Statement};

/// Inserts `rows` (CTE `m`, counted).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, rows: &[&'a Message]) -> Result<()> {
    let data = json_texts("message", rows.iter().copied())?;
    st.counted("m", rows.len(), |q| {
        q.push(
            "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, idempotency_key, data, body, \
             author_agent, direction, next_response_secs, next_response_business_secs) SELECT * FROM UNNEST(",
        );
        let a = Arrays::on(q)
            .bind(cast::TEXT, rows.iter().map(|m| m.tenant.as_str()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.id.as_str()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.conversation.as_str()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.channel.as_str()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.external_id.as_deref()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.idempotency_key.as_deref()).collect::<Vec<_>>())
            .bind(cast::JSON, data)
            .bind(cast::TEXT, rows.iter().map(|m| m.content.text_body()).collect::<Vec<_>>());
        facts(a, MessageFactColumns::of(rows.iter().copied()));
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
             next_response_secs = u.nr, next_response_business_secs = u.nrb FROM UNNEST(",
        );
        let a = Arrays::on(q)
            .bind(cast::TEXT, rows.iter().map(|m| m.tenant.as_str()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.id.as_str()).collect::<Vec<_>>())
            .bind(cast::TEXT, rows.iter().map(|m| m.external_id.as_deref()).collect::<Vec<_>>())
            .bind(cast::JSON, data)
            .bind(cast::TEXT, versions);
        facts(a, MessageFactColumns::of(rows.iter()));
        q.push(
            ") AS u(t, id, ext, d, x, aa, dir, nr, nrb) \
             WHERE m.tenant_id = u.t AND m.message_id = u.id AND m.xmin = u.x::xid",
        );
    });
    Ok(())
}

/// The messages' derived columns ([`crate::facts`]) as bound arrays: author
/// agent, direction, next response and its business seconds.
fn facts<'a>(a: Arrays<'_, 'a>, f: MessageFactColumns<'a>) {
    a.bind(cast::TEXT, f.author_agent)
        .bind(cast::TEXT, f.direction)
        .bind(cast::BIGINT, f.next_response_secs)
        .bind(cast::BIGINT, f.next_response_business_secs);
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

/// A message by id.
pub(crate) async fn by_id(
    pool: &PgPool,
    tenant: &TenantId,
    id: &MessageId,
) -> Result<Option<Message>> {
    document_of(
        pool,
        ("message", "message"),
        "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND message_id = $2",
        &[tenant.as_str(), id.as_str()],
    )
    .await
}

/// A conversation's messages, in the order they were stored.
pub(crate) async fn of_conversation(
    pool: &PgPool,
    tenant: &TenantId,
    conversation: &ConversationId,
) -> Result<Vec<Message>> {
    documents(
        pool,
        ("messages", "message"),
        "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY msg_seq",
        &[tenant.as_str(), conversation.as_str()],
    )
    .await
}

/// The message with the provider's id `external_id` on `channel`.
pub(crate) async fn by_external_id(
    pool: &PgPool,
    tenant: &TenantId,
    channel: &ChannelId,
    external_id: &str,
) -> Result<Option<Message>> {
    document_of(
        pool,
        ("message by external id", "message"),
        "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3",
        &[tenant.as_str(), channel.as_str(), external_id],
    )
    .await
}

/// The message stored with the idempotency key `key`.
pub(crate) async fn by_idempotency_key(
    pool: &PgPool,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<Message>> {
    document_of(
        pool,
        ("message", "message"),
        "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND idempotency_key = $2",
        &[tenant.as_str(), key],
    )
    .await
}
