//! The [`EventBus`] contract.

use crate::testing::conformance::support::*;
use futures_util::StreamExt;

/// A subscriber gets its tenant's committed events in order, live-only
/// events too, and nothing of other tenants; a subscriber to all tenants
/// gets every event in publish order.
pub async fn bus_delivers_in_order_to_the_right_tenant(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let mut sub = bus.subscribe(&acme);
    let mut other = bus.subscribe(&t("globex"));
    let mut all = bus.subscribe_all();
    let tagged = |tenant: &TenantId, i: i64| {
        Event::new(
            tenant.clone(),
            at(i),
            EventActor::System,
            EventKind::Tagged {
                added: vec![format!("t{i}")],
                removed: vec![],
            },
        )
    };
    let commit = |events: Vec<Event>| {
        let store = store.clone();
        async move {
            let tenant = events[0].tenant.clone();
            store
                .commit(Changeset {
                    events,
                    ..Changeset::new(tenant)
                })
                .await
                .unwrap()
                .events
        }
    };
    let first = commit(vec![tagged(&acme, 1), tagged(&acme, 2)]).await;
    let foreign = commit(vec![tagged(&t("globex"), 3)]).await;
    let second = commit(vec![tagged(&acme, 4), tagged(&acme, 5), tagged(&acme, 6)]).await;
    let mut live = Event::new(
        acme.clone(),
        at(7),
        EventActor::System,
        EventKind::CollisionPrevented {
            agent: AgentId::new("ben").unwrap(),
            action: "claim".into(),
            reason: "already owned by ana".into(),
        },
    );
    live.seq = 0;
    bus.publish(&first).await.unwrap();
    bus.publish(&foreign).await.unwrap();
    bus.publish(&second).await.unwrap();
    bus.publish(std::slice::from_ref(&live)).await.unwrap();
    let mut expected: Vec<Event> = first.iter().chain(second.iter()).cloned().collect();
    expected.push(live);
    for e in &expected {
        match within_5s(sub.next()).await {
            Some(Some(BusItem::Event(got))) => assert_eq!(&*got, e),
            other => panic!("expected {e:?}, got {other:?}"),
        }
    }
    match within_5s(other.next()).await {
        Some(Some(BusItem::Event(e))) => assert_eq!(*e, foreign[0]),
        other => panic!("{other:?}"),
    }
    // Every tenant's, in publish order.
    let published = first
        .iter()
        .chain(&foreign)
        .chain(&second)
        .chain(&expected[5..]);
    for e in published {
        match within_5s(all.next()).await {
            Some(Some(BusItem::Event(got))) => assert_eq!(&*got, e),
            other => panic!("expected {e:?}, got {other:?}"),
        }
    }
}

/// Waits for `fut` at most five seconds (a std thread is the timer: the
/// suite does not assume any async runtime).
async fn within_5s<F: std::future::Future>(fut: F) -> Option<F::Output> {
    use futures_util::future::{select, Either};
    let fut = std::pin::pin!(fut);
    let timer = std::pin::pin!(delay(Duration::from_secs(5)));
    match select(fut, timer).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// A future that completes after `d`, driven by a sleeping thread.
fn delay(d: Duration) -> impl std::future::Future<Output = ()> {
    let state = Arc::new(std::sync::Mutex::new((false, None::<std::task::Waker>)));
    let thread_state = state.clone();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let mut s = thread_state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = true;
        if let Some(w) = s.1.take() {
            w.wake();
        }
    });
    std::future::poll_fn(move |cx| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if s.0 {
            std::task::Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            std::task::Poll::Pending
        }
    })
}
