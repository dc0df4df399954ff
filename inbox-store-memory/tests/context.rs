//! Customer context from the embedder's systems, shown with a conversation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use async_trait::async_trait;
use std::sync::{Arc, Mutex};

use common::{conversation, fixture, says};
use inbox_core::model::Contact;
use inbox_core::ports::{ContextCard, ContextError, CustomerContext};
use inbox_core::{CustomerContextView, Error, TenantId};

#[derive(Default)]
struct Shop {
    calls: Mutex<Vec<(String, String)>>,
    down: bool,
}

#[async_trait]
impl CustomerContext for Shop {
    async fn cards(
        &self,
        tenant: &TenantId,
        c: &Contact,
    ) -> Result<Vec<ContextCard>, ContextError> {
        let wa = c.identity.wa_id.clone().unwrap_or_default();
        self.calls
            .lock()
            .unwrap()
            .push((tenant.to_string(), wa.clone()));
        if self.down {
            return Err(ContextError("shop API timed out after 2 s".into()));
        }
        Ok(vec![ContextCard {
            source: "shop".into(),
            title: format!("2 orders for {wa}"),
            fields: vec![("Last order".into(), "#10423 shipped".into())],
            url: Some("https://shop.example/orders/10423".into()),
            ..Default::default()
        }])
    }
}

#[tokio::test]
async fn conversations_show_the_customers_context() {
    let f = fixture().await;
    let c = says(&f, "w1", "34600111", "where is my order?").await;
    // Without a provider the view says so.
    let view = f.inbox.conversation(&f.actor("ana"), &c).await.unwrap();
    assert_eq!(view.context, CustomerContextView::NotConfigured);

    let shop = Arc::new(Shop::default());
    f.inbox.set_customer_context(shop.clone());
    let view = f.inbox.conversation(&f.actor("ana"), &c).await.unwrap();
    let CustomerContextView::Cards(cards) = &view.context else {
        panic!("{:?}", view.context)
    };
    assert_eq!(cards[0].title, "2 orders for 34600111");
    assert_eq!(
        shop.calls.lock().unwrap().as_slice(),
        [("acme".to_string(), "34600111".to_string())]
    );
    // Also on its own, by contact.
    let again = f
        .inbox
        .customer_context(&f.actor("ana"), &view.contact.id)
        .await
        .unwrap();
    assert_eq!(again, view.context);
}

#[tokio::test]
async fn a_failing_provider_never_fails_the_view() {
    let f = fixture().await;
    let c = says(&f, "w1", "34600111", "hi").await;
    f.inbox.set_customer_context(Arc::new(Shop {
        down: true,
        ..Shop::default()
    }));
    let view = f.inbox.conversation(&f.actor("ana"), &c).await.unwrap();
    assert_eq!(view.messages.len(), 1);
    assert_eq!(
        view.context,
        CustomerContextView::Unavailable("shop API timed out after 2 s".into())
    );
}

#[tokio::test]
async fn other_tenants_never_reach_the_provider() {
    let f = fixture().await;
    let c = says(&f, "w1", "34600111", "hi").await;
    let shop = Arc::new(Shop::default());
    f.inbox.set_customer_context(shop.clone());
    let err = f.inbox.conversation(&f.actor("gus"), &c).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let contact = conversation(&f, &c).await.contact;
    assert!(f
        .inbox
        .customer_context(&f.actor("gus"), &contact)
        .await
        .is_err());
    assert!(shop.calls.lock().unwrap().is_empty());
}
