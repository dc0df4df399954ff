//! The [`MediaStore`] contract: files kept per tenant and key, read back
//! exactly, replaced whole, never shown to another tenant.

use crate::testing::conformance::support::*;

fn key(s: &str) -> MediaKey {
    MediaKey::new(s).unwrap()
}

fn object(bytes: &[u8], content_type: &str) -> MediaObject {
    MediaObject {
        bytes: bytes.to_vec(),
        content_type: content_type.into(),
    }
}

/// What is put is read back exactly: bytes (all 256 values, and none) and
/// content type (with its parameters).
pub async fn media_is_kept_and_read_back_exactly<S: MediaStore + ?Sized>(store: Arc<S>) {
    let acme = t("acme");
    let all: Vec<u8> = (0..=255u8).collect();
    let voice = object(&all, "audio/ogg; codecs=opus");
    store
        .put_media(&acme, &key("wamid.1"), voice.clone())
        .await
        .unwrap();
    let got = store.media(&acme, &key("wamid.1")).await.unwrap();
    assert_eq!(got, Some(voice));
    let empty = object(b"", "text/plain");
    store
        .put_media(&acme, &key("empty"), empty.clone())
        .await
        .unwrap();
    assert_eq!(
        store.media(&acme, &key("empty")).await.unwrap(),
        Some(empty)
    );
    let encoded = MediaKey::encode("../../etc/passwd");
    store
        .put_media(&acme, &encoded, object(b"x", "text/plain"))
        .await
        .unwrap();
    assert!(store.media(&acme, &encoded).await.unwrap().is_some());
}

/// A key nothing was put under answers `None`, also next to one that was
/// (no prefix matching), and a bad content type is refused, nothing kept.
pub async fn absent_media_is_none_and_bad_types_are_refused<S: MediaStore + ?Sized>(store: Arc<S>) {
    let acme = t("acme");
    assert_eq!(store.media(&acme, &key("nothing")).await.unwrap(), None);
    store
        .put_media(&acme, &key("m1"), object(b"1", "image/png"))
        .await
        .unwrap();
    assert_eq!(store.media(&acme, &key("m")).await.unwrap(), None);
    assert_eq!(store.media(&acme, &key("m10")).await.unwrap(), None);
    for bad in ["", "image/png\nX-Evil: 1", &"a".repeat(256)] {
        let e = store.put_media(&acme, &key("bad"), object(b"1", bad)).await;
        assert!(
            matches!(e, Err(Error::InvalidInput { .. })),
            "{bad:?}: {e:?}"
        );
        assert_eq!(store.media(&acme, &key("bad")).await.unwrap(), None);
    }
}

/// A tenant's file is never another's, under the same key or any other;
/// tenants whose ids are not safe path segments are kept apart too.
pub async fn media_is_scoped_by_tenant<S: MediaStore + ?Sized>(store: Arc<S>) {
    let (acme, globex) = (t("acme"), t("globex"));
    store
        .put_media(&acme, &key("k"), object(b"acme", "image/png"))
        .await
        .unwrap();
    assert_eq!(store.media(&globex, &key("k")).await.unwrap(), None);
    store
        .put_media(&globex, &key("k"), object(b"globex", "image/jpeg"))
        .await
        .unwrap();
    let a = store.media(&acme, &key("k")).await.unwrap().unwrap();
    let g = store.media(&globex, &key("k")).await.unwrap().unwrap();
    assert_eq!((a.bytes, g.bytes), (b"acme".to_vec(), b"globex".to_vec()));
    for odd in ["..", "acme/..", "acme/k", "../acme"] {
        let odd = TenantId::new(odd).unwrap();
        assert_eq!(store.media(&odd, &key("k")).await.unwrap(), None, "{odd}");
        store
            .put_media(&odd, &key("k"), object(b"odd", "text/plain"))
            .await
            .unwrap();
    }
    let a = store.media(&acme, &key("k")).await.unwrap().unwrap();
    assert_eq!(a.bytes, b"acme".to_vec());
    let dots = store.media(&t(".."), &key("k")).await.unwrap().unwrap();
    assert_eq!(dots.bytes, b"odd".to_vec());
}

/// Putting again replaces: the same file twice (two fetches racing) keeps
/// one, a different one is read back whole.
pub async fn putting_media_again_replaces_it<S: MediaStore + ?Sized>(store: Arc<S>) {
    let acme = t("acme");
    let first = object(&[7; 4096], "application/pdf");
    let doc = key("doc");
    let puts = (0..4).map(|_| store.put_media(&acme, &doc, first.clone()));
    for r in join_all(puts).await {
        r.unwrap();
    }
    assert_eq!(store.media(&acme, &key("doc")).await.unwrap(), Some(first));
    let second = object(b"short", "text/plain");
    store
        .put_media(&acme, &key("doc"), second.clone())
        .await
        .unwrap();
    assert_eq!(store.media(&acme, &key("doc")).await.unwrap(), Some(second));
}
