//! A tenant's message templates kept in step with Meta's: what each
//! template Meta lists takes when sent ([`TemplateInfo::definition`]), and
//! the sync that stores the list as the `templates` section of the
//! tenant's settings ([`sync_templates`]).
//!
//! ```
//! use inbox_core::model::{TemplateComponent, TemplateStatus};
//! use inbox_whatsapp::TemplateInfo;
//!
//! let info: TemplateInfo = serde_json::from_value(serde_json::json!({
//!     "name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
//!     "components": [
//!         { "type": "HEADER", "format": "IMAGE" },
//!         { "type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way" },
//!         { "type": "BUTTONS", "buttons": [
//!             { "type": "QUICK_REPLY", "text": "Stop" },
//!             { "type": "URL", "text": "Track", "url": "https://example.com/t/{{1}}" }
//!         ]}
//!     ]
//! })).unwrap();
//! let t = info.definition();
//! assert_eq!(t.status, Some(TemplateStatus::Approved));
//! assert_eq!(t.expected(TemplateComponent::Header), 1);
//! assert_eq!(t.expected(TemplateComponent::Body), 2);
//! assert_eq!(t.expected(TemplateComponent::Button { index: 0 }), 0);
//! assert_eq!(t.expected(TemplateComponent::Button { index: 1 }), 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use inbox_core::ids::TenantId;
use inbox_core::model::{TemplateCategory, TemplateComponent, TemplateDefinition, TemplateStatus};
use inbox_core::settings::TenantSettings;
use inbox_core::{Actor, Inbox};
use serde_json::Value;

use crate::client::{GraphClient, TemplateInfo};
use crate::error::WhatsAppError;

impl TemplateInfo {
    /// The template as the tenant settings keep it: its name, language,
    /// category, status and components, and the parameters each component
    /// takes when the template is sent, counted from its components as
    /// Meta describes sending them:
    ///
    /// - a `HEADER` with `format` `TEXT` (or none): its distinct
    ///   placeholders (`{{1}}`, or a named `{{first_name}}`), at most one
    ///   in practice; a media or location header (`IMAGE`, `VIDEO`,
    ///   `DOCUMENT`, `LOCATION`) takes one, the media or place to show;
    /// - the `BODY`: its distinct placeholders (`{{1}} ... {{1}}` is one);
    /// - the buttons of `BUTTONS`, each at its position (0 first): a `URL`
    ///   button whose URL has a placeholder takes one (the URL's end); a
    ///   `COPY_CODE` button one (the code); an `OTP` button (copy code,
    ///   one tap or zero tap) one (the passcode); an `MPM` or `CATALOG`
    ///   button one (the products to show). The rest take none: `QUICK_REPLY`
    ///   and `FLOW` buttons, whose payload or flow token may be left out
    ///   (the core's check then refuses one given), `PHONE_NUMBER`,
    ///   `VOICE_CALL`, and a `URL` without a placeholder;
    /// - `FOOTER`, `LIMITED_TIME_OFFER`, `CAROUSEL` (its cards are not
    ///   counted) and components Meta adds later: none.
    pub fn definition(&self) -> TemplateDefinition {
        let components = match &self.components {
            Value::Array(list) => list.clone(),
            _ => Vec::new(),
        };
        let mut definition = TemplateDefinition::new(&self.name, &self.language);
        for (component, count) in parameter_counts(&components) {
            definition = definition.with(component, count);
        }
        definition.category = self.category.as_deref().map(TemplateCategory::from);
        definition.status = Some(TemplateStatus::from(self.status.as_str()));
        definition.components = components;
        definition
    }
}

/// The components of a template (as Meta lists them) that take parameters
/// when it is sent, with how many.
fn parameter_counts(components: &[Value]) -> Vec<(TemplateComponent, usize)> {
    let mut counts = Vec::new();
    for c in components {
        match upper(c, "type").as_str() {
            "HEADER" => {
                let count = match upper(c, "format").as_str() {
                    "" | "TEXT" => placeholders(c.get("text")),
                    "IMAGE" | "VIDEO" | "DOCUMENT" | "LOCATION" => 1,
                    _ => 0,
                };
                counts.push((TemplateComponent::Header, count));
            }
            "BODY" => counts.push((TemplateComponent::Body, placeholders(c.get("text")))),
            "BUTTONS" => {
                let buttons = c.get("buttons").and_then(Value::as_array);
                for (index, button) in buttons.into_iter().flatten().enumerate() {
                    let Ok(index) = u32::try_from(index) else {
                        break;
                    };
                    let count = match upper(button, "type").as_str() {
                        "URL" => placeholders(button.get("url")).min(1),
                        "COPY_CODE" | "OTP" | "MPM" | "CATALOG" => 1,
                        _ => 0,
                    };
                    counts.push((TemplateComponent::Button { index }, count));
                }
            }
            _ => {}
        }
    }
    counts.retain(|(_, count)| *count > 0);
    counts
}

