//! [`Outreach`] on PostgreSQL (migration 28): broadcasts as documents with
//! their lookup columns, recipients one row each, claimed with a token
//! from a sequence and a lease, settled forward only by a conditional
//! update.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::ids::{BroadcastId, ContactId, MessageId, TenantId};
use inbox_core::model::{Broadcast, Contact, Recipient, RecipientCounts, RecipientState, Segment};
use inbox_core::ports::{Outreach, RecipientClaim, RecipientOutcome};

use crate::error::{corrupt, db, fk_violation, unique_violation};
use crate::sql::{json_text, micros};
use crate::PgStore;

fn broadcast_of(text: &str) -> Result<Broadcast> {
    serde_json::from_str(text).map_err(|e| corrupt("broadcast", e))
}

fn state_of(s: &str) -> Result<RecipientState> {
    Ok(match s {
        "pending" => RecipientState::Pending,
        "queued" => RecipientState::Queued,
        "skipped" => RecipientState::Skipped,
        other => {
            return Err(Error::Backend {
                message: format!("PostgreSQL: corrupt recipient state {other:?}"),
                source: None,
            })
        }
    })
}

fn id<T: TryFrom<String, Error = Error>>(s: String) -> Result<T> {
    T::try_from(s)
}

impl PgStore {
    async fn require_broadcast(&self, tenant: &TenantId, id: &BroadcastId) -> Result<()> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM inbox_broadcasts WHERE tenant_id = $1 AND broadcast_id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("broadcast", e))?;
        found
            .map(drop)
            .ok_or_else(|| Error::not_found(Entity::Broadcast, id))
    }
}

