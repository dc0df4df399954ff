//! SQL helpers, the bottom layer: how values become columns and rows
//! become values, and [`Statement`], the builder every table writer
//! ([`crate::tables`]) adds its rows to.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder, Row};
use std::marker::PhantomData;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::model::Priority;

use crate::error::{corrupt, db};

/// An instant as the store's integer time columns hold it.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A priority as the `priority_rank` column holds it.
pub(crate) fn priority_rank(p: Priority) -> i16 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

/// A document serialised for a `json` column (bound as text, cast by the
/// statement).
pub(crate) fn json_text<T: Serialize>(what: &'static str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt(what, e))
}

/// Documents serialised for a `json[]` argument (bound as text, cast by the
/// statement: the server validates them and stores them as they are).
pub(crate) fn json_texts<'a, T: Serialize + 'a>(
    what: &'static str,
    items: impl Iterator<Item = &'a T>,
) -> Result<Vec<String>> {
    items.map(|v| json_text(what, v)).collect()
}

/// A stored document decoded into the model.
pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| corrupt(what, e))
}

/// The document in column `index` of `row`.
pub(crate) fn document<T: DeserializeOwned>(
    what: &'static str,
    row: &PgRow,
    index: usize,
) -> Result<T> {
    decode(what, row.get::<serde_json::Value, _>(index))
}

/// A nullable document column decoded straight into the model.
pub(crate) fn column<T: DeserializeOwned>(
    row: &PgRow,
    index: usize,
    what: &'static str,
) -> Result<Option<T>> {
    row.try_get::<Option<Json<T>>, _>(index)
        .map(|v| v.map(|Json(v)| v))
        .map_err(|e| match e {
            sqlx::Error::ColumnDecode { source, .. } => Error::Backend {
                message: format!("PostgreSQL: corrupt {what} row: {source}"),
                source: None,
            },
            other => db("ingest lookup", other),
        })
}

/// Casts of the arrays bound as `UNNEST` arguments.
pub(crate) mod cast {
    /// `text[]`.
    pub const TEXT: &str = "::text[]";
    /// `bigint[]`.
    pub const BIGINT: &str = "::bigint[]";
    /// `int[]`.
    pub const INT: &str = "::int[]";
    /// `smallint[]`.
    pub const SMALLINT: &str = "::smallint[]";
    /// `timestamptz[]`.
    pub const TIMESTAMPTZ: &str = "::timestamptz[]";
    /// Documents bound as text and stored as `json`.
    pub const JSON: &str = "::text[]::json[]";
    /// Text search vectors bound as their literals (`'a' 'b'`).
    pub const TSVECTOR: &str = "::text[]::tsvector[]";
    /// Documents bound as text and stored as `jsonb`.
    pub const JSONB_TEXT: &str = "::text[]::jsonb[]";
    /// Documents serialised straight into the statement as `jsonb`.
    pub const JSONB: &str = "::jsonb[]";
}

/// Bound arrays, comma-separated, each with its cast: the arguments of an
/// `UNNEST(…)`.
pub(crate) struct Arrays<'b, 'a> {
    q: &'b mut QueryBuilder<'a, Postgres>,
    first: bool,
}

impl<'b, 'a> Arrays<'b, 'a> {
    /// Arrays pushed onto `q`.
    pub(crate) fn on(q: &'b mut QueryBuilder<'a, Postgres>) -> Self {
        Self { q, first: true }
    }

    /// Binds `v`, cast as `cast` (one of [`cast`]).
    pub(crate) fn bind<T>(mut self, cast: &str, v: T) -> Self
    where
        T: 'a + sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres>,
    {
        if !self.first {
            self.q.push(", ");
        }
        self.first = false;
        self.q.push_bind(v).push(cast);
        self
    }

