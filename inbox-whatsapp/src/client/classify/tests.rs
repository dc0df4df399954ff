//! The classifier against Meta's error-code reference, code by code.

use super::{class_of, classify, parse_retry_after, CODES};
use chrono::{DateTime, Utc};
use inbox_core::ports::TransportError;
use std::time::Duration;

/// The class a code or status is expected to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// `RateLimited`: retried with backoff (or after `Retry-After`).
    RateLimited,
    /// `WindowClosed`: never retried; a template is needed.
    WindowClosed,
    /// `Unauthorized`: never retried; the token or its permissions.
    Unauthorized,
    /// `Transient`: retried with backoff.
    Transient,
    /// `Rejected`: never retried.
    Rejected,
}

use Expect::*;

const RETRIED: bool = true;
const FINAL: bool = false;

/// Every code of Meta's WhatsApp Cloud API "Error codes" reference (and
/// the Graph API's generic codes the Cloud API answers with), the HTTP
/// status Meta documents for it (400 where the reference names none), the
/// expected class and whether it is retried. Written from the reference,
/// not from the classifier's table.
const META_CODES: &[(i64, u16, Expect, bool)] = &[
    // Authorization errors.
    (0, 401, Unauthorized, FINAL),
    (3, 500, Unauthorized, FINAL),
    (10, 403, Unauthorized, FINAL),
    (102, 401, Unauthorized, FINAL),
    (104, 401, Unauthorized, FINAL),
    (190, 401, Unauthorized, FINAL),
    (200, 403, Unauthorized, FINAL),
    (230, 403, Unauthorized, FINAL),
    (299, 403, Unauthorized, FINAL),
    (131005, 403, Unauthorized, FINAL),
    // Throttling errors.
    (4, 429, RateLimited, RETRIED),
    (17, 429, RateLimited, RETRIED),
    (32, 429, RateLimited, RETRIED),
    (613, 429, RateLimited, RETRIED),
    (80007, 429, RateLimited, RETRIED),
    (130429, 400, RateLimited, RETRIED),
    (131048, 400, RateLimited, RETRIED),
    (131056, 400, RateLimited, RETRIED),
    (133016, 400, RateLimited, RETRIED),
    (131064, 400, Rejected, FINAL),
    // Integrity errors.
    (368, 403, Rejected, FINAL),
    (130497, 403, Rejected, FINAL),
    (131031, 403, Rejected, FINAL),
    // Other errors.
    (1, 400, Transient, RETRIED),
    (2, 503, Transient, RETRIED),
    (33, 400, Rejected, FINAL),
    (100, 400, Rejected, FINAL),
    (130472, 400, Rejected, FINAL),
    (131000, 500, Transient, RETRIED),
    (131008, 400, Rejected, FINAL),
    (131009, 400, Rejected, FINAL),
    (131016, 500, Transient, RETRIED),
    (131021, 400, Rejected, FINAL),
    (131026, 400, Rejected, FINAL),
    (131037, 400, Rejected, FINAL),
    (131042, 400, Rejected, FINAL),
    (131045, 500, Rejected, FINAL),
    (131047, 400, WindowClosed, FINAL),
    (131049, 400, Rejected, FINAL),
    (131050, 400, Rejected, FINAL),
    (131051, 400, Rejected, FINAL),
    (131052, 400, Rejected, FINAL),
    (131053, 400, Rejected, FINAL),
    (131055, 400, Rejected, FINAL),
    (131057, 500, Transient, RETRIED),
    (131062, 400, Rejected, FINAL),
    // Thread control (Conversation Routing): take not permitted.
    (2494191, 400, Rejected, FINAL),
    (131063, 400, Rejected, FINAL),
    // Template errors.
    (132000, 400, Rejected, FINAL),
    (132001, 404, Rejected, FINAL),
    (132005, 400, Rejected, FINAL),
    (132007, 400, Rejected, FINAL),
    (132012, 400, Rejected, FINAL),
    (132015, 400, Rejected, FINAL),
    (132016, 400, Rejected, FINAL),
    (132018, 400, Rejected, FINAL),
    // Flow errors.
    (132068, 400, Rejected, FINAL),
    (132069, 400, Rejected, FINAL),
    // Registration errors.
    (133000, 500, Rejected, FINAL),
    (133004, 503, Transient, RETRIED),
    (133005, 400, Rejected, FINAL),
    (133006, 400, Rejected, FINAL),
    (133008, 400, Rejected, FINAL),
    (133009, 400, Rejected, FINAL),
    (133010, 400, Rejected, FINAL),
    (133015, 400, Transient, RETRIED),
    // Payment errors.
    (134011, 400, Rejected, FINAL),
    // Marketing messages API.
    (134100, 400, Rejected, FINAL),
    (134101, 400, Transient, RETRIED),
    (134102, 400, Rejected, FINAL),
    // Generic user error.
    (135000, 400, Rejected, FINAL),
    // Template creation, analytics, migration, sync and onboarding errors
    // (not answers to the calls this client makes, classified all the same).
    (2388012, 400, Rejected, FINAL),
    (2388019, 400, Rejected, FINAL),
    (2388040, 400, Rejected, FINAL),
    (2388047, 400, Rejected, FINAL),
    (2388072, 400, Rejected, FINAL),
    (2388073, 400, Rejected, FINAL),
    (2388091, 400, Rejected, FINAL),
    (2388092, 400, Rejected, FINAL),
    (2388093, 400, Rejected, FINAL),
    (2388103, 400, Rejected, FINAL),
    (2388293, 400, Rejected, FINAL),
    (2388299, 400, Rejected, FINAL),
    (200005, 400, Rejected, FINAL),
    (200006, 400, Rejected, FINAL),
    (200007, 400, Rejected, FINAL),
    (2494100, 400, Transient, RETRIED),
    (2593079, 400, Rejected, FINAL),
    (2593085, 400, Rejected, FINAL),
    (2593107, 400, Rejected, FINAL),
    (2593108, 400, Rejected, FINAL),
    (1752041, 400, Rejected, FINAL),
];

