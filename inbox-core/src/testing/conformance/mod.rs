//! The store conformance suite.
//!
//! Plain async functions, one per guarantee, each taking a fresh, empty
//! store. They panic on failure, like assertions. Every function is generic
//! over the store type so the suite runs both on a concrete store (static
//! dispatch) and on `dyn Store`.
//!
//! The tests come in two groups of suites:
//!
//! - `ports`: one suite per port of [`Store`] (directory, contacts,
//!   conversations, messages, scheduling, reports, dead letters, settings,
//!   secrets, access, read markers), checking
//!   what the port's `# Contract` promises by calling the store directly;
//! - `inbox`: the [`Inbox`](crate::Inbox) driven on the store (ingest,
//!   actions, dispatch, views, timers, contacts, routing, reports, dead
//!   letters, settings, access, unread counts), as an embedder uses it.
//!
//! The list in [`store_conformance_suites!`](crate::store_conformance_suites)
//! is the one list of store tests: [`store_conformance_tests!`](crate::store_conformance_tests)
//! expands it into a backend's tests (named `<group>::<suite>::<test>`), and
//! this module into the public functions below. A test written but not
//! listed is dead code (refused by the workspace's lints); one listed but
//! not written does not compile.
//!
//! The event bus, the subscription log and the media store (not part of
//! [`Store`]) have suites of their own:
//! [`event_bus_conformance_tests!`](crate::event_bus_conformance_tests),
//! [`subscription_log_conformance_tests!`](crate::subscription_log_conformance_tests)
//! and [`media_store_conformance_tests!`](crate::media_store_conformance_tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::ports::{AsDynStore, Store};

mod bus;
mod inbox;
mod ports;
mod subscriptions;
mod support;

pub use bus::bus_delivers_in_order_to_the_right_tenant;
pub use inbox::routing::queue_property;
pub use ports::media::{
    absent_media_is_none_and_bad_types_are_refused, media_is_kept_and_read_back_exactly,
    media_is_scoped_by_tenant, putting_media_again_replaces_it,
};
pub use subscriptions::subscription_log_keeps_positions_retries_and_dead_letters;