#[async_trait]
impl Outreach for PgStore {
    async fn put_broadcast(&self, b: &Broadcast, expected: Option<u64>) -> Result<()> {
        let mut stored = b.clone();
        stored.version = expected.map_or(1, |v| v + 1);
        let data = json_text("broadcast", &stored)?;
        let due = stored.due_at().map(micros);
        let result = match expected {
            None => sqlx::query(
                "INSERT INTO inbox_broadcasts (tenant_id, broadcast_id, version, state, due_us, created_us, data) \
                 VALUES ($1, $2, 1, $3, $4, $5, $6::jsonb)",
            )
            .bind(b.tenant.as_str())
            .bind(b.id.as_str())
            .bind(stored.state.as_str())
            .bind(due)
            .bind(micros(stored.created_at))
            .bind(&data)
            .execute(self.pool())
            .await
            .map_err(|e| match () {
                _ if unique_violation(&e).is_some() => Error::Duplicate { what: Unique::Broadcast, existing: b.id.to_string() },
                _ if fk_violation(&e) => Error::not_found(Entity::Tenant, &b.tenant),
                _ => db("put broadcast", e),
            })?,
            Some(v) => sqlx::query(
                "UPDATE inbox_broadcasts SET version = $3 + 1, state = $4, due_us = $5, data = $6::jsonb \
                 WHERE tenant_id = $1 AND broadcast_id = $2 AND version = $3",
            )
            .bind(b.tenant.as_str())
            .bind(b.id.as_str())
            .bind(v as i64)
            .bind(stored.state.as_str())
            .bind(due)
            .bind(&data)
            .execute(self.pool())
            .await
            .map_err(|e| db("put broadcast", e))?,
        };
        if result.rows_affected() == 1 {
            return Ok(());
        }
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM inbox_broadcasts WHERE tenant_id = $1 AND broadcast_id = $2",
        )
        .bind(b.tenant.as_str())
        .bind(b.id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("put broadcast", e))?;
        let seen = expected.unwrap_or(0);
        Err(Error::Conflict(Box::new(Conflict::on(
            Entity::Broadcast,
            &b.id,
            seen,
            current.unwrap_or(0) as u64,
        ))))
    }

    async fn broadcast(&self, tenant: &TenantId, id: &BroadcastId) -> Result<Broadcast> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT data::text FROM inbox_broadcasts WHERE tenant_id = $1 AND broadcast_id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("broadcast", e))?;
        broadcast_of(&text.ok_or_else(|| Error::not_found(Entity::Broadcast, id))?)
    }

    async fn broadcasts(&self, tenant: &TenantId) -> Result<Vec<Broadcast>> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT data::text FROM inbox_broadcasts WHERE tenant_id = $1 \
             ORDER BY created_us DESC, broadcast_id DESC",
        )
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("broadcasts", e))?;
        texts.iter().map(|t| broadcast_of(t)).collect()
    }

    async fn due_broadcasts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Broadcast>> {
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT data::text FROM inbox_broadcasts WHERE due_us IS NOT NULL AND due_us <= $1 \
             ORDER BY due_us, broadcast_id LIMIT $2",
        )
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("due broadcasts", e))?;
        texts.iter().map(|t| broadcast_of(t)).collect()
    }

    async fn add_recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        recipients: &[Recipient],
    ) -> Result<u32> {
        self.require_broadcast(tenant, broadcast).await?;
        if recipients.is_empty() {
            return Ok(0);
        }
        let contacts: Vec<&str> = recipients.iter().map(|r| r.contact.as_str()).collect();
        let states: Vec<&str> = recipients.iter().map(|r| r.state.as_str()).collect();
        let messages: Vec<Option<&str>> = recipients
            .iter()
            .map(|r| r.message.as_ref().map(|m| m.as_str()))
            .collect();
        let reasons: Vec<Option<&str>> = recipients.iter().map(|r| r.reason.as_deref()).collect();
        let added = sqlx::query(
            "INSERT INTO inbox_recipients (tenant_id, broadcast_id, contact_id, state, message_id, reason) \
             SELECT $1, $2, c, s, m, r FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[]) AS t(c, s, m, r) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(broadcast.as_str())
        .bind(contacts)
        .bind(states)
        .bind(messages)
        .bind(reasons)
        .execute(self.pool())
        .await
        .map_err(|e| db("add recipients", e))?;
        Ok(added.rows_affected() as u32)
    }

    async fn claim_recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RecipientClaim>> {
        self.require_broadcast(tenant, broadcast).await?;
        let rows = sqlx::query(
            "WITH pick AS MATERIALIZED (SELECT contact_id FROM inbox_recipients \
               WHERE tenant_id = $1 AND broadcast_id = $2 \
               AND state = 'pending' AND (claim_until_us IS NULL OR claim_until_us <= $3) \
               ORDER BY contact_id LIMIT $5 FOR UPDATE SKIP LOCKED) \
             UPDATE inbox_recipients r SET claim_token = nextval('inbox_recipient_claims'), claim_until_us = $4 \
             FROM pick WHERE r.tenant_id = $1 AND r.broadcast_id = $2 AND r.contact_id = pick.contact_id \
             RETURNING r.contact_id, r.claim_token",
        )
        .bind(tenant.as_str())
        .bind(broadcast.as_str())
        .bind(micros(now))
        .bind(micros(until))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("claim recipients", e))?;
        let mut claims = rows
            .into_iter()
            .map(|r| {
                Ok(RecipientClaim {
                    tenant: tenant.clone(),
                    broadcast: broadcast.clone(),
                    contact: id(r.get::<String, _>(0))?,
                    token: r.get::<i64, _>(1) as u64,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claims.sort_by(|a, b| a.contact.cmp(&b.contact));
        Ok(claims)
    }

    async fn settle_recipient(
        &self,
        claim: &RecipientClaim,
        outcome: &RecipientOutcome,
    ) -> Result<()> {
        let (state, message, reason): (&str, Option<&MessageId>, Option<&str>) = match outcome {
            RecipientOutcome::Queued(m) => ("queued", Some(m), None),
            RecipientOutcome::Skipped(r) => ("skipped", None, Some(r.as_str())),
        };
        let done = sqlx::query(
            "UPDATE inbox_recipients SET state = $5, message_id = $6, reason = $7, claim_token = NULL, claim_until_us = NULL \
             WHERE tenant_id = $1 AND broadcast_id = $2 AND contact_id = $3 AND claim_token = $4 AND state = 'pending'",
        )
        .bind(claim.tenant.as_str())
        .bind(claim.broadcast.as_str())
        .bind(claim.contact.as_str())
        .bind(claim.token as i64)
        .bind(state)
        .bind(message.map(|m| m.as_str()))
        .bind(reason)
        .execute(self.pool())
        .await
        .map_err(|e| db("settle recipient", e))?;
        match done.rows_affected() {
            1 => Ok(()),
            _ => Err(Error::Conflict(Box::new(Conflict::on(
                Entity::Recipient,
                &claim.contact,
                claim.token,
                0,
            )))),
        }
    }

    async fn recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Recipient>> {
        self.require_broadcast(tenant, broadcast).await?;
        let rows = sqlx::query(
            "SELECT contact_id, state, message_id, reason FROM inbox_recipients \
             WHERE tenant_id = $1 AND broadcast_id = $2 AND ($3::text IS NULL OR contact_id > $3) \
             ORDER BY contact_id LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(broadcast.as_str())
        .bind(after.map(|a| a.as_str()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("recipients", e))?;
        rows.into_iter()
            .map(|r| {
                Ok(Recipient {
                    contact: id(r.get::<String, _>(0))?,
                    state: state_of(&r.get::<String, _>(1))?,
                    message: r.get::<Option<String>, _>(2).map(id).transpose()?,
                    reason: r.get::<Option<String>, _>(3),
                })
            })
            .collect()
    }

    async fn recipient_counts(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
    ) -> Result<RecipientCounts> {
        self.require_broadcast(tenant, broadcast).await?;
        let rows = sqlx::query(
            "SELECT state, count(*) FROM inbox_recipients WHERE tenant_id = $1 AND broadcast_id = $2 GROUP BY state",
        )
        .bind(tenant.as_str())
        .bind(broadcast.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("recipient counts", e))?;
        let mut counts = RecipientCounts::default();
        for r in rows {
            let n = r.get::<i64, _>(1) as u32;
            match state_of(&r.get::<String, _>(0))? {
                RecipientState::Pending => counts.pending = n,
                RecipientState::Queued => counts.queued = n,
                RecipientState::Skipped => counts.skipped = n,
            }
        }
        Ok(counts)
    }

    async fn segment_contacts(
        &self,
        tenant: &TenantId,
        segment: &Segment,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        // Tags and attributes narrow the scan in SQL; the core's rule
        // decides (a page may hold fewer than `limit` before the end only
        // when the scan ends).
        let mut found = Vec::new();
        let mut cursor = after.cloned();
        loop {
            let texts: Vec<(String, String)> = sqlx::query_as(
                "SELECT contact_id, data::text FROM inbox_contacts WHERE tenant_id = $1 \
                 AND ($2::text IS NULL OR contact_id > $2) \
                 AND data->'tags' ?& $3::text[] \
                 AND (cardinality($4::text[]) = 0 OR data->'tags' ?| $4::text[]) \
                 AND data->'attributes' @> $5::jsonb \
                 ORDER BY contact_id LIMIT $6",
            )
            .bind(tenant.as_str())
            .bind(cursor.as_ref().map(|c| c.as_str()))
            .bind(&segment.tags_all)
            .bind(&segment.tags_any)
            .bind(json_text("segment", &segment.attributes)?)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(|e| db("segment contacts", e))?;
            let page = texts.len();
            for (cid, text) in texts {
                cursor = Some(id(cid)?);
                let c: Contact = serde_json::from_str(&text).map_err(|e| corrupt("contact", e))?;
                if segment.matches(&c) && found.len() < limit as usize {
                    found.push(c);
                }
            }
            if page < limit as usize || found.len() >= limit as usize {
                return Ok(found);
            }
        }
    }
}
