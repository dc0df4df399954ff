//! `inbox_contacts`: the writers (new contacts, updates under their
//! expected versions) and the lookups by id and identity.

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, QueryBuilder, Row};
use std::collections::HashMap;

use inbox_core::error::Result;
use inbox_core::ids::{ContactId, TenantId};
use inbox_core::model::{Contact, ContactIdentity};

use crate::error::db;
use crate::sql::{cast, document, document_of, Arrays, Statement};

/// Inserts `rows` (CTE `kn`, counted).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, rows: &[&'a Contact]) {
    st.counted("kn", rows.len(), |q| {
        q.push(
            "INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, user_id, version, data) \
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
            "UPDATE inbox_contacts c SET wa_id = u.wa_id, user_id = u.user_id, version = u.version, data = u.data \
             FROM UNNEST(",
        );
        let values: Vec<&Contact> = rows.iter().map(|(k, _)| *k).collect();
        columns(q, &values);
        q.push(", ");
        q.push_bind(rows.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        q.push(
            "::bigint[]) AS u(tenant_id, contact_id, wa_id, user_id, version, data, expected) \
             WHERE c.tenant_id = u.tenant_id AND c.contact_id = u.contact_id AND c.version = u.expected",
        );
    });
}

/// Pushes the columns of `ks` as bound arrays (tenant, id, wa_id, user_id,
/// version, document).
fn columns<'a>(q: &mut QueryBuilder<'a, sqlx::Postgres>, ks: &[&'a Contact]) {
    Arrays::on(q)
        .bind(
            cast::TEXT,
            ks.iter().map(|k| k.tenant.as_str()).collect::<Vec<_>>(),
        )
        .bind(
            cast::TEXT,
            ks.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        )
        .bind(
            cast::TEXT,
            ks.iter()
                .map(|k| k.identity.wa_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            cast::TEXT,
            ks.iter()
                .map(|k| k.identity.user_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            cast::BIGINT,
            ks.iter().map(|k| k.version as i64).collect::<Vec<_>>(),
        )
        .bind(
            cast::JSONB,
            ks.iter().copied().map(Json).collect::<Vec<_>>(),
        );
}

/// The stored version of a contact, if it exists (to explain an update
/// that wrote nothing).
pub(crate) async fn stored_version(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: &ContactId,
) -> std::result::Result<Option<u64>, sqlx::Error> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = $2",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(v.map(|v| v as u64))
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

/// A contact by id.
pub(crate) async fn by_id(
    pool: &PgPool,
    tenant: &TenantId,
    id: &ContactId,
) -> Result<Option<Contact>> {
    document_of(
        pool,
        ("contact", "contact"),
        "SELECT data FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = $2",
        &[tenant.as_str(), id.as_str()],
    )
    .await
}

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

/// The contact with the identity's wa_id, else the one with its user id.
pub(crate) async fn find(
    pool: &PgPool,
    tenant: &TenantId,
    identity: &ContactIdentity,
) -> Result<Option<Contact>> {
    const BY_WA_ID: &str = "SELECT data FROM inbox_contacts WHERE tenant_id = $1 AND wa_id = $2";
    const BY_USER_ID: &str =
        "SELECT data FROM inbox_contacts WHERE tenant_id = $1 AND user_id = $2";
    for (sql, value) in [(BY_WA_ID, &identity.wa_id), (BY_USER_ID, &identity.user_id)] {
        if let Some(v) = value {
            let found =
                document_of(pool, ("contact", "contact"), sql, &[tenant.as_str(), v]).await?;
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
