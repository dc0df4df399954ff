//! Ingesting one webhook's items: the valid ones are stored, each refused
//! one is kept as a dead letter, and only a failure of the store fails the
//! webhook.

use chrono::{DateTime, Utc};

use std::collections::BTreeMap;

use inbox_core::{
    InboundAccountSignal, InboundEvent, InboundPreference, InboundRefusal, InboundStatus, Inbox,
    IngestOutcome, RefusedItem, TenantId,
};

use super::decode::{Decoded, DecodedMessage};
use super::handler::IngestSummary;
use super::raw::RawItem;
use super::replay::SOURCE;
use super::signals::DecodedSignal;
use crate::error::WhatsAppError;

/// One webhook's items on their way into the inbox.
pub(crate) struct Delivery<'a> {
    inbox: &'a Inbox,
    received_at: DateTime<Utc>,
    /// The inbox's clock, which the items' timestamps are checked against.
    now: DateTime<Utc>,
    summary: IngestSummary,
    /// Consecutive statuses, with their raw items, ingested together.
    statuses: Vec<(InboundStatus, RawItem)>,
    /// Whether the webhook speaks for a number of an account named by an
    /// account-level item (none: for no number).
    speaks_for: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

impl<'a> Delivery<'a> {
    pub(crate) fn new(inbox: &'a Inbox, received_at: DateTime<Utc>) -> Self {
        Self {
            inbox,
            received_at,
            now: inbox.now(),
            summary: IngestSummary::default(),
            statuses: Vec::new(),
            speaks_for: None,
        }
    }

    /// Account-level items bind to the numbers `speaks_for` accepts.
    pub(crate) fn binding(mut self, speaks_for: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        self.speaks_for = Some(speaks_for);
        self
    }

    /// Ingests the items in order; consecutive statuses go to the inbox
    /// together ([`Inbox::ingest_statuses`]): a message's sent, delivered and
    /// read reports are then one lookup and one write.
    pub(crate) async fn run(mut self, items: Vec<Decoded>) -> Result<IngestSummary, WhatsAppError> {
        for item in items {
            match item {
                Decoded::Error { .. } => self.summary.errors += 1,
                Decoded::Ignored { .. } => self.summary.ignored += 1,
                Decoded::Invalid {
                    phone_number_id,
                    reason,
                    raw,
                    ..
                } => {
                    self.dead_letter(phone_number_id, raw.into(), reason)
                        .await?
                }
                Decoded::Status(s) => match s.to_inbound() {
                    Some(status) => self.statuses.push((status, s.raw)),
                    None => self.summary.statuses_ignored += 1,
                },
                Decoded::Message(m) => {
                    self.flush_statuses().await?;
                    self.message(*m).await?;
                }
                Decoded::Preference(p) => {
                    self.flush_statuses().await?;
                    self.preference(*p).await?;
                }
                item @ (Decoded::Echo(_) | Decoded::Standby { .. }) => {
                    self.flush_statuses().await?;
                    self.copy(item).await?;
                }
                Decoded::AppContact(a) => {
                    self.flush_statuses().await?;
                    let pnid = Some(a.phone_number_id.clone());
                    let raw = super::app_state::webhook_of(&a);
                    self.event(pnid, InboundEvent::AppContact(*a), raw.into())
                        .await?;
                }
                Decoded::History { history, raw } => {
                    self.flush_statuses().await?;
                    let pnid = Some(history.phone_number_id.clone());
                    self.event(pnid, InboundEvent::History(*history), raw.into())
                        .await?;
                }
                Decoded::Signal(signal) => {
                    self.flush_statuses().await?;
                    self.signal(*signal).await?;
                }
                Decoded::Handover { handover, raw } => {
                    self.flush_statuses().await?;
                    let pnid = Some(handover.phone_number_id.clone());
                    self.event(pnid, InboundEvent::Handover(*handover), raw.into())
                        .await?;
                }
            }
        }
        self.flush_statuses().await?;
        Ok(self.summary)
    }

    async fn message(&mut self, m: DecodedMessage) -> Result<(), WhatsAppError> {
        let pnid = Some(m.message.phone_number_id.clone());
        self.event(pnid, InboundEvent::Message(m.message), m.raw)
            .await
    }

    /// Stores an echo of the business's own message or a standby copy
    /// (refused ones become dead letters).
    async fn copy(&mut self, item: Decoded) -> Result<(), WhatsAppError> {
        let raw = match &item {
            Decoded::Echo(m) | Decoded::Standby { message: m, .. } => m.raw.clone(),
            _ => return Ok(()),
        };
        let Some(event) = item.to_inbound() else {
            return Ok(());
        };
        let pnid = Some(event.phone_number_id().to_string());
        self.event(pnid, event, raw).await
    }

    /// Ingests one event whose item is `raw` (a refused one becomes a dead
    /// letter).
    async fn event(
        &mut self,
        pnid: Option<String>,
        event: InboundEvent,
        raw: RawItem,
    ) -> Result<(), WhatsAppError> {
        // The decoder made the other checks; the inbox makes them all again
        // (it cannot know who decoded the item) but answers a refusal as
        // invalid input, without its typed reason.
        if let Err(reason) = event.check(self.now) {
            return self.dead_letter(pnid, raw, reason).await;
        }
        match self.inbox.ingest(event).await {
            Ok(outcome) => {
                self.count(outcome);
                Ok(())
            }
            Err(e) => match InboundRefusal::from_error(&e) {
                Some(reason) => self.dead_letter(pnid, raw, reason).await,
                None => Err(e.into()),
            },
        }
    }

