//! The store conformance suite.
//!
//! Plain async functions, one per guarantee of the [`Store`] contract (and
//! of the [`EventBus`] contract), each taking a fresh, empty store. They
//! panic on failure, like assertions. Every function is generic over the
//! store type so the suite runs both on a concrete store (static dispatch)
//! and on `dyn Store`.
//!
//! Run them all with [`store_conformance_tests!`](crate::store_conformance_tests)
//! and [`event_bus_conformance_tests!`](crate::event_bus_conformance_tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use futures_util::StreamExt;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub use super::contacts_suite::*;
pub use super::dead_letters_suite::*;
pub use super::live_suite::*;
pub use super::metrics_suite::*;
pub use super::outbox_suite::*;
pub use super::routing_suite::*;
pub use super::webhooks_suite::*;
use super::Fixture;
use crate::error::{Change, Error, Unique};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::*;
use crate::inbound::{InboundEvent, InboundStatus, IngestOutcome};
use crate::inbox::{Assignee, InboxConfig, ReopenPolicy, Reply, ReplyPolicy, View, ViewQuery};
use crate::model::*;
use crate::ports::*;
use crate::query::{
    page_in_memory, AssigneeFilter, ConversationFilter, ConversationQuery, SortOrder, VisibleTo,
};

/// Names of every store conformance test, for the macro.
///
/// `store_conformance_tests!(make)` takes an expression that evaluates to a
/// future of a fresh `Arc<S>`; `store_conformance_tests!(optional: make)`
/// one of an `Option<Arc<S>>`, where `None` skips the test (the factory says
/// why, e.g. no database configured).
#[macro_export]
macro_rules! store_conformance_tests {
    (optional: $make:expr) => {
        $crate::store_conformance_tests!(@names [optional] $make);
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(@names [required] $make);
    };
    (@names [$mode:ident] $make:expr) => {
        $crate::store_conformance_tests!(@tests [$mode] $make;
            directory_round_trip,
            directory_is_scoped_by_tenant,
            commit_stores_everything_and_numbers_events,
            commit_rejects_stale_versions_and_writes_nothing,
            commit_is_atomic_on_duplicate_message,
            commit_enforces_unique_idempotency_keys,
            commit_enforces_unique_contact_identity,
            one_active_conversation_per_channel_and_contact,
            concurrent_commits_on_one_version_exactly_one_wins,
            event_sequences_are_per_tenant_and_gap_free,
            tenants_never_see_each_other,
            listing_matches_the_reference_semantics,
            delivery_updates_only_move_forward,
            concurrent_delivery_updates_keep_the_highest,
            outbox_claims_are_exclusive_and_lapse_in_doubt,
            presence_changes_are_committed_with_their_event,
            agent_load_counts_active_assigned_conversations,
            ingest_same_message_many_times_stores_one,
            concurrent_duplicate_ingest_stores_one,
            ingest_opens_reopens_and_never_two_active,
            ingest_reopen_policy_new_conversation,
            ingest_updates_contact_identity,
            ingest_unknown_channel_is_reported,
            concurrent_claims_exactly_one_wins,
            stale_actions_are_refused_with_what_changed,
            replies_are_idempotent,
            notes_never_reach_the_transport,
            permissions_are_enforced_and_change_nothing,
            bad_input_is_rejected_and_changes_nothing,
            window_closed_refuses_free_form_but_accepts_templates,
            dispatcher_retries_fails_and_marks_in_doubt,
            dispatcher_settles_each_message_through_a_store_outage,
            a_crashed_dispatcher_leaves_in_doubt_only_what_it_attempted,
            a_send_with_an_unknown_outcome_is_in_doubt_and_never_resent,
            a_conversations_messages_wait_behind_a_retry,
            outbox_claims_a_conversations_entries_in_order,
            an_attempt_holds_its_claim_for_the_send,
            an_in_doubt_claim_is_never_put_back_in_the_queue,
            an_unsendable_message_does_not_block_the_outbox,
            messages_in_doubt_are_counted_and_can_be_sent_again,
            messages_in_doubt_are_counted_after_resolving,
            a_message_is_sent_again_at_most_once_under_races,
            status_webhooks_reconcile_by_our_id,
            statuses_reported_together_apply_in_order,
            views_respect_visibility,
            contact_history_spans_channels,
            transfer_assign_release_record_who_and_why,
            search_finds_words_names_and_numbers_within_visibility,
            search_pages_and_never_interprets_operators,
            timers_are_found_by_due_time,
            snoozed_conversations_wake_on_tick_once,
            window_warning_fires_once_while_the_customer_waits,
            window_warning_moved_later_rearms_and_fires_on_time,
            a_timer_due_before_its_time_is_rearmed_not_lost,
            reply_leases_are_exclusive_and_expire,
            contacts_are_edited_on_the_version_seen,
            routing_state_is_stored,
            round_robin_is_fair_under_races_and_survives_restarts,
            ingest_routes_with_an_explanation,
            returning_customers_stick_to_their_agent,
            offline_agents_conversations_follow_the_policy,
            automation_timers_fire_through_tick,
            queued_conversations_go_to_agents_coming_online,
            freed_capacity_goes_to_the_longest_waiting,
            a_newcomer_never_jumps_the_queue,
            release_transfer_and_capacity_changes_drain_the_queue,
            the_tick_drains_queues_when_shifts_start,
            concurrent_drains_never_exceed_capacity,
            a_drain_and_a_rule_assignment_never_overfill_an_agent,
            queues_stay_fair_over_random_days,
            conversations_returned_to_the_queue_go_to_someone_else,
            drains_follow_skills_and_round_robin,
            contacts_merge_into_one,
            contacts_are_read_together,
            metrics_match_hand_computed_values,
            metrics_report_sla_compliance,
            metrics_business_hours_and_next_responses,
            live_snapshot_shows_what_the_team_faces_now,
            dead_letters_are_recorded_once_per_item_and_reason,
            dead_letters_are_scoped_and_listed_newest_first,
            dead_letter_updates_keep_the_item,
            ingest_refuses_items_no_store_can_hold,
            dead_letters_are_replayed_by_admins,
        );
    };
    (@tests [required] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $make.await;
                $crate::testing::conformance::$name(store).await;
            }
        )*
    };
    (@tests [optional] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(store) = $make.await else { return };
                $crate::testing::conformance::$name(store).await;
            }
        )*
    };
}

/// Runs the event bus conformance tests. `$make` evaluates to a future of
/// `(Arc<dyn EventBus>, Arc<dyn Store>)`: a bus and a fresh store whose
/// committed events it publishes (or of an `Option` of that pair with
/// `optional:`, where `None` skips).
#[macro_export]
macro_rules! event_bus_conformance_tests {
    (optional: $make:expr) => {
        $crate::event_bus_conformance_tests!(@tests [optional] $make;
            bus_delivers_in_order_to_the_right_tenant,
        );
    };
    ($make:expr) => {
        $crate::event_bus_conformance_tests!(@tests [required] $make;
            bus_delivers_in_order_to_the_right_tenant,
        );
    };
    (@tests [required] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (bus, store) = $make.await;
                $crate::testing::conformance::$name(bus, store).await;
            }
        )*
    };
    (@tests [optional] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((bus, store)) = $make.await else { return };
                $crate::testing::conformance::$name(bus, store).await;
            }
        )*
    };
}

/// Runs the [`WebhookLog`] conformance tests. `$make` evaluates to a
/// future of an `Arc` of a fresh log (or of an `Option` of one with
/// `optional:`, where `None` skips).
#[macro_export]
macro_rules! webhook_log_conformance_tests {
    (optional: $make:expr) => {
        $crate::webhook_log_conformance_tests!(@tests [optional] $make;
            webhook_log_keeps_positions_retries_and_dead_letters,
        );
    };
    ($make:expr) => {
        $crate::webhook_log_conformance_tests!(@tests [required] $make;
            webhook_log_keeps_positions_retries_and_dead_letters,
        );
    };
    (@tests [required] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let log = $make.await;
                $crate::testing::conformance::$name(log).await;
            }
        )*
    };
    (@tests [optional] $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(log) = $make.await else { return };
                $crate::testing::conformance::$name(log).await;
            }
        )*
    };
}

// ---------------------------------------------------------------- helpers

fn t(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    Fixture::start() + TimeDelta::minutes(minutes)
}

async fn setup_tenants<S: Store + ?Sized>(store: &S) {
    for name in ["acme", "globex"] {
        store
            .upsert_tenant(&Tenant::new(t(name), name))
            .await
            .unwrap();
    }
    for (tenant, ch, pnid) in [
        ("acme", "sales", "1001"),
        ("acme", "support", "1002"),
        ("globex", "main", "2001"),
    ] {
        store
            .upsert_channel(&Channel::new(
                t(tenant),
                ChannelId::new(ch).unwrap(),
                pnid,
                pnid,
            ))
            .await
            .unwrap();
    }
}

fn contact(tenant: &str, id: &str, wa: &str) -> Contact {
    Contact {
        tenant: t(tenant),
        id: ContactId::new(id).unwrap(),
        identity: ContactIdentity::wa(wa),
        profile_name: None,
        display_name: None,
        tags: vec![],
        attributes: Default::default(),
        created_at: at(0),
        merged_into: None,
        version: 1,
    }
}

fn conversation(tenant: &str, id: &str, channel: &str, contact: &str) -> Conversation {
    let mut c = Conversation::new(
        t(tenant),
        ConversationId::new(id).unwrap(),
        ChannelId::new(channel).unwrap(),
        ContactId::new(contact).unwrap(),
        at(0),
    );
    c.version = 1;
    c
}

fn inbound(c: &Conversation, id: &str, ext: &str) -> Message {
    Message {
        tenant: c.tenant.clone(),
        id: MessageId::new(id).unwrap(),
        conversation: c.id.clone(),
        channel: c.channel.clone(),
        direction: Direction::Inbound,
        author: Author::Customer(c.contact.clone()),
        content: Content::text(format!("hello {id}")),
        external_id: Some(ext.to_string()),
        idempotency_key: None,
        context: ReplyContext::default(),
        mentions: vec![],
        sent_at: at(0),
        created_at: at(0),
        delivery: None,
        response: None,
    }
}

fn outbound(c: &Conversation, id: &str, key: &str) -> Message {
    Message {
        direction: Direction::Outbound,
        author: Author::Agent(AgentId::new("ana").unwrap()),
        external_id: None,
        idempotency_key: Some(key.to_string()),
        delivery: Some(DeliveryState::pending(at(0))),
        ..inbound(c, id, "unused")
    }
}

fn ev(c: &Conversation, kind: EventKind) -> Event {
    Event::new(c.tenant.clone(), at(0), EventActor::System, kind).on(&c.id, c.version)
}

fn received(c: &Conversation, m: &str) -> Event {
    ev(
        c,
        EventKind::MessageReceived {
            message: MessageId::new(m).unwrap(),
            content: "text".into(),
        },
    )
}

/// Creates contact `k1` and conversation `c1` in `acme` on `sales`, with
/// one inbound message `m1` (external id `wamid.1`).
async fn seed<S: Store + ?Sized>(store: &S) -> Conversation {
    setup_tenants(store).await;
    let c = conversation("acme", "c1", "sales", "k1");
    store
        .commit(Changeset {
            contact: Some(Write {
                value: contact("acme", "k1", "34600000001"),
                expected_version: None,
            }),
            conversation: Some(Write {
                value: c.clone(),
                expected_version: None,
            }),
            messages: vec![inbound(&c, "m1", "wamid.1")],
            events: vec![received(&c, "m1")],
            ..Changeset::new(t("acme"))
        })
        .await
        .unwrap();
    c
}

fn bump(c: &Conversation) -> Conversation {
    let mut n = c.clone();
    n.version += 1;
    n
}

fn update(c: &Conversation) -> Write<Conversation> {
    Write {
        value: bump(c),
        expected_version: Some(c.version),
    }
}

async fn fixture<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    Fixture::new(store.as_dyn()).await.unwrap()
}

fn reply(body: &str, key: &str) -> Reply {
    Reply::text(body, key)
}

// ---------------------------------------------------------------- directory

