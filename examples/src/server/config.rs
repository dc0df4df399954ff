//! The server's configuration file: the tenant, its numbers, teams and
//! agents (with their password hashes).

use serde::Deserialize;
use std::path::Path;

use inbox_core::model::{Agent, Channel, Role, Team, Tenant};
use inbox_core::{AgentId, ChannelId, Inbox, Secret, TeamId, TenantId};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The tenant the server hosts.
    pub tenant: TenantConfig,
    /// Its WhatsApp numbers.
    pub channels: Vec<ChannelConfig>,
    /// Its teams.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Who may sign in.
    pub agents: Vec<AgentConfig>,
    /// Approved message templates (what agents may send once the 24-hour
    /// window has closed).
    #[serde(default)]
    pub templates: Vec<TemplateConfig>,
    /// The tenant's settings document (`inbox_core::settings`: routing,
    /// SLA, calendars, timers, reply and reopen policies, canned
    /// responses), stored when the tenant has none yet. Once stored, the
    /// stored version is what runs (changes are made through the inbox, so
    /// they are versioned and recorded), and the file only seeds a new
    /// database.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// More tenants hosted by the same server, each with its own numbers,
    /// teams, agents and settings (their agents sign in naming their
    /// workspace; their numbers' webhooks are at
    /// `/webhooks/whatsapp/{tenant}/{channel}`).
    #[serde(default)]
    pub more_tenants: Vec<TenantSection>,
    /// The directory the files of media messages are kept in once fetched
    /// from Meta (`--media-dir` overrides it; neither: `inbox-media` in
    /// the system's temporary directory).
    #[serde(default)]
    pub media_dir: Option<std::path::PathBuf>,
}

/// Another tenant of the file: what the top level says of the first one
/// (templates aside).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// The tenant.
    pub tenant: TenantConfig,
    /// Its WhatsApp numbers.
    pub channels: Vec<ChannelConfig>,
    /// Its teams.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Who may sign in.
    pub agents: Vec<AgentConfig>,
    /// Its settings document (seeds a new database, as the top level's).
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

/// One tenant of the file, wherever it is written.
#[derive(Debug, Clone, Copy)]
pub struct Hosted<'a> {
    /// Where in the file (`""` for the top level, `more_tenants[1].`).
    pub at: &'a str,
    /// Its templates (the top level's for the first tenant).
    pub templates: &'a [TemplateConfig],
    /// The tenant.
    pub tenant: &'a TenantConfig,
    /// Its numbers.
    pub channels: &'a [ChannelConfig],
    /// Its teams.
    pub teams: &'a [TeamConfig],
    /// Its agents.
    pub agents: &'a [AgentConfig],
    /// Its settings document.
    pub settings: Option<&'a serde_json::Value>,
}

/// An approved WhatsApp message template of the first tenant: what its
/// agents may send once the 24-hour window has closed. Seeds the
/// `templates` section of its settings (when its document has none), and
/// is what the simulator's fake Graph API lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// Its name in WhatsApp Manager.
    pub name: String,
    /// Its language code, e.g. `en_US`.
    pub language: String,
    /// What its body says (`{{1}}` for a parameter).
    pub text: String,
}

impl TemplateConfig {
    /// The template as Meta lists it: approved, a utility template whose
    /// body is the text.
    pub fn meta(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name, "language": self.language,
            "status": "APPROVED", "category": "UTILITY",
            "components": [{ "type": "BODY", "text": self.text }],
        })
    }

    /// The template as the tenant settings keep it.
    pub fn definition(&self) -> inbox_core::model::TemplateDefinition {
        serde_json::from_value::<inbox_whatsapp::TemplateInfo>(self.meta())
            .map(|info| info.definition())
            .unwrap_or_else(|_| {
                inbox_core::model::TemplateDefinition::new(&self.name, &self.language)
            })
    }
}

/// The tenant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A WhatsApp number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Our id for it.
    pub id: String,
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// The number as customers see it.
    pub display_number: String,
    /// The webhook verify token (subscription handshake).
    pub verify_token: String,
    /// The app secret that signs webhooks (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// Meta's id of the WhatsApp Business Account it belongs to, where
    /// its templates are listed (`POST /api/templates/sync` reads them).
    #[serde(default)]
    pub waba_id: Option<String>,
    /// The number is also used in the WhatsApp Business app
    /// (coexistence): sends to it are held to WhatsApp's 20 a second.
    #[serde(default)]
    pub coexistence: bool,
}

/// A team.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// An agent who may sign in, or a service agent (a bot) who never does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Their id (and sign-in name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: Role,
    /// Their teams.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Open conversations they can take (0: unlimited).
    #[serde(default)]
    pub capacity: u32,
    /// Their password, hashed (Argon2 PHC string: `$argon2id$...`); make
    /// one with `cargo run --example server -- hash-password`. Every agent
    /// who signs in has one; a service agent has none.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// A service agent: never signs in, never offered work by routing.
    #[serde(default)]
    pub service: bool,
    /// A bot (a service agent too) that answers the conversations it owns:
    /// its id names it in the settings' `bots.list` and `route_to_bot`.
    #[serde(default)]
    pub bot: bool,
}

