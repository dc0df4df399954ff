//! Before a send: free or billed: see the [pricing module](crate::pricing) docs.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::rates::RateCard;
use super::Amount;
use crate::model::{
    Content, Conversation, Direction, Message, TemplateCategory, TemplateDefinition,
};

/// What is about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sending {
    /// A free-form message (text, media, buttons ...): a service message.
    FreeForm,
    /// A template, with its category when the tenant's settings know it.
    Template {
        /// The template's category.
        category: Option<TemplateCategory>,
    },
}

impl Sending {
    /// What sending `content` is: a template's category is looked up in
    /// the tenant's `templates` by name and language.
    pub fn of(content: &Content, templates: &[TemplateDefinition]) -> Self {
        match content {
            Content::Template { name, language, .. } => Sending::Template {
                category: templates
                    .iter()
                    .find(|t| &t.name == name && &t.language == language)
                    .and_then(|t| t.category.clone()),
            },
            _ => Sending::FreeForm,
        }
    }
}

/// A free entry point: a customer's message from a Click-to-WhatsApp ad
/// or a Page button, and the business's first answer after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryPoint {
    /// When the customer's message with the referral was sent.
    pub referral_at: DateTime<Utc>,
    /// When the business first answered it, if it has.
    pub answered_at: Option<DateTime<Utc>>,
}

impl EntryPoint {
    /// How long the business has to answer.
    pub const ANSWER_WITHIN: TimeDelta = TimeDelta::hours(24);
    /// How long the free window lasts.
    pub const LASTS: TimeDelta = TimeDelta::hours(72);

    /// The latest customer message with a referral among a conversation's
    /// `messages`, and the first outbound message sent after it.
    pub fn find(messages: &[Message]) -> Option<EntryPoint> {
        let referral_at = messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound && m.context.referral.is_some())
            .map(|m| m.sent_at)
            .max()?;
        let answered_at = messages
            .iter()
            .filter(|m| m.direction == Direction::Outbound && m.sent_at >= referral_at)
            .map(|m| m.sent_at)
            .min();
        Some(EntryPoint {
            referral_at,
            answered_at,
        })
    }

    /// Whether a message sent at `now` is free under every reading of
    /// Meta's rule (see the [module docs](crate::pricing)).
    pub fn covers(&self, now: DateTime<Utc>) -> bool {
        let answer_by = self.referral_at + Self::ANSWER_WITHIN;
        let answered_in_time = match self.answered_at {
            Some(at) => at <= answer_by,
            None => now <= answer_by,
        };
        now >= self.referral_at && now < self.referral_at + Self::LASTS && answered_in_time
    }
}

/// Why a message will be free or billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PriceReason {
    /// Free: inside a free entry point window.
    EntryPoint,
    /// Free: a service message or a utility template inside the customer
    /// service window.
    InsideWindow,
    /// Billed: a utility template outside the customer service window.
    OutsideWindow,
    /// Billed: marketing and authentication templates always are.
    Category,
    /// A free-form message cannot be sent: the customer service window is
    /// closed (only a template can go).
    WindowClosed,
    /// The template's category is not known: cannot tell.
    UnknownCategory,
}

/// What a send will cost, as far as can be told before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceEstimate {
    /// Whether Meta will bill it; `null` when it cannot be told (the
    /// template's category is unknown) or it cannot be sent.
    pub billed: Option<bool>,
    /// The pricing category it falls in (`service`, `utility`,
    /// `marketing`, `authentication` ...), when known.
    pub category: Option<String>,
    /// Why.
    pub reason: PriceReason,
    /// The customer's market (country), when known.
    pub market: Option<String>,
    /// The rate card's rate for a billed message, as a decimal string.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rate: Option<Amount>,
    /// The rate's currency.
    pub currency: Option<String>,
}

/// What Meta will make of `sending` in `conversation` at `now` (see the
/// [module docs](crate::pricing)): `entry_point` from
/// [`EntryPoint::find`] over the conversation's messages, the rate from
/// `card` for the customer's `market`.
pub fn estimate(
    sending: &Sending,
    conversation: &Conversation,
    entry_point: Option<&EntryPoint>,
    card: Option<&RateCard>,
    market: Option<&str>,
    now: DateTime<Utc>,
) -> PriceEstimate {
    let window = conversation.window_open(now);
    let category = match sending {
        Sending::FreeForm => Some("service".to_string()),
        Sending::Template { category } => category.as_ref().map(|c| c.as_str().to_lowercase()),
    };
    let (billed, reason) = match sending {
        Sending::FreeForm if !window => (None, PriceReason::WindowClosed),
        _ if entry_point.is_some_and(|e| e.covers(now)) => (Some(false), PriceReason::EntryPoint),
        Sending::FreeForm => (Some(false), PriceReason::InsideWindow),
        Sending::Template { category } => match category {
            Some(TemplateCategory::Utility) if window => (Some(false), PriceReason::InsideWindow),
            Some(TemplateCategory::Utility) => (Some(true), PriceReason::OutsideWindow),
            Some(TemplateCategory::Marketing | TemplateCategory::Authentication) => {
                (Some(true), PriceReason::Category)
            }
            _ => (None, PriceReason::UnknownCategory),
        },
    };
    let rate = card
        .zip(category.as_deref())
        .filter(|_| billed == Some(true))
        .and_then(|(card, c)| card.rate(c, market));
    PriceEstimate {
        billed,
        category: category.filter(|_| reason != PriceReason::UnknownCategory),
        reason,
        market: market.map(str::to_string),
        rate,
        currency: rate.and(card).map(|c| c.currency.clone()),
    }
}
