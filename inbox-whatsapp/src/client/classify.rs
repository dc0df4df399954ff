//! Mapping Graph API errors to the core's transport errors.

use serde::Deserialize;
use std::time::Duration;

use inbox_core::ports::TransportError;

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    is_transient: Option<bool>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

/// Classifies a failed Graph API response by Meta's error code, then by HTTP
/// status.
///
/// - rate limited: 130429, 131056, 4, 80007, 613 (and HTTP 429);
/// - window closed: 131047;
/// - unauthorized: 190, 0, 10, 102, 200–299 (and HTTP 401/403 without a code);
/// - transient: 1, 2, 131000, 131016, 133004, anything marked `is_transient`,
///   and 5xx without a known code;
/// - everything else (131026, 131051, 131053, 131008, 131009, 132xxx, 100 ...)
///   is permanently rejected.
pub fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> TransportError {
    let parsed: Option<GraphError> = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    let (code, message) = match &parsed {
        Some(e) => {
            let mut m = e
                .message
                .clone()
                .unwrap_or_else(|| format!("HTTP {status}"));
            if let Some(d) = e.error_data.as_ref().and_then(|d| d.details.as_ref()) {
                m = format!("{m}: {d}");
            }
            if let Some(sub) = e.error_subcode {
                m = format!("{m} (subcode {sub})");
            }
            (e.code, m)
        }
        None => (None, format!("HTTP {status}")),
    };
    let transient_flag = parsed
        .as_ref()
        .and_then(|e| e.is_transient)
        .unwrap_or(false);
    match code {
        Some(130429 | 131056 | 4 | 80007 | 613) => {
            TransportError::RateLimited { code, retry_after }
        }
        Some(131047) => TransportError::WindowClosed { code },
        Some(190 | 0 | 10 | 102 | 200..=299) => TransportError::Unauthorized { code, message },
        Some(1 | 2 | 131000 | 131016 | 133004) => TransportError::Transient { code, message },
        Some(_) if transient_flag => TransportError::Transient { code, message },
        Some(_) => TransportError::Rejected { code, message },
        None => match status {
            429 => TransportError::RateLimited { code, retry_after },
            401 | 403 => TransportError::Unauthorized { code, message },
            500..=599 => TransportError::Transient { code, message },
            _ => TransportError::Rejected { code, message },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64) -> Vec<u8> {
        format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"fbtrace_id":"x"}}}}"#).into_bytes()
    }

    #[test]
    fn codes_map_to_decisions() {
        let c = |status, code| classify(status, &err(code), None);
        assert!(matches!(c(400, 130429), TransportError::RateLimited { .. }));
        assert!(matches!(c(400, 131056), TransportError::RateLimited { .. }));
        assert!(matches!(c(400, 80007), TransportError::RateLimited { .. }));
        assert!(matches!(
            c(400, 131047),
            TransportError::WindowClosed { .. }
        ));
        for code in [190, 0, 10] {
            assert!(
                matches!(c(401, code), TransportError::Unauthorized { .. }),
                "{code}"
            );
        }
        for code in [1, 2, 131000] {
            assert!(
                matches!(c(500, code), TransportError::Transient { .. }),
                "{code}"
            );
        }
        for code in [
            131026, 131051, 131053, 131008, 131009, 132000, 132001, 132012,
        ] {
            let e = c(400, code);
            assert!(matches!(e, TransportError::Rejected { .. }), "{code}");
            assert!(!e.is_retryable());
        }
        assert!(matches!(
            classify(502, b"<html>bad gateway</html>", None),
            TransportError::Transient { .. }
        ));
        assert!(matches!(
            classify(429, b"", Some(Duration::from_secs(3))),
            TransportError::RateLimited {
                retry_after: Some(_),
                ..
            }
        ));
        let marked = br#"{"error":{"message":"m","code":999,"is_transient":true}}"#;
        assert!(matches!(
            classify(400, marked, None),
            TransportError::Transient { .. }
        ));
    }
}