/// A configuration problem, naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not fit the format.
    #[error("{path}: {field}: {message}")]
    Format {
        /// The file.
        path: String,
        /// Where in the document.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{0}")]
    Invalid(#[from] inbox_core::Error),
}

impl ServerConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Format { field, message, .. } => ConfigError::Format {
                path: path.display().to_string(),
                field,
                message,
            },
            other => other,
        })
    }

    /// Parses a configuration document.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let de = serde_norway::Deserializer::from_str(text);
        let config: Self =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Format {
                path: "config".into(),
                field: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        let places = config.places();
        let mut seen = std::collections::HashSet::new();
        for (i, t) in config.hosted(&places).into_iter().enumerate() {
            if !seen.insert(t.tenant.id.clone()) {
                return Err(ConfigError::Format {
                    path: "config".into(),
                    field: format!("{}tenant.id", t.at),
                    message: format!("tenant {:?} is already in the file (#{i})", t.tenant.id),
                });
            }
            check_hosted(t)?;
        }
        Ok(config)
    }

    /// The tenant's id.
    pub fn tenant_id(&self) -> Result<TenantId, inbox_core::Error> {
        TenantId::new(&self.tenant.id)
    }

    /// Every tenant of the file, the top level's first; `places` names
    /// where the others are (`more_tenants[i].`), one per other tenant.
    pub fn hosted<'a>(&'a self, places: &'a [String]) -> Vec<Hosted<'a>> {
        let first = Hosted {
            at: "",
            templates: &self.templates,
            tenant: &self.tenant,
            channels: &self.channels,
            teams: &self.teams,
            agents: &self.agents,
            settings: self.settings.as_ref(),
        };
        let more = self.more_tenants.iter().zip(places).map(|(t, at)| Hosted {
            at: at.as_str(),
            templates: &[],
            tenant: &t.tenant,
            channels: &t.channels,
            teams: &t.teams,
            agents: &t.agents,
            settings: t.settings.as_ref(),
        });
        std::iter::once(first).chain(more).collect()
    }

    /// Where the other tenants are in the file.
    pub fn places(&self) -> Vec<String> {
        (0..self.more_tenants.len())
            .map(|i| format!("more_tenants[{i}]."))
            .collect()
    }

    /// Writes every tenant of the file, its numbers, teams and agents into
    /// the inbox (again at every start: provisioning is an upsert; agents
    /// start offline, since every session ended with the last process).
    pub async fn provision(&self, inbox: &Inbox) -> Result<(), inbox_core::Error> {
        let places = self.places();
        for hosted in self.hosted(&places) {
            provision_hosted(inbox, hosted).await?;
        }
        Ok(())
    }

    /// The webhook settings of each number: (channel id, verify token, app
    /// secret).
    pub fn webhook_secrets(&self) -> Vec<(String, Secret, Secret)> {
        self.channels
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    Secret::new(c.verify_token.clone()),
                    Secret::new(c.app_secret.clone()),
                )
            })
            .collect()
    }
}

/// Checks one tenant of the file: its ids, the teams its agents name,
/// their password hashes, and its settings document (every bad field
/// named), against its own teams, agents and numbers.
fn check_hosted(t: Hosted<'_>) -> Result<(), ConfigError> {
    TenantId::new(&t.tenant.id)?;
    for c in t.channels {
        ChannelId::new(&c.id)?;
    }
    for team in t.teams {
        TeamId::new(&team.id)?;
    }
    for a in t.agents {
        AgentId::new(&a.id)?;
        for team in &a.teams {
            if !t.teams.iter().any(|x| &x.id == team) {
                return Err(ConfigError::Format {
                    path: "config".into(),
                    field: format!("{}agents[{}].teams", t.at, a.id),
                    message: format!("unknown team {team:?}"),
                });
            }
        }
        check_sign_in(t.at, a)?;
    }
    if let Some(doc) = t.settings {
        let known = inbox_core::settings::Known::default()
            .with_teams(t.teams.iter().map(|x| x.id.clone()))
            .with_agents(t.agents.iter().map(|a| a.id.clone()))
            .with_bots(t.agents.iter().filter(|a| a.bot).map(|a| a.id.clone()))
            .with_channels(t.channels.iter().map(|c| c.id.clone()));
        inbox_core::settings::TenantSettings::from_value(doc)?.compile(&known)?;
    }
    Ok(())
}

