//! The server binary's command line: every option has `--help` text and an
//! environment variable, and turns into a [`Launch`]; what the binary
//! prints once it listens ([`banner`]); how it waits for Ctrl-C or
//! `SIGTERM` ([`stop_signal`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};

use inbox_core::Secret;
use inbox_http::Settings;

use super::config::{ChannelConfig, ServerConfig};
use super::launch::{Delivery, Launch, Running};
use super::simulator::LateAnswers;

/// The demo configuration shipped with the example.
pub const DEMO_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/server/demo.yaml");

/// A shared WhatsApp inbox in the browser: the web inbox, the agent API,
/// live events and the WhatsApp webhook, on the in-memory store or
/// PostgreSQL.
///
/// Without --simulate, --access-token or --graph-url, replies are recorded,
/// not sent. Ctrl-C (or SIGTERM) stops it: live event streams end, requests
/// in flight finish, then the outbox is sent one last time.
#[derive(Parser)]
#[command(name = "server", version, about, long_about)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The configuration file: tenant, numbers, teams, agents (with their
    /// password hashes), templates, settings.
    #[arg(long, env = "INBOX_CONFIG", value_name = "FILE", default_value = DEMO_CONFIG)]
    pub config: PathBuf,

    /// Where to listen (port 0: any free port).
    #[arg(
        long,
        env = "INBOX_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// PostgreSQL (migrations run at start); without it the in-memory
    /// store (nothing survives a restart).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Simulated customers write in through signed webhooks, and replies
    /// go to a fake Graph API that answers with statuses.
    #[arg(long, env = "INBOX_SIMULATE", value_parser = BoolishValueParser::new())]
    pub simulate: bool,

    /// With --simulate: customer messages a minute.
    #[arg(
        long,
        env = "INBOX_SIMULATE_RATE",
        value_name = "N",
        default_value_t = 6
    )]
    pub rate: u32,

    /// With --simulate: the share of replies (0 to 1) the fake Graph API
    /// answers too late; they are "in doubt" until a status settles them or
    /// an agent sends them again.
    #[arg(
        long,
        env = "INBOX_SIMULATE_TIMEOUTS",
        value_name = "F",
        default_value = "0",
        value_parser = late_answers
    )]
    pub simulate_timeouts: LateAnswers,

    /// Send replies through the Graph API with this access token (the real
    /// one, graph.facebook.com, unless --graph-url says otherwise).
    #[arg(
        long,
        env = "WHATSAPP_ACCESS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub access_token: Option<String>,

    /// Send replies through this Graph-compatible endpoint instead of
    /// graph.facebook.com (a local mock, a BSP's proxy); without
    /// --access-token its requests carry an empty token.
    #[arg(
        long,
        env = "INBOX_GRAPH_URL",
        value_name = "URL",
        value_parser = graph_url,
        conflicts_with = "simulate"
    )]
    pub graph_url: Option<String>,

    /// A reverse proxy in front sets X-Forwarded-For and X-Forwarded-Proto:
    /// client addresses for the sign-in limits, Secure cookies over https.
    #[arg(long, env = "INBOX_BEHIND_PROXY", value_parser = BoolishValueParser::new())]
    pub behind_proxy: bool,

    /// Always mark cookies Secure (TLS all the way to this server).
    #[arg(long, env = "INBOX_SECURE_COOKIES", value_parser = BoolishValueParser::new())]
    pub secure_cookies: bool,

    /// The platform operator's token (at least 16 characters): enables
    /// /api/platform (tenants, numbers and their secrets) and the page at
    /// /platform. Needs --secret-keys.
    #[arg(
        long,
        env = "INBOX_OPERATOR_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub operator_token: Option<String>,

    /// The keys secrets are sealed with at rest (numbers' tokens, connectors'
    /// credentials): `id:64-hex-digits`, comma separated, the first sealing
    /// (add a new one first, then POST /api/platform/secrets/reseal, then
    /// drop the old one). Without it and without a database, a key lasting
    /// as long as the process is made.
    #[arg(
        long,
        env = "INBOX_SECRET_KEYS",
        value_name = "KEYS",
        hide_env_values = true
    )]
    pub secret_keys: Option<String>,

    /// Every CRM and shop provider of the connectors (HubSpot, Zoho CRM,
    /// Shopify) at this address instead of their own: a mock, for trials
    /// and tests.
    #[arg(long, env = "INBOX_CONNECTORS_URL", value_name = "URL")]
    pub connectors_url: Option<url::Url>,

    /// The directory the files of media messages (images, voice notes,
    /// documents) are kept in once fetched from Meta, before its links
    /// expire; made if missing. Default: the configuration file's
    /// `media_dir`, else `inbox-media` in the system's temporary directory.
    #[arg(long, env = "INBOX_MEDIA_DIR", value_name = "DIR")]
    pub media_dir: Option<std::path::PathBuf>,

    /// What else to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Without the secrets: the database URL (it may hold a password), the
/// access token, the operator's token and the sealing keys show whether
/// they are set, not what they are.
impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "[set]" } else { "[none]" };
        f.debug_struct("Cli")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("database_url", &set(&self.database_url))
            .field("simulate", &self.simulate)
            .field("rate", &self.rate)
            .field("simulate_timeouts", &self.simulate_timeouts)
            .field("access_token", &set(&self.access_token))
            .field("graph_url", &self.graph_url)
            .field("behind_proxy", &self.behind_proxy)
            .field("secure_cookies", &self.secure_cookies)
            .field("operator_token", &set(&self.operator_token))
            .field("secret_keys", &set(&self.secret_keys))
            .field(
                "connectors_url",
                &self.connectors_url.as_ref().map(url::Url::as_str),
            )
            .field("command", &self.command)
            .finish()
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reads a password on stdin and prints its Argon2 hash (for an
    /// agent's password_hash in the configuration file).
    HashPassword,
}

