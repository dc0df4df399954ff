//! The core's media store conformance suite on both backends this crate
//! is used with by default: memory and a local directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use std::sync::Arc;

use inbox_core::ports::{MediaKey, MediaObject, MediaStore};
use inbox_core::{Result, TenantId};
use inbox_media::ObjectMediaStore;

/// A store in a temporary directory, removed when the store is dropped.
struct InTempDir {
    dir: tempfile::TempDir,
    store: ObjectMediaStore,
}

impl InTempDir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectMediaStore::local(dir.path().join("media")).unwrap();
        Self { dir, store }
    }
}

#[async_trait]
impl MediaStore for InTempDir {
    async fn put_media(
        &self,
        tenant: &TenantId,
        key: &MediaKey,
        object: MediaObject,
    ) -> Result<()> {
        self.store.put_media(tenant, key, object).await
    }

    async fn media(&self, tenant: &TenantId, key: &MediaKey) -> Result<Option<MediaObject>> {
        self.store.media(tenant, key).await
    }
}

mod in_memory {
    use super::*;
    inbox_core::media_store_conformance_tests!(async {
        Arc::new(ObjectMediaStore::new(Arc::new(
            object_store::memory::InMemory::new(),
        ))) as Arc<dyn MediaStore>
    });
}

mod local_directory {
    use super::*;
    inbox_core::media_store_conformance_tests!(async {
        Arc::new(InTempDir::new()) as Arc<dyn MediaStore>
    });
}

/// Files land at `{tenant}/{key}` inside the directory, whatever the
/// tenant's id: nothing is written outside it.
#[tokio::test]
async fn files_stay_inside_the_directory() {
    let kept = InTempDir::new();
    let object = MediaObject {
        bytes: b"png".to_vec(),
        content_type: "image/png".into(),
    };
    let key = MediaKey::new("m1").unwrap();
    for tenant in ["acme", "..", "../..", "a/b"] {
        let tenant = TenantId::new(tenant).unwrap();
        kept.put_media(&tenant, &key, object.clone()).await.unwrap();
    }
    assert!(kept.dir.path().join("media/acme/m1").is_file());
    let outside: Vec<_> = std::fs::read_dir(kept.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        outside,
        vec!["media"],
        "nothing next to the media directory"
    );
    let tenants = std::fs::read_dir(kept.dir.path().join("media"))
        .unwrap()
        .count();
    assert_eq!(tenants, 4, "one folder per tenant");
}
