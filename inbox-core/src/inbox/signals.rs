//! What Meta says about a tenant's account, numbers and templates: each
//! signal is kept on the numbers it concerns, announced to the team as an
//! [`EventKind::AccountSignal`], and a template's new status is written to
//! the tenant's template list, so a paused or rejected template leaves the
//! agents' picker and cannot be sent.

use super::Inbox;
use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::TenantId;
use crate::inbound::{InboundAccountSignal, IngestOutcome};
use crate::model::{AccountSignal, Channel, SignalSeen, TemplateStatus};
use crate::ports::Changeset;
use crate::settings::TenantSettings;

impl Inbox {
    /// Records what Meta reported about the account, a number or a
    /// template ([`InboundAccountSignal`]): the numbers keep it
    /// ([`Channel::signals`]), a template's status replaces the one in the
    /// tenant's settings (a new settings version by the system; a template
    /// the tenant does not list is left to the next template sync), and an
    /// [`EventKind::AccountSignal`] tells the team. A redelivered report,
    /// or one older than the latest any of the numbers kept, changes
    /// nothing. The numbers must all be one tenant's.
    ///
    /// ```
    /// # async fn demo(inbox: inbox_core::Inbox) -> inbox_core::Result<()> {
    /// use inbox_core::model::{AccountSignal, TemplateStatus};
    /// use inbox_core::{InboundAccountSignal, InboundEvent};
    /// let paused = InboundAccountSignal {
    ///     phone_number_ids: vec!["106".into()],
    ///     signal: AccountSignal::TemplateStatus {
    ///         name: "spring_sale".into(),
    ///         language: "en_US".into(),
    ///         status: TemplateStatus::Paused,
    ///         reason: None,
    ///         detail: Some("FIRST_PAUSE".into()),
    ///     },
    ///     timestamp: inbox.now(),
    /// };
    /// inbox.ingest(InboundEvent::Account(paused)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn ingest_account_signal(&self, a: InboundAccountSignal) -> Result<IngestOutcome> {
        a.check(self.now())?;
        let channels = self.signal_channels(&a.phone_number_ids).await?;
        if !self.is_news(&channels, &a).await? {
            return Ok(IngestOutcome::AccountSignal { changed: false });
        }
        let tenant = channels[0].tenant.clone();
        if let AccountSignal::TemplateStatus {
            name,
            language,
            status,
            ..
        } = &a.signal
        {
            self.set_template_status(&tenant, name, language, status)
                .await?;
        }
        // The event first: a failure after it repeats the news on
        // redelivery rather than losing it.
        let kind = EventKind::AccountSignal {
            channels: channels.iter().map(|c| c.id.clone()).collect(),
            needs_attention: a.signal.needs_attention(),
            signal: a.signal.clone(),
        };
        let event = Event::new(tenant.clone(), self.now(), EventActor::System, kind);
        let changes = Changeset {
            events: vec![event],
            ..Changeset::new(tenant.clone())
        };
        let committed = self.ports.store.commit(changes).await?;
        self.publish(&committed.events).await;
        let slot = a.signal.slot();
        let keep = |c: &mut Channel| {
            let news = c
                .signals
                .get(&slot)
                .is_none_or(|seen| seen.is_news(&a.signal, a.timestamp));
            if news {
                let seen = SignalSeen {
                    signal: a.signal.clone(),
                    at: a.timestamp,
                };
                c.signals.insert(slot.clone(), seen);
            }
            news
        };
        for channel in &channels {
            (self.ports.store)
                .update_channel_news(&tenant, &channel.id, &keep)
                .await?;
        }
        Ok(IngestOutcome::AccountSignal { changed: true })
    }

    /// Whether the signal is news next to the latest of its slot any of
    /// the numbers keeps (read afresh): an older report, delivered late,
    /// never undoes a newer one, whichever number kept it.
    async fn is_news(&self, channels: &[Channel], a: &InboundAccountSignal) -> Result<bool> {
        let slot = a.signal.slot();
        let mut latest: Option<SignalSeen> = None;
        for c in channels {
            let stored = self.ports.store.channel(&c.tenant, &c.id).await?;
            if let Some(seen) = stored.signals.get(&slot) {
                if latest.as_ref().is_none_or(|l| seen.at > l.at) {
                    latest = Some(seen.clone());
                }
            }
        }
        Ok(latest.is_none_or(|l| l.is_news(&a.signal, a.timestamp)))
    }

    /// The numbers a signal names, each once; all of one tenant.
    async fn signal_channels(&self, numbers: &[String]) -> Result<Vec<Channel>> {
        let mut channels: Vec<Channel> = Vec::new();
        for pnid in numbers {
            let channel = self.channel_for(pnid).await?;
            if channels.first().is_some_and(|c| c.tenant != channel.tenant) {
                return Err(Error::invalid(
                    "phone_number_ids",
                    "an account signal names numbers of more than one tenant",
                ));
            }
            if !channels.iter().any(|c| c.id == channel.id) {
                channels.push(channel);
            }
        }
        Ok(channels)
    }

    /// Gives the tenant's template `name` in `language` Meta's new status
    /// (once more after a conflicting settings change). A template the
    /// tenant does not list, whose status is already this one, or a status
    /// the inbox does not know changes nothing; settings that no longer compile are left as they are
    /// (logged): the signal is still recorded.
    async fn set_template_status(
        &self,
        tenant: &TenantId,
        name: &str,
        language: &str,
        status: &TemplateStatus,
    ) -> Result<()> {
        for attempt in 0..2 {
            let (version, mut document) = match self.ports.store.settings(tenant).await? {
                Some(stored) => (stored.version, stored.document),
                None => (0, TenantSettings::default()),
            };
            let Some(template) = document
                .templates
                .iter_mut()
                .find(|t| t.name == name && t.language.eq_ignore_ascii_case(language))
            else {
                return Ok(());
            };
            // An event that names no status the inbox knows (flagged,
            // locked, unarchived) leaves the template sendable as it was.
            if template.status.as_ref() == Some(status)
                || matches!(status, TemplateStatus::Other(_))
            {
                return Ok(());
            }
            template.status = Some(status.clone());
            match self.import_settings(tenant, version, document).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt == 0 && e.as_conflict().is_some() => continue,
                Err(e @ Error::InvalidSettings { .. }) => {
                    tracing::error!(%tenant, template = name, error = %e,
                        "stored settings do not compile: template status not written");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