    /// Binds `f` of each of `rows` as one array, cast as `cast`.
    pub(crate) fn col<'r, R, T>(self, cast: &str, rows: &'r [R], f: impl Fn(&'r R) -> T) -> Self
    where
        T: 'a,
        Vec<T>: sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres>,
    {
        self.bind(cast, rows.iter().map(f).collect::<Vec<T>>())
    }
}

/// A statement of CTEs (`WITH a AS (…), b AS (…) SELECT …`) and the row
/// counts that check it. Each table writer adds its CTEs: group commit puts
/// every table of a batch in one statement, whose checks raise if a count
/// is off (`inbox_batch_checked`, migration 12) so that nothing of it is
/// committed; a changeset committed alone runs one table's statement at a
/// time and reads whether its counts matched ([`Statement::run`]).
pub(crate) struct Statement<'a> {
    q: QueryBuilder<'a, Postgres>,
    empty: bool,
    /// (the count a check reads, the count it expects), in the order the
    /// final `SELECT` reads them, which is the order the CTEs run in.
    checks: Vec<(String, i64)>,
}

impl<'a> Statement<'a> {
    /// A statement without CTEs yet.
    pub(crate) fn new() -> Self {
        Self {
            q: QueryBuilder::new("WITH "),
            empty: true,
            checks: Vec::new(),
        }
    }

    /// A statement of what `write` adds (see [`crate::tables`]).
    pub(crate) fn of(write: impl FnOnce(&mut Self)) -> Self {
        let mut st = Self::new();
        write(&mut st);
        st
    }

    /// Adds the CTE `name`, whose body `body` pushes.
    pub(crate) fn cte<R>(
        &mut self,
        name: &str,
        body: impl FnOnce(&mut QueryBuilder<'a, Postgres>) -> R,
    ) -> R {
        if !self.empty {
            self.q.push(", ");
        }
        self.empty = false;
        self.q.push(name).push(" AS (");
        let r = body(&mut self.q);
        self.q.push(")");
        r
    }

    /// Adds the CTE `name`, a write that must touch `expected` rows (its
    /// body is followed by `RETURNING 1`, and its rows are counted).
    pub(crate) fn counted<R>(
        &mut self,
        name: &str,
        expected: usize,
        body: impl FnOnce(&mut QueryBuilder<'a, Postgres>) -> R,
    ) -> R {
        self.check(format!("(SELECT count(*) FROM {name})"), expected);
        self.cte(name, |q| {
            let r = body(q);
            q.push(" RETURNING 1");
            r
        })
    }

    /// A count the final `SELECT` reads (an expression over the CTEs) and
    /// the value it must have.
    pub(crate) fn check(&mut self, read: String, expected: usize) {
        self.checks
            .push((read, i64::try_from(expected).unwrap_or(i64::MAX)));
    }

    /// The group-commit form: `SELECT inbox_batch_checked(…), tail`, which
    /// raises (failing the whole statement) if a count is off. Column 0 is
    /// the check's, `tail`'s columns follow.
    pub(crate) fn checked(mut self, tail: &str) -> QueryBuilder<'a, Postgres> {
        let (reads, expected): (Vec<String>, Vec<i64>) = self.checks.into_iter().unzip();
        self.q.push(" SELECT inbox_batch_checked(ARRAY[");
        self.q.push(reads.join(", "));
        self.q.push("]::bigint[], ");
        self.q.push_bind(expected);
        self.q.push("::bigint[]), ");
        self.q.push(tail);
        self.q
    }

    /// The single form: runs the statement on `conn` (a transaction's) and
    /// returns its row (the counts in column 0, `tail`'s columns after)
    /// and whether every count matched.
    pub(crate) async fn run(
        mut self,
        conn: &mut PgConnection,
        tail: &str,
    ) -> std::result::Result<(bool, PgRow), sqlx::Error> {
        let (reads, expected): (Vec<String>, Vec<i64>) = self.checks.into_iter().unzip();
        self.q.push(" SELECT ARRAY[");
        self.q.push(reads.join(", "));
        self.q.push("]::bigint[]");
        if !tail.is_empty() {
            self.q.push(", ").push(tail);
        }
        let row = self.q.build().fetch_one(&mut *conn).await?;
        let counts: Vec<i64> = row.try_get(0)?;
        Ok((counts == expected, row))
    }
}

/// Column 0 of the row `sql` selects for `keys` (bound as text, `$1`,
/// `$2`, …), if there is one.
pub(crate) async fn scalar<T>(
    conn: impl PgExecutor<'_>,
    sql: &'static str,
    keys: &[&str],
) -> std::result::Result<Option<T>, sqlx::Error>
where
    T: Send + Unpin,
    (T,): for<'r> sqlx::FromRow<'r, PgRow>,
{
    keys.iter()
        .fold(sqlx::query_scalar(sql), |q, k| q.bind(*k))
        .fetch_optional(conn)
        .await
}

/// The version (column 0, `bigint`) of the row `sql` selects for `keys`
/// (bound as text), if there is one: the tables' `VERSION` queries.
pub(crate) async fn version(
    conn: &mut PgConnection,
    sql: &'static str,
    keys: &[&str],
) -> std::result::Result<Option<u64>, sqlx::Error> {
    let v: Option<i64> = scalar(conn, sql, keys).await?;
    Ok(v.map(|v| v as u64))
}

/// The documents `what` (column 0) of the rows `sql` selects for `keys`
/// (bound as text, `$1`, `$2`, …), in the order selected; `context` names
/// what failed in an error.
pub(crate) async fn documents<T: DeserializeOwned>(
    pool: &PgPool,
    (context, what): (&'static str, &'static str),
    sql: &str,
    keys: &[&str],
) -> Result<Vec<T>> {
    let rows = keys
        .iter()
        .fold(sqlx::query(sql), |q, k| q.bind(*k))
        .fetch_all(pool)
        .await
        .map_err(|e| db(context, e))?;
    rows.iter().map(|r| document(what, r, 0)).collect()
}

/// A table of documents (its `data` column) and what they are called in
/// errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Docs {
    /// What a document is (its name in errors).
    pub entity: Entity,
    /// The table.
    pub table: &'static str,
}

