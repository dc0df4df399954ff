//! `POST /api/contacts/import`: a CSV list of customers, read here into
//! rows (the columns and their formats), checked and applied by the core
//! ([`inbox_core::Inbox::import_contacts`]).
//!
//! Columns (the header names them, in any order, any case):
//! `phone` (or `wa_id`), `user_id`, `name`, `tags` (separated by `;`),
//! `consent` (`yes`/`no`, empty: unknown), `consent_at` (RFC 3339), and
//! `attr.<name>` for each attribute. A line that cannot be read is
//! reported with the others; a header that names an unknown column
//! refuses the whole file (422), before anything is imported.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use inbox_core::{ImportProblem, ImportReport, ImportRow};

use super::session::Caller;
use crate::error::{ApiError, ApiResult};

/// What a column of the file is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Phone,
    UserId,
    Name,
    Tags,
    Consent,
    ConsentAt,
    Attribute(String),
}

/// The columns a header names, or why it cannot be read.
fn columns(header: &csv::StringRecord) -> Result<Vec<Column>, ApiError> {
    header
        .iter()
        .map(|h| {
            let name = h.trim().to_ascii_lowercase();
            Ok(match name.as_str() {
                "phone" | "wa_id" => Column::Phone,
                "user_id" => Column::UserId,
                "name" => Column::Name,
                "tags" => Column::Tags,
                "consent" => Column::Consent,
                "consent_at" => Column::ConsentAt,
                _ => match h.trim().strip_prefix("attr.").filter(|k| !k.is_empty()) {
                    Some(key) => Column::Attribute(key.to_string()),
                    None => {
                        return Err(ApiError::new(
                            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                            "invalid_input",
                            format!("unknown column {h:?}: phone, user_id, name, tags, consent, consent_at or attr.<name>"),
                        ))
                    }
                },
            })
        })
        .collect()
}

/// One record read into a row, or the first field that cannot be read.
fn read_row(
    line: u32,
    cols: &[Column],
    record: &csv::StringRecord,
) -> Result<ImportRow, ImportProblem> {
    let mut row = ImportRow {
        line,
        ..ImportRow::default()
    };
    let mut attributes = BTreeMap::new();
    for (col, value) in cols.iter().zip(record.iter()) {
        let v = value.trim();
        let some = (!v.is_empty()).then(|| v.to_string());
        match col {
            Column::Phone => row.wa_id = some,
            Column::UserId => row.user_id = some,
            Column::Name => row.name = some,
            Column::Tags => {
                row.tags = v
                    .split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            Column::Consent => row.consent = consent(line, v)?,
            Column::ConsentAt if v.is_empty() => {}
            Column::ConsentAt => {
                let at = DateTime::parse_from_rfc3339(v).map_err(|_| ImportProblem {
                    line,
                    field: "consent_at".into(),
                    problem: format!("{v:?} is not a time (2026-03-02T09:00:00Z)"),
                })?;
                row.consent_at = Some(at.with_timezone(&Utc));
            }
            Column::Attribute(key) if v.is_empty() => {
                let _ = key;
            }
            Column::Attribute(key) => {
                attributes.insert(key.clone(), v.to_string());
            }
        }
    }
    row.attributes = attributes;
    Ok(row)
}

fn consent(line: u32, v: &str) -> Result<Option<bool>, ImportProblem> {
    match v.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "yes" | "y" | "true" | "1" | "si" | "sí" => Ok(Some(true)),
        "no" | "n" | "false" | "0" => Ok(Some(false)),
        _ => Err(ImportProblem {
            line,
            field: "consent".into(),
            problem: format!("{v:?} is not yes or no"),
        }),
    }
}

/// The line of the file a record starts on, counted from its bytes (the
/// reader's own count skips blank lines).
fn line_at(body: &str, at: Option<&csv::Position>) -> u32 {
    let bytes = body.as_bytes();
    let mut byte = at.map_or(0, |p| p.byte() as usize).min(bytes.len());
    // (a record's position may be that of blank lines before it)
    while bytes.get(byte).is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        byte += 1;
    }
    bytes[..byte].iter().filter(|b| **b == b'\n').count() as u32 + 1
}

/// The file read into rows, and the lines that could not be read.
fn read(body: &str) -> Result<(Vec<ImportRow>, Vec<ImportProblem>), ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(body.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| {
            ApiError::bad_request(format!("the file's first line is not a CSV header: {e}"))
        })?
        .clone();
    let cols = columns(&header)?;
    let (mut rows, mut problems) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let (line, record) = match record {
            Ok(r) => (line_at(body, r.position()), r),
            Err(e) => {
                let line = line_at(body, e.position());
                problems.push(ImportProblem {
                    line,
                    field: "(line)".into(),
                    problem: e.to_string(),
                });
                continue;
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match read_row(line, &cols, &record) {
            Ok(row) => rows.push(row),
            Err(p) => problems.push(p),
        }
    }
    Ok((rows, problems))
}

/// `POST /api/contacts/import`: imports a CSV list of customers
/// (supervisors and admins). Rows that cannot be read or are refused are
/// reported by line and field; the others are applied; the same file again
/// changes nothing.
#[utoipa::path(post, path = "/api/contacts/import", tag = "contacts", request_body(content = String, content_type = "text/csv", description = "phone,user_id,name,tags,consent,consent_at,attr.<name>"), responses((status = 200, description = "What the import did, with the refused rows", body = ImportReport), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError, description = "invalid_input: an unknown column, too many rows")))]
pub async fn import_contacts(Caller(s, a): Caller, body: String) -> ApiResult<Response> {
    // Whether the caller may import at all comes before what is wrong
    // with the file (an empty import checks only that).
    s.inbox.import_contacts(&a, &[]).await?;
    let (rows, unread) = read(&body)?;
    let mut report = s.inbox.import_contacts(&a, &rows).await?;
    report.rows += unread.len() as u32;
    report.refused += unread.len() as u32;
    report.problems.extend(unread);
    report.problems.sort_by_key(|p| p.line);
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_values_and_bad_lines_are_read_with_their_line() {
        let csv = "Phone,name,tags,consent,consent_at,attr.plan\n\
                   +34 600 111 222,\"Ruiz, Marta\",vip; gold ,yes,2026-03-01T10:00:00Z,pro\n\
                   \n\
                   34600111333,Luis,,maybe,,\n\
                   34600111444,Eva,,,yesterday,\n";
        let (rows, problems) = read(csv).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.line, r.wa_id.as_deref(), r.name.as_deref()),
            (2, Some("+34 600 111 222"), Some("Ruiz, Marta"))
        );
        assert_eq!(r.tags, ["vip", "gold"]);
        assert_eq!(r.consent, Some(true));
        assert_eq!(r.attributes.get("plan").map(String::as_str), Some("pro"));
        let found: Vec<(u32, &str)> = problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(found, [(4, "consent"), (5, "consent_at")]);
    }

    #[test]
    fn an_unknown_column_refuses_the_file() {
        let err = read("phone,colour\n1,2\n").unwrap_err();
        assert!(err.message.contains("\"colour\""), "{}", err.message);
    }
}