/// A string field of a component, in capitals (`""` when absent).
fn upper(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// The distinct placeholders of a text: `{{1}}`, `{{2}}` or named ones
/// (`{{first_name}}`: letters, digits and underscores).
fn placeholders(text: Option<&Value>) -> usize {
    let mut rest = text.and_then(Value::as_str).unwrap_or("");
    let mut seen = BTreeSet::new();
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        let name = &rest[..end];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            seen.insert(name);
            rest = &rest[end + 2..];
        }
    }
    seen.len()
}

/// What a [`sync_templates`] did: the settings version the tenant runs
/// after it and the templates it added, changed and removed, each as
/// `name@language`, in name then language order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateSync {
    /// The settings version stored after the sync (0: the tenant has
    /// none, and Meta lists no templates).
    pub version: u64,
    /// Whether the sync stored a new version: `false` when the tenant's
    /// templates were already Meta's list.
    pub stored: bool,
    /// Templates Meta lists that the tenant did not know.
    pub added: Vec<String>,
    /// Templates the tenant knew that Meta lists differently (status,
    /// category, components or parameters).
    pub changed: Vec<String>,
    /// Templates the tenant knew that Meta no longer lists.
    pub removed: Vec<String>,
}

/// Makes the tenant's templates those Meta lists for the WhatsApp Business
/// Account `waba_id`: fetches them with [`GraphClient::templates`], puts
/// them in the `templates` section of the tenant's settings, sorted by name
/// then language, in place of what was there (templates written by hand
/// and not in Meta's list are removed), and stores the document with
/// [`Inbox::import_settings`] on the version it read: checked, versioned,
/// recorded in the settings history and published like any settings
/// change. When the settings change in between (a version conflict), it
/// reads them again and tries once more. An unchanged list stores nothing
/// and makes no new version.
///
/// Errors: the Graph API's as [`WhatsAppError::Transport`] (an expired
/// token is [`TransportError::Unauthorized`](inbox_core::ports::TransportError::Unauthorized)),
/// an answer that is not a template list as
/// [`WhatsAppError::UnexpectedResponse`], the inbox's (a settings check,
/// a second conflict, the store) as [`WhatsAppError::Inbox`]. None carries
/// the token.
///
/// ```no_run
/// # async fn demo(inbox: inbox_core::Inbox) -> Result<(), inbox_whatsapp::WhatsAppError> {
/// use inbox_core::ids::TenantId;
/// use inbox_whatsapp::{templates::sync_templates, GraphClient, GraphConfig};
///
/// let client = GraphClient::new(GraphConfig::new("EAAG..."))?;
/// let tenant = TenantId::try_from("acme")?;
/// let sync = sync_templates(&inbox, &tenant, &client, "102290129340398").await?;
/// println!("version {}: added {:?}, removed {:?}", sync.version, sync.added, sync.removed);
/// # Ok(()) }
/// ```
pub async fn sync_templates(
    inbox: &Inbox,
    tenant: &TenantId,
    client: &GraphClient,
    waba_id: &str,
) -> Result<TemplateSync, WhatsAppError> {
    let templates = client.templates(waba_id).await?;
    store_templates(inbox, tenant, None, templates).await
}

/// A WhatsApp Business Account whose templates a sync reads, and the
/// phone number whose access token reads them (`None`: the client's
/// default token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateAccount {
    /// Meta's id of the account.
    pub waba_id: String,
    /// A phone number id of the account, for its token.
    pub via: Option<String>,
}