/// The one list of store conformance tests, by group and suite: calls
/// `$crate::$callback!` with `$args` followed by the list.
#[doc(hidden)]
#[macro_export]
macro_rules! store_conformance_suites {
    ($callback:ident! { $($args:tt)* }) => {
        $crate::$callback! { $($args)*
            ports {
                directory {
                    directory_round_trip,
                    directory_is_scoped_by_tenant,
                    channel_news_change_atomically_and_survive_upserts,
                    bot_agents_round_trip,
                }
                contacts {
                    commit_enforces_unique_contact_identity,
                    contacts_are_read_together,
                    contacts_merge_atomically_on_the_versions_read,
                }
                conversations {
                    commit_stores_everything_and_numbers_events,
                    commit_rejects_stale_versions_and_writes_nothing,
                    commit_is_atomic_on_duplicate_message,
                    commit_enforces_unique_idempotency_keys,
                    one_active_conversation_per_channel_and_contact,
                    concurrent_commits_on_one_version_exactly_one_wins,
                    event_sequences_are_per_tenant_and_gap_free,
                    tenants_never_see_each_other,
                    listing_matches_the_reference_semantics,
                    presence_changes_are_committed_with_their_event,
                    ingest_context_reads_what_ingest_needs,
                    bot_seat_round_trips,
                }
                outreach {
                    broadcasts_are_version_checked_and_due_across_tenants,
                    recipients_are_claimed_once_and_move_forward_only,
                    segments_select_contacts_in_id_order,
                }
                messages {
                    delivery_updates_only_move_forward,
                    concurrent_delivery_updates_keep_the_highest,
                    message_updates_apply_in_order_by_id_and_by_status,
                    cancelled_is_final_and_only_for_unsent,
                }
                scheduling {
                    outbox_claims_are_exclusive_and_lapse_in_doubt,
                    outbox_claims_a_conversations_entries_in_order,
                    an_attempt_holds_its_claim_for_the_send,
                    timers_are_found_by_due_time,
                    reply_leases_are_held_by_one_agent_until_they_lapse,
                }
                reports {
                    agent_load_counts_active_assigned_conversations,
                    routing_state_is_stored,
                }
                dead_letters {
                    dead_letters_are_recorded_once_per_item_and_reason,
                    dead_letters_are_scoped_and_listed_newest_first,
                    dead_letter_updates_keep_the_item,
                }
                settings {
                    settings_are_stored_versioned_and_read_back,
                    stale_settings_puts_are_refused_and_store_nothing,
                    settings_history_is_newest_first_and_paged,
                    settings_are_scoped_by_tenant,
                    a_put_writes_its_directory_record_or_nothing,
                }
                secrets {
                    channel_secrets_are_stored_replaced_and_removed,
                    sealed_secrets_are_listed_in_slot_order,
                    tenant_secrets_are_stored_scoped_and_removed,
                    sealed_tenant_secrets_are_listed_in_slot_order,
                    tenants_are_suspended_and_restored,
                }
                access {
                    password_hashes_are_kept_per_agent,
                    sessions_are_found_listed_and_revoked,
                    api_keys_are_found_listed_and_revoked_once,
                }
                read_markers {
                    read_markers_move_forward_only,
                    read_markers_are_per_agent_and_read_by_page,
                    read_markers_are_scoped_by_tenant,
                }
            }
            inbox {
                ingest {
                    ingest_same_message_many_times_stores_one,
                    concurrent_duplicate_ingest_stores_one,
                    ingest_opens_reopens_and_never_two_active,
                    ingest_reopen_policy_new_conversation,
                    ingest_updates_contact_identity,
                    a_customer_without_a_number_stays_one_contact,
                    marketing_choices_are_recorded_on_the_contact,
                    ingest_unknown_channel_is_reported,
                    status_webhooks_reconcile_by_our_id,
                    statuses_reported_together_apply_in_order,
                }
                calls {
                    a_missed_call_waits_for_a_call_back_like_a_message,
                }
                bots {
                    route_to_bot_owns_and_replies_through_the_outbox,
                    handoff_keyword_routes_to_people_with_note,
                    take_over_stops_the_bot_and_cancels_its_queued_replies,
                    bot_failures_and_bad_answers_hand_over,
                    bot_turn_never_sees_notes_and_acts_as_itself,
                    stale_bot_answer_is_dropped_after_take_over,
                    the_bot_hands_over_when_business_hours_begin,
                    the_bot_hands_over_before_an_sla_is_missed,
                }
                imports {
                    import_rows_validated_and_idempotent,
                }
                broadcasts {
                    broadcasts_are_made_steered_and_select_their_recipients,
                    broadcast_sends_each_recipient_once_at_its_rate,
                    broadcast_values_are_filled_per_recipient,
                }
                csat {
                    survey_sent_after_resolve_and_answered_quietly,
                    survey_skipped_when_the_window_closed,
                    survey_skipped_when_the_customer_wrote_first,
                    no_survey_without_a_reply_or_to_the_opted_out,
                }
                consent {
                    stop_and_start_keywords_record_consent,
                    a_refused_marketing_send_records_the_stop,
                    marketing_never_dispatched_to_opted_out,
                }
                outbound {
                    start_conversation_with_template_opens_pending,
                    start_reuses_the_active_conversation,
                    start_refuses_free_form_unknown_and_unfilled_templates,
                    start_refuses_marketing_to_opted_out,
                    reply_to_started_conversation_routes_as_opened,
                    start_is_idempotent,
                }
                history {
                    history_is_imported_once_and_changes_nothing_live,
                    a_declined_history_is_recorded_on_the_number,
                }
                signals {
                    a_paused_template_leaves_the_picker_and_admins_hear_of_it,
                    signals_survive_provisioning_and_stay_in_their_tenant,
                }
                coexistence {
                    echoes_answer_once_and_never_extend_the_window,
                    standby_copies_are_kept_and_never_routed,
                    a_claim_takes_the_thread_and_a_resolve_passes_it_back,
                    control_passed_to_the_inbox_is_routed,
                    app_contacts_name_customers_for_the_team,
                }
                actions {
                    concurrent_claims_exactly_one_wins,
                    stale_actions_are_refused_with_what_changed,
                    replies_are_idempotent,
                    notes_never_reach_the_transport,
                    permissions_are_enforced_and_change_nothing,
                    bad_input_is_rejected_and_changes_nothing,
                    window_closed_refuses_free_form_but_accepts_templates,
                    transfer_assign_release_record_who_and_why,
                    reply_leases_are_exclusive_and_expire,
                    authentication_templates_need_a_phone_number,
                }
                dispatch {
                    dispatcher_retries_fails_and_marks_in_doubt,
                    dispatcher_settles_each_message_through_a_store_outage,
                    a_crashed_dispatcher_leaves_in_doubt_only_what_it_attempted,
                    a_send_with_an_unknown_outcome_is_in_doubt_and_never_resent,
                    a_conversations_messages_wait_behind_a_retry,
                    an_in_doubt_claim_is_never_put_back_in_the_queue,
                    an_unsendable_message_does_not_block_the_outbox,
                    messages_in_doubt_are_counted_and_can_be_sent_again,
                    messages_in_doubt_are_counted_after_resolving,
                    a_message_is_sent_again_at_most_once_under_races,
                }
                views {
                    views_respect_visibility,
                    contact_history_spans_channels,
                    search_finds_words_names_and_numbers_within_visibility,
                    search_pages_and_never_interprets_operators,
                    search_ignores_case_and_accents,
                    search_covers_tags_attributes_user_ids_and_resolved,
                }
                timers {
                    snoozed_conversations_wake_on_tick_once,
                    window_warning_fires_once_while_the_customer_waits,
                    window_warning_moved_later_rearms_and_fires_on_time,
                    a_timer_due_before_its_time_is_rearmed_not_lost,
                }
                contacts {
                    contacts_are_edited_on_the_version_seen,
                    contacts_merge_into_one,
                }
                routing {
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
                }
                metrics {
                    metrics_match_hand_computed_values,
                    metrics_report_sla_compliance,
                    metrics_business_hours_and_next_responses,
                    metrics_equal_the_reference_on_random_days,
                }
                costs {
                    costs_count_priced_messages_by_number_team_agent_and_market,
                }
                live {
                    live_snapshot_shows_what_the_team_faces_now,
                    live_snapshot_equals_the_reference_on_random_days,
                }
                dead_letters {
                    ingest_refuses_items_no_store_can_hold,
                    dead_letters_are_replayed_by_admins,
                }
                settings {
                    settings_changes_are_checked_versioned_recorded_and_published,
                    settings_follow_the_role_matrix,
                    provisioning_goes_through_the_settings_history,
                    a_settings_change_decides_the_next_message,
                    sla_changes_apply_to_targets_started_after_them,
                    a_dry_run_explains_and_changes_nothing,
                    a_dry_run_explains_a_past_version,
                    canned_responses_follow_their_owner,
                    templates_are_checked_against_the_tenant_list_when_sent,
                    snoozes_stay_within_the_tenant_limit,
                    a_lost_change_event_is_caught_up_by_the_tick,
                }
                access {
                    sessions_survive_restarts_and_expire_by_the_clock,
                    passwords_change_and_end_other_sessions,
                    api_keys_act_as_service_accounts,
                    access_follows_the_role_matrix,
                    access_is_scoped_by_tenant,
                    tenant_secrets_follow_roles_and_tenants,
                    secrets_never_show_in_debug,
                    signing_out_of_the_last_session_goes_offline,
                }
                unread {
                    unread_counts_are_per_agent_and_skip_ones_own,
                    read_markers_never_go_back,
                    unread_is_scoped_by_tenant_and_visibility,
                }
            }
        }
    };
}

