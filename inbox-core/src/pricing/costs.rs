//! The cost report: see the [pricing module](crate::pricing) docs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::market::market_of;
use super::rates::RateCard;
use super::Amount;
use crate::error::{Error, Result};
use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, TeamId};
use crate::model::{Author, Contact, Conversation, Message, Pricing};

/// What to report on: the messages sent in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostQuery {
    /// Messages sent at or after this.
    pub from: DateTime<Utc>,
    /// ... and before this.
    pub to: DateTime<Utc>,
}

impl CostQuery {
    /// Checks the range.
    pub fn validate(&self) -> Result<()> {
        if self.to <= self.from {
            return Err(Error::invalid("to", "must be after `from`"));
        }
        Ok(())
    }

    /// Whether a message is in the population: sent by the inbox through
    /// the Cloud API ([`Message::is_api_send`]) in the range.
    pub fn includes(&self, m: &Message) -> bool {
        m.is_api_send() && m.sent_at >= self.from && m.sent_at < self.to
    }
}

/// Messages of one group, as a store counts them: the same number, team,
/// author agent, market and reported pricing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTally {
    /// The number they were sent from.
    pub channel: ChannelId,
    /// Their conversation's team now.
    pub team: Option<TeamId>,
    /// Their author, when an agent.
    pub agent: Option<AgentId>,
    /// The customer's market ([`market_of`](super::market_of)).
    pub market: Option<String>,
    /// What WhatsApp said of their price, if it did.
    pub pricing: Option<Pricing>,
    /// How many.
    pub count: u64,
}

impl MessageTally {
    /// Counts the population in memory (the reference the stores follow;
    /// the memory store uses it): `conversation` and `contact` find a
    /// message's conversation and its customer. Groups come out in a
    /// stable order, each once.
    pub fn count<'a>(
        query: &CostQuery,
        messages: impl IntoIterator<Item = &'a Message>,
        conversation: impl Fn(&ConversationId) -> Option<&'a Conversation>,
        contact: impl Fn(&ContactId) -> Option<&'a Contact>,
    ) -> Vec<MessageTally> {
        type Key = (
            ChannelId,
            Option<TeamId>,
            Option<AgentId>,
            Option<String>,
            Option<String>,
        );
        let mut groups: BTreeMap<Key, (Option<Pricing>, u64)> = BTreeMap::new();
        for m in messages.into_iter().filter(|m| query.includes(m)) {
            let c = conversation(&m.conversation);
            let market = c
                .and_then(|c| contact(&c.contact))
                .and_then(|k| market_of(&k.identity));
            let agent = match &m.author {
                Author::Agent(a) => Some(a.clone()),
                _ => None,
            };
            let pricing = m.delivery.as_ref().and_then(|d| d.pricing.clone());
            let pricing_key = pricing
                .as_ref()
                .map(|p| serde_json::to_string(p).unwrap_or_default());
            let key = (
                m.channel.clone(),
                c.and_then(|c| c.team.clone()),
                agent,
                market,
                pricing_key,
            );
            groups.entry(key).or_insert((pricing, 0)).1 += 1;
        }
        groups
            .into_iter()
            .map(
                |((channel, team, agent, market, _), (pricing, count))| MessageTally {
                    channel,
                    team,
                    agent,
                    market,
                    pricing,
                    count,
                },
            )
            .collect()
    }
}

/// How a priced message is billed (see the [module docs](crate::pricing)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    /// Billed at the category's rate.
    Billed,
    /// Free (customer service window, entry point).
    Free,
    /// Neither said: a type Meta added later, or nothing.
    Other,
}

impl Billing {
    /// How WhatsApp's `pricing` says a message is billed.
    pub fn of(p: &Pricing) -> Self {
        if p.is_free() {
            return Billing::Free;
        }
        match (p.kind.as_deref(), p.billable, p.category.as_deref()) {
            (Some("regular"), _, _) | (None, Some(true), _) => Billing::Billed,
            (None, None, Some(c)) if !c.eq_ignore_ascii_case("service") => Billing::Billed,
            _ => Billing::Other,
        }
    }
}

/// The counts and cost of one group of messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostLine {
    /// The group: a number, team, agent, category or market id (`null`:
    /// none — no team, not written by an agent, no category reported,
    /// market unknown; for the total, always `null`).
    pub key: Option<String>,
    /// Billed messages.
    pub billed: u64,
    /// Free messages.
    pub free: u64,
    /// Priced messages neither billed nor free (a type Meta added later).
    pub other: u64,
    /// Billed messages the rate card has no rate for (not in `cost`).
    pub unrated: u64,
    /// What the billed messages with a rate cost, as a decimal string in
    /// the report's currency (`null` without a rate card).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub cost: Option<Amount>,
}

