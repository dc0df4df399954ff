//! [`DeadLetters`] on PostgreSQL: one row per refused item (migration 19),
//! deduplicated by a hash of the item and the reason it was first refused
//! with.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::Row;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::DeadLetterId;
use inbox_core::ports::{DeadLetter, DeadLetterPut, DeadLetterQuery, DeadLetterScope, DeadLetters};
use inbox_core::query::Page;

use crate::error::{corrupt, db, unique_violation};
use crate::PgStore;

/// What a letter is deduplicated by: source, phone number id, reason code
/// and item, hashed (each part length-prefixed, so no two differ only in
/// where one part ends).
fn item_key(l: &DeadLetter) -> Vec<u8> {
    let mut h = Sha256::new();
    let pnid = l.phone_number_id.as_deref();
    for part in [
        Some(l.source.as_str()),
        pnid,
        Some(l.reason.code()),
        Some(l.raw.as_str()),
    ] {
        match part {
            None => h.update([0u8]),
            Some(p) => {
                h.update([1u8]);
                h.update((p.len() as u64).to_be_bytes());
                h.update(p.as_bytes());
            }
        }
    }
    h.finalize().to_vec()
}

/// The letter as stored in `data`: everything but the item.
fn to_data(l: &DeadLetter) -> Result<String> {
    let mut v = serde_json::to_value(l).map_err(|e| corrupt("dead letter", e))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("raw");
    }
    Ok(v.to_string())
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<DeadLetter> {
    let data: String = row.get("data");
    let raw: String = row.get("raw");
    let mut v: serde_json::Value =
        serde_json::from_str(&data).map_err(|e| corrupt("dead letter", e))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("raw".into(), serde_json::Value::String(raw));
    }
    serde_json::from_value(v).map_err(|e| corrupt("dead letter", e))
}

const SCOPE: &str = "(tenant_id = $1 OR (tenant_id IS NULL AND phone_number_id = ANY($2)))";

#[async_trait]
impl DeadLetters for PgStore {
    async fn put_dead_letter(&self, letter: DeadLetter) -> Result<DeadLetterPut> {
        let key = item_key(&letter);
        let inserted = sqlx::query(
            "INSERT INTO inbox_dead_letters \
             (id, item_key, tenant_id, phone_number_id, received_us, pending, raw, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (item_key) DO NOTHING",
        )
        .bind(letter.id.as_str())
        .bind(&key)
        .bind(letter.tenant.as_ref().map(|t| t.as_str()))
        .bind(letter.phone_number_id.as_deref())
        .bind(letter.received_at.timestamp_micros())
        .bind(letter.is_pending())
        .bind(&letter.raw)
        .bind(to_data(&letter)?)
        .execute(self.pool())
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Duplicate {
                what: Unique::DeadLetter,
                existing: letter.id.to_string(),
            },
            None => db("put dead letter", e),
        })?;
        if inserted.rows_affected() == 1 {
            return Ok(DeadLetterPut {
                letter,
                created: true,
            });
        }
        let row = sqlx::query("SELECT raw, data FROM inbox_dead_letters WHERE item_key = $1")
            .bind(&key)
            .fetch_one(self.pool())
            .await
            .map_err(|e| db("put dead letter: existing", e))?;
        Ok(DeadLetterPut {
            letter: from_row(&row)?,
            created: false,
        })
    }

    async fn dead_letters(
        &self,
        scope: &DeadLetterScope,
        query: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>> {
        let after = query.validate()?;
        // The listing key is (-received_us, id) ascending.
        let (received, id) = match &after {
            Some(k) => (Some(k.a.saturating_neg()), Some(k.id.as_str())),
            None => (None, None),
        };
        let rows = sqlx::query(&format!(
            "SELECT raw, data FROM inbox_dead_letters WHERE {SCOPE} \
             AND (NOT $3 OR pending) \
             AND ($4::bigint IS NULL OR received_us < $4 OR (received_us = $4 AND id > $5)) \
             ORDER BY received_us DESC, id LIMIT $6"
        ))
        .bind(scope.tenant.as_str())
        .bind(&scope.numbers)
        .bind(query.pending_only)
        .bind(received)
        .bind(id)
        .bind(i64::from(query.limit) + 1)
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("dead letters", e))?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::first(
            items,
            query.limit,
            DeadLetterQuery::cursor_after,
        ))
    }

    async fn dead_letter(&self, scope: &DeadLetterScope, id: &DeadLetterId) -> Result<DeadLetter> {
        let row = sqlx::query(&format!(
            "SELECT raw, data FROM inbox_dead_letters WHERE {SCOPE} AND id = $3"
        ))
        .bind(scope.tenant.as_str())
        .bind(&scope.numbers)
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("dead letter", e))?;
        match row {
            Some(row) => from_row(&row),
            None => Err(Error::not_found(Entity::DeadLetter, id)),
        }
    }

    async fn update_dead_letter(&self, letter: &DeadLetter) -> Result<()> {
        // The stored item, source and arrival stay: only the replay's
        // fields are taken from `letter`.
        let row = sqlx::query("SELECT raw, data FROM inbox_dead_letters WHERE id = $1 FOR UPDATE")
            .bind(letter.id.as_str());
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| db("update dead letter", e))?;
        let stored = row
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db("update dead letter", e))?
            .ok_or_else(|| Error::not_found(Entity::DeadLetter, &letter.id))?;
        let mut next = from_row(&stored)?;
        next.tenant = letter.tenant.clone();
        next.channel = letter.channel.clone();
        next.reason = letter.reason.clone();
        next.replayed_at = letter.replayed_at;
        next.last_replay = letter.last_replay.clone();
        sqlx::query(
            "UPDATE inbox_dead_letters SET tenant_id = $2, pending = $3, data = $4 WHERE id = $1",
        )
        .bind(next.id.as_str())
        .bind(next.tenant.as_ref().map(|t| t.as_str()))
        .bind(next.is_pending())
        .bind(to_data(&next)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| db("update dead letter", e))?;
        tx.commit().await.map_err(|e| db("update dead letter", e))
    }
}
