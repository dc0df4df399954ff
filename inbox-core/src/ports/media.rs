//! Where the files of media messages are kept once fetched from the
//! provider: Meta's download links expire within minutes and its media ids
//! after about 30 days, so the HTTP layer keeps each file it fetched and
//! serves it from here afterwards.
//!
//! Not part of [`Store`](super::Store): media files are bytes, megabytes
//! each, not rows of the inbox's state. They live best in a directory or an
//! object store (S3, GCS, Azure), not in the database the store commits
//! conversations to; nothing in a commit depends on them, and a file lost
//! is fetched again (while Meta still has it). So a deployment picks its
//! media store apart from its store and passes it only where files are
//! served.

use async_trait::async_trait;
use std::fmt;

use crate::error::{Error, Result};
use crate::ids::{MessageId, TenantId};

/// The longest [`MediaKey`], in bytes.
pub const MEDIA_KEY_MAX: usize = 200;

/// The name of a kept file within its tenant: 1 to [`MEDIA_KEY_MAX`] ASCII
/// letters, digits, `-`, `_`, `~` and `.`, not starting with `.`: a safe path
/// segment on every file system and object store (never `..`, never a
/// `/`).
///
/// ```
/// use inbox_core::ports::MediaKey;
/// assert!(MediaKey::new("wamid.123").is_ok());
/// assert!(MediaKey::new("../etc").is_err());
/// assert!(MediaKey::new("..").is_err());
/// // Any text can be made into a key, one-to-one:
/// assert_eq!(MediaKey::encode("a/b").as_str(), "~612f62");
/// assert_eq!(MediaKey::encode("plain-1").as_str(), "plain-1");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaKey(String);

impl MediaKey {
    /// A key, if `key` is a safe path segment (see [`MediaKey`]).
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        if is_safe_segment(&key) {
            Ok(Self(key))
        } else {
            Err(Error::invalid(
                "media key",
                "1 to 200 ASCII letters, digits, '-', '_', '~' and '.', not starting with '.'",
            ))
        }
    }

    /// Any text as a key, one-to-one: itself when it is a safe segment of
    /// at most 100 bytes without `~`, else `~` and the hex of its bytes (cut to fit,
    /// with the SHA-256 of the whole then standing in). Also how adapters
    /// name a tenant's folder.
    pub fn encode(text: &str) -> Self {
        if text.len() <= 100 && is_safe_segment(text) && !text.contains('~') {
            return Self(text.to_string());
        }
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        if hex.len() < MEDIA_KEY_MAX {
            return Self(format!("~{hex}"));
        }
        use sha2::Digest;
        let digest = sha2::Sha256::digest(text.as_bytes());
        let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("~~{digest}"))
    }

    /// The key of a message's file.
    pub fn for_message(message: &MessageId) -> Self {
        Self::encode(message.as_str())
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaKey({:?})", self.0)
    }
}

fn is_safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MEDIA_KEY_MAX
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// A kept file: its bytes and content type. `Debug` shows the type and
/// the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaObject {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its MIME type as it was kept (`image/jpeg`).
    pub content_type: String,
}

impl fmt::Debug for MediaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaObject")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Where media files are kept, per tenant (a local directory, an object
/// store). Whole files go in and out: the HTTP layer's size limit bounds
/// them.
///
/// # Contract
///
/// - [`MediaStore::put_media`] keeps `object` under (tenant, key),
///   replacing what was there: putting the same file again is harmless
///   (two instances fetching one file at once both succeed, one file is
///   kept). A content type that is empty, longer than 255 bytes or not
///   printable ASCII is refused with
///   [`Error::InvalidInput`](crate::Error::InvalidInput), nothing kept.
/// - [`MediaStore::media`] answers exactly what was last put under
///   (tenant, key), or `None` when nothing was.
/// - A put is atomic: a reader sees the old file or the new one whole,
///   never a part.
/// - Tenancy: a key is its tenant's; another tenant's file under the same
///   key is never answered.
/// - Failures of the backend are
///   [`Error::Unavailable`](crate::Error::Unavailable) (may succeed later)
///   or [`Error::Backend`](crate::Error::Backend).
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Keeps `object` under `key` of `tenant`, replacing what was there.
    async fn put_media(&self, tenant: &TenantId, key: &MediaKey, object: MediaObject)
        -> Result<()>;

    /// The file kept under `key` of `tenant`, if any.
    async fn media(&self, tenant: &TenantId, key: &MediaKey) -> Result<Option<MediaObject>>;
}

/// Checks a content type as [`MediaStore::put_media`] requires: for
/// implementations to call first.
pub fn check_content_type(content_type: &str) -> Result<()> {
    let ok = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type.bytes().all(|b| (0x20..0x7f).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "content type",
            "1 to 255 printable ASCII characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_are_safe_segments_and_encoding_is_one_to_one() {
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "é",
            &"a".repeat(201),
        ] {
            assert!(MediaKey::new(bad).is_err(), "{bad:?}");
        }
        let texts = [
            "wamid.1",
            "~612f62",
            "a/b",
            "..",
            "a~b",
            &"x".repeat(100),
            &"x".repeat(101),
            &"/".repeat(500),
        ];
        let keys: Vec<MediaKey> = texts.iter().map(|t| MediaKey::encode(t)).collect();
        for (text, key) in texts.iter().zip(&keys) {
            assert_eq!(&MediaKey::new(key.as_str()).unwrap(), key, "{text:?}");
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), texts.len());
        assert_eq!(MediaKey::encode("wamid.1").as_str(), "wamid.1");
    }

    #[test]
    fn content_types_are_printable_ascii() {
        assert!(check_content_type("audio/ogg; codecs=opus").is_ok());
        assert!(check_content_type("").is_err());
        assert!(check_content_type("a\nb").is_err());
    }
}