/// How agent `a` (of the tenant at `at`) signs in: with an Argon2 password
/// hash, or never, as a service agent (a bot is always one).
fn check_sign_in(at: &str, a: &AgentConfig) -> Result<(), ConfigError> {
    let problem = |field: &str, message: &str| ConfigError::Format {
        path: "config".into(),
        field: format!("{at}agents[{}].{field}", a.id),
        message: message.into(),
    };
    if a.bot && !a.service {
        return Err(problem(
            "service",
            "a bot is a service agent: set `service: true`",
        ));
    }
    match (&a.password_hash, a.service) {
        (Some(_), true) => Err(problem(
            "password_hash",
            "a service agent never signs in: leave the password out",
        )),
        (None, false) => Err(problem(
            "password_hash",
            "missing: an agent who signs in needs one (or set `service: true`)",
        )),
        (Some(hash), false) if argon2::PasswordHash::new(hash).is_err() => {
            Err(problem("password_hash", "not an Argon2 PHC string"))
        }
        _ => Ok(()),
    }
}

/// Writes one tenant of the file into the inbox.
async fn provision_hosted(inbox: &Inbox, t: Hosted<'_>) -> Result<(), inbox_core::Error> {
    let tenant = TenantId::new(&t.tenant.id)?;
    let existing = match inbox.ports().store.tenant(&tenant).await {
        Ok(found) => Some(found),
        Err(inbox_core::Error::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    // A suspension made by the platform operator stays.
    let record = Tenant {
        suspended: existing.is_some_and(|e| e.suspended),
        ..Tenant::new(tenant.clone(), &t.tenant.name)
    };
    inbox.provision_tenant(&record).await?;
    for c in t.channels {
        inbox
            .provision_channel(&Channel {
                waba_id: c.waba_id.clone(),
                coexistence: c.coexistence,
                ..Channel::new(
                    tenant.clone(),
                    ChannelId::new(&c.id)?,
                    &c.phone_number_id,
                    &c.display_number,
                )
            })
            .await?;
    }
    for team in t.teams {
        inbox
            .provision_team(&Team::new(
                tenant.clone(),
                TeamId::new(&team.id)?,
                &team.name,
            ))
            .await?;
    }
    for a in t.agents {
        let mut agent = Agent::new(tenant.clone(), AgentId::new(&a.id)?, &a.name, a.role)
            .with_capacity(a.capacity);
        for team in &a.teams {
            agent = agent.in_team(TeamId::new(team)?);
        }
        agent.service = a.service;
        agent.bot = a.bot;
        inbox.provision_agent(&agent).await?;
        // The file's password seeds the store's; one changed since
        // through the inbox stays.
        let Some(hash) = &a.password_hash else {
            continue;
        };
        if inbox.password_hash(&tenant, &agent.id).await?.is_none() {
            inbox
                .provision_password(&tenant, &agent.id, Some(hash))
                .await?;
        }
    }
    let mut doc = match t.settings {
        Some(doc) => Some(inbox_core::settings::TenantSettings::from_value(doc)?),
        None if t.templates.is_empty() => None,
        None => Some(Default::default()),
    };
    if let Some(doc) = doc.as_mut().filter(|d| d.templates.is_empty()) {
        doc.templates = t.templates.iter().map(TemplateConfig::definition).collect();
    }
    if let Some(doc) = doc {
        seed_settings(inbox, &tenant, doc).await?;
    }
    Ok(())
}

/// Stores the file's settings document for `tenant` unless its document
/// was ever set (by an earlier start, or changed since through the inbox):
/// then the stored one runs. Provisioning alone (agents, teams, numbers in
/// the history) does not count.
async fn seed_settings(
    inbox: &Inbox,
    tenant: &TenantId,
    doc: inbox_core::settings::TenantSettings,
) -> Result<(), inbox_core::Error> {
    let store = &inbox.ports().store;
    let Some(stored) = store.settings(tenant).await? else {
        inbox.import_settings(tenant, 0, doc).await?;
        return Ok(());
    };
    let mut before = None;
    loop {
        let query = inbox_core::ports::HistoryQuery { before, limit: 200 };
        let page = store.settings_history(tenant, query).await?;
        if page
            .iter()
            .flat_map(|c| &c.sections)
            .any(|s| !s.is_directory())
        {
            tracing::info!(%tenant, "settings: the stored version runs, not the file's");
            return Ok(());
        }
        match page.last() {
            Some(last) if page.len() == 200 => before = Some(last.version),
            _ => break,
        }
    }
    match inbox.import_settings(tenant, stored.version, doc).await {
        // Changed meanwhile through another instance: theirs runs.
        Err(inbox_core::Error::Conflict(_)) => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const DEMO: &str = include_str!("../../server/demo.yaml");

    /// The demo with `rule` first in its settings' routing rules, and
    /// `more` at the top of its settings.
    fn with_rule(rule: &str, more: &str) -> String {
        let rules = "\n  routing:\n    rules:\n";
        assert!(DEMO.contains(rules), "the demo's rules");
        DEMO.replacen(rules, &format!("{rules}      - {rule}\n"), 1)
            .replacen("\nsettings:\n", &format!("\nsettings:\n{more}"), 1)
    }

    #[test]
    fn a_settings_document_is_checked_with_the_file() {
        let demo = ServerConfig::parse(DEMO).unwrap();
        let doc =
            inbox_core::settings::TenantSettings::from_value(&demo.settings.unwrap()).unwrap();
        assert!(doc.bots.list.contains_key("helper"), "the demo's bot");
        let good = with_rule("{name: all, then: [{route_to_team: sales}]}", "");
        assert!(ServerConfig::parse(&good).unwrap().settings.is_some());
        let bad = with_rule(
            "{name: all, then: [{route_to_team: slaes}]}",
            "  timers: {follow_up_after: 1d}\n",
        );
        let err = ServerConfig::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains(
                r#"routing.rules[0].then[0].route_to_team: no team "slaes"; did you mean "sales"?"#
            ),
            "{err}"
        );
        // A bot the directory does not have as one.
        let not_a_bot = DEMO.replacen(
            "    bot: true\n    service: true\n",
            "    service: true\n",
            1,
        );
        let err = ServerConfig::parse(&not_a_bot).unwrap_err().to_string();
        assert!(err.contains("bots.list.helper: no bot agent"), "{err}");
    }

    #[test]
    fn who_signs_in_has_a_password_and_bots_have_none() {
        let cases = [
            (
                "    bot: true\n    service: true\n",
                "    bot: true\n",
                "agents[helper].service: a bot is a service agent",
            ),
            (
                "    service: true\n",
                "    service: true\n    password_hash: \"$argon2id$v=19$m=19456,t=2,p=1$WYemYPNJRdpHQnm/+6/w8g$Rg4HvpUvLX6H8oI4Jo/Dha8BOqNoTQmfY3TQAEEBA8c\"\n",
                "agents[helper].password_hash: a service agent never signs in",
            ),
        ];
        for (from, to, expected) in cases {
            let err = refused(from, to);
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let no_password = DEMO.replacen(
            "    role: admin\n    password_hash:",
            "    role: admin\n    # password_hash:",
            1,
        );
        let err = ServerConfig::parse(&no_password).unwrap_err().to_string();
        assert!(
            err.contains("agents[ada].password_hash: missing: an agent who signs in needs one"),
            "{err}"
        );
    }

    /// The error of `DEMO` with `from` replaced by `to` (once).
    fn refused(from: &str, to: &str) -> String {
        assert!(DEMO.contains(from), "{from}");
        let text = DEMO.replacen(from, to, 1);
        ServerConfig::parse(&text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let cases = [
            ("tenant:\n", "colour: red\ntenant:\n", "colour"),
            (
                "  name: Demo Shop\n",
                "  name: Demo Shop\n  plan: gold\n",
                "tenant.plan",
            ),
            (
                "    app_secret: demo-app-secret\n",
                "    app_secret: demo-app-secret\n    app_secert: typo\n",
                "channels[0].app_secert",
            ),
            (
                "{ id: support, name: Support }",
                "{ id: support, nmae: Support }",
                "teams[1].nmae",
            ),
            (
                "    capacity: 5\n",
                "    capacity: 5\n    capacty: 6\n",
                "agents[0].capacty",
            ),
            (
                "    language: es_ES\n",
                "    language: es_ES\n    langauge: es\n",
                "templates[2].langauge",
            ),
        ];
        for (from, to, path) in cases {
            let err = refused(from, to);
            assert!(
                err.starts_with(&format!("config: {path}: ")),
                "{path}: {err}"
            );
            assert!(err.contains("unknown field"), "{path}: {err}");
        }
        // In the settings document too, with the path inside it.
        let with_settings = DEMO.replacen(
            "\n  routing:\n    rules:\n",
            "\n  routing:\n    rulez: []\n    rules:\n",
            1,
        );
        let err = ServerConfig::parse(&with_settings).unwrap_err().to_string();
        assert!(err.contains("routing"), "{err}");
        assert!(err.contains("rulez"), "{err}");
    }

    #[test]
    fn a_file_names_itself_in_its_errors() {
        let dir = std::env::temp_dir().join(format!("inbox-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.yaml");
        std::fs::write(
            &file,
            DEMO.replacen(
                "  name: Demo Shop\n",
                "  name: Demo Shop\n  plan: gold\n",
                1,
            ),
        )
        .unwrap();
        let err = ServerConfig::load(&file).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        let expected = format!("{}: tenant.plan: ", file.display());
        assert!(err.starts_with(&expected), "{err}");
        assert!(err.contains("unknown field `plan`"), "{err}");
    }
}