/// A code Meta does not document (or documents after this table was
/// written): classified by the HTTP status.
const UNKNOWN: i64 = 987_654;

/// An HTTP status fallback: status, body, Retry-After, expected class,
/// retried.
type Fallback = (u16, Vec<u8>, Option<Duration>, Expect, bool);

/// Answers without a documented code.
fn fallbacks() -> Vec<Fallback> {
    let secs = Some(Duration::from_secs(7));
    let html = b"<html>bad gateway</html>".to_vec();
    let timed_out = b"upstream timed out".to_vec();
    vec![
        (429, err(UNKNOWN), secs, RateLimited, RETRIED),
        (429, err(UNKNOWN), None, RateLimited, RETRIED),
        (429, b"".to_vec(), secs, RateLimited, RETRIED),
        (500, err(UNKNOWN), None, Transient, RETRIED),
        (502, html, None, Transient, RETRIED),
        (503, err(UNKNOWN), None, Transient, RETRIED),
        (503, b"".to_vec(), None, Transient, RETRIED),
        (504, timed_out, None, Transient, RETRIED),
        (401, err(UNKNOWN), None, Unauthorized, FINAL),
        (401, b"".to_vec(), None, Unauthorized, FINAL),
        (403, err(UNKNOWN), None, Unauthorized, FINAL),
        (400, err(UNKNOWN), None, Rejected, FINAL),
        (404, b"not json".to_vec(), None, Rejected, FINAL),
        (413, b"".to_vec(), None, Rejected, FINAL),
        (400, marked_transient(UNKNOWN), None, Transient, RETRIED),
    ]
}

fn err(code: i64) -> Vec<u8> {
    format!(
        r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"error_data":{{"messaging_product":"whatsapp","details":"d"}},"fbtrace_id":"x"}}}}"#
    )
    .into_bytes()
}