impl Docs {
    /// The documents, each an `entity`, of `table`.
    pub(crate) const fn new(entity: Entity, table: &'static str) -> Self {
        Self { entity, table }
    }

    /// What a document is called in errors.
    pub(crate) fn what(&self) -> &'static str {
        self.entity.as_str()
    }

    /// The query of the documents where `filter` (over keys bound as
    /// text, `$1`, `$2`, …); `context` names what failed in an error.
    pub(crate) const fn by<T>(self, context: &'static str, filter: &'static str) -> ByKey<T> {
        ByKey {
            context,
            docs: self,
            filter,
            of: PhantomData,
        }
    }
}

/// A query of documents by keys bound as text ([`Docs::by`]).
pub(crate) struct ByKey<T> {
    context: &'static str,
    docs: Docs,
    filter: &'static str,
    of: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> ByKey<T> {
    /// The documents of the rows selected, in the order selected.
    pub(crate) async fn all(&self, pool: &PgPool, keys: &[&str]) -> Result<Vec<T>> {
        let sql = format!("SELECT data FROM {} WHERE {}", self.docs.table, self.filter);
        documents(pool, (self.context, self.docs.what()), &sql, keys).await
    }

    /// The document of the row selected, if any (the queries select at
    /// most one).
    pub(crate) async fn one(&self, pool: &PgPool, keys: &[&str]) -> Result<Option<T>> {
        Ok(self.all(pool, keys).await?.into_iter().next())
    }

    /// The document of the row selected; `NotFound` (of the last key, its
    /// id) if there is none.
    pub(crate) async fn required(&self, pool: &PgPool, keys: &[&str]) -> Result<T> {
        self.one(pool, keys).await?.ok_or_else(|| {
            Error::not_found(self.docs.entity, keys.last().copied().unwrap_or_default())
        })
    }
}