/// Expands the list into one public function per test, in this module.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_functions {
    ($($group:ident { $($suite:ident { $($name:ident),* $(,)? })* })*) => {
        $($($(
            #[doc = concat!(
                "The `", stringify!($group), "::", stringify!($suite), "` conformance test `",
                stringify!($name), "` (its source says what it checks)."
            )]
            pub async fn $name<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
                $group::$suite::$name(store).await
            }
        )*)*)*
        /// Every store conformance test, as `group::suite::test`.
        pub const ALL: &[&str] = &[$($($(concat!(
            stringify!($group), "::", stringify!($suite), "::", stringify!($name)
        ),)*)*)*];
    };
}

store_conformance_suites!(__conformance_functions! {});

/// Runs the store conformance tests: every suite of
/// [`store_conformance_suites!`](crate::store_conformance_suites), each test
/// in module `<group>::<suite>`.
///
/// `store_conformance_tests!(make)` takes an expression that evaluates to a
/// future of a fresh `Arc<S>`; `store_conformance_tests!(optional: make)`
/// one of an `Option<Arc<S>>`, where `None` skips the test (the factory says
/// why, e.g. no database configured).
#[macro_export]
macro_rules! store_conformance_tests {
    (optional: $make:expr) => {
        $crate::store_conformance_suites!(__conformance_tests! { [optional] $make; });
    };
    ($make:expr) => {
        $crate::store_conformance_suites!(__conformance_tests! { [required] $make; });
    };
}