fn marked_transient(code: i64) -> Vec<u8> {
    format!(r#"{{"error":{{"message":"m","code":{code},"is_transient":true}}}}"#).into_bytes()
}

fn class(e: &TransportError) -> Option<Expect> {
    Some(match e {
        TransportError::RateLimited { .. } => RateLimited,
        TransportError::WindowClosed { .. } => WindowClosed,
        TransportError::Unauthorized { .. } => Unauthorized,
        TransportError::Transient { .. } => Transient,
        TransportError::Rejected { .. } => Rejected,
        _ => return None,
    })
}

#[test]
fn every_documented_code_gets_its_class_whatever_the_status() {
    let mut wrong = Vec::new();
    for &(code, status, expect, retried) in META_CODES {
        // The code decides, not the status (Meta: build error handling on
        // codes); try the documented status and two others.
        for status in [status, 400, 503] {
            let e = classify(status, &err(code), None);
            if class(&e) != Some(expect) || e.is_retryable() != retried || e.code() != Some(code) {
                wrong.push(format!("{code} (HTTP {status}): {e:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn unknown_codes_fall_back_to_the_http_status() {
    let mut wrong = Vec::new();
    for (status, body, retry_after, expect, retried) in fallbacks() {
        let e = classify(status, &body, retry_after);
        let kept = status != 429
            || e == TransportError::RateLimited {
                code: e.code(),
                retry_after,
            };
        if class(&e) != Some(expect) || e.is_retryable() != retried || !kept {
            wrong.push(format!(
                "HTTP {status} {}: {e:?}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn messages_carry_meta_details_but_nothing_else() {
    let e = classify(400, &err(131026), None);
    assert_eq!(
        e,
        TransportError::Rejected {
            code: Some(131026),
            message: "m: d".into()
        }
    );
    let e = classify(502, b"<html>bad gateway</html>", None);
    assert_eq!(e.code(), None);
    assert!(e.to_string().contains("HTTP 502"), "{e}");
}

#[test]
fn the_test_table_covers_the_classifier_table_and_agrees_with_it() {
    // Both ends of every range of the classifier's table are in Meta's list
    // above, and every code of that list is in the classifier's table: a
    // code added to one and not the other fails here.
    let listed = |code: i64| META_CODES.iter().any(|(c, ..)| *c == code);
    for &(from, to, _) in CODES {
        assert!(
            listed(from) && listed(to),
            "{from}..={to} not in META_CODES"
        );
    }
    for &(code, ..) in META_CODES {
        assert!(class_of(code).is_some(), "{code} not in CODES");
    }
    assert!(class_of(UNKNOWN).is_none());
}

#[test]
fn retry_after_in_seconds_or_as_a_date() {
    let now = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let cases = [
        ("7", Some(Duration::from_secs(7))),
        (" 0 ", Some(Duration::ZERO)),
        (
            "Sun, 01 Mar 2026 10:01:30 GMT",
            Some(Duration::from_secs(90)),
        ),
        ("Sun, 01 Mar 2026 09:00:00 GMT", Some(Duration::ZERO)),
        ("soon", None),
        ("-5", None),
        ("", None),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_retry_after(value, now), expected, "{value:?}");
    }
}

#[test]
fn a_code_sent_as_a_string_still_counts() {
    let body = br#"{"error":{"message":"pair rate limit","code":"131056"}}"#;
    assert!(matches!(
        classify(400, body, None),
        TransportError::RateLimited {
            code: Some(131056),
            ..
        }
    ));
    let body = br#"{"error":{"message":"odd","code":{"n":1}}}"#;
    assert_eq!(
        classify(400, body, None),
        TransportError::Rejected {
            code: None,
            message: "odd".into()
        }
    );
}

#[test]
fn a_known_subcode_says_more_than_its_code() {
    let body =
        br#"{"error":{"message":"(#100) take not permitted","code":100,"error_subcode":2494191}}"#;
    let e = classify(400, body, None);
    assert_eq!(e.code(), Some(2494191));
    assert!(matches!(e, TransportError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("subcode 2494191"), "{e}");
    // A subcode the table does not know leaves the code as it was.
    let body = br#"{"error":{"message":"bad","code":100,"error_subcode":2494999}}"#;
    assert_eq!(classify(400, body, None).code(), Some(100));
}
