//! Re-indexing search: rows written before migration 25, or under an
//! older version of the core's rules ([`WORDS_VERSION`]), get the words
//! the core gives them now, in batches, resumably, one instance at a time
//! (`inbox_search_reindex` holds each table's progress, locked by the
//! batch that moves it).

use sqlx::{PgConnection, PgPool, Row};

use inbox_core::error::Result;
use inbox_core::model::Contact;
use inbox_core::search::{contact_words, document_words, WORDS_VERSION};

use crate::error::db;
use crate::facts::tsvector_literal;
use crate::sql::document;

/// Rows per batch (one transaction each).
const BATCH: i64 = 500;

/// A table whose rows carry search words.
#[derive(Debug, Clone, Copy)]
enum Table {
    Messages,
    Contacts,
    Conversations,
}

impl Table {
    const ALL: [Table; 3] = [Table::Messages, Table::Contacts, Table::Conversations];

    fn name(self) -> &'static str {
        match self {
            Table::Messages => "inbox_messages",
            Table::Contacts => "inbox_contacts",
            Table::Conversations => "inbox_conversations",
        }
    }

    /// The rows after `(tenant, id)` (from the start without it), in key
    /// order, at most [`BATCH`], that have words: (tenant, id, the
    /// version to update under, their words as a tsvector literal).
    async fn read(
        self,
        tx: &mut PgConnection,
        after: Option<(String, String)>,
    ) -> Result<Vec<(String, String, i64, String)>> {
        let (key, select, filter) = match self {
            // `body` is the text the core reads a message's words from.
            Table::Messages => ("message_id", "body, 0::bigint", "body IS NOT NULL"),
            Table::Contacts => ("contact_id", "data, version", "true"),
            Table::Conversations => ("conversation_id", "tags, version", "cardinality(tags) > 0"),
        };
        let (t, id) = after.unwrap_or_default();
        let sql = format!(
            "SELECT tenant_id, {key}, {select} FROM {table} WHERE {filter} \
             AND (tenant_id, {key}) > ($1 COLLATE \"C\", $2 COLLATE \"C\") \
             ORDER BY tenant_id, {key} LIMIT $3",
            table = self.name()
        );
        let rows = sqlx::query(&sql)
            .bind(t)
            .bind(id)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db("reindex search", e))?;
        rows.iter()
            .map(|r| {
                let words = match self {
                    Table::Messages => document_words([r.get::<&str, _>(2)]),
                    Table::Contacts => contact_words(&document::<Contact>("contact", r, 2)?),
                    Table::Conversations => {
                        let tags: Vec<String> = r.get(2);
                        // As `inbox_core::search::tag_words`.
                        document_words(tags.iter().map(String::as_str))
                    }
                };
                Ok((r.get(0), r.get(1), r.get(3), tsvector_literal(&words)))
            })
            .collect()
    }

    /// Writes the words of `rows`, each only if the row is still at the
    /// version read (a writer since gave it the current words).
    async fn write(
        self,
        tx: &mut PgConnection,
        rows: &[(String, String, i64, String)],
    ) -> Result<()> {
        let (column, key, version) = match self {
            Table::Messages => ("tsv", "message_id", "true"),
            Table::Contacts => ("tsv", "contact_id", "x.version = u.v"),
            Table::Conversations => ("tags_tsv", "conversation_id", "x.version = u.v"),
        };
        let sql = format!(
            "UPDATE {table} x SET {column} = u.w FROM UNNEST($1::text[], $2::text[], $3::bigint[], \
             $4::text[]::tsvector[]) AS u(t, id, v, w) WHERE x.tenant_id = u.t AND x.{key} = u.id AND {version}",
            table = self.name()
        );
        sqlx::query(&sql)
            .bind(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.2).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.3.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(|e| db("reindex search", e))?;
        Ok(())
    }
}

/// Re-indexes every table that needs it; the number of rows given words.
pub(crate) async fn reindex(pool: &PgPool) -> Result<u64> {
    let mut total = 0;
    for table in Table::ALL {
        while let Some(n) = batch(pool, table).await? {
            total += n;
        }
    }
    Ok(total)
}

/// One batch of `table` in its own transaction: the number of rows it
/// re-indexed, or `None` when the table is done.
async fn batch(pool: &PgPool, table: Table) -> Result<Option<u64>> {
    let mut tx = pool.begin().await.map_err(|e| db("reindex search", e))?;
    let progress = sqlx::query(
        "SELECT version, tenant_id, id, done FROM inbox_search_reindex WHERE table_name = $1 FOR UPDATE",
    )
    .bind(table.name())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| db("reindex search", e))?;
    let Some(p) = progress else {
        return Ok(None);
    };
    let current = p.get::<i16, _>(0) == WORDS_VERSION;
    if current && p.get::<bool, _>(3) {
        return Ok(None);
    }
    let after = match (current, p.get(1), p.get(2)) {
        (true, Some(t), Some(id)) => Some((t, id)),
        _ => None,
    };
    let rows = table.read(&mut tx, after).await?;
    table.write(&mut tx, &rows).await?;
    let last = rows.last();
    sqlx::query(
        "UPDATE inbox_search_reindex SET version = $2, tenant_id = $3, id = $4, done = $5 WHERE table_name = $1",
    )
    .bind(table.name())
    .bind(WORDS_VERSION)
    .bind(last.map(|r| r.0.as_str()))
    .bind(last.map(|r| r.1.as_str()))
    .bind((rows.len() as i64) < BATCH)
    .execute(&mut *tx)
    .await
    .map_err(|e| db("reindex search", e))?;
    tx.commit().await.map_err(|e| db("reindex search", e))?;
    Ok(Some(rows.len() as u64))
}
