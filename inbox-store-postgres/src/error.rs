//! The crate's error type and its mapping into the core's semantic errors.

use inbox_core::Error;

/// What went wrong in PostgreSQL, kept as the `source` of the core error the
/// store returns. Never contains connection strings or passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgStoreError {
    /// A database error.
    #[error("{context}: {source}")]
    Sqlx {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Running migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored JSON does not match the model (a newer schema, a manual edit).
    #[error("corrupt {what} row: {source}")]
    Corrupt {
        /// Which kind of row.
        what: &'static str,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// SQLSTATE classes and codes that mean "try again later".
fn retryable_code(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
        || code == "57P01" // admin shutdown
        || code == "57P02" // crash shutdown
        || code == "57P03" // cannot connect now
        || code == "53300" // too many connections
}

/// Maps a driver error into the core's error: connection problems and
/// transient failures become [`Error::Unavailable`] (retryable, nothing
/// written), everything else [`Error::Backend`].
pub(crate) fn db(context: &'static str, e: sqlx::Error) -> Error {
    let retryable = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| retryable_code(&c)),
        _ => false,
    };
    let message = format!("PostgreSQL: {context}");
    let source = Some(Box::new(PgStoreError::Sqlx { context, source: e }) as _);
    if retryable {
        Error::Unavailable { message, source }
    } else {
        Error::Backend { message, source }
    }
}

pub(crate) fn corrupt(what: &'static str, e: serde_json::Error) -> Error {
    Error::Backend {
        message: format!("PostgreSQL: corrupt {what} row"),
        source: Some(Box::new(PgStoreError::Corrupt { what, source: e })),
    }
}

/// The name of the unique constraint a database error violated, if any.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => {
            Some(d.constraint().unwrap_or_default().to_string())
        }
        _ => None,
    }
}

/// Whether a database error is a foreign-key violation.
pub(crate) fn fk_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23503"))
}

/// The same failure for each of the callers of a batch that failed as a
/// whole: the message (which carries the cause, e.g. "PostgreSQL: ingest
/// context: connection refused") and whether it is worth retrying.
pub(crate) fn shared(e: &Error) -> Error {
    // The copy's own Display adds the variant's prefix again: keep the
    // message without it.
    let own = match e {
        Error::Unavailable { message, .. } | Error::Backend { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let message = match std::error::Error::source(e) {
        Some(source) => format!("{own}: {source}"),
        None => own,
    };
    if e.is_retryable() {
        Error::unavailable(message)
    } else {
        Error::Backend {
            message,
            source: None,
        }
    }
}
