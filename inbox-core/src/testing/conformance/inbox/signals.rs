//! What Meta says about the account, its numbers and its templates: a
//! paused template leaves the picker and cannot be sent, numbers keep
//! what was said, redelivered or older reports change nothing.

use crate::inbound::InboundAccountSignal;
use crate::model::{AccountSignal, TemplateStatus};
use crate::testing::conformance::support::*;

/// Meta's word on `signal` for `numbers`, `minutes` after the start.
fn signal(numbers: &[&str], signal: AccountSignal, minutes: i64) -> InboundEvent {
    InboundEvent::Account(InboundAccountSignal {
        phone_number_ids: numbers.iter().map(|n| n.to_string()).collect(),
        signal,
        timestamp: Fixture::start() + TimeDelta::minutes(minutes),
    })
}

fn promo(status: TemplateStatus) -> AccountSignal {
    AccountSignal::TemplateStatus {
        name: "promo".into(),
        language: "en_US".into(),
        status,
        reason: None,
        detail: Some("FIRST_PAUSE".into()),
    }
}

/// The account signals stored for `acme`.
async fn signal_events(f: &Fixture) -> Vec<(Vec<String>, AccountSignal, bool)> {
    let events = f.store.events_since(&f.acme(), 0, 1000).await.unwrap();
    events
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::AccountSignal {
                channels,
                signal,
                needs_attention,
            } => Some((
                channels.iter().map(ToString::to_string).collect(),
                signal,
                needs_attention,
            )),
            _ => None,
        })
        .collect()
}

async fn offered(f: &Fixture) -> Vec<String> {
    let templates = f.inbox.templates(&f.actor("ana")).await.unwrap();
    templates.into_iter().map(|t| t.name).collect()
}

/// A template Meta pauses leaves the agents' picker (its status is
/// written to the settings, a new version by the system) and comes back
/// when Meta approves it again; the team hears of both, once each, however
/// often Meta delivers them; a late older report changes nothing; the
/// numbers keep what Meta said; a number's quality is kept on that number.
pub(crate) async fn a_paused_template_leaves_the_picker_and_admins_hear_of_it<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    f.edit_settings(|s| {
        *s = crate::settings::TenantSettings::from_yaml(concat!(
            "templates:\n",
            "  - {name: promo, language: en_US, parameters: [], status: APPROVED, category: MARKETING}\n",
            "  - {name: hello, language: en_US, parameters: []}\n",
        ))
        .unwrap();
    })
    .await
    .unwrap();
    let version = |f: &Fixture| {
        let store = f.store.clone();
        let tenant = f.acme();
        async move { store.settings(&tenant).await.unwrap().unwrap().version }
    };
    let before = version(&f).await;
    assert_eq!(offered(&f).await, ["promo", "hello"]);
    let paused = signal(&["1001", "1002"], promo(TemplateStatus::Paused), 10);
    let outcome = f.inbox.ingest(paused.clone()).await.unwrap();
    assert_eq!(outcome, IngestOutcome::AccountSignal { changed: true });
    assert_eq!(offered(&f).await, ["hello"], "paused: not offered");
    assert_eq!(version(&f).await, before + 1);
    // Delivered again: nothing changes, nobody hears of it twice.
    let again = f.inbox.ingest(paused).await.unwrap();
    assert_eq!(again, IngestOutcome::AccountSignal { changed: false });
    assert_eq!(version(&f).await, before + 1);
    let heard = signal_events(&f).await;
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0, ["sales", "support"]);
    assert!(heard[0].2, "a paused template needs attention");
    // Approved again an hour later; then the pause arrives late.
    let approved = signal(&["1001"], promo(TemplateStatus::Approved), 70);
    f.inbox.ingest(approved).await.unwrap();
    assert_eq!(offered(&f).await, ["promo", "hello"]);
    let late = signal(&["1001"], promo(TemplateStatus::Paused), 20);
    let outcome = f.inbox.ingest(late).await.unwrap();
    assert_eq!(outcome, IngestOutcome::AccountSignal { changed: false });
    assert_eq!(offered(&f).await, ["promo", "hello"]);
    assert_eq!(signal_events(&f).await.len(), 2);
    // A number's quality: kept on that number, for admins to see.
    let flagged = AccountSignal::NumberQuality {
        event: "FLAGGED".into(),
        limit: Some("TIER_2K".into()),
    };
    f.inbox
        .ingest(signal(&["1002"], flagged.clone(), 80))
        .await
        .unwrap();
    let support = f.store.channel(&f.acme(), &id("support")).await.unwrap();
    let kept = &support.signals["number_quality"];
    assert_eq!(
        (&kept.signal, kept.at),
        (&flagged, Fixture::start() + TimeDelta::minutes(80))
    );
    let sales = f.store.channel(&f.acme(), &id("sales")).await.unwrap();
    assert!(!sales.signals.contains_key("number_quality"));
    assert!(sales.signals.contains_key("template:promo:en_US:status"));
}

/// What Meta said stays when the number is provisioned again, and is not
/// part of the settings history; a signal naming numbers of two tenants,
/// or an unknown number, is refused and changes nothing.
pub(crate) async fn signals_survive_provisioning_and_stay_in_their_tenant<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let flagged = AccountSignal::NumberQuality {
        event: "FLAGGED".into(),
        limit: None,
    };
    f.inbox
        .ingest(signal(&["1001"], flagged.clone(), 1))
        .await
        .unwrap();
    let mut sales = f.store.channel(&f.acme(), &id("sales")).await.unwrap();
    sales.name = "Sales line".into();
    sales.signals.clear();
    f.inbox.provision_channel(&sales).await.unwrap();
    let stored = f.store.channel(&f.acme(), &id("sales")).await.unwrap();
    assert_eq!(stored.name, "Sales line");
    assert_eq!(stored.signals["number_quality"].signal, flagged);
    let query = HistoryQuery {
        before: None,
        limit: 10,
    };
    let history = f.store.settings_history(&f.acme(), query).await.unwrap();
    let text = serde_json::to_string(&history).unwrap();
    assert!(text.contains("Sales line"), "the rename is recorded");
    assert!(!text.contains("signals"), "what Meta said is not settings");
    let both = signal(&["1001", "2001"], flagged.clone(), 2);
    let refused = f.inbox.ingest(both).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_input");
    let unknown = f
        .inbox
        .ingest(signal(&["9999"], flagged, 3))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "unknown_channel");
    let globex = f.store.channel(&id("globex"), &id("main")).await.unwrap();
    assert!(globex.signals.is_empty());
    assert_eq!(signal_events(&f).await.len(), 1);
}