impl CostLine {
    fn new(key: Option<String>, priced: bool) -> Self {
        CostLine {
            key,
            cost: priced.then_some(Amount::ZERO),
            ..CostLine::default()
        }
    }

    /// Adds `count` messages billed as `billing`, each at `rate` (`None`:
    /// no rate).
    fn add(&mut self, billing: Billing, count: u64, rate: Option<Amount>) {
        match billing {
            Billing::Free => self.free += count,
            Billing::Other => self.other += count,
            Billing::Billed => {
                self.billed += count;
                match (rate.and_then(|r| r.times(count)), self.cost) {
                    (Some(c), Some(sum)) => {
                        self.cost = Some(sum.plus(c).unwrap_or(Amount::from_micros(i64::MAX)))
                    }
                    (None, Some(_)) => self.unrated += count,
                    (_, None) => {}
                }
            }
        }
    }
}

/// What a tenant's outbound messages cost over a range (see the [module
/// docs](crate::pricing) for exact definitions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostReport {
    /// Messages sent at or after this.
    pub from: DateTime<Utc>,
    /// ... and before this.
    pub to: DateTime<Utc>,
    /// The rate card's currency; `null` when the tenant has no rate card
    /// (the report then counts, with no costs).
    pub currency: Option<String>,
    /// Every priced message.
    pub total: CostLine,
    /// Outbound messages WhatsApp has not said the price of.
    pub unpriced: u64,
    /// By pricing category as reported (`marketing`, `utility` ...).
    pub by_category: Vec<CostLine>,
    /// By number.
    pub by_channel: Vec<CostLine>,
    /// By the conversation's team.
    pub by_team: Vec<CostLine>,
    /// By the agent who wrote the message.
    pub by_agent: Vec<CostLine>,
    /// By the customer's market (country).
    pub by_market: Vec<CostLine>,
}

impl CostReport {
    /// Classifies and prices a store's tallies with the tenant's rate card
    /// (`None`: counts only). Tallies may come in any order, a group in
    /// several rows.
    pub fn compute(query: &CostQuery, tallies: &[MessageTally], card: Option<&RateCard>) -> Self {
        let priced = card.is_some();
        let mut total = CostLine::new(None, priced);
        let mut unpriced = 0;
        let mut groups: [BTreeMap<Option<String>, CostLine>; 5] = Default::default();
        for t in tallies {
            let Some(p) = &t.pricing else {
                unpriced += t.count;
                continue;
            };
            let billing = Billing::of(p);
            let rate = card
                .zip(p.category.as_deref())
                .and_then(|(card, c)| card.rate(c, t.market.as_deref()));
            total.add(billing, t.count, rate);
            let keys = [
                p.category.as_ref().map(|c| c.to_lowercase()),
                Some(t.channel.to_string()),
                t.team.as_ref().map(|x| x.to_string()),
                t.agent.as_ref().map(|x| x.to_string()),
                t.market.clone(),
            ];
            for (group, key) in groups.iter_mut().zip(keys) {
                group
                    .entry(key.clone())
                    .or_insert_with(|| CostLine::new(key, priced))
                    .add(billing, t.count, rate);
            }
        }
        let [by_category, by_channel, by_team, by_agent, by_market] =
            groups.map(|g| g.into_values().collect());
        CostReport {
            from: query.from,
            to: query.to,
            currency: card.map(|c| c.currency.clone()),
            total,
            unpriced,
            by_category,
            by_channel,
            by_team,
            by_agent,
            by_market,
        }
    }

    /// The report as one CSV document: a row per line (`group` is
    /// `total`, `category`, `channel`, `team`, `agent` or `market`); the
    /// total's row also says how many messages were `unpriced`.
    pub fn to_csv(&self) -> Result<String> {
        let currency = self.currency.clone().unwrap_or_default();
        let mut rows = vec![[
            "group", "key", "billed", "free", "other", "unrated", "cost", "currency", "unpriced",
        ]
        .map(String::from)
        .to_vec()];
        let groups = [
            ("total", std::slice::from_ref(&self.total)),
            ("category", &self.by_category[..]),
            ("channel", &self.by_channel[..]),
            ("team", &self.by_team[..]),
            ("agent", &self.by_agent[..]),
            ("market", &self.by_market[..]),
        ];
        for (group, lines) in groups {
            for l in lines {
                rows.push(vec![
                    group.to_string(),
                    l.key.clone().unwrap_or_default(),
                    l.billed.to_string(),
                    l.free.to_string(),
                    l.other.to_string(),
                    l.unrated.to_string(),
                    l.cost.map(|c| c.to_string()).unwrap_or_default(),
                    currency.clone(),
                    if group == "total" {
                        self.unpriced.to_string()
                    } else {
                        String::new()
                    },
                ]);
            }
        }
        crate::metrics::csv_document(rows)
    }
}
