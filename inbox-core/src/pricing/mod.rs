//! Per-message pricing: the tenant's rate card (the `pricing` section of
//! its settings), the customer's market, the cost report over what was
//! sent, and the estimate of what a send will cost before it goes.
//!
//! Money is [`Amount`]: integer millionths of the currency unit, so that
//! sums are exact and every store gives the same figures.
//!
//! ## The cost report
//!
//! The cost report: what a tenant's outbound messages cost, by number,
//! team, agent, category and market.
//!
//! Stores only count ([`Reports::message_tallies`](crate::ports::Reports::message_tallies)
//! gives [`MessageTally`] rows: messages grouped by number, team, author,
//! market and the pricing WhatsApp reported); [`CostReport::compute`]
//! classifies and prices them here, so every store gives the same numbers:
//!
//! - the population is the tenant's **outbound** messages **sent** (their
//!   `sent_at`) in `[from, to)`; the team is the conversation's team now,
//!   the agent the message's author (none for automations and other
//!   apps), the market the customer's ([`market_of`]);
//! - a message with no pricing reported (still pending, failed, sent from
//!   another app on the number, or before statuses carried pricing) is
//!   counted as `unpriced`, nothing else;
//! - **free**: its pricing type starts with `free` (`free_customer_service`,
//!   `free_entry_point`), or an older status said `billable: false`;
//! - **billed**: type `regular`; or no type and `billable: true`; or no
//!   type, nothing said of `billable`, and a category other than
//!   `service`;
//! - **other**: anything else (a type Meta adds later, a status saying
//!   nothing): counted, never priced, never an error;
//! - a billed message costs the rate card's rate for its category and
//!   market ([`RateCard::rate`]); one whose category has no rate is counted
//!   `unrated`. Costs are sums of integer millionths: exact.
//!
//! ```
//! use inbox_core::model::Pricing;
//! use inbox_core::pricing::Billing;
//! let p = |kind: Option<&str>, category: &str| Pricing {
//!     model: Some("PMP".into()), category: Some(category.into()),
//!     kind: kind.map(Into::into), billable: None,
//! };
//! assert_eq!(Billing::of(&p(Some("regular"), "marketing")), Billing::Billed);
//! assert_eq!(Billing::of(&p(Some("free_entry_point"), "marketing")), Billing::Free);
//! assert_eq!(Billing::of(&p(None, "utility")), Billing::Billed);
//! assert_eq!(Billing::of(&p(None, "service")), Billing::Other);
//! assert_eq!(Billing::of(&p(Some("promo_2027"), "marketing")), Billing::Other);
//! ```
//!
//! ## Before a send: free or billed
//!
//! "Will this send be free?": what Meta's per-message pricing (from July
//! 2025) will make of a message before it is sent.
//!
//! - a free-form message (a service message) is free inside the customer
//!   service window; outside it, it cannot be sent at all;
//! - a utility template is free inside an open customer service window,
//!   billed outside it;
//! - marketing and authentication templates are billed, window or not;
//! - everything is free inside a free entry point window: after a customer
//!   wrote from a Click-to-WhatsApp ad or a Facebook Page button (the
//!   message carries a `referral`) and the business answered within 24
//!   hours, for 72 hours.
//!
//! Meta's documents leave open whether those 72 hours run from the
//! customer's message or from the business's answer. The estimate only
//! says "free: entry point" where both readings agree: before 72 hours
//! after the customer's message (and the answer came, or this send comes,
//! within 24 hours of it). Later, it follows the other rules, which may
//! call billed a message Meta will make free; never the reverse.
//!
//! A template whose category the tenant's settings do not know is not
//! guessed: the estimate says it cannot tell.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use inbox_core::model::{Conversation, TemplateCategory};
//! use inbox_core::pricing::{estimate, PriceReason, Sending};
//! use inbox_core::{ChannelId, ContactId, ConversationId, TenantId};
//! let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let mut c = Conversation::new(
//!     TenantId::new("t").unwrap(), ConversationId::new("c").unwrap(),
//!     ChannelId::new("ch").unwrap(), ContactId::new("k").unwrap(), now);
//! c.window_expires_at = Some(now + TimeDelta::hours(3));
//! let utility = Sending::Template { category: Some(TemplateCategory::Utility) };
//! let e = estimate(&utility, &c, None, None, None, now);
//! assert_eq!((e.billed, e.reason), (Some(false), PriceReason::InsideWindow));
//! let later = estimate(&utility, &c, None, None, None, now + TimeDelta::hours(4));
//! assert_eq!((later.billed, later.reason), (Some(true), PriceReason::OutsideWindow));
//! ```
//!
//! ## The customer's market
//!
//! Markets: the country a message is priced for, from the customer's phone
//! number or business-scoped user id.
//!
//! Meta prices a message by the country of the recipient's number. The
//! inbox knows a customer by their number (`wa_id`, digits starting with
//! the country calling code) and/or their business-scoped user id (BSUID,
//! `US.13491208655302741918`: it starts with the ISO country code). The
//! market of a customer is, in this order:
//!
//! 1. the country of the number's calling code, when the code is one of
//!    [`CALLING_CODES`] (the common ones; calling codes are prefix-free, so
//!    a number starts with at most one);
//! 2. the country a BSUID starts with (the part before its first `.`, when
//!    it is one of [`COUNTRIES`]);
//! 3. none: the rate card's default rate applies.
//!
//! Codes several countries share are left out rather than guessed: `1`
//! (the North American Numbering Plan: the United States, Canada and
//! twenty Caribbean countries) and `7` (Russia and Kazakhstan). Where one
//! country holds nearly all of a code's numbers it is that country's (`44`
//! is `GB`, with Jersey, Guernsey and the Isle of Man; `61` is `AU`, with
//! Christmas and Cocos Islands; `47` is `NO`, with Svalbard).
//!
//! ```
//! use inbox_core::model::ContactIdentity;
//! use inbox_core::pricing::market_of;
//! assert_eq!(market_of(&ContactIdentity::wa("447700900123")).as_deref(), Some("GB"));
//! assert_eq!(market_of(&ContactIdentity::user("BR.1234567890")).as_deref(), Some("BR"));
//! assert_eq!(market_of(&ContactIdentity::wa("15551234567")), None); // +1: shared
//! ```

mod amount;
mod costs;
mod estimate;
mod market;
mod rates;
#[cfg(test)]
mod tests;

pub use amount::Amount;
pub use costs::{Billing, CostLine, CostQuery, CostReport, MessageTally};
pub use estimate::{estimate, EntryPoint, PriceEstimate, PriceReason, Sending};
pub use market::{
    country_of_phone, country_of_user_id, is_country, market_of, CALLING_CODES, COUNTRIES,
};
pub use rates::{CategoryRates, PricingSection, RateCard};