/// [`sync_templates`] asked by an agent, from every account in `accounts`
/// (a tenant whose numbers belong to several): the agent must be allowed
/// to change the settings ([`Inbox::may_manage_settings`], checked before
/// Meta is asked), the templates of all accounts together make the list
/// (a name and language listed by two accounts is taken from the first),
/// and the new version is recorded in the history as the agent's. No
/// account is an [`WhatsAppError::Inbox`] `invalid_input`.
///
/// ```no_run
/// # async fn demo(inbox: inbox_core::Inbox, ada: inbox_core::Actor) -> Result<(), inbox_whatsapp::WhatsAppError> {
/// use inbox_whatsapp::templates::{sync_templates_by, TemplateAccount};
/// use inbox_whatsapp::{GraphClient, GraphConfig};
///
/// let client = GraphClient::new(GraphConfig::new("EAAG..."))?;
/// let account = TemplateAccount { waba_id: "102290129340398".into(), via: Some("106540352242922".into()) };
/// let sync = sync_templates_by(&inbox, &ada, &client, &[account]).await?;
/// println!("version {}: added {:?}", sync.version, sync.added);
/// # Ok(()) }
/// ```
pub async fn sync_templates_by(
    inbox: &Inbox,
    actor: &Actor,
    client: &GraphClient,
    accounts: &[TemplateAccount],
) -> Result<TemplateSync, WhatsAppError> {
    inbox.may_manage_settings(actor).await?;
    if accounts.is_empty() {
        return Err(inbox_core::Error::invalid(
            "accounts",
            "no WhatsApp Business Account to read templates from",
        )
        .into());
    }
    let mut templates = Vec::new();
    for account in accounts {
        let listed = client
            .templates_via(&account.waba_id, account.via.as_deref())
            .await?;
        for t in listed {
            if !templates
                .iter()
                .any(|k: &TemplateDefinition| k.name == t.name && k.language == t.language)
            {
                templates.push(t);
            }
        }
    }
    store_templates(inbox, &actor.tenant, Some(actor), templates).await
}

/// Stores `templates` as the tenant's, sorted, in place of its list, on
/// the version read (once more after a conflict); by `by` when an agent
/// asked.
async fn store_templates(
    inbox: &Inbox,
    tenant: &TenantId,
    by: Option<&Actor>,
    mut templates: Vec<TemplateDefinition>,
) -> Result<TemplateSync, WhatsAppError> {
    templates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    let mut tries = 0;
    loop {
        tries += 1;
        let (version, document) = match inbox.ports().store.settings(tenant).await? {
            Some(stored) => (stored.version, stored.document),
            None => (0, TenantSettings::default()),
        };
        let mut sync = differences(&document.templates, &templates);
        sync.version = version;
        if document.templates == templates {
            return Ok(sync);
        }
        let document = TenantSettings {
            templates: templates.clone(),
            ..document
        };
        let stored = match by {
            Some(actor) => inbox.update_settings(actor, version, document).await,
            None => inbox.import_settings(tenant, version, document).await,
        };
        match stored {
            Ok(stored) => {
                sync.version = stored.version;
                sync.stored = true;
                tracing::info!(
                    %tenant, version = stored.version, added = sync.added.len(),
                    changed = sync.changed.len(), removed = sync.removed.len(),
                    "templates synced"
                );
                return Ok(sync);
            }
            Err(e) if tries < 2 && e.as_conflict().is_some() => {
                tracing::info!(%tenant, error = %e, "settings changed during a template sync, again");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The templates added, changed and removed from `before` to `after`, by
/// name and language.
fn differences(before: &[TemplateDefinition], after: &[TemplateDefinition]) -> TemplateSync {
    let by_key = |list: &[TemplateDefinition]| -> BTreeMap<(String, String), TemplateDefinition> {
        list.iter()
            .map(|t| ((t.name.clone(), t.language.clone()), t.clone()))
            .collect()
    };
    let (before, after) = (by_key(before), by_key(after));
    let key = |(name, language): &(String, String)| format!("{name}@{language}");
    let mut sync = TemplateSync::default();
    for (k, t) in &after {
        match before.get(k) {
            None => sync.added.push(key(k)),
            Some(old) if old != t => sync.changed.push(key(k)),
            Some(_) => {}
        }
    }
    sync.removed = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .map(key)
        .collect();
    sync
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_counted_once_each() {
        for (text, count) in [
            ("no placeholders", 0),
            ("Hi {{1}}, order {{2}}", 2),
            ("{{1}} and {{1}} again", 1),
            ("Hi {{first_name}}, {{order_id}} for {{first_name}}", 2),
            ("not {{ one }} nor {{}} nor {{a-b}} but {{x}}", 1),
            ("unclosed {{1", 0),
            ("{{1}} then {{2", 1),
        ] {
            assert_eq!(placeholders(Some(&json!(text))), count, "{text}");
        }
        assert_eq!(placeholders(None), 0);
    }

    #[test]
    fn differences_name_templates_by_name_and_language() {
        let a = TemplateDefinition::new("a", "en");
        let b = TemplateDefinition::new("b", "en");
        let mut b2 = b.clone();
        b2.status = Some(TemplateStatus::Paused);
        let c = TemplateDefinition::new("a", "es");
        let sync = differences(&[a.clone(), b], &[b2, c]);
        assert_eq!(sync.added, ["a@es"]);
        assert_eq!(sync.changed, ["b@en"]);
        assert_eq!(sync.removed, ["a@en"]);
    }
}
