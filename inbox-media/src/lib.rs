//! # inbox-media
//!
//! [`ObjectMediaStore`]: the core's [`MediaStore`] port over the
//! [`object_store`] crate (the Apache Arrow project's uniform interface to
//! local files and cloud object stores). With
//! [`LocalFileSystem`](object_store::local::LocalFileSystem) it keeps media
//! in a local directory ([`ObjectMediaStore::local`], the default); with
//! the builders of `object_store::aws`, `gcp` or `azure` (this crate's
//! features `aws`, `gcp`, `azure`, off by default) in an object store.
//!
//! A file is kept at `{tenant}/{key}`: the key is a
//! [`MediaKey`] (a safe path segment) and the tenant's id is made into one
//! by [`MediaKey::encode`], so no id reaches outside its tenant's folder.
//! The object holds a short header with the content type, then the bytes,
//! so that a put is one atomic write on every backend (local files are
//! written aside and renamed).
//!
//! ```
//! use std::sync::Arc;
//! use inbox_core::ports::MediaStore;
//! use inbox_media::ObjectMediaStore;
//!
//! // A local directory (the default):
//! let dir = std::env::temp_dir().join("inbox-media-doc");
//! let local: Arc<dyn MediaStore> = Arc::new(ObjectMediaStore::local(&dir)?);
//! // Any object store, here in memory:
//! let memory: Arc<dyn MediaStore> =
//!     Arc::new(ObjectMediaStore::new(Arc::new(object_store::memory::InMemory::new())));
//! # let _ = (local, memory);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), inbox_core::Error>(())
//! ```

#![forbid(unsafe_code)]

use async_trait::async_trait;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

use inbox_core::ports::{check_content_type, MediaKey, MediaObject, MediaStore};
use inbox_core::{Error, Result, TenantId};

/// The first line of every kept object: the format's name and version.
const MAGIC: &[u8] = b"inbox-media/1\n";

/// The core's [`MediaStore`] over any [`ObjectStore`].
#[derive(Debug, Clone)]
pub struct ObjectMediaStore {
    store: Arc<dyn ObjectStore>,
}

impl ObjectMediaStore {
    /// Media kept in `store` (a bucket, a directory, memory).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Media kept in the local directory `dir` (made if missing).
    pub fn local(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| unavailable("making the media directory", e))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| unavailable("opening the media directory", e))?;
        Ok(Self::new(Arc::new(fs)))
    }

    fn path(tenant: &TenantId, key: &MediaKey) -> Path {
        let tenant = MediaKey::encode(tenant.as_str());
        Path::from_iter([
            PathPart::from(tenant.as_str()),
            PathPart::from(key.as_str()),
        ])
    }
}

fn unavailable(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Unavailable {
        message: format!("media store: {what}"),
        source: Some(Box::new(e)),
    }
}

/// The object's bytes: the header, the content type, a newline, the file.
fn encode(object: MediaObject) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(MAGIC.len() + object.content_type.len() + 1 + object.bytes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(object.content_type.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&object.bytes);
    out
}

/// The file back from an object's bytes.
fn decode(raw: &[u8]) -> Result<MediaObject> {
    let corrupt = || Error::Backend {
        message: "media store: a kept object is not in the inbox's format".into(),
        source: None,
    };
    let rest = raw.strip_prefix(MAGIC).ok_or_else(corrupt)?;
    let end = rest.iter().position(|b| *b == b'\n').ok_or_else(corrupt)?;
    let content_type = std::str::from_utf8(&rest[..end]).map_err(|_| corrupt())?;
    Ok(MediaObject {
        content_type: content_type.to_string(),
        bytes: rest[end + 1..].to_vec(),
    })
}

#[async_trait]
impl MediaStore for ObjectMediaStore {
    async fn put_media(
        &self,
        tenant: &TenantId,
        key: &MediaKey,
        object: MediaObject,
    ) -> Result<()> {
        check_content_type(&object.content_type)?;
        let payload = PutPayload::from(encode(object));
        self.store
            .put(&Self::path(tenant, key), payload)
            .await
            .map_err(|e| unavailable("writing a file", e))?;
        Ok(())
    }

    async fn media(&self, tenant: &TenantId, key: &MediaKey) -> Result<Option<MediaObject>> {
        let got = match self.store.get(&Self::path(tenant, key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(unavailable("reading a file", e)),
        };
        let raw = got
            .bytes()
            .await
            .map_err(|e| unavailable("reading a file", e))?;
        decode(&raw).map(Some)
    }
}