/// Tenants, channels, agents and teams are stored and read back; missing
/// ones are not found; phone number ids are unique across tenants.
pub async fn directory_round_trip<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    assert_eq!(store.tenant(&t("acme")).await.unwrap().name, "acme");
    assert_eq!(
        store.tenant(&t("nope")).await.unwrap_err().code(),
        "not_found"
    );

    let team = Team::new(t("acme"), TeamId::new("sales").unwrap(), "Sales");
    store.upsert_team(&team).await.unwrap();
    let mut renamed = team.clone();
    renamed.name = "Sales EU".into();
    store.upsert_team(&renamed).await.unwrap();
    assert_eq!(store.team(&t("acme"), &team.id).await.unwrap(), renamed);
    assert_eq!(store.teams(&t("acme")).await.unwrap(), vec![renamed]);

    let ana = Agent::new(t("acme"), AgentId::new("ana").unwrap(), "Ana", Role::Agent)
        .in_team(team.id.clone())
        .with_capacity(4);
    store.upsert_agent(&ana).await.unwrap();
    assert_eq!(store.agent(&t("acme"), &ana.id).await.unwrap(), ana);
    let ids: Vec<String> = store
        .agents(&t("acme"))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id.to_string())
        .collect();
    assert_eq!(ids, ["ana"]);

    let ch = store
        .channel_by_phone_number_id("1002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ch.tenant.as_str(), ch.id.as_str()), ("acme", "support"));
    assert!(store
        .channel_by_phone_number_id("9999")
        .await
        .unwrap()
        .is_none());
    let chans: Vec<String> = store
        .channels(&t("acme"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(chans, ["sales", "support"]);

    // Another tenant cannot take a number that is already in use.
    let stolen = Channel::new(t("globex"), ChannelId::new("x").unwrap(), "1001", "x");
    let err = store.upsert_channel(&stolen).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
    // A channel of a missing tenant is refused.
    let orphan = Channel::new(t("nope"), ChannelId::new("x").unwrap(), "5555", "x");
    assert_eq!(
        store.upsert_channel(&orphan).await.unwrap_err().code(),
        "not_found"
    );
    let orphan_agent = Agent::new(t("nope"), AgentId::new("x").unwrap(), "X", Role::Agent);
    assert_eq!(
        store.upsert_agent(&orphan_agent).await.unwrap_err().code(),
        "not_found"
    );
}

/// Directory reads never cross tenants.
pub async fn directory_is_scoped_by_tenant<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let ana = Agent::new(t("acme"), AgentId::new("ana").unwrap(), "Ana", Role::Admin);
    store.upsert_agent(&ana).await.unwrap();
    store
        .upsert_team(&Team::new(t("acme"), TeamId::new("sales").unwrap(), "S"))
        .await
        .unwrap();
    assert_eq!(
        store.agent(&t("globex"), &ana.id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store
            .team(&t("globex"), &TeamId::new("sales").unwrap())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        store
            .channel(&t("globex"), &ChannelId::new("sales").unwrap())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert!(store.agents(&t("globex")).await.unwrap().is_empty());
    assert!(store.teams(&t("globex")).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- commits

/// A commit stores the contact, conversation, messages and events, and
/// numbers the events from 1.
pub async fn commit_stores_everything_and_numbers_events<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    assert_eq!(store.conversation(&acme, &c.id).await.unwrap(), c);
    let k = store.contact(&acme, &c.contact).await.unwrap();
    assert_eq!(k.identity.wa_id.as_deref(), Some("34600000001"));
    assert_eq!(
        store
            .find_contact(&acme, &ContactIdentity::wa("34600000001"))
            .await
            .unwrap()
            .map(|k| k.id),
        Some(c.contact.clone())
    );
    let m = store
        .message(&acme, &MessageId::new("m1").unwrap())
        .await
        .unwrap();
    assert_eq!(m, inbound(&c, "m1", "wamid.1"));
    assert_eq!(
        store
            .message_by_external_id(&acme, &c.channel, "wamid.1")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(m.id.clone())
    );
    assert!(store
        .message_by_external_id(&acme, &ChannelId::new("support").unwrap(), "wamid.1")
        .await
        .unwrap()
        .is_none());

    // A second commit: an update with two messages, in order.
    let c2 = bump(&c);
    let committed = store
        .commit(Changeset {
            conversation: Some(update(&c)),
            messages: vec![inbound(&c2, "m2", "wamid.2"), inbound(&c2, "m3", "wamid.3")],
            events: vec![received(&c2, "m2"), received(&c2, "m3")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let seqs: Vec<u64> = committed.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3]);
    let ids: Vec<String> = store
        .messages(&acme, &c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3"]);
    assert_eq!(store.conversation(&acme, &c.id).await.unwrap().version, 2);
    let events = store.conversation_events(&acme, &c.id, 1).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.conversation_version == Some(2)));
    assert_eq!(
        store
            .conversation_events(&acme, &c.id, 0)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// An update against a version that is no longer current fails with a
/// conflict, and nothing of that changeset is written.
pub async fn commit_rejects_stale_versions_and_writes_nothing<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let c2 = bump(&c);
    let err = store
        .commit(Changeset {
            conversation: Some(update(&c)),
            messages: vec![inbound(&c2, "m9", "wamid.9")],
            events: vec![received(&c2, "m9")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    let conflict = err.as_conflict().expect("conflict");
    assert_eq!((conflict.seen, conflict.current), (1, 2));
    assert!(store
        .message(&acme, &MessageId::new("m9").unwrap())
        .await
        .is_err());
    assert_eq!(store.events_since(&acme, 0, 100).await.unwrap().len(), 1);
    // A version that does not follow the expected one is bad input.
    let mut skip = bump(&bump(&c2));
    skip.version = 9;
    let err = store
        .commit(Changeset {
            conversation: Some(Write {
                value: skip,
                expected_version: Some(2),
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    // A contact update on a stale version conflicts too.
    let mut k = store.contact(&acme, &c.contact).await.unwrap();
    k.version = 2;
    k.profile_name = Some("new".into());
    store
        .commit(Changeset {
            contact: Some(Write {
                value: k.clone(),
                expected_version: Some(1),
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let err = store
        .commit(Changeset {
            contact: Some(Write {
                value: k,
                expected_version: Some(1),
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
}

/// A changeset whose message repeats an external id fails whole with
/// "duplicate message", naming the stored message.
pub async fn commit_is_atomic_on_duplicate_message<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let c2 = bump(&c);
    let err = store
        .commit(Changeset {
            conversation: Some(update(&c)),
            messages: vec![inbound(&c2, "m2", "wamid.2"), inbound(&c2, "m3", "wamid.1")],
            events: vec![received(&c2, "m2")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    match err {
        Error::Duplicate { what, existing } => {
            assert_eq!((what, existing.as_str()), (Unique::Message, "m1"));
        }
        other => panic!("expected duplicate, got {other}"),
    }
    assert_eq!(store.conversation(&acme, &c.id).await.unwrap().version, 1);
    assert!(store
        .message(&acme, &MessageId::new("m2").unwrap())
        .await
        .is_err());
    assert_eq!(store.events_since(&acme, 0, 10).await.unwrap().len(), 1);
    // The same external id on another channel is a different message.
    let other = conversation("acme", "c2", "support", "k1");
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: other.clone(),
                expected_version: None,
            }),
            messages: vec![inbound(&other, "m4", "wamid.1")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    // Message ids are unique too.
    let c3 = bump(&c);
    let err = store
        .commit(Changeset {
            conversation: Some(update(&c)),
            messages: vec![inbound(&c3, "m1", "wamid.77")],
            ..Changeset::new(acme)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
}

/// Two messages with the same idempotency key are never both stored.
pub async fn commit_enforces_unique_idempotency_keys<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let c2 = bump(&c);
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            messages: vec![outbound(&c2, "r1", "key-1")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let err = store
        .commit(Changeset {
            conversation: Some(update(&c2)),
            messages: vec![outbound(&bump(&c2), "r2", "key-1")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    match err {
        Error::Duplicate { what, existing } => {
            assert_eq!((what, existing.as_str()), (Unique::IdempotencyKey, "r1"))
        }
        other => panic!("expected duplicate, got {other}"),
    }
    assert_eq!(
        store
            .message_by_idempotency_key(&acme, "key-1")
            .await
            .unwrap()
            .map(|m| m.id.to_string()),
        Some("r1".into())
    );
    assert!(store
        .message_by_idempotency_key(&t("globex"), "key-1")
        .await
        .unwrap()
        .is_none());
}

/// At most one contact per wa_id and per user_id in a tenant.
pub async fn commit_enforces_unique_contact_identity<S: Store + ?Sized>(store: Arc<S>) {
    seed(&*store).await;
    let acme = t("acme");
    let err = store
        .commit(Changeset {
            contact: Some(Write {
                value: contact("acme", "k2", "34600000001"),
                expected_version: None,
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    match err {
        Error::Duplicate { what, existing } => {
            assert_eq!((what, existing.as_str()), (Unique::Contact, "k1"))
        }
        other => panic!("expected duplicate, got {other}"),
    }
    // By BSUID as well.
    let mut a = contact("acme", "k3", "34600000003");
    a.identity.user_id = Some("US.1".into());
    store
        .commit(Changeset {
            contact: Some(Write {
                value: a,
                expected_version: None,
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let mut b = contact("acme", "k4", "34600000004");
    b.identity.user_id = Some("US.1".into());
    let err = store
        .commit(Changeset {
            contact: Some(Write {
                value: b,
                expected_version: None,
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Duplicate {
                what: Unique::Contact,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store
            .find_contact(&acme, &ContactIdentity::user("US.1"))
            .await
            .unwrap()
            .map(|k| k.id.to_string()),
        Some("k3".into())
    );
    // The same number in another tenant is another contact.
    store
        .commit(Changeset {
            contact: Some(Write {
                value: contact("globex", "k1", "34600000001"),
                expected_version: None,
            }),
            ..Changeset::new(t("globex"))
        })
        .await
        .unwrap();
}

/// A second active conversation for the same (channel, contact) is refused,
/// whether inserted or reopened; after resolution a new one is allowed.
pub async fn one_active_conversation_per_channel_and_contact<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let second = conversation("acme", "c2", "sales", "k1");
    let err = store
        .commit(Changeset {
            conversation: Some(Write {
                value: second.clone(),
                expected_version: None,
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    match err {
        Error::Duplicate { what, existing } => {
            assert_eq!(
                (what, existing.as_str()),
                (Unique::ActiveConversation, "c1")
            )
        }
        other => panic!("expected duplicate, got {other}"),
    }
    // Another channel is fine.
    let other_channel = conversation("acme", "c3", "support", "k1");
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: other_channel,
                expected_version: None,
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    // Resolve c1, then c2 can open.
    let mut resolved = bump(&c);
    resolved.status = ConversationStatus::Resolved;
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: resolved.clone(),
                expected_version: Some(1),
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: second.clone(),
                expected_version: None,
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_conversation(&acme, &c.channel, &c.contact)
            .await
            .unwrap()
            .map(|c| c.id.to_string()),
        Some("c2".into())
    );
    // Reopening c1 now would make two active ones.
    let mut reopen = bump(&resolved);
    reopen.status = ConversationStatus::Open;
    let err = store
        .commit(Changeset {
            conversation: Some(Write {
                value: reopen,
                expected_version: Some(2),
            }),
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Duplicate {
                what: Unique::ActiveConversation,
                ..
            }
        ),
        "{err}"
    );
    // Conversation ids are unique.
    let mut dup = conversation("acme", "c2", "support", "k9");
    dup.status = ConversationStatus::Resolved;
    let err = store
        .commit(Changeset {
            conversation: Some(Write {
                value: dup,
                expected_version: None,
            }),
            ..Changeset::new(acme)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Duplicate {
                what: Unique::Conversation,
                ..
            }
        ),
        "{err}"
    );
}

/// Many writers racing on one version: exactly one wins, the rest conflict.
pub async fn concurrent_commits_on_one_version_exactly_one_wins<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let c = c.clone();
        let acme = acme.clone();
        async move {
            let c2 = bump(&c);
            store
                .commit(Changeset {
                    conversation: Some(update(&c)),
                    messages: vec![outbound(&c2, &format!("r{i}"), &format!("k{i}"))],
                    events: vec![ev(
                        &c2,
                        EventKind::ReplyQueued {
                            message: MessageId::new(format!("r{i}")).unwrap(),
                            content: "text".into(),
                        },
                    )],
                    ..Changeset::new(acme)
                })
                .await
        }
    });
    let results = join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one writer wins");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.code() == "conflict"));
    assert_eq!(store.messages(&acme, &c.id).await.unwrap().len(), 2);
    assert_eq!(store.events_since(&acme, 0, 100).await.unwrap().len(), 2);
}

/// Sequences are per tenant, consecutive, and pageable.
pub async fn event_sequences_are_per_tenant_and_gap_free<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let g = conversation("globex", "g1", "main", "gk");
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: g.clone(),
                expected_version: None,
            }),
            events: vec![ev(
                &g,
                EventKind::Tagged {
                    added: vec!["x".into()],
                    removed: vec![],
                },
            )],
            ..Changeset::new(t("globex"))
        })
        .await
        .unwrap();
    let mut cur = c.clone();
    for _ in 0..5 {
        let next = bump(&cur);
        store
            .commit(Changeset {
                conversation: Some(update(&cur)),
                events: vec![
                    ev(
                        &next,
                        EventKind::Tagged {
                            added: vec![],
                            removed: vec![],
                        },
                    ),
                    ev(
                        &next,
                        EventKind::PriorityChanged {
                            from: Priority::Normal,
                            to: Priority::High,
                        },
                    ),
                ],
                ..Changeset::new(acme.clone())
            })
            .await
            .unwrap();
        cur = next;
    }
    let all = store.events_since(&acme, 0, 1000).await.unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    let page = store.events_since(&acme, 4, 3).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6, 7]);
    let globex = store.events_since(&t("globex"), 0, 10).await.unwrap();
    assert_eq!(globex.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    assert!(globex.iter().all(|e| e.tenant.as_str() == "globex"));
}

/// Reads with another tenant's id find nothing; writes naming another
/// tenant are refused.
pub async fn tenants_never_see_each_other<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let globex = t("globex");
    assert_eq!(
        store.conversation(&globex, &c.id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store.contact(&globex, &c.contact).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store
            .message(&globex, &MessageId::new("m1").unwrap())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert!(store
        .messages(&globex, &c.id)
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(store
        .find_contact(&globex, &ContactIdentity::wa("34600000001"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .message_by_external_id(&globex, &c.channel, "wamid.1")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .latest_conversation(&globex, &c.channel, &c.contact)
        .await
        .unwrap()
        .is_none());
    assert!(store.events_since(&globex, 0, 10).await.unwrap().is_empty());
    assert!(store
        .conversation_events(&globex, &c.id, 0)
        .await
        .unwrap()
        .is_empty());
    let q = ConversationQuery {
        filter: ConversationFilter::default(),
        sort: SortOrder::LatestActivity,
        after: None,
        limit: 10,
    };
    assert!(store
        .list_conversations(&globex, &q)
        .await
        .unwrap()
        .items
        .is_empty());
    // A changeset that smuggles another tenant's row is refused whole.
    let mut foreign = bump(&c);
    foreign.tenant = globex.clone();
    let err = store
        .commit(Changeset {
            conversation: Some(Write {
                value: foreign,
                expected_version: Some(1),
            }),
            ..Changeset::new(globex.clone())
        })
        .await
        .unwrap_err();
    assert!(matches!(err.code(), "not_found" | "conflict"), "{err}");
    let smuggled = Changeset {
        conversation: Some(update(&c)),
        ..Changeset::new(globex)
    };
    assert_eq!(
        store.commit(smuggled).await.unwrap_err().code(),
        "invalid_input"
    );
    assert_eq!(
        store.conversation(&t("acme"), &c.id).await.unwrap().version,
        1
    );
}

/// Listing returns exactly what the reference semantics of
/// [`crate::query`] say, for every sort order and a range of filters, page
/// after page.
pub async fn listing_matches_the_reference_semantics<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let mut all = Vec::new();
    for i in 0..37i64 {
        let channel = if i % 3 == 0 { "support" } else { "sales" };
        let mut c = conversation("acme", &format!("c{i:02}"), channel, &format!("k{i}"));
        c.status = [
            ConversationStatus::Open,
            ConversationStatus::Pending,
            ConversationStatus::Snoozed,
            ConversationStatus::Resolved,
        ][(i % 4) as usize];
        c.assignee = match i % 5 {
            0 | 1 => None,
            2 => Some(AgentId::new("ana").unwrap()),
            _ => Some(AgentId::new("ben").unwrap()),
        };
        c.team = match i % 3 {
            0 => None,
            1 => Some(TeamId::new("sales").unwrap()),
            _ => Some(TeamId::new("support").unwrap()),
        };
        c.priority = [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ][(i % 4) as usize];
        if i % 2 == 0 {
            c.tags = vec!["vip".into()];
        }
        // Ties on purpose: several share an activity time.
        c.last_activity_at = at(i / 3);
        c.created_at = at(i % 7);
        c.waiting_since = (i % 3 != 1).then(|| at(100 - i));
        store
            .commit(Changeset {
                conversation: Some(Write {
                    value: c.clone(),
                    expected_version: None,
                }),
                ..Changeset::new(acme.clone())
            })
            .await
            .unwrap();
        all.push(c);
    }
    // A conversation of another tenant must never appear.
    let g = conversation("globex", "c99", "main", "k1");
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: g,
                expected_version: None,
            }),
            ..Changeset::new(t("globex"))
        })
        .await
        .unwrap();

    let filters = vec![
        ConversationFilter::default(),
        ConversationFilter {
            statuses: vec![ConversationStatus::Open, ConversationStatus::Pending],
            ..Default::default()
        },
        ConversationFilter {
            assignee: AssigneeFilter::Unassigned,
            ..Default::default()
        },
        ConversationFilter {
            assignee: AssigneeFilter::Agent(AgentId::new("ana").unwrap()),
            ..Default::default()
        },
        ConversationFilter {
            team: Some(TeamId::new("sales").unwrap()),
            tag: Some("vip".into()),
            ..Default::default()
        },
        ConversationFilter {
            channel: Some(ChannelId::new("support").unwrap()),
            min_priority: Some(Priority::High),
            ..Default::default()
        },
        ConversationFilter {
            contact: Some(ContactId::new("k4").unwrap()),
            ..Default::default()
        },
        ConversationFilter {
            visible_to: Some(VisibleTo {
                agent: AgentId::new("ana").unwrap(),
                teams: vec![TeamId::new("sales").unwrap()],
            }),
            ..Default::default()
        },
    ];
    let orders = [
        SortOrder::LatestActivity,
        SortOrder::OldestActivity,
        SortOrder::WaitingLongest,
        SortOrder::Priority,
        SortOrder::Newest,
    ];
    for filter in &filters {
        for sort in orders {
            let full = ConversationQuery {
                filter: filter.clone(),
                sort,
                after: None,
                limit: 500,
            };
            let expected: Vec<String> = page_in_memory(&full, all.iter())
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.id.to_string())
                .collect();
            let mut got = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let q = ConversationQuery {
                    filter: filter.clone(),
                    sort,
                    after: after.clone(),
                    limit: 4,
                };
                let page = store.list_conversations(&acme, &q).await.unwrap();
                assert!(page.items.len() <= 4);
                got.extend(page.items.iter().map(|c| c.id.to_string()));
                pages += 1;
                assert!(pages < 50, "pagination does not end");
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(got, expected, "filter {filter:?} sort {sort:?}");
        }
    }
    // Bad limits and cursors are refused.
    let bad = ConversationQuery {
        filter: Default::default(),
        sort: SortOrder::Newest,
        after: None,
        limit: 0,
    };
    assert_eq!(
        store
            .list_conversations(&acme, &bad)
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

// ---------------------------------------------------------------- delivery

async fn seed_reply<S: Store + ?Sized>(store: &S) -> (Conversation, MessageId) {
    let c = seed(store).await;
    let c2 = bump(&c);
    let r = outbound(&c2, "r1", "key-1");
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            outbox: vec![OutboxEntry {
                tenant: t("acme"),
                message: r.id.clone(),
                not_before: at(0),
                attempts: 0,
            }],
            messages: vec![r.clone()],
            ..Changeset::new(t("acme"))
        })
        .await
        .unwrap();
    (c2, r.id)
}

fn delivery(status: DeliveryStatus, minute: i64, ext: Option<&str>) -> MessageMutation {
    MessageMutation::Delivery {
        update: DeliveryUpdate {
            status,
            at: at(minute),
            error: None,
        },
        external_id: ext.map(str::to_string),
    }
}

/// Status updates move a message forward only; duplicates and late ones
/// change nothing and record no event; the provider id is recorded once.
pub async fn delivery_updates_only_move_forward<S: Store + ?Sized>(store: Arc<S>) {
    let (_, r) = seed_reply(&*store).await;
    let acme = t("acme");
    let e = store
        .update_message(
            &acme,
            &r,
            &delivery(DeliveryStatus::Accepted, 1, Some("wamid.out.1")),
        )
        .await
        .unwrap();
    assert!(matches!(
        e.as_ref().map(|e| &e.kind),
        Some(EventKind::DeliveryChanged {
            status: DeliveryStatus::Accepted,
            ..
        })
    ));
    assert!(e.unwrap().seq > 0);
    let m = store.message(&acme, &r).await.unwrap();
    assert_eq!(m.external_id.as_deref(), Some("wamid.out.1"));
    assert_eq!(
        store
            .message_by_external_id(&acme, &m.channel, "wamid.out.1")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(r.clone())
    );
    assert!(store
        .update_message(&acme, &r, &delivery(DeliveryStatus::Read, 3, None))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .update_message(&acme, &r, &delivery(DeliveryStatus::Delivered, 2, None))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .update_message(&acme, &r, &delivery(DeliveryStatus::Read, 3, None))
        .await
        .unwrap()
        .is_none());
    let m = store.message(&acme, &r).await.unwrap();
    assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
    // The provider id is not replaced.
    store
        .update_message(
            &acme,
            &r,
            &delivery(DeliveryStatus::Played, 4, Some("other")),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .message(&acme, &r)
            .await
            .unwrap()
            .external_id
            .as_deref(),
        Some("wamid.out.1")
    );
    // Unknown messages and other tenants are not found.
    assert_eq!(
        store
            .update_message(&t("globex"), &r, &delivery(DeliveryStatus::Read, 5, None))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Inbound messages have no delivery state: nothing changes.
    assert!(store
        .update_message(
            &acme,
            &MessageId::new("m1").unwrap(),
            &delivery(DeliveryStatus::Read, 5, None)
        )
        .await
        .unwrap()
        .is_none());
}

/// Concurrent status reports never lose the highest status.
pub async fn concurrent_delivery_updates_keep_the_highest<S: Store + ?Sized>(store: Arc<S>) {
    let (_, r) = seed_reply(&*store).await;
    let acme = t("acme");
    let statuses = [
        DeliveryStatus::Sent,
        DeliveryStatus::Read,
        DeliveryStatus::Delivered,
        DeliveryStatus::Sent,
        DeliveryStatus::Accepted,
        DeliveryStatus::Delivered,
    ];
    let results = join_all(statuses.iter().enumerate().map(|(i, s)| {
        let store = store.clone();
        let acme = acme.clone();
        let r = r.clone();
        let m = delivery(*s, i as i64, Some("wamid.x"));
        async move { store.update_message(&acme, &r, &m).await }
    }))
    .await;
    assert!(results.iter().all(|r| r.is_ok()));
    let m = store.message(&acme, &r).await.unwrap();
    assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
    // Recorded events show a strictly increasing path.
    let ranks: Vec<DeliveryStatus> = store
        .events_since(&acme, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::DeliveryChanged { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
}

/// Outbox entries are claimed by one dispatcher at a time and rescheduled
/// on release; a lapsed claim is handed out again, flagged in doubt only if
/// a send attempt began under it; attempts count sends begun, not claims.
pub async fn outbox_claims_are_exclusive_and_lapse_in_doubt<S: Store + ?Sized>(store: Arc<S>) {
    let (_, r) = seed_reply(&*store).await;
    let lease = Duration::from_secs(60);
    // Many dispatchers at once: exactly one gets it.
    let claims = join_all((0..8).map(|_| {
        let store = store.clone();
        async move { store.claim_outbox(at(1), lease, 10).await.unwrap() }
    }))
    .await;
    let got: Vec<&OutboxClaim> = claims.iter().flatten().collect();
    assert_eq!(got.len(), 1);
    let first = got[0].clone();
    assert_eq!(first.entry.message, r);
    assert_eq!(first.entry.attempts, 0);
    assert!(!first.in_doubt);
    // A claim that lapses before any attempt is simply claimed again.
    let retaken = store.claim_outbox(at(70), lease, 10).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert!(!retaken[0].in_doubt, "never attempted: not in doubt");
    assert_eq!(retaken[0].entry.attempts, 0);
    let stale = store.begin_outbox_attempt(&first, at(70), at(71)).await;
    assert_eq!(
        stale.unwrap_err().code(),
        "conflict",
        "the old claim is stale"
    );
    // An attempt on an expired lease is refused too.
    let late = store
        .begin_outbox_attempt(&retaken[0], at(200), at(201))
        .await;
    assert_eq!(late.unwrap_err().code(), "conflict", "lease lapsed");
    let retaken = store.claim_outbox(at(200), lease, 10).await.unwrap();
    assert!(!retaken[0].in_doubt);
    store
        .begin_outbox_attempt(&retaken[0], at(200), at(201))
        .await
        .unwrap();
    // Not due yet after a retry is scheduled; no longer in doubt then.
    store
        .release_outbox(&retaken[0], OutboxDisposition::RetryAt(at(300)))
        .await
        .unwrap();
    assert!(store
        .claim_outbox(at(250), lease, 10)
        .await
        .unwrap()
        .is_empty());
    let second = store.claim_outbox(at(300), lease, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].entry.attempts, 1);
    assert!(!second[0].in_doubt);
    store
        .begin_outbox_attempt(&second[0], at(300), at(301))
        .await
        .unwrap();
    // The lease lapses after the attempt began: handed out again, in doubt,
    // and in doubt again if that claim lapses too; the old claim is stale.
    assert!(store
        .claim_outbox(at(300) + TimeDelta::seconds(30), lease, 10)
        .await
        .unwrap()
        .is_empty());
    let third = store.claim_outbox(at(302), lease, 10).await.unwrap();
    assert_eq!(third.len(), 1);
    assert!(third[0].in_doubt);
    assert_eq!(third[0].entry.attempts, 2);
    assert_ne!(third[0].token, second[0].token);
    let fourth = store.claim_outbox(at(304), lease, 10).await.unwrap();
    assert!(fourth[0].in_doubt, "still in doubt until released");
    for old in [&second[0], &third[0]] {
        let refused = store.release_outbox(old, OutboxDisposition::Done).await;
        assert_eq!(refused.unwrap_err().code(), "conflict");
    }
    store
        .release_outbox(&fourth[0], OutboxDisposition::Done)
        .await
        .unwrap();
    assert!(store
        .claim_outbox(at(10_000), lease, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A presence change is committed with its event; unknown agents are not
/// found.
pub async fn presence_changes_are_committed_with_their_event<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let ana = Agent::new(
        acme.clone(),
        AgentId::new("ana").unwrap(),
        "Ana",
        Role::Agent,
    );
    store.upsert_agent(&ana).await.unwrap();
    let e = Event::new(
        acme.clone(),
        at(0),
        EventActor::Agent(ana.id.clone()),
        EventKind::PresenceChanged {
            agent: ana.id.clone(),
            presence: Presence::Online,
        },
    );
    store
        .commit(Changeset {
            presence: Some((ana.id.clone(), Presence::Online)),
            events: vec![e.clone()],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store.agent(&acme, &ana.id).await.unwrap().presence,
        Presence::Online
    );
    assert_eq!(store.events_since(&acme, 0, 10).await.unwrap().len(), 1);
    let err = store
        .commit(Changeset {
            presence: Some((AgentId::new("nobody").unwrap(), Presence::Online)),
            events: vec![e],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(store.events_since(&acme, 0, 10).await.unwrap().len(), 1);
}

/// Load counts active conversations assigned to the agent.
pub async fn agent_load_counts_active_assigned_conversations<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let ana = AgentId::new("ana").unwrap();
    for (i, status) in [
        ConversationStatus::Open,
        ConversationStatus::Pending,
        ConversationStatus::Snoozed,
        ConversationStatus::Resolved,
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = conversation("acme", &format!("c{i}"), "sales", &format!("k{i}"));
        c.assignee = Some(ana.clone());
        c.status = status;
        store
            .commit(Changeset {
                conversation: Some(Write {
                    value: c,
                    expected_version: None,
                }),
                ..Changeset::new(acme.clone())
            })
            .await
            .unwrap();
    }
    assert_eq!(store.agent_load(&acme, &ana).await.unwrap(), 3);
    assert_eq!(
        store
            .agent_load(&acme, &AgentId::new("ben").unwrap())
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.agent_load(&t("globex"), &ana).await.unwrap(), 0);
}

// ---------------------------------------------------------------- through the Inbox

/// The same inbound message delivered many times is stored once.
pub async fn ingest_same_message_many_times_stores_one<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let event = f.text("1001", "wamid.A", "34611111111", "Hi, is my order shipped?");
    let first = f.inbox.ingest(event.clone()).await.unwrap();
    let IngestOutcome::Stored {
        message,
        conversation,
        opened: true,
        ..
    } = first
    else {
        panic!("{first:?}")
    };
    for _ in 0..3 {
        match f.inbox.ingest(event.clone()).await.unwrap() {
            IngestOutcome::Duplicate { message: m } => assert_eq!(m, message.id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        f.store
            .messages(&f.acme(), &conversation)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        f.store
            .conversation(&f.acme(), &conversation)
            .await
            .unwrap()
            .version,
        1
    );
}

/// The same message ingested by many concurrent deliveries is stored once,
/// in one conversation.
pub async fn concurrent_duplicate_ingest_stores_one<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let events: Vec<InboundEvent> = (0..12)
        .map(|i| f.text("1001", &format!("wamid.{}", i % 3), "34622222222", "hello"))
        .collect();
    let results = join_all(events.into_iter().map(|e| f.inbox.ingest(e))).await;
    let stored = results
        .iter()
        .filter(|r| matches!(r, Ok(IngestOutcome::Stored { .. })))
        .count();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(stored, 3);
    let page = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "one conversation");
    assert_eq!(
        f.store
            .messages(&f.acme(), &page.items[0].id)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// A customer message opens a conversation, continues it, reopens it after
/// resolution or snooze, and never creates a second active one.
pub async fn ingest_opens_reopens_and_never_two_active<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34633333333", "hi")
        .await
        .unwrap();
    let detail = f.inbox.conversation(&f.actor("sam"), &c).await.unwrap();
    assert_eq!(detail.conversation.status, ConversationStatus::Open);
    assert_eq!(
        detail.conversation.window_expires_at,
        Some(Fixture::start() + TimeDelta::hours(24))
    );
    assert_eq!(detail.conversation.waiting_since, Some(Fixture::start()));
    f.advance(TimeDelta::minutes(5));
    let (c2, _) = f
        .customer_says("1001", "w2", "34633333333", "anyone?")
        .await
        .unwrap();
    assert_eq!(c2, c);
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    f.advance(TimeDelta::hours(1));
    let out = f
        .inbox
        .ingest(f.text("1001", "w3", "34633333333", "one more thing"))
        .await
        .unwrap();
    let IngestOutcome::Stored {
        conversation,
        reopened,
        opened,
        ..
    } = out
    else {
        panic!()
    };
    assert_eq!(
        (conversation.clone(), reopened, opened),
        (c.clone(), true, false)
    );
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.reopen_count, 1);
    // A reaction to a resolved conversation is stored without reopening it.
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    let reaction = Content::Reaction {
        target: "wamid.out".into(),
        emoji: Some("👍".into()),
    };
    f.inbox
        .ingest(InboundEvent::Message(f.inbound(
            "1001",
            "w4",
            "34633333333",
            reaction,
        )))
        .await
        .unwrap();
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Resolved
    );
    // Snoozed wakes up on a customer message; pending goes back to open.
    f.customer_says("1001", "w5", "34633333333", "hello again")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .snooze(&f.actor("ana"), &c, v, f.clock.now() + TimeDelta::days(1))
        .await
        .unwrap();
    f.customer_says("1001", "w6", "34633333333", "wake up")
        .await
        .unwrap();
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Open
    );
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();
    f.customer_says("1001", "w7", "34633333333", "here it is")
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.reopen_count, 3);
    let all = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All).statuses(&[]))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    // The same customer on another number is another conversation.
    let (other, _) = f
        .customer_says("1002", "w8", "34633333333", "support question")
        .await
        .unwrap();
    assert_ne!(other, c);
}

/// With the new-conversation policy, a message after resolution opens a
/// fresh conversation; the old one stays resolved.
pub async fn ingest_reopen_policy_new_conversation<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let config = InboxConfig {
        reopen: ReopenPolicy::NewConversation,
        ..InboxConfig::default()
    };
    let f = Fixture::with_config(store.as_dyn(), config).await.unwrap();
    let (c, _) = f
        .customer_says("1001", "w1", "34644444444", "hi")
        .await
        .unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, 1, ConversationStatus::Resolved)
        .await
        .unwrap();
    let (c2, _) = f
        .customer_says("1001", "w2", "34644444444", "new question")
        .await
        .unwrap();
    assert_ne!(c, c2);
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Resolved
    );
    // Reopening the old one by hand would make two active: refused.
    let err = f
        .inbox
        .set_status(&f.actor("sam"), &c, 2, ConversationStatus::Open)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Duplicate {
                what: Unique::ActiveConversation,
                ..
            }
        ),
        "{err}"
    );
}

/// Contacts learn their BSUID and profile name; WhatsApp's number-change
/// notice updates the identity.
pub async fn ingest_updates_contact_identity<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34655555555", "hi")
        .await
        .unwrap();
    let mut m = f.inbound("1001", "w2", "34655555555", Content::text("again"));
    m.from.user_id = Some("ES.abc".into());
    m.profile_name = Some("Marta".into());
    f.inbox.ingest(InboundEvent::Message(m)).await.unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    let k = f.store.contact(&f.acme(), &conv.contact).await.unwrap();
    assert_eq!(k.identity.user_id.as_deref(), Some("ES.abc"));
    assert_eq!(k.profile_name.as_deref(), Some("Marta"));
    // A message with only the BSUID finds the same contact.
    let mut m = f.inbound("1001", "w3", "ignored", Content::text("no phone"));
    m.from = ContactIdentity::user("ES.abc");
    let IngestOutcome::Stored { conversation, .. } =
        f.inbox.ingest(InboundEvent::Message(m)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(conversation, c);
    // Number change.
    let notice = Content::System {
        change: SystemChange::NumberChanged {
            new_wa_id: Some("34699999999".into()),
        },
        body: Some("changed".into()),
    };
    f.inbox
        .ingest(InboundEvent::Message(f.inbound(
            "1001",
            "w4",
            "34655555555",
            notice,
        )))
        .await
        .unwrap();
    let k = f.store.contact(&f.acme(), &conv.contact).await.unwrap();
    assert_eq!(k.identity.wa_id.as_deref(), Some("34699999999"));
    let (c3, _) = f
        .customer_says("1001", "w5", "34699999999", "new phone")
        .await
        .unwrap();
    assert_eq!(c3, c);
}

/// An inbound event for a number no tenant has is reported clearly and
/// stores nothing.
pub async fn ingest_unknown_channel_is_reported<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let err = f
        .inbox
        .ingest(f.text("7777", "w1", "346", "hi"))
        .await
        .unwrap_err();
    match err {
        Error::UnknownChannel { phone_number_id } => assert_eq!(phone_number_id, "7777"),
        other => panic!("{other}"),
    }
    let mut m = f.inbound("1001", "w1", "346", Content::text("x"));
    m.from = ContactIdentity::default();
    assert_eq!(
        f.inbox
            .ingest(InboundEvent::Message(m))
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    assert!(f
        .store
        .events_since(&f.acme(), 0, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Many agents claiming one conversation at once: exactly one wins; every
/// other is told who owns it.
pub async fn concurrent_claims_exactly_one_wins<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    for round in 0..5 {
        let (c, _) = f
            .customer_says(
                "1001",
                &format!("w{round}"),
                &format!("3466000000{round}"),
                "hi",
            )
            .await
            .unwrap();
        let v = f.version(&c).await.unwrap();
        let agents = ["ana", "ben", "sam", "ada", "ana", "ben"];
        let results = join_all(agents.iter().map(|a| {
            let actor = f.actor(a);
            let inbox = f.inbox.clone();
            let c = c.clone();
            async move { inbox.claim(&actor, &c, v).await }
        }))
        .await;
        let winners: Vec<&AgentId> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|o| !o.replayed)
            .map(|o| o.conversation.assignee.as_ref().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let owner = f
            .store
            .conversation(&f.acme(), &c)
            .await
            .unwrap()
            .assignee
            .unwrap();
        assert_eq!(&owner, winners[0]);
        for r in &results {
            match r {
                Ok(o) => assert_eq!(o.conversation.assignee.as_ref(), Some(&owner)),
                Err(Error::AlreadyOwned { owner: o, .. }) => assert_eq!(o, &owner),
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let claims = f
            .store
            .conversation_events(&f.acme(), &c, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::Claimed { .. }))
            .count();
        assert_eq!(claims, 1);
    }
}

/// An action on a stale version is refused with what changed, and nothing
/// is stored; a live collision notice is published.
pub async fn stale_actions_are_refused_with_what_changed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34677777777", "hi")
        .await
        .unwrap();
    let seen = f.version(&c).await.unwrap();
    f.inbox.claim(&f.actor("ana"), &c, seen).await.unwrap();
    let (_, new_msg) = f
        .customer_says("1001", "w2", "34677777777", "hello??")
        .await
        .unwrap();
    let before = f.store.conversation(&f.acme(), &c).await.unwrap();
    let err = f
        .inbox
        .reply(&f.actor("sam"), &c, seen, reply("On it", "k1"))
        .await
        .unwrap_err();
    let conflict = err.as_conflict().expect("conflict");
    assert_eq!(conflict.current, before.version);
    assert!(
        conflict.changes.contains(&Change::OwnerChanged {
            owner: Some(AgentId::new("ana").unwrap())
        }),
        "{conflict}"
    );
    assert!(
        conflict
            .changes
            .contains(&Change::NewCustomerMessage { message: new_msg }),
        "{conflict}"
    );
    assert_eq!(f.store.conversation(&f.acme(), &c).await.unwrap(), before);
    assert!(f
        .store
        .message_by_idempotency_key(&f.acme(), "k1")
        .await
        .unwrap()
        .is_none());
    assert!(f
        .bus
        .published()
        .iter()
        .any(|e| matches!(e.kind, EventKind::CollisionPrevented { .. }) && e.seq == 0));
    // Ana replies on the current version; Ben's reply on the version before
    // it is told that Ana replied.
    let now_v = before.version;
    let out = f
        .inbox
        .reply(&f.actor("ana"), &c, now_v, reply("Shipped today!", "k2"))
        .await
        .unwrap();
    let err = f
        .inbox
        .reply(&f.actor("ben"), &c, now_v, reply("Let me check", "k3"))
        .await
        .unwrap_err();
    let changes = &err.as_conflict().expect("conflict").changes;
    assert!(
        changes.contains(&Change::AgentReplied {
            agent: Some(AgentId::new("ana").unwrap()),
            message: out.message.unwrap().id
        }),
        "{changes:?}"
    );
    // A stale claim on a conversation someone owns says who.
    let err = f.inbox.claim(&f.actor("ben"), &c, seen).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyOwned { ref owner, .. } if owner.as_str() == "ana"),
        "{err}"
    );
    // Notes commute: a stale note goes in with a warning.
    let note = f
        .inbox
        .note(&f.actor("ben"), &c, seen, "customer called too", "n1")
        .await
        .unwrap();
    assert!(!note.warnings.is_empty());
    // The warn policy lets a stale reply through with the changes as warning.
    let config = InboxConfig {
        reply: ReplyPolicy {
            stale: crate::inbox::StaleReplies::Warn,
            ..ReplyPolicy::default()
        },
        ..InboxConfig::default()
    };
    let lenient = crate::inbox::Inbox::new(f.inbox.ports().clone(), config);
    let out = lenient
        .reply(
            &f.actor("ana"),
            &c,
            seen,
            reply("Also: tracking link", "k4"),
        )
        .await
        .unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("changed since")),
        "{:?}",
        out.warnings
    );
}

/// Retrying a reply with the same key returns the first reply; one message
/// and one delivery.
pub async fn replies_are_idempotent<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34688888888", "hi")
        .await
        .unwrap();
    let first = f
        .inbox
        .reply(&f.actor("ana"), &c, 1, reply("Hello!", "req-1"))
        .await
        .unwrap();
    assert!(!first.replayed);
    for _ in 0..3 {
        let again = f
            .inbox
            .reply(&f.actor("ana"), &c, 1, reply("Hello!", "req-1"))
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(
            again.message.as_ref().map(|m| &m.id),
            first.message.as_ref().map(|m| &m.id)
        );
    }
    // Concurrent retries as well.
    let v = f.version(&c).await.unwrap();
    let ana = f.actor("ana");
    let results =
        join_all((0..6).map(|_| f.inbox.reply(&ana, &c, v, reply("Second", "req-2")))).await;
    let ids: HashSet<MessageId> = results
        .iter()
        .map(|r| r.as_ref().unwrap().message.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    let outbound = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == Direction::Outbound)
        .count();
    assert_eq!(outbound, 2);
    f.inbox.dispatch(100).await.unwrap();
    f.inbox.dispatch(100).await.unwrap();
    assert_eq!(f.transport.sent().len(), 2);
    // The same key for another conversation is refused.
    let (c2, _) = f
        .customer_says("1001", "w2", "34688888889", "hi")
        .await
        .unwrap();
    let err = f
        .inbox
        .reply(&f.actor("ana"), &c2, 1, reply("Hello!", "req-1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

/// Notes (and handoff notes) are stored but never handed to the transport.
pub async fn notes_never_reach_the_transport<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690000000", "hi")
        .await
        .unwrap();
    let n = f
        .inbox
        .note(
            &f.actor("ana"),
            &c,
            1,
            "@ben this is the VIP from yesterday",
            "n1",
        )
        .await
        .unwrap();
    let note = n.message.unwrap();
    assert!(note.is_note());
    assert_eq!(note.mentions, vec![AgentId::new("ben").unwrap()]);
    let v = f.version(&c).await.unwrap();
    f.inbox.claim(&f.actor("ana"), &c, v).await.unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .transfer(
            &f.actor("ana"),
            &c,
            v,
            Assignee::Agent(AgentId::new("ben").unwrap()),
            "Wants a refund, see note",
        )
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .reply(&f.actor("ben"), &c, v, reply("Refund issued", "r1"))
        .await
        .unwrap();
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!(report.sent, 1);
    let sent = f.transport.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request.content, Content::text("Refund issued"));
    let notes = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.is_note())
        .count();
    assert_eq!(notes, 2);
}

/// Roles and tenancy are enforced by the core, and a refused action changes
/// nothing.
pub async fn permissions_are_enforced_and_change_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34691000000", "hi")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &c,
            v,
            Assignee::Team(TeamId::new("sales").unwrap()),
            "sales lead",
        )
        .await
        .unwrap();
    let before = f.store.conversation(&f.acme(), &c).await.unwrap();
    let events_before = f
        .store
        .events_since(&f.acme(), 0, 1000)
        .await
        .unwrap()
        .len();
    let v = before.version;
    // An agent may not assign others' conversations.
    let err = f
        .inbox
        .assign(
            &f.actor("ana"),
            &c,
            v,
            Assignee::Agent(AgentId::new("ben").unwrap()),
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    // Cy (support) cannot see a sales conversation, claim it or reply.
    assert_eq!(
        f.inbox
            .conversation(&f.actor("cy"), &c)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        f.inbox
            .claim(&f.actor("cy"), &c, v)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        f.inbox
            .reply(&f.actor("cy"), &c, v, reply("hi", "x1"))
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    // Another tenant's admin does not even find it.
    assert_eq!(
        f.inbox
            .conversation(&f.actor("gus"), &c)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        f.inbox
            .claim(&f.actor("gus"), &c, v)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Settings are for admins only.
    let team = Team::new(f.acme(), TeamId::new("vip").unwrap(), "VIP");
    assert_eq!(
        f.inbox
            .save_team(&f.actor("sam"), &team)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    f.inbox.save_team(&f.actor("ada"), &team).await.unwrap();
    let foreign = Team::new(
        TenantId::new("globex").unwrap(),
        TeamId::new("x").unwrap(),
        "X",
    );
    assert_eq!(
        f.inbox
            .save_team(&f.actor("ada"), &foreign)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Assignee-only replies: others are refused, supervisors may override.
    let config = InboxConfig {
        reply: ReplyPolicy {
            assignee_only: true,
            ..ReplyPolicy::default()
        },
        ..InboxConfig::default()
    };
    let strict = crate::inbox::Inbox::new(f.inbox.ports().clone(), config);
    strict.claim(&f.actor("ana"), &c, v).await.unwrap();
    let v2 = v + 1;
    let err = strict
        .reply(&f.actor("ben"), &c, v2, reply("me too", "b1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(err.to_string().contains("ana"), "{err}");
    strict
        .reply(&f.actor("sam"), &c, v2, reply("Supervisor here", "s1"))
        .await
        .unwrap();
    // Only ana's claim and sam's reply were recorded.
    assert_eq!(
        f.store
            .events_since(&f.acme(), 0, 1000)
            .await
            .unwrap()
            .len(),
        events_before + 2
    );
    // Unknown agents are not found.
    let ghost = crate::inbox::Actor::new(f.acme(), AgentId::new("ghost").unwrap());
    assert_eq!(
        f.inbox
            .list(&ghost, &ViewQuery::new(View::All))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
}

/// Bad input gets a typed error naming the problem, and nothing changes.
pub async fn bad_input_is_rejected_and_changes_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34692000000", "hi")
        .await
        .unwrap();
    let before = f.store.conversation(&f.acme(), &c).await.unwrap();
    let ana = f.actor("ana");
    let cases: Vec<(&str, Error)> = vec![
        (
            "empty reply",
            f.inbox
                .reply(&ana, &c, 1, reply("   ", "k"))
                .await
                .unwrap_err(),
        ),
        (
            "empty key",
            f.inbox
                .reply(&ana, &c, 1, reply("hi", " "))
                .await
                .unwrap_err(),
        ),
        (
            "unknown conversation",
            f.inbox
                .claim(&ana, &ConversationId::new("nope").unwrap(), 1)
                .await
                .unwrap_err(),
        ),
        (
            "future version",
            f.inbox.claim(&ana, &c, 99).await.unwrap_err(),
        ),
        (
            "empty note",
            f.inbox.note(&ana, &c, 1, "", "n").await.unwrap_err(),
        ),
        (
            "empty tag",
            f.inbox.tag(&ana, &c, 1, &[" "], &[]).await.unwrap_err(),
        ),
        (
            "snooze in the past",
            f.inbox
                .snooze(&ana, &c, 1, Fixture::start() - TimeDelta::hours(1))
                .await
                .unwrap_err(),
        ),
        (
            "unknown assignee",
            f.inbox
                .assign(
                    &f.actor("sam"),
                    &c,
                    1,
                    Assignee::Agent(AgentId::new("nobody").unwrap()),
                    "",
                )
                .await
                .unwrap_err(),
        ),
        (
            "unknown team",
            f.inbox
                .assign(
                    &f.actor("sam"),
                    &c,
                    1,
                    Assignee::Team(TeamId::new("nobody").unwrap()),
                    "",
                )
                .await
                .unwrap_err(),
        ),
        (
            "transfer without note",
            f.inbox
                .transfer(
                    &f.actor("sam"),
                    &c,
                    1,
                    Assignee::Agent(AgentId::new("ben").unwrap()),
                    "",
                )
                .await
                .unwrap_err(),
        ),
        (
            "release unowned",
            f.inbox
                .release(&f.actor("sam"), &c, 1, "")
                .await
                .unwrap_err(),
        ),
        (
            "inbound-only content",
            f.inbox
                .reply(
                    &ana,
                    &c,
                    1,
                    Reply {
                        content: Content::RequestWelcome,
                        idempotency_key: "k9".into(),
                        reply_to: None,
                    },
                )
                .await
                .unwrap_err(),
        ),
        (
            "bad cursor",
            f.inbox
                .list(
                    &ana,
                    &ViewQuery::new(View::All)
                        .after(Some(crate::query::Cursor::parse("la.1.2.x").unwrap()))
                        .sort(SortOrder::Newest),
                )
                .await
                .unwrap_err(),
        ),
        (
            "zero limit",
            f.inbox
                .list(&ana, &ViewQuery::new(View::All).limit(0))
                .await
                .unwrap_err(),
        ),
    ];
    for (what, err) in &cases {
        assert!(
            matches!(
                err.code(),
                "invalid_input" | "invalid_content" | "not_found" | "invalid_state"
            ),
            "{what}: {err}"
        );
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(f.store.conversation(&f.acme(), &c).await.unwrap(), before);
    assert_eq!(f.store.messages(&f.acme(), &c).await.unwrap().len(), 1);
}

/// Outside the 24-hour window free-form replies are refused with a typed
/// error; templates go through.
pub async fn window_closed_refuses_free_form_but_accepts_templates<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34693000000", "hi")
        .await
        .unwrap();
    f.advance(TimeDelta::hours(23) + TimeDelta::minutes(59));
    f.inbox
        .reply(&f.actor("ana"), &c, 1, reply("just in time", "k1"))
        .await
        .unwrap();
    f.advance(TimeDelta::minutes(2));
    let v = f.version(&c).await.unwrap();
    let err = f
        .inbox
        .reply(&f.actor("ana"), &c, v, reply("too late", "k2"))
        .await
        .unwrap_err();
    match &err {
        Error::WindowClosed { closed_at, .. } => {
            assert_eq!(closed_at.0, Some(Fixture::start() + TimeDelta::hours(24)))
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("template"));
    let template = Content::Template {
        name: "follow_up".into(),
        language: "en_US".into(),
        components: serde_json::json!([]),
    };
    let out = f
        .inbox
        .reply(
            &f.actor("ana"),
            &c,
            v,
            Reply {
                content: template,
                idempotency_key: "k3".into(),
                reply_to: None,
            },
        )
        .await
        .unwrap();
    assert!(out.message.unwrap().content.is_template());
}

/// The dispatcher sends, retries transient failures with backoff, fails
/// final ones with the provider error, and marks lapsed claims in doubt
/// instead of resending.
pub async fn dispatcher_retries_fails_and_marks_in_doubt<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34694000000", "hi")
        .await
        .unwrap();
    let r1 = f
        .inbox
        .reply(&f.actor("ana"), &c, 1, reply("one", "k1"))
        .await
        .unwrap()
        .message
        .unwrap();
    f.transport.fail_next(TransportError::Transient {
        code: Some(2),
        message: "service unavailable".into(),
    });
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    assert_eq!(
        f.inbox.dispatch(10).await.unwrap().total(),
        0,
        "not due yet"
    );
    f.advance(TimeDelta::seconds(5));
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!(report.sent, 1);
    let m = f.store.message(&f.acme(), &r1.id).await.unwrap();
    assert_eq!(
        m.delivery.as_ref().unwrap().status,
        DeliveryStatus::Accepted
    );
    assert_eq!(m.external_id.as_deref(), Some("wamid.test.1"));
    assert_eq!(f.transport.sent()[0].request.message_id, r1.id);
    assert_eq!(
        f.transport.sent()[0].request.to,
        ContactIdentity::wa("34694000000")
    );
    // Window closed: failed for good, not retried.
    let v = f.version(&c).await.unwrap();
    let r2 = f
        .inbox
        .reply(&f.actor("ana"), &c, v, reply("two", "k2"))
        .await
        .unwrap()
        .message
        .unwrap();
    f.transport
        .fail_next(TransportError::WindowClosed { code: Some(131047) });
    assert_eq!(f.inbox.dispatch(10).await.unwrap().failed, 1);
    let m = f.store.message(&f.acme(), &r2.id).await.unwrap();
    let d = m.delivery.unwrap();
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.error.unwrap().code, Some(131047));
    f.advance(TimeDelta::hours(1));
    assert_eq!(f.inbox.dispatch(10).await.unwrap().total(), 0);
    // A dispatcher that claimed and died before sending: the claim lapses
    // and the message is sent by the next dispatcher.
    let v = f.version(&c).await.unwrap();
    let r3 = f
        .inbox
        .reply(&f.actor("ana"), &c, v, reply("three", "k3"))
        .await
        .unwrap()
        .message
        .unwrap();
    let claimed = f
        .store
        .claim_outbox(f.clock.now(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    f.advance(TimeDelta::minutes(2));
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.sent, report.in_doubt), (1, 0));
    assert_eq!(f.transport.sent().last().unwrap().request.message_id, r3.id);
    // One that died after the attempt began: the message is marked in
    // doubt, never sent twice.
    let v = f.version(&c).await.unwrap();
    let r4 = f
        .inbox
        .reply(&f.actor("ana"), &c, v, reply("four", "k4"))
        .await
        .unwrap()
        .message
        .unwrap();
    let claimed = f
        .store
        .claim_outbox(f.clock.now(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    f.store
        .begin_outbox_attempt(
            &claimed[0],
            f.clock.now(),
            f.clock.now() + TimeDelta::seconds(60),
        )
        .await
        .unwrap();
    f.advance(TimeDelta::minutes(2));
    let attempts = f.transport.attempts();
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!(report.in_doubt, 1);
    assert_eq!(f.transport.attempts(), attempts, "nothing resent");
    let m = f.store.message(&f.acme(), &r4.id).await.unwrap();
    assert!(m.delivery.unwrap().in_doubt_since.is_some());
}

/// Status webhooks find the message by our id (even without a recorded
/// provider id) and only move it forward.
pub async fn status_webhooks_reconcile_by_our_id<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34695000000", "hi")
        .await
        .unwrap();
    let r = f
        .inbox
        .reply(&f.actor("ana"), &c, 1, reply("hello", "k1"))
        .await
        .unwrap()
        .message
        .unwrap();
    // As if the dispatcher crashed after the provider accepted it.
    let status = |s: DeliveryStatus, ours: Option<&str>| {
        InboundEvent::Status(InboundStatus {
            phone_number_id: "1001".into(),
            external_id: "wamid.real.1".into(),
            our_message_id: ours.map(str::to_string),
            recipient: Some("34695000000".into()),
            status: s,
            timestamp: f.clock.now(),
            error: None,
        })
    };
    let out = f
        .inbox
        .ingest(status(DeliveryStatus::Delivered, Some(r.id.as_str())))
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            IngestOutcome::StatusApplied {
                status: DeliveryStatus::Delivered,
                ..
            }
        ),
        "{out:?}"
    );
    let m = f.store.message(&f.acme(), &r.id).await.unwrap();
    assert_eq!(m.external_id.as_deref(), Some("wamid.real.1"));
    // Later reports by provider id alone; a late "sent" changes nothing.
    assert!(matches!(
        f.inbox
            .ingest(status(DeliveryStatus::Sent, None))
            .await
            .unwrap(),
        IngestOutcome::StatusIgnored { .. }
    ));
    assert!(matches!(
        f.inbox
            .ingest(status(DeliveryStatus::Read, None))
            .await
            .unwrap(),
        IngestOutcome::StatusApplied { .. }
    ));
    assert_eq!(
        f.store
            .message(&f.acme(), &r.id)
            .await
            .unwrap()
            .delivery
            .unwrap()
            .status,
        DeliveryStatus::Read
    );
    // The dispatcher now sees it reconciled and does not send it.
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.sent, report.skipped), (0, 1));
    assert!(f.transport.sent().is_empty());
    // A status for a message we never sent is acknowledged and ignored.
    let mut unknown = status(DeliveryStatus::Read, None);
    if let InboundEvent::Status(s) = &mut unknown {
        s.external_id = "wamid.phone-app".into();
    }
    assert!(matches!(
        f.inbox.ingest(unknown).await.unwrap(),
        IngestOutcome::UnknownMessage { .. }
    ));
}

/// Status reports handed over together (one webhook's) are applied as
/// one after another, in order: each its own outcome at its position, a
/// message's reports seeing each other (a late "delivered" after "read"
/// changes nothing), their events numbered in report order, and a report
/// that fails (an empty id, a provider id another message has) failing
/// alone.
pub async fn statuses_reported_together_apply_in_order<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34695000000", "hi")
        .await
        .unwrap();
    let mut ours = Vec::new();
    for k in 1..=3 {
        let v = f.version(&c).await.unwrap();
        let m = f
            .inbox
            .reply(
                &f.actor("ana"),
                &c,
                v,
                reply(&format!("reply {k}"), &format!("k{k}")),
            )
            .await
            .unwrap()
            .message
            .unwrap();
        ours.push(m.id);
    }
    let (r1, r2, r3) = (&ours[0], &ours[1], &ours[2]);
    let status = |s: DeliveryStatus, ext: &str, ours: Option<&MessageId>| InboundStatus {
        phone_number_id: "1001".into(),
        external_id: ext.into(),
        our_message_id: ours.map(|m| m.to_string()),
        recipient: Some("34695000000".into()),
        status: s,
        timestamp: f.clock.now(),
        error: None,
    };
    let before = f.store.events_since(&f.acme(), 0, 10_000).await.unwrap();
    let last_seq = before.last().map(|e| e.seq).unwrap_or(0);
    assert!(f.inbox.ingest_statuses(Vec::new()).await.is_empty());
    let out = f
        .inbox
        .ingest_statuses(vec![
            status(DeliveryStatus::Sent, "wamid.a", Some(r1)),
            status(DeliveryStatus::Delivered, "wamid.a", None),
            status(DeliveryStatus::Read, "wamid.b", Some(r2)),
            status(DeliveryStatus::Read, "wamid.a", None),
            status(DeliveryStatus::Delivered, "wamid.a", None),
            status(DeliveryStatus::Read, "wamid.unknown", None),
            status(DeliveryStatus::Sent, " ", None),
            status(DeliveryStatus::Sent, "wamid.a", Some(r3)),
            status(DeliveryStatus::Sent, "wamid.b", None),
        ])
        .await;
    assert_eq!(out.len(), 9, "one outcome per report: {out:?}");
    let applied = |i: usize, m: &MessageId, s: DeliveryStatus| match &out[i] {
        Ok(IngestOutcome::StatusApplied { message, status }) => {
            assert_eq!((message, *status), (m, s), "report {i}")
        }
        other => panic!("report {i}: {other:?}"),
    };
    applied(0, r1, DeliveryStatus::Sent);
    applied(1, r1, DeliveryStatus::Delivered);
    applied(2, r2, DeliveryStatus::Read);
    applied(3, r1, DeliveryStatus::Read);
    assert!(
        matches!(&out[4], Ok(IngestOutcome::StatusIgnored { message }) if message == r1),
        "a late delivered after read: {:?}",
        out[4]
    );
    assert!(
        matches!(&out[5], Ok(IngestOutcome::UnknownMessage { external_id }) if external_id == "wamid.unknown"),
        "{:?}",
        out[5]
    );
    assert!(
        matches!(&out[6], Err(Error::InvalidInput { .. })),
        "{:?}",
        out[6]
    );
    // r3 by our id, but with r1's provider id: refused, alone.
    assert!(
        matches!(&out[7], Err(Error::Duplicate { .. })),
        "a provider id another message has: {:?}",
        out[7]
    );
    assert!(
        matches!(&out[8], Ok(IngestOutcome::StatusIgnored { message }) if message == r2),
        "{:?}",
        out[8]
    );
    // The messages' final states.
    let m1 = f.store.message(&f.acme(), r1).await.unwrap();
    assert_eq!(m1.external_id.as_deref(), Some("wamid.a"));
    assert_eq!(m1.delivery.unwrap().status, DeliveryStatus::Read);
    let m2 = f.store.message(&f.acme(), r2).await.unwrap();
    assert_eq!(m2.external_id.as_deref(), Some("wamid.b"));
    assert_eq!(m2.delivery.unwrap().status, DeliveryStatus::Read);
    let m3 = f.store.message(&f.acme(), r3).await.unwrap();
    assert_eq!(m3.external_id, None, "the refused report changed nothing");
    // One event per forward move, numbered in report order, gap-free.
    let events = f
        .store
        .events_since(&f.acme(), last_seq, 10_000)
        .await
        .unwrap();
    let moves: Vec<(MessageId, DeliveryStatus)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DeliveryChanged {
                message, status, ..
            } => Some((message.clone(), *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (r1.clone(), DeliveryStatus::Sent),
            (r1.clone(), DeliveryStatus::Delivered),
            (r2.clone(), DeliveryStatus::Read),
            (r1.clone(), DeliveryStatus::Read),
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (last_seq + 1..=last_seq + events.len() as u64).collect();
    assert_eq!(seqs, expected, "gap-free, in order");
    // The store's own answer for reports of one tenant, the same rules.
    let again = f
        .store
        .update_messages(
            &f.acme(),
            &[MessageUpdate {
                target: MessageTarget::Status {
                    channel: f.channel("sales"),
                    our_id: None,
                    external_id: "wamid.a".into(),
                },
                mutation: MessageMutation::Delivery {
                    update: DeliveryUpdate {
                        status: DeliveryStatus::Read,
                        at: f.clock.now(),
                        error: None,
                    },
                    external_id: Some("wamid.a".into()),
                },
            }],
        )
        .await;
    assert_eq!(again.len(), 1);
    assert!(
        matches!(&again[0], Ok(Some(MessageUpdated { message, event: None })) if message == r1),
        "a repeated read changes nothing: {again:?}"
    );
}

/// Views: mine, unassigned, team, all, each limited to what the agent may
/// see, with cursor pagination.
pub async fn views_respect_visibility<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let mut convs = Vec::new();
    for i in 0..9 {
        let (c, _) = f
            .customer_says("1001", &format!("w{i}"), &format!("3469600000{i}"), "hi")
            .await
            .unwrap();
        f.advance(TimeDelta::minutes(1));
        convs.push(c);
    }
    let team = |i: usize| {
        if i < 3 {
            "sales"
        } else if i < 6 {
            "support"
        } else {
            "none"
        }
    };
    for (i, c) in convs.iter().enumerate() {
        if team(i) != "none" {
            let v = f.version(c).await.unwrap();
            f.inbox
                .assign(
                    &f.actor("sam"),
                    c,
                    v,
                    Assignee::Team(TeamId::new(team(i)).unwrap()),
                    "route",
                )
                .await
                .unwrap();
        }
    }
    f.inbox
        .claim(
            &f.actor("ana"),
            &convs[0],
            f.version(&convs[0]).await.unwrap(),
        )
        .await
        .unwrap();
    let ids = |p: &crate::query::Page<Conversation>| {
        p.items
            .iter()
            .map(|c| c.id.clone())
            .collect::<BTreeSet<_>>()
    };
    let ana = f.actor("ana");
    let mine = f
        .inbox
        .list(&ana, &ViewQuery::new(View::Mine))
        .await
        .unwrap();
    assert_eq!(ids(&mine), BTreeSet::from([convs[0].clone()]));
    let unassigned = f
        .inbox
        .list(&ana, &ViewQuery::new(View::Unassigned))
        .await
        .unwrap();
    let expected: BTreeSet<_> = [1, 2, 6, 7, 8].iter().map(|&i| convs[i].clone()).collect();
    assert_eq!(ids(&unassigned), expected);
    let all = f
        .inbox
        .list(&ana, &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(
        all.items.len(),
        6,
        "ana sees sales and unrouted, not support"
    );
    assert_eq!(
        f.inbox
            .list(
                &ana,
                &ViewQuery::new(View::Team(TeamId::new("support").unwrap()))
            )
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let sam_all = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(sam_all.items.len(), 9);
    let gus_all = f
        .inbox
        .list(&f.actor("gus"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert!(gus_all.items.is_empty());
    // Pages of 2, latest activity first, cover everything once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .inbox
            .list(
                &f.actor("sam"),
                &ViewQuery::new(View::All).limit(2).after(after),
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut expected_order = convs.clone();
    expected_order.reverse();
    assert_eq!(seen, expected_order);
}

/// A contact's history spans conversations and numbers.
pub async fn contact_history_spans_channels<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let (c1, _) = f
        .customer_says("1001", "w1", "34697000000", "buy")
        .await
        .unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c1, 1, ConversationStatus::Resolved)
        .await
        .unwrap();
    f.advance(TimeDelta::days(30));
    let (c2, _) = f
        .customer_says("1001", "w2", "34697000000", "buy again")
        .await
        .unwrap();
    let (c3, _) = f
        .customer_says("1002", "w3", "34697000000", "broken")
        .await
        .unwrap();
    assert!(c1 != c2 && c2 != c3);
    let contact = f.store.conversation(&f.acme(), &c1).await.unwrap().contact;
    let d = f.inbox.contact(&f.actor("sam"), &contact).await.unwrap();
    let ids: Vec<ConversationId> = d.conversations.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&c1) && ids.contains(&c2) && ids.contains(&c3));
    assert_eq!(
        f.inbox
            .contact(&f.actor("gus"), &contact)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
}

/// Ownership changes record actor, time and reason in the timeline; over
/// capacity assignment warns.
pub async fn transfer_assign_release_record_who_and_why<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let ben = AgentId::new("ben").unwrap();
    // Ben is at capacity (3).
    for i in 0..3 {
        let (c, _) = f
            .customer_says("1001", &format!("x{i}"), &format!("3469800000{i}"), "hi")
            .await
            .unwrap();
        f.inbox.claim(&f.actor("ben"), &c, 1).await.unwrap();
    }
    let (c, _) = f
        .customer_says("1001", "w1", "34698100000", "hi")
        .await
        .unwrap();
    f.inbox.claim(&f.actor("ana"), &c, 1).await.unwrap();
    let out = f
        .inbox
        .transfer(
            &f.actor("ana"),
            &c,
            2,
            Assignee::Agent(ben.clone()),
            "Knows this customer",
        )
        .await
        .unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("capacity")),
        "{:?}",
        out.warnings
    );
    assert_eq!(out.conversation.assignee, Some(ben.clone()));
    f.advance(TimeDelta::minutes(3));
    let out = f
        .inbox
        .release(
            &f.actor("sam"),
            &c,
            out.conversation.version,
            "ben went home",
        )
        .await
        .unwrap();
    assert_eq!(out.conversation.assignee, None);
    let timeline = f
        .inbox
        .conversation(&f.actor("sam"), &c)
        .await
        .unwrap()
        .timeline;
    let transferred = timeline
        .iter()
        .find(|e| matches!(e.kind, EventKind::Transferred { .. }))
        .unwrap();
    assert_eq!(
        transferred.actor,
        EventActor::Agent(AgentId::new("ana").unwrap())
    );
    let released = timeline
        .iter()
        .find(|e| matches!(e.kind, EventKind::Released { .. }))
        .unwrap();
    assert_eq!(
        released.actor,
        EventActor::Agent(AgentId::new("sam").unwrap())
    );
    assert_eq!(released.at, Fixture::start() + TimeDelta::minutes(3));
    match &released.kind {
        EventKind::Released { agent, reason } => {
            assert_eq!((agent, reason.as_str()), (&ben, "ben went home"))
        }
        _ => unreachable!(),
    }
    let handoff = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.is_note())
        .unwrap();
    assert_eq!(handoff.content, Content::text("Knows this customer"));
}

/// Search finds message and note words (the last one as a prefix), contact
/// names and numbers; each agent only within what they may see; never
/// across tenants.
pub async fn search_finds_words_names_and_numbers_within_visibility<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let say = |pnid: &'static str,
               ext: &'static str,
               wa: &'static str,
               name: &'static str,
               text: &'static str| {
        let mut m = f.inbound(pnid, ext, wa, Content::text(text));
        m.profile_name = Some(name.to_string());
        f.inbox.ingest(InboundEvent::Message(m))
    };
    let IngestOutcome::Stored {
        conversation: marta,
        ..
    } = say(
        "1001",
        "w1",
        "34611000001",
        "Marta Ruiz",
        "My order #1042 hasn't arrived",
    )
    .await
    .unwrap()
    else {
        panic!()
    };
    f.advance(TimeDelta::minutes(1));
    let IngestOutcome::Stored {
        conversation: jon, ..
    } = say(
        "1001",
        "w2",
        "34622000002",
        "Jon",
        "Do you ship to Portugal?",
    )
    .await
    .unwrap()
    else {
        panic!()
    };
    f.advance(TimeDelta::minutes(1));
    let IngestOutcome::Stored {
        conversation: kim, ..
    } = say(
        "1002",
        "w3",
        "34633000003",
        "Kim",
        "Refund please, 100% broken",
    )
    .await
    .unwrap()
    else {
        panic!()
    };
    f.inbox
        .note(
            &f.actor("ana"),
            &marta,
            1,
            "Courier says the parcel is lost",
            "n1",
        )
        .await
        .unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &kim,
            1,
            Assignee::Team(TeamId::new("support").unwrap()),
            "refunds",
        )
        .await
        .unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &marta,
            2,
            Assignee::Team(TeamId::new("sales").unwrap()),
            "orders",
        )
        .await
        .unwrap();
    let all = ViewQuery::new(View::All);
    let found = |actor: &'static str, text: &'static str| {
        let inbox = f.inbox.clone();
        let actor = f.actor(actor);
        let q = all.clone();
        async move {
            inbox
                .search(&actor, text, &q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|h| h.conversation.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("sam", "order 1042").await, vec![marta.clone()]);
    assert_eq!(
        found("sam", "ORD").await,
        vec![marta.clone()],
        "the last word matches as a prefix"
    );
    assert!(
        found("sam", "ord 1042").await.is_empty(),
        "other words match whole"
    );
    assert_eq!(found("sam", "portugal").await, vec![jon.clone()]);
    assert_eq!(
        found("sam", "courier lost").await,
        vec![marta.clone()],
        "notes are searched"
    );
    assert_eq!(
        found("sam", "marta ruiz").await,
        vec![marta.clone()],
        "contact names"
    );
    assert_eq!(
        found("sam", "2200").await,
        vec![jon.clone()],
        "digits anywhere in the number"
    );
    assert_eq!(found("sam", "+34 611").await, vec![marta.clone()]);
    // The hit carries the most recent matching message.
    let hit = f
        .inbox
        .search(&f.actor("sam"), "lost", &all)
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(hit.message.as_ref().is_some_and(|m| m.is_note()));
    assert!(!hit.contact_matched);
    let by_name = f
        .inbox
        .search(&f.actor("sam"), "kim", &all)
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(by_name.contact_matched && by_name.message.is_none());
    // Visibility: Ana (sales) does not find the support conversation; Cy
    // (support) does not find sales'; other tenants find nothing.
    assert_eq!(found("sam", "refund").await, vec![kim.clone()]);
    assert!(found("ana", "refund").await.is_empty());
    assert_eq!(found("cy", "refund").await, vec![kim.clone()]);
    assert!(found("cy", "1042").await.is_empty());
    assert!(found("gus", "order").await.is_empty());
    // Views narrow the search.
    let mine = f
        .inbox
        .search(&f.actor("sam"), "order", &ViewQuery::new(View::Mine))
        .await
        .unwrap();
    assert!(mine.items.is_empty());
}

/// Search pages by cursor in latest-activity order, and treats SQL, regex
/// and tsquery metacharacters as separators, never as operators.
pub async fn search_pages_and_never_interprets_operators<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let mut convs = Vec::new();
    for i in 0..7 {
        let (c, _) = f
            .customer_says(
                "1001",
                &format!("w{i}"),
                &format!("3464400000{i}"),
                &format!("hello there, ticket {i}"),
            )
            .await
            .unwrap();
        f.advance(TimeDelta::minutes(1));
        convs.push(c);
    }
    let (odd, _) = f
        .customer_says(
            "1001",
            "wx",
            "34655500000",
            "50% off? (really) [yes] .* a|b & c zq:* !x 'quote' \\ ; DROP TABLE x; --",
        )
        .await
        .unwrap();
    let sam = f.actor("sam");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .inbox
            .search(
                &sam,
                "hello",
                &ViewQuery::new(View::All).limit(3).after(after),
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|h| h.conversation.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    convs.reverse();
    assert_eq!(seen, convs);
    let q = ViewQuery::new(View::All);
    for text in [
        "50%",
        "(really)",
        "[yes]",
        "a|b",
        "zq:*",
        "'quote'",
        "DROP TABLE",
        "b & c",
    ] {
        let hits = f.inbox.search(&sam, text, &q).await.unwrap();
        assert_eq!(
            hits.items
                .iter()
                .map(|h| h.conversation.id.clone())
                .collect::<Vec<_>>(),
            vec![odd.clone()],
            "{text:?}"
        );
    }
    for text in ["' OR 1=1 --", "%", ".*", "_", "\\"] {
        match f.inbox.search(&sam, text, &q).await {
            Ok(page) => assert!(page.items.is_empty(), "{text:?} matched {:?}", page.items),
            Err(e) => assert_eq!(e.code(), "invalid_input", "{text:?}: {e}"),
        }
    }
    assert_eq!(
        f.inbox.search(&sam, "  ", &q).await.unwrap_err().code(),
        "invalid_input"
    );
}

/// Timers committed with a conversation are found by due time, earliest
/// first, only once due; moving or clearing one replaces it.
pub async fn timers_are_found_by_due_time<S: Store + ?Sized>(store: Arc<S>) {
    use crate::timer::{Timer, TimerChange, TimerKind};
    let c = seed(&*store).await;
    let acme = t("acme");
    let timer = |conv: &Conversation, kind, minute| {
        TimerChange::Set(Timer {
            tenant: conv.tenant.clone(),
            conversation: conv.id.clone(),
            kind,
            due_at: at(minute),
        })
    };
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            timers: vec![
                timer(&c, TimerKind::SnoozeWake, 30),
                timer(&c, TimerKind::WindowWarning, 10),
            ],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let g = conversation("globex", "g1", "main", "gk");
    store
        .commit(Changeset {
            conversation: Some(Write {
                value: g.clone(),
                expected_version: None,
            }),
            timers: vec![timer(&g, TimerKind::SnoozeWake, 20)],
            ..Changeset::new(t("globex"))
        })
        .await
        .unwrap();
    assert!(store.due_timers(at(5), 10).await.unwrap().is_empty());
    let due = store.due_timers(at(25), 10).await.unwrap();
    let got: Vec<(String, TimerKind)> = due
        .iter()
        .map(|t| (t.conversation.to_string(), t.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("c1".to_string(), TimerKind::WindowWarning),
            ("g1".to_string(), TimerKind::SnoozeWake)
        ]
    );
    assert_eq!(due[1].tenant.as_str(), "globex");
    assert_eq!(store.due_timers(at(60), 2).await.unwrap().len(), 2, "limit");
    // Move one, clear another, in the next commits.
    let c2 = bump(&c);
    store
        .commit(Changeset {
            conversation: Some(update(&c2)),
            timers: vec![
                timer(&c2, TimerKind::WindowWarning, 50),
                TimerChange::Clear {
                    conversation: c2.id.clone(),
                    kind: TimerKind::SnoozeWake,
                },
            ],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let due = store.due_timers(at(45), 10).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].conversation.as_str(), "g1");
    assert_eq!(store.due_timers(at(50), 10).await.unwrap().len(), 2);
    // A failed commit sets no timer.
    let stale = Changeset {
        conversation: Some(update(&c)),
        timers: vec![timer(&c, TimerKind::SnoozeWake, 1)],
        ..Changeset::new(acme.clone())
    };
    assert_eq!(store.commit(stale).await.unwrap_err().code(), "conflict");
    assert_eq!(store.due_timers(at(2), 10).await.unwrap().len(), 0);
}

/// A snoozed conversation wakes when its time comes, once, whatever the
/// number of ticks; a customer message before then wakes it and the stale
/// timer is cleared.
pub async fn snoozed_conversations_wake_on_tick_once<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690100000", "call me back tomorrow")
        .await
        .unwrap();
    let until = f.clock.now() + TimeDelta::hours(20);
    f.inbox.snooze(&f.actor("ana"), &c, 1, until).await.unwrap();
    let tick = |minutes: i64| {
        let inbox = f.inbox.clone();
        async move {
            inbox
                .tick(Fixture::start() + TimeDelta::minutes(minutes), 100)
                .await
                .unwrap()
        }
    };
    assert_eq!(tick(60).await.total(), 0);
    let r = tick(20 * 60).await;
    assert_eq!(r.woken, 1, "{r:?}");
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(
        (conv.status, conv.snoozed_until),
        (ConversationStatus::Open, None)
    );
    assert_eq!(
        tick(20 * 60).await.total(),
        0,
        "the same tick twice fires once"
    );
    assert_eq!(tick(30 * 60).await.woken, 0);
    let woke = f
        .store
        .conversation_events(&f.acme(), &c, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::StatusChanged {
                    from: ConversationStatus::Snoozed,
                    to: ConversationStatus::Open,
                    ..
                }
            )
        })
        .count();
    assert_eq!(woke, 1);
    // Snoozed again, but the customer writes first.
    let v = f.version(&c).await.unwrap();
    f.clock.set(Fixture::start() + TimeDelta::hours(21));
    f.inbox
        .snooze(
            &f.actor("ana"),
            &c,
            v,
            Fixture::start() + TimeDelta::hours(30),
        )
        .await
        .unwrap();
    f.customer_says("1001", "w2", "34690100000", "actually, now is fine")
        .await
        .unwrap();
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Open
    );
    let r = tick(31 * 60).await;
    assert_eq!(r.woken, 0, "{r:?}");
}

/// The window-closing warning fires the configured time before the
/// window closes, once, only while the customer waits for an answer.
pub async fn window_warning_fires_once_while_the_customer_waits<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690200000", "hello?")
        .await
        .unwrap();
    let (answered, _) = f
        .customer_says("1001", "w2", "34690200001", "hi")
        .await
        .unwrap();
    f.inbox
        .reply(
            &f.actor("ana"),
            &answered,
            1,
            reply("Hello! How can I help?", "r1"),
        )
        .await
        .unwrap();
    let at_hours = |h: i64| Fixture::start() + TimeDelta::hours(h);
    assert_eq!(
        f.inbox
            .tick(at_hours(22), 100)
            .await
            .unwrap()
            .window_warnings,
        0
    );
    let r = f.inbox.tick(at_hours(23), 100).await.unwrap();
    assert_eq!(r.window_warnings, 1, "only the waiting conversation: {r:?}");
    assert_eq!(f.inbox.tick(at_hours(23), 100).await.unwrap().total(), 0);
    let warned = window_warnings_of(&f, &c).await;
    assert_eq!(warned, [at_hours(24)]);
    // A new customer message opens a new window, and a new warning.
    f.clock.set(at_hours(30));
    f.customer_says("1001", "w3", "34690200000", "still there?")
        .await
        .unwrap();
    assert_eq!(
        f.inbox
            .tick(at_hours(53), 100)
            .await
            .unwrap()
            .window_warnings,
        1
    );
}

/// When each window-closing warning of `c` said the window closes.
async fn window_warnings_of(f: &Fixture, c: &ConversationId) -> Vec<DateTime<Utc>> {
    f.store
        .conversation_events(&f.acme(), c, 0)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::WindowClosing { closes_at } => Some(closes_at),
            _ => None,
        })
        .collect()
}

/// A timer the store holds earlier than the state asks for (a snooze
/// extended between a tick reading the due timers and firing them, say)
/// is re-armed for the wanted time when it comes due, not cleared: the
/// conversation still wakes, on time.
pub async fn a_timer_due_before_its_time_is_rearmed_not_lost<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    use crate::timer::{Timer, TimerChange, TimerKind};
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690100000", "call me back tomorrow")
        .await
        .unwrap();
    let at = |h: i64| Fixture::start() + TimeDelta::hours(h);
    f.inbox
        .snooze(&f.actor("ana"), &c, 1, at(20))
        .await
        .unwrap();
    // The stored wake-up, moved to an earlier time behind the core's back.
    let current = f.store.conversation(&f.acme(), &c).await.unwrap();
    let mut next = current.clone();
    next.version += 1;
    let stale = Changeset {
        conversation: Some(Write {
            value: next,
            expected_version: Some(current.version),
        }),
        timers: vec![TimerChange::Set(Timer {
            tenant: f.acme(),
            conversation: c.clone(),
            kind: TimerKind::SnoozeWake,
            due_at: at(2),
        })],
        ..Changeset::new(f.acme())
    };
    f.store.commit(stale).await.unwrap();
    let r = f.inbox.tick(at(2), 100).await.unwrap();
    assert_eq!((r.woken, r.rearmed, r.cleared), (0, 1, 0), "{r:?}");
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Snoozed
    );
    assert_eq!(f.inbox.tick(at(19), 100).await.unwrap().total(), 0);
    assert_eq!(f.inbox.tick(at(20), 100).await.unwrap().woken, 1);
}

/// A customer message that moves the window later leaves the stored
/// warning where it was (a deferred timer): at its old time the tick
/// re-arms it instead of warning, and it warns at the new time, once.
pub async fn window_warning_moved_later_rearms_and_fires_on_time<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690200000", "hello?")
        .await
        .unwrap();
    let at_hours = |h: i64| Fixture::start() + TimeDelta::hours(h);
    f.clock.set(at_hours(5));
    let (same, _) = f
        .customer_says("1001", "w2", "34690200000", "anyone?")
        .await
        .unwrap();
    assert_eq!(same, c, "the second message continues the conversation");
    // The warning was not moved: it is still stored for 23 h.
    let due = f.store.due_timers(at_hours(23), 100).await.unwrap();
    assert_eq!(
        due.iter().map(|t| (t.kind, t.due_at)).collect::<Vec<_>>(),
        [(crate::timer::TimerKind::WindowWarning, at_hours(23))]
    );
    let r = f.inbox.tick(at_hours(23), 100).await.unwrap();
    assert_eq!((r.window_warnings, r.rearmed), (0, 1), "{r:?}");
    // Re-armed for an hour before the new close (5 h + 24 h).
    assert!(f
        .store
        .due_timers(at_hours(27), 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(f.inbox.tick(at_hours(27), 100).await.unwrap().total(), 0);
    let r = f.inbox.tick(at_hours(28), 100).await.unwrap();
    assert_eq!((r.window_warnings, r.rearmed), (1, 0), "{r:?}");
    assert_eq!(f.inbox.tick(at_hours(28), 100).await.unwrap().total(), 0);
    let warned = window_warnings_of(&f, &c).await;
    assert_eq!(warned, [at_hours(29)]);
}

/// Reply leases: one holder at a time, who and until when is reported to
/// others, they lapse after the TTL, renewals extend them, and a reply by
/// another agent is refused while one is held.
pub async fn reply_leases_are_exclusive_and_expire<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690300000", "hi")
        .await
        .unwrap();
    let ana = f.actor("ana");
    let ben = f.actor("ben");
    let lease = f.inbox.acquire_reply_lease(&ana, &c).await.unwrap();
    assert_eq!(lease.holder.as_str(), "ana");
    assert_eq!(lease.until, f.clock.now() + TimeDelta::seconds(30));
    match f.inbox.acquire_reply_lease(&ben, &c).await.unwrap_err() {
        Error::LeaseHeld { holder, until, .. } => {
            assert_eq!((holder.as_str(), until), ("ana", lease.until))
        }
        other => panic!("{other}"),
    }
    let err = f
        .inbox
        .reply(&ben, &c, 1, reply("me too", "b1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "lease_held", "{err}");
    assert!(err.to_string().contains("ana"));
    // Ana renews while composing.
    f.advance(TimeDelta::seconds(20));
    let renewed = f.inbox.acquire_reply_lease(&ana, &c).await.unwrap();
    assert!(renewed.until > lease.until);
    f.advance(TimeDelta::seconds(20));
    assert!(
        f.inbox.acquire_reply_lease(&ben, &c).await.is_err(),
        "renewal holds"
    );
    // Ana walks away: it lapses by itself.
    f.advance(TimeDelta::seconds(15));
    assert_eq!(f.inbox.reply_lease(&ben, &c).await.unwrap(), None);
    let mine = f.inbox.acquire_reply_lease(&ben, &c).await.unwrap();
    assert_eq!(mine.holder.as_str(), "ben");
    f.inbox
        .reply(&ben, &c, 1, reply("Hello!", "b2"))
        .await
        .unwrap();
    assert!(f.inbox.release_reply_lease(&ben, &c).await.unwrap());
    assert!(!f.inbox.release_reply_lease(&ana, &c).await.unwrap());
    // Many agents racing: exactly one holds it.
    let agents = ["ana", "ben", "sam", "ada"].map(|a| f.actor(a));
    let results = join_all(agents.iter().map(|a| f.inbox.acquire_reply_lease(a, &c))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let holder = f.inbox.reply_lease(&ana, &c).await.unwrap().unwrap().holder;
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(r, Error::LeaseHeld { holder: h, .. } if h == &holder),
            "{r}"
        );
    }
    // Other tenants and invisible conversations are refused.
    assert_eq!(
        f.inbox
            .acquire_reply_lease(&f.actor("gus"), &c)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert!(f
        .bus
        .published()
        .iter()
        .any(|e| matches!(e.kind, EventKind::ReplyLease { .. })));
}

/// Contacts: tags, attributes and a display name, edited on the version
/// the agent saw; the history spans their conversations.
pub async fn contacts_are_edited_on_the_version_seen<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let (c, _) = f
        .customer_says("1001", "w1", "34690400000", "hi")
        .await
        .unwrap();
    let contact = f.store.conversation(&f.acme(), &c).await.unwrap().contact;
    let k = f.store.contact(&f.acme(), &contact).await.unwrap();
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("crm_id".to_string(), "A-1042".to_string());
    attributes.insert("language".to_string(), "es".to_string());
    let update = crate::inbox::ContactUpdate {
        add_tags: vec!["VIP".into()],
        attributes,
        display_name: Some("Marta Ruiz".into()),
        ..Default::default()
    };
    let edited = f
        .inbox
        .update_contact(&f.actor("ana"), &contact, k.version, update.clone())
        .await
        .unwrap();
    assert_eq!(edited.tags, ["vip"]);
    assert_eq!(
        edited.attributes.get("crm_id").map(String::as_str),
        Some("A-1042")
    );
    assert_eq!(edited.display_name.as_deref(), Some("Marta Ruiz"));
    assert_eq!(f.store.contact(&f.acme(), &contact).await.unwrap(), edited);
    // A second edit on the old version is refused; nothing changes.
    let err = f
        .inbox
        .update_contact(
            &f.actor("ben"),
            &contact,
            k.version,
            crate::inbox::ContactUpdate {
                add_tags: vec!["x".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    // Removing an attribute with an empty value; bad names are refused.
    let mut remove = std::collections::BTreeMap::new();
    remove.insert("language".to_string(), String::new());
    let edited = f
        .inbox
        .update_contact(
            &f.actor("ben"),
            &contact,
            edited.version,
            crate::inbox::ContactUpdate {
                attributes: remove,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!edited.attributes.contains_key("language"));
    let mut bad = std::collections::BTreeMap::new();
    bad.insert(" ".to_string(), "x".to_string());
    assert_eq!(
        f.inbox
            .update_contact(
                &f.actor("ben"),
                &contact,
                edited.version,
                crate::inbox::ContactUpdate {
                    attributes: bad,
                    ..Default::default()
                }
            )
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    // The customer's next message keeps the team's edits.
    f.customer_says("1001", "w2", "34690400000", "hello again")
        .await
        .unwrap();
    let k = f.store.contact(&f.acme(), &contact).await.unwrap();
    assert_eq!(k.tags, ["vip"]);
    assert_eq!(
        k.display_name.as_deref(),
        Some("Marta Ruiz"),
        "WhatsApp's name does not overwrite the team's"
    );
    // Other tenants cannot edit it.
    assert_eq!(
        f.inbox
            .update_contact(&f.actor("gus"), &contact, k.version, update)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let events = f.store.events_since(&f.acme(), 0, 1000).await.unwrap();
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::ContactUpdated { what, .. } if what.contains("+tag vip"))
    ));
}

// ---------------------------------------------------------------- event bus

/// A subscriber gets its tenant's committed events in order, live-only
/// events too, and nothing of other tenants.
pub async fn bus_delivers_in_order_to_the_right_tenant(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let mut sub = bus.subscribe(&acme);
    let mut other = bus.subscribe(&t("globex"));
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