/// `--simulate-timeouts`: a share from 0 to 1.
fn late_answers(s: &str) -> Result<LateAnswers, String> {
    let share: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    LateAnswers::new(share)
}

/// `--graph-url`: an absolute `http` or `https` URL with a host, no query,
/// no fragment and no credentials (a path is kept: a proxy's prefix);
/// without its trailing `/`.
pub fn graph_url(s: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("needs http or https, not {}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("needs a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("needs no query and no fragment (the API path is added to it)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("needs no credentials (give the token with --access-token)".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

impl Cli {
    /// Where replies go, from the options.
    pub fn delivery(&self) -> Delivery {
        if self.simulate {
            return Delivery::Simulate {
                rate: self.rate,
                status_delay: Duration::from_millis(700),
                graph_timeout: Duration::from_secs(3),
                late: self.simulate_timeouts,
            };
        }
        match (&self.access_token, &self.graph_url) {
            (None, None) => Delivery::Record,
            (token, url) => Delivery::CloudApi {
                access_token: Secret::new(token.clone().unwrap_or_default()),
                graph_url: url.clone(),
            },
        }
    }

    /// The server these options describe (the configuration file is read
    /// and checked now).
    pub fn launch(&self) -> Result<Launch, String> {
        let mut config = ServerConfig::load(&self.config).map_err(|e| e.to_string())?;
        if let Some(dir) = &self.media_dir {
            config.media_dir = Some(dir.clone());
        }
        Ok(Launch {
            config,
            listen: self.listen,
            database_url: self.database_url.clone().filter(|u| !u.is_empty()),
            delivery: self.delivery(),
            tick: Duration::from_secs(1),
            settings: Settings {
                behind_proxy: self.behind_proxy,
                secure_cookies: self.secure_cookies,
                operator: self.operator()?,
                secrets: self.secret_box()?,
                connectors: Some(inbox_connectors::ConnectorOptions {
                    endpoints: self
                        .connectors_url
                        .clone()
                        .map(inbox_connectors::Endpoints::all_at)
                        .unwrap_or_default(),
                    ..Default::default()
                }),
                ..Settings::default()
            },
        })
    }

    /// The sealing keys, when given.
    fn secret_box(&self) -> Result<Option<inbox_http::secrets::SecretBox>, String> {
        self.secret_keys
            .as_deref()
            .map(|k| inbox_http::secrets::SecretBox::from_list(k).map_err(|e| e.to_string()))
            .transpose()
    }

    /// The operator's access, when its token is given (it needs the
    /// sealing keys).
    fn operator(&self) -> Result<Option<inbox_http::settings::OperatorAccess>, String> {
        let (token, keys) = match (&self.operator_token, &self.secret_keys) {
            (None, _) => return Ok(None),
            (Some(t), Some(k)) => (t, k),
            (Some(_), None) => return Err("--operator-token needs --secret-keys".into()),
        };
        let token = inbox_http::api::platform::OperatorToken::new(&inbox_core::Secret::new(
            token.as_str(),
        ))?;
        let secrets = inbox_http::secrets::SecretBox::from_list(keys).map_err(|e| e.to_string())?;
        Ok(Some(inbox_http::settings::OperatorAccess {
            token,
            secrets,
        }))
    }
}

/// What the server prints once it listens: the inbox's address first, then
/// each number's webhook, then where replies go.
pub fn banner(running: &Running, channels: &[ChannelConfig], delivery: &Delivery) -> String {
    let url = &running.url;
    let mut out = format!(
        "inbox on {url}/ — sign in as ana / ana and, in another browser window, ben / ben\n"
    );
    for c in channels {
        out.push_str(&format!(
            "  WhatsApp webhook for {}: {url}/webhooks/whatsapp/{}\n",
            c.display_number, c.id
        ));
    }
    match delivery {
        Delivery::Record => {
            out.push_str(
                "  replies are recorded, not sent (no --simulate, --access-token or --graph-url)\n",
            );
        }
        Delivery::Simulate { rate, late, .. } => {
            out.push_str(&format!(
                "  simulated customers write about {rate} times a minute; replies go to a fake Graph API"
            ));
            if let Some(graph) = &running.graph_url {
                out.push_str(&format!(" at {graph}"));
            }
            out.push('\n');
            if late.fraction > 0.0 {
                out.push_str(&format!(
                    "  about {:.0}% of replies are answered too late (half of them lost): \"may not have been delivered\" until a status settles them or an agent sends them again\n",
                    late.fraction * 100.0
                ));
            }
        }
        Delivery::CloudApi { .. } => {
            if let Some(graph) = &running.graph_url {
                out.push_str(&format!("  replies go to the Graph API at {graph}\n"));
            }
        }
    }
    out.push_str(
        "  Ctrl-C stops it (live streams end, requests in flight finish, the outbox is sent)\n",
    );
    out
}

/// Resolves at the first Ctrl-C (`SIGINT`) or `SIGTERM`.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM cannot be watched; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