    /// Records what Meta said about an account for each tenant with
    /// numbers of it this webhook speaks for (a quality update naming a
    /// number: that number only); for none, it is ignored.
    async fn signal(&mut self, s: DecodedSignal) -> Result<(), WhatsAppError> {
        let numbers = self.bound_numbers(&s).await?;
        if numbers.is_empty() {
            self.summary.ignored += 1;
            return Ok(());
        }
        for phone_number_ids in numbers.into_values() {
            let pnid = phone_number_ids.first().cloned();
            let event = InboundEvent::Account(InboundAccountSignal {
                phone_number_ids,
                signal: s.signal.clone(),
                timestamp: s.timestamp,
            });
            self.event(pnid, event, s.raw.clone().into()).await?;
        }
        Ok(())
    }

    /// The numbers of the signal's account this webhook speaks for, by
    /// tenant.
    async fn bound_numbers(
        &self,
        s: &DecodedSignal,
    ) -> Result<BTreeMap<TenantId, Vec<String>>, WhatsAppError> {
        let (Some(waba), Some(speaks_for)) = (&s.waba_id, self.speaks_for) else {
            return Ok(BTreeMap::new());
        };
        let named = s.display_phone_number.as_deref().map(digits);
        let mut bound: BTreeMap<TenantId, Vec<String>> = BTreeMap::new();
        for c in self.inbox.ports().store.channels_of_account(waba).await? {
            let this_number = named
                .as_ref()
                .is_none_or(|n| same_number(n, &digits(&c.display_number)));
            if this_number && speaks_for(&c.phone_number_id) {
                bound.entry(c.tenant).or_default().push(c.phone_number_id);
            }
        }
        Ok(bound)
    }

    /// Records a customer's choice about marketing messages (refused ones
    /// become dead letters).
    async fn preference(&mut self, p: InboundPreference) -> Result<(), WhatsAppError> {
        let pnid = Some(p.phone_number_id.clone());
        let raw = super::preferences::webhook_of(&p);
        self.event(pnid, InboundEvent::Preference(p), raw.into())
            .await
    }

    /// Ingests the statuses gathered so far, together. Refused ones become
    /// dead letters; the first other failure is returned once the rest are
    /// applied (statuses are idempotent, so Meta's redelivery of the whole
    /// webhook is harmless).
    async fn flush_statuses(&mut self) -> Result<(), WhatsAppError> {
        let mut valid = Vec::new();
        let mut raws = Vec::new();
        for (status, raw) in std::mem::take(&mut self.statuses) {
            match status.check_time(self.now) {
                Ok(()) => {
                    valid.push(status);
                    raws.push(raw);
                }
                Err(reason) => {
                    self.dead_letter(Some(status.phone_number_id), raw, reason)
                        .await?
                }
            }
        }
        if valid.is_empty() {
            return Ok(());
        }
        let numbers: Vec<String> = valid.iter().map(|s| s.phone_number_id.clone()).collect();
        let outcomes = self.inbox.ingest_statuses(valid).await;
        let mut failure = None;
        for ((outcome, raw), pnid) in outcomes.into_iter().zip(raws).zip(numbers) {
            match outcome {
                Ok(o) => self.count(o),
                Err(e) => match InboundRefusal::from_error(&e) {
                    Some(reason) => self.dead_letter(Some(pnid), raw, reason).await?,
                    None => failure = failure.or(Some(e)),
                },
            }
        }
        failure.map_or(Ok(()), |e| Err(e.into()))
    }

    /// Keeps a refused item as a dead letter (once, however often Meta
    /// delivers it), and logs why.
    async fn dead_letter(
        &mut self,
        phone_number_id: Option<String>,
        raw: RawItem,
        reason: InboundRefusal,
    ) -> Result<(), WhatsAppError> {
        let put = self
            .inbox
            .record_dead_letter(RefusedItem {
                source: SOURCE.into(),
                phone_number_id: phone_number_id.clone(),
                raw: raw.into_string(),
                reason,
                received_at: self.received_at,
            })
            .await?;
        self.summary.dead_lettered += 1;
        // The reason's code and field only: its detail may quote the item.
        tracing::warn!(
            dead_letter = %put.letter.id,
            reason = put.letter.reason.code(),
            field = put.letter.reason.field(),
            phone_number_id = phone_number_id.as_deref().unwrap_or("(none)"),
            new = put.created,
            "inbound item refused, kept as a dead letter"
        );
        Ok(())
    }

    fn count(&mut self, outcome: IngestOutcome) {
        let s = &mut self.summary;
        match outcome {
            IngestOutcome::Stored { .. } => s.stored += 1,
            IngestOutcome::Duplicate { .. } => s.duplicates += 1,
            IngestOutcome::StatusApplied { .. } => s.statuses += 1,
            IngestOutcome::Preference { .. } => s.preferences += 1,
            IngestOutcome::Handover { .. } => s.handovers += 1,
            IngestOutcome::AppContact { .. } => s.app_contacts += 1,
            IngestOutcome::AccountSignal { changed: true } => s.account_signals += 1,
            IngestOutcome::AccountSignal { changed: false } => s.ignored += 1,
            IngestOutcome::History { stored } => s.history_messages += stored,
            _ => s.statuses_ignored += 1,
        }
    }
}

/// A phone number's digits.
fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Whether two numbers' digits are one number, one written with its
/// country code and one without (`34600100100`, `600100100`).
fn same_number(a: &str, b: &str) -> bool {
    const SHORTEST: usize = 6;
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    short.len() >= SHORTEST && long.ends_with(short)
}
