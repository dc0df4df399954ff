//! The example server: a shared WhatsApp inbox over HTTP, a thin binary
//! over [`inbox_http`] (the agent API, sign-in, live events, the webhooks
//! and the web inbox).
//!
//! What is the example's own:
//!
//! - the configuration file: the tenant, its numbers, teams, agents (with
//!   their password hashes) and templates ([`config`]), turned into the
//!   HTTP layer's state by [`app_state`];
//! - starting and stopping it all: store, transport, HTTP, the timer and
//!   outbox worker ([`launch`]);
//! - the binary's command line, what it prints and the signals that stop
//!   it ([`cli`]);
//! - simulated customers and a fake Graph API ([`simulator`]).

pub mod cli;
pub mod config;
pub mod launch;
pub mod simulator;

use inbox_core::{AgentId, ChannelId, Inbox};
use inbox_http::{Accounts, AppState, Settings};
use inbox_whatsapp::{Webhook, WebhookConfig};

/// The HTTP layer's state for `inbox`, from `config`: its agents may sign
/// in, its templates are offered, each number of each of its tenants has
/// its webhook, bound to that number (a body about another one, signed
/// with this route's secret, is refused with 403): the first tenant's at
/// `/webhooks/whatsapp/{channel}`, the others' at
/// `/webhooks/whatsapp/{tenant}/{channel}`.
pub fn app_state(
    inbox: Inbox,
    config: &config::ServerConfig,
    settings: Settings,
) -> Result<AppState, inbox_core::Error> {
    let mut accounts = Accounts::new(config.tenant_id()?);
    for a in &config.agents {
        // (service agents, bots among them, never sign in)
        let Some(hash) = &a.password_hash else {
            continue;
        };
        accounts = accounts
            .with_agent(AgentId::new(&a.id)?, hash.as_str())
            .map_err(|e| inbox_core::Error::InvalidInput {
                field: format!("agents[{}].password_hash", a.id),
                reason: e.to_string(),
            })?;
    }
    let mut state = AppState::builder(inbox, accounts).settings(settings);
    let places = config.places();
    for (i, hosted) in config.hosted(&places).into_iter().enumerate() {
        let tenant = inbox_core::TenantId::new(&hosted.tenant.id)?;
        for c in hosted.channels {
            let secret = WebhookConfig::for_numbers(
                c.verify_token.as_str(),
                c.app_secret.as_str(),
                [&c.phone_number_id],
            );
            let (id, hook) = (ChannelId::new(&c.id)?, Webhook::new(secret));
            // The first tenant's numbers keep their short path.
            state = match i {
                0 => state.webhook(id, hook),
                _ => state.tenant_webhook(&tenant, &id, hook),
            };
        }
    }
    Ok(state.build())
}
