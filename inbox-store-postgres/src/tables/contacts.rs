//! `inbox_contacts`: the writers (new contacts, updates under their
//! expected versions) and the lookups by id and identity.

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, QueryBuilder, Row};
use std::collections::HashMap;

use inbox_core::error::{Entity, Result};
use inbox_core::ids::{ContactId, TenantId};
use inbox_core::model::{Contact, ContactIdentity};
use inbox_core::search::contact_words;

use crate::error::db;
use crate::facts::tsvector_literal;
use crate::sql::{cast, document, Arrays, ByKey, Docs, Statement};

/// Inserts `rows` (CTE `kn`, counted).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, rows: &[&'a Contact]) {
    st.counted("kn", rows.len(), |q| {
        q.push(
            "INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, user_id, parent_user_id, version, data, tsv) \
             SELECT * FROM UNNEST(",
        );
        columns(q, rows);
        q.push(")");
    });
}

/// Updates `rows`, each `(contact, expected version)`, only where the
/// stored version is the expected one (CTE `ku`, counted).
pub(crate) fn update<'a>(st: &mut Statement<'a>, rows: &[(&'a Contact, i64)]) {
    st.counted("ku", rows.len(), |q| {
        q.push(
            "UPDATE inbox_contacts c SET wa_id = u.wa_id, user_id = u.user_id, parent_user_id = u.parent_user_id, \
             version = u.version, data = u.data, \
             tsv = u.tsv \
             FROM UNNEST(",
        );
        let values: Vec<&Contact> = rows.iter().map(|(k, _)| *k).collect();
        columns(q, &values);
        q.push(", ");
        q.push_bind(rows.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        q.push(
            "::bigint[]) AS u(tenant_id, contact_id, wa_id, user_id, parent_user_id, version, data, tsv, expected) \
             WHERE c.tenant_id = u.tenant_id AND c.contact_id = u.contact_id AND c.version = u.expected",
        );
    });
}

/// Pushes the columns of `ks` as bound arrays (tenant, id, wa_id, user_id,
/// parent user id, version, document, the words search compares).
fn columns<'a>(q: &mut QueryBuilder<'a, sqlx::Postgres>, ks: &[&'a Contact]) {
    Arrays::on(q)
        .col(cast::TEXT, ks, |k| k.tenant.as_str())
        .col(cast::TEXT, ks, |k| k.id.as_str())
        .col(cast::TEXT, ks, |k| k.identity.wa_id.as_deref())
        .col(cast::TEXT, ks, |k| k.identity.user_id.as_deref())
        .col(cast::TEXT, ks, |k| k.identity.parent_user_id.as_deref())
        .col(cast::BIGINT, ks, |k| k.version as i64)
        .bind(
            cast::JSONB,
            ks.iter().copied().map(Json).collect::<Vec<_>>(),
        )
        .col(cast::TSVECTOR, ks, |k| tsvector_literal(&contact_words(k)));
}

/// Locks the contacts `ids` (in id order: no deadlock with a lock the
/// other way) and returns the stored versions of those that exist.
pub(crate) async fn lock_versions(
    tx: &mut PgConnection,
    tenant: &TenantId,
    ids: &[&ContactId],
) -> Result<Vec<(String, u64)>> {
    let rows = sqlx::query(
        "SELECT contact_id, version FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = ANY($2) \
         ORDER BY contact_id FOR UPDATE",
    )
    .bind(tenant.as_str())
    .bind(ids.iter().map(|i| i.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db("merge: contacts", e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) as u64))
        .collect())
}

/// The stored version of a contact: `(tenant, contact id)` (to explain
/// an update that wrote nothing, [`crate::sql::version`]).
pub(crate) const VERSION: &str =
    "SELECT version FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = $2";

/// `inbox_contacts`.
const CONTACTS: Docs = Docs::new(Entity::Contact, "inbox_contacts");

/// The contact with a wa_id: `(tenant, wa_id)`.
const BY_WA_ID: ByKey<Contact> = CONTACTS.by("contact", "tenant_id = $1 AND wa_id = $2");

/// The contact with a user id (BSUID): `(tenant, user id)`.
const BY_USER_ID: ByKey<Contact> = CONTACTS.by("contact", "tenant_id = $1 AND user_id = $2");

/// The first contact (by id) with a parent user id: `(tenant, parent id)`.
const BY_PARENT_ID: ByKey<Contact> = CONTACTS.by(
    "contact",
    "tenant_id = $1 AND parent_user_id = $2 ORDER BY contact_id LIMIT 1",
);

/// The contacts of `ids` that exist, in the order asked, each once.
pub(crate) async fn by_ids(
    pool: &PgPool,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<Vec<Contact>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT contact_id, data FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = ANY($2)",
    )
    .bind(tenant.as_str())
    .bind(ids.iter().map(|i| i.as_str()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await
    .map_err(|e| db("contacts", e))?;
    let mut found: HashMap<String, Contact> = HashMap::with_capacity(rows.len());
    for row in rows {
        found.insert(row.get(0), document("contact", &row, 1)?);
    }
    Ok(ids
        .iter()
        .filter_map(|id| found.remove(id.as_str()))
        .collect())
}

/// The contact with the identity's wa_id, else the one with its user id,
/// else the first with its parent user id.
pub(crate) async fn find(
    pool: &PgPool,
    tenant: &TenantId,
    identity: &ContactIdentity,
) -> Result<Option<Contact>> {
    let keys = [
        (BY_WA_ID, &identity.wa_id),
        (BY_USER_ID, &identity.user_id),
        (BY_PARENT_ID, &identity.parent_user_id),
    ];
    for (by, value) in keys {
        if let Some(v) = value {
            let found = by.one(pool, &[tenant.as_str(), v]).await?;
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(None)
}

/// Another contact than `k` holding one of its identifiers.
pub(crate) async fn other_holder(
    pool: &PgPool,
    tenant: &TenantId,
    k: &Contact,
) -> Result<Option<String>> {
    let row: Option<String> = sqlx::query_scalar(
        "SELECT contact_id FROM inbox_contacts WHERE tenant_id = $1 AND contact_id <> $2 \
         AND ((wa_id IS NOT NULL AND wa_id = $3) OR (user_id IS NOT NULL AND user_id = $4)) LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(k.id.as_str())
    .bind(k.identity.wa_id.as_deref())
    .bind(k.identity.user_id.as_deref())
    .fetch_optional(pool)
    .await
    .map_err(|e| db("find contact", e))?;
    Ok(row)
}