/// Expands the list into a backend's tests (see
/// [`store_conformance_tests!`](crate::store_conformance_tests)).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    (
        [$mode:ident] $make:expr;
        $($group:ident { $($suite:ident { $($name:ident),* $(,)? })* })*
    ) => {
        $(mod $group {
            #[allow(unused_imports)]
            use super::*;
            $(mod $suite {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        $crate::__conformance_run!([$mode] $make, store => $name(store));
                    }
                )*
            })*
        })*
    };
}

/// One backend test: makes what the test takes (or skips on `None` with
/// `optional`), binds it to `$bind` and calls the conformance test with `$args`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_run {
    ([required] $make:expr, $bind:pat => $name:ident $args:tt) => {
        let $bind = $make.await;
        $crate::testing::conformance::$name $args.await;
    };
    ([optional] $make:expr, $bind:pat => $name:ident $args:tt) => {
        let Some($bind) = $make.await else { return };
        $crate::testing::conformance::$name $args.await;
    };
}

/// One test per name in `[..]`, each making what `$make` evaluates to (an
/// `Option` of it after `optional:`, where `None` skips), binding it to
/// `$bind` and passing the conformance test its `$arg`s.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_each {
    (@each [$mode:ident] $make:expr, $bind:pat => $args:tt; [$($name:ident),*]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::__conformance_run!([$mode] $make, $bind => $name $args);
            }
        )*
    };
    ($tests:tt $bind:pat => $args:tt; optional: $make:expr) => {
        $crate::__conformance_each!(@each [optional] $make, $bind => $args; $tests);
    };
    ($tests:tt $bind:pat => $args:tt; $make:expr) => {
        $crate::__conformance_each!(@each [required] $make, $bind => $args; $tests);
    };
}

/// Runs the event bus conformance tests. `$make` evaluates to a future of
/// `(Arc<dyn EventBus>, Arc<dyn Store>)`: a bus and a fresh store whose
/// committed events it publishes (or of an `Option` of that pair with
/// `optional:`, where `None` skips).
#[macro_export]
macro_rules! event_bus_conformance_tests {
    ($($make:tt)+) => {
        $crate::__conformance_each!(
            [bus_delivers_in_order_to_the_right_tenant] (bus, store) => (bus, store); $($make)+
        );
    };
}

/// Runs the [`SubscriptionLog`](crate::ports::SubscriptionLog) conformance tests.
/// `$make` evaluates to a future of an `Arc` of a fresh log (or of an
/// `Option` of one with `optional:`, where `None` skips).
#[macro_export]
macro_rules! subscription_log_conformance_tests {
    ($($make:tt)+) => {
        $crate::__conformance_each!(
            [subscription_log_keeps_positions_retries_and_dead_letters] log => (log); $($make)+
        );
    };
}

/// Runs the [`MediaStore`](crate::ports::MediaStore) conformance tests.
/// `$make` evaluates to a future of an `Arc` of a fresh, empty media store
/// (or of an `Option` of one with `optional:`, where `None` skips).
#[macro_export]
macro_rules! media_store_conformance_tests {
    ($($make:tt)+) => {
        $crate::__conformance_each!(
            [
                media_is_kept_and_read_back_exactly,
                absent_media_is_none_and_bad_types_are_refused,
                media_is_scoped_by_tenant,
                putting_media_again_replaces_it
            ] store => (store); $($make)+
        );
    };
}
