//! `X-Hub-Signature-256` verification.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{SignatureProblem, WhatsAppError};
use crate::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The header Meta signs webhooks with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Parses `sha256=<hex>` into the 32 signature bytes.
fn parse_header(header: &str) -> Result<[u8; 32], WhatsAppError> {
    let malformed = || WhatsAppError::Signature(SignatureProblem::Malformed);
    let hex_part = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(malformed)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| malformed())?;
    Ok(out)
}

/// Verifies a webhook signature: HMAC-SHA256 of the raw body bytes with the
/// app secret, compared in constant time.
///
/// ```
/// use inbox_whatsapp::{sign, verify_signature, Secret};
/// let secret = Secret::new("app-secret");
/// let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
/// let header = sign(&secret, body);
/// assert!(verify_signature(&secret, Some(&header), body).is_ok());
/// assert!(verify_signature(&secret, Some(&header), b"tampered").is_err());
/// ```
pub fn verify_signature(
    app_secret: &Secret,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), WhatsAppError> {
    let header = header.ok_or(WhatsAppError::Signature(SignatureProblem::Missing))?;
    let expected = parse_header(header)?;
    let mut mac = HmacSha256::new_from_slice(app_secret.expose().as_bytes())
        .map_err(|_| WhatsAppError::Config("the app secret cannot key HMAC".into()))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| WhatsAppError::Signature(SignatureProblem::Mismatch))
}

/// Computes the `X-Hub-Signature-256` header value for a body, as Meta does
/// (for tests, and simulators that post webhooks as Meta would).
pub fn sign(app_secret: &Secret, body: &[u8]) -> String {
    match HmacSha256::new_from_slice(app_secret.expose().as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(r: Result<(), WhatsAppError>) -> SignatureProblem {
        match r {
            Err(WhatsAppError::Signature(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn signatures_are_checked_strictly() {
        let secret = Secret::new("s3cr3t");
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let good = sign(&secret, body);
        assert!(verify_signature(&secret, Some(&good), body).is_ok());
        // Known answer, computed independently with openssl:
        // printf '%s' '{"object":"whatsapp_business_account"}' | openssl dgst -sha256 -hmac s3cr3t
        assert_eq!(
            good,
            "sha256=6e8ddfd7f9da1721f11cfdf13893594c5ffed70a767c5b5b193960dee6dec37e"
        );
        // Wrong secret.
        assert_eq!(
            problem(verify_signature(&Secret::new("other"), Some(&good), body)),
            SignatureProblem::Mismatch
        );
        // Missing header.
        assert_eq!(
            problem(verify_signature(&secret, None, body)),
            SignatureProblem::Missing
        );
        // Malformed headers.
        for bad in [
            "",
            "sha256=",
            "sha1=abcd",
            "sha256=zz",
            &good[..good.len() - 1],
            &format!("{good}00"),
        ] {
            assert_eq!(
                problem(verify_signature(&secret, Some(bad), body)),
                SignatureProblem::Malformed,
                "{bad}"
            );
        }
        // Body changed by one byte.
        let mut changed = body.to_vec();
        changed[5] ^= 1;
        assert_eq!(
            problem(verify_signature(&secret, Some(&good), &changed)),
            SignatureProblem::Mismatch
        );
        // Upper-case hex is accepted (hex is case-insensitive).
        assert!(verify_signature(
            &secret,
            Some(&good.to_uppercase().replace("SHA256=", "sha256=")),
            body
        )
        .is_ok());
    }
}
