//! Routing, assignment strategies and automation rules.
//!
//! A tenant's [`Routing`] is an ordered list of rules plus a policy per
//! team. Rules are data ([`RoutingSpec`], written in JSON or YAML) checked
//! when loaded: an error names the rule and the field. The engine is pure: it
//! takes a conversation, what triggered the rules, the time and (when a rule
//! assigns) the [`Roster`] of agents, and returns the changes to make with
//! an explanation for each ("why did this conversation go to Ana?").
//!
//! ```
//! use inbox_core::routing::Routing;
//! let routing = Routing::from_yaml(r#"
//! teams:
//!   sales: { strategy: least_loaded }
//! rules:
//!   - name: vip
//!     when: { contact_tag: vip }
//!     then:
//!       - route_to_team: sales
//!       - set_priority: high
//!       - assign: {}
//!   - name: everyone else
//!     then: [ { route_to_team: support } ]
//! "#).unwrap();
//! assert_eq!(routing.rule_names().collect::<Vec<_>>(), ["vip", "everyone else"]);
//!
//! let err = Routing::from_yaml("rules:\n  - name: bad\n    when: { regex: { pattern: '(' } }\n    then: []\n").unwrap_err();
//! assert!(err.to_string().contains("rule \"bad\""), "{err}");
//! ```
//!
//! # Rule semantics
//!
//! - A rule runs on its triggers (`on`, default: conversation opened or
//!   reopened), if its condition (`when`) holds; its actions (`then`) run in
//!   order.
//! - For each trigger, rules are tried in order; the first that matches
//!   stops the rest unless it says `continue: true`.
//! - A rule with a `cooldown` fires at most once per conversation per
//!   cooldown (the instant auto-acknowledgement). A time-triggered rule
//!   (`no_agent_reply`, `no_customer_reply`) fires once per wait.
//!
//! # Loop protection
//!
//! Actions have effects that are triggers themselves (a tag added, an
//! assignment changed, a status changed). The engine follows them in rounds:
//! round 1 runs the rules for the original triggers, round 2 for the
//! triggers round 1 caused, and so on, up to `max_cascade` rounds (default
//! 4). Within one change, **each rule fires at most once**, so a rule's own
//! effects never run it again; what is left after the last round is dropped
//! and recorded in an [`EventKind::AutomationStopped`](crate::EventKind::AutomationStopped)
//! event. Changes made by automation never start a new run of their own.

mod compile;
mod condition;
mod engine;
mod queue;
mod spec;
mod strategy;

pub use compile::{Routing, Rule};
pub use engine::{Effect, RunInput, RunOutcome, TriggerKind};
pub use queue::{queue_reason, waited_text, DrainCause, Waiting};
pub use spec::{
    Action, AssignSpec, AttributeMatch, AutoReply, CalendarSpec, Compare, Condition, CustomerKind,
    Dur, EmitSpec, HoursMatch, OfflinePolicy, OneOrMany, OpenState, RegexMatch, RoutingSpec,
    RuleSpec, Strategy, TeamPolicy, TemplateSpec, TextMatch, Trigger,
};
pub use strategy::availability;
pub use strategy::{Availability, Pick, Roster, RoutingCursor};
