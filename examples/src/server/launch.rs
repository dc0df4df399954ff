//! Starting and stopping the whole server: store, transport (recording,
//! simulated or the real Cloud API), HTTP, the timer and outbox worker, the
//! simulated customers. The `server` example and the tests share it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use inbox_core::ports::{EventBus, Store, SubscriptionLog, Transport};
use inbox_core::testing::RecordingTransport;
use inbox_core::{Inbox, InboxConfig, Secret};
use inbox_store_memory::{MemoryEventBus, MemoryStore};
use inbox_whatsapp::{GraphClient, GraphConfig};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use inbox_http::auth::Auth;
use inbox_http::{router, Settings};

use super::app_state;
use super::config::ServerConfig;
use super::simulator::{run_customers, FakeMeta, LateAnswers, SimConfig};

/// Where replies go.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Nowhere: recorded in memory (no Meta account, no simulator).
    Record,
    /// To the simulator's fake Graph API; customers write `rate` messages a
    /// minute (0: only when a test makes them).
    Simulate {
        /// Customer messages a minute.
        rate: u32,
        /// Delay between a sent message's statuses.
        status_delay: Duration,
        /// How long the inbox waits for the fake Graph API's answer to a
        /// send; a late answer comes after twice as long.
        graph_timeout: Duration,
        /// Which sends the fake Graph API answers too late (their messages
        /// are in doubt).
        late: LateAnswers,
    },
    /// To the WhatsApp Cloud API, or any Graph-compatible endpoint.
    CloudApi {
        /// The access token.
        access_token: Secret,
        /// The Graph API's base URL (a local mock, a BSP's proxy); `None`:
        /// `https://graph.facebook.com`.
        graph_url: Option<String>,
    },
}

/// How to run the server.
#[derive(Debug)]
pub struct Launch {
    /// Tenant, numbers, teams, agents, templates.
    pub config: ServerConfig,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// PostgreSQL, or `None` for the memory store.
    pub database_url: Option<String>,
    /// Where replies go.
    pub delivery: Delivery,
    /// How often bot turns are taken, timers fire and the outbox is sent
    /// (a second keeps a bot's answer within about a second).
    pub tick: Duration,
    /// Timeouts, limits, proxy trust, sign-in limits.
    pub settings: Settings,
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Its address, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The inbox behind it.
    pub inbox: Inbox,
    /// The simulator, when simulating.
    pub meta: Option<Arc<FakeMeta>>,
    /// The Graph API replies go to (the simulator's fake one when
    /// simulating), when they are sent at all.
    pub graph_url: Option<String>,
    stop: watch::Sender<bool>,
    auth: Arc<Auth>,
    tasks: Vec<JoinHandle<()>>,
    /// The fake Graph API, stopped last.
    graph: Option<JoinHandle<()>>,
    /// Whether the store keeps what is left in the outbox (PostgreSQL).
    durable: bool,
}

impl Launch {
    /// Opens the store, provisions the configuration, binds and serves.
    pub async fn start(self) -> Result<Running, String> {
        // With PostgreSQL, live events go through LISTEN/NOTIFY, so several
        // server instances on one database see each other's changes.
        let (store, bus, log): (Arc<dyn Store>, Arc<dyn EventBus>, Arc<dyn SubscriptionLog>) =
            match &self.database_url {
                Some(url) => {
                    let pg = inbox_store_postgres::PgStore::connect(url, 8)
                        .await
                        .map_err(|e| format!("PostgreSQL: {e}"))?;
                    pg.migrate().await.map_err(|e| format!("migrations: {e}"))?;
                    let bus = inbox_store_postgres::PgEventBus::connect(pg.clone())
                        .await
                        .map_err(|e| format!("PostgreSQL events: {e}"))?;
                    tracing::info!(
                        "store: PostgreSQL (migrations applied), events by LISTEN/NOTIFY"
                    );
                    (Arc::new(pg.clone()), Arc::new(bus), Arc::new(pg))
                }
                None => {
                    tracing::info!("store: in memory (nothing survives a restart)");
                    let memory = Arc::new(MemoryStore::new());
                    (memory.clone(), Arc::new(MemoryEventBus::new(1024)), memory)
                }
            };
        let mut settings = self.settings;
        if self.database_url.is_none() && settings.secrets.is_none() && settings.operator.is_none()
        {
            // Nothing outlives the memory store: a key of its own lifetime
            // lets connectors' credentials be tried.
            settings.secrets = Some(inbox_http::secrets::SecretBox::ephemeral());
        }
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|e| format!("{}: {e}", self.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let url = format!("http://{addr}");
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut graph_task = None;

        let mut meta = None;
        let mut sends_to = None;
        let mut graph_client = None;
        let transport: Arc<dyn Transport> = match &self.delivery {
            Delivery::Record => {
                tracing::info!("transport: recording (replies are not sent to WhatsApp)");
                Arc::new(RecordingTransport::new())
            }
            Delivery::Simulate {
                status_delay,
                graph_timeout,
                late,
                ..
            } => {
                let channel = self
                    .config
                    .channels
                    .first()
                    .ok_or("simulating needs a number in the configuration")?;
                let fake = FakeMeta::new(SimConfig {
                    inbox_url: url.clone(),
                    webhook_path: format!("/webhooks/whatsapp/{}", channel.id),
                    phone_number_id: channel.phone_number_id.clone(),
                    display_number: channel
                        .display_number
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect(),
                    app_secret: Secret::new(channel.app_secret.clone()),
                    window: chrono::TimeDelta::hours(24),
                    status_delay: *status_delay,
                    late_after: *graph_timeout * 2,
                    late: *late,
                    templates: self.config.templates.iter().map(|t| t.meta()).collect(),
                })?;
                let graph = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| format!("fake Graph API: {e}"))?;
                let graph_url =
                    format!("http://{}", graph.local_addr().map_err(|e| e.to_string())?);
                let routes = fake.router();
                graph_task = Some(tokio::spawn(async move {
                    let _ = axum::serve(graph, routes).await;
                }));
                // Its address is printed after the inbox's, not here.
                tracing::info!("transport: the simulator's fake Graph API");
                tracing::debug!(url = %graph_url, "the fake Graph API");
                meta = Some(fake);
                sends_to = Some(graph_url.clone());
                let mut graph = GraphConfig::new("simulated-token").base_url(graph_url);
                graph.timeout = *graph_timeout;
                graph.connect_timeout = graph.connect_timeout.min(*graph_timeout / 2);
                let client = GraphClient::new(graph).map_err(|e| e.to_string())?;
                graph_client = Some(client.clone());
                Arc::new(client)
            }
            Delivery::CloudApi {
                access_token,
                graph_url,
            } => {
                let mut graph = GraphConfig::new(access_token.clone());
                if let Some(url) = graph_url {
                    graph = graph.base_url(url.clone());
                }
                tracing::info!("transport: the Graph API");
                sends_to = Some(graph.base_url.clone());
                let mut client = GraphClient::new(graph).map_err(|e| e.to_string())?;
                // Numbers the platform operator added send with their own
                // (sealed) tokens.
                if let Some(op) = &settings.operator {
                    let tokens =
                        inbox_http::secrets::StoredTokens::new(store.clone(), op.secrets.clone());
                    client = client.with_token_source(Arc::new(tokens));
                }
                graph_client = Some(client.clone());
                Arc::new(client)
            }
        };
        let inbox = Inbox::new(
            inbox_runtime::ports(store, bus, transport),
            InboxConfig::default(),
        );
        self.config
            .provision(&inbox)
            .await
            .map_err(|e| format!("provisioning: {e}"))?;
        let header_timeout = settings.header_timeout;
        let grace = settings.request_timeout.min(SHUTDOWN_GRACE);
        let mut state =
            app_state(inbox.clone(), &self.config, settings).map_err(|e| e.to_string())?;
        if let Some(connectors) = state.connectors.clone() {
            tasks.push(tokio::spawn(log_to_crms(
                connectors,
                inbox.clone(),
                log,
                self.tick,
                stopped.clone(),
            )));
        }
        // Template syncs and media files read from the Graph API replies go to.
        let media_dir = (self.config.media_dir.clone())
            .unwrap_or_else(|| std::env::temp_dir().join("inbox-media"));
        let kept = inbox_media::ObjectMediaStore::local(&media_dir)
            .map_err(|e| format!("media directory {}: {e}", media_dir.display()))?;
        tracing::info!(dir = %media_dir.display(), "media: kept in a local directory");
        state.media = Some(Arc::new(kept));
        let prefetching = graph_client.is_some();
        state.graph = graph_client;
        if prefetching {
            tasks.push(tokio::spawn(prefetch_media(state.clone(), stopped.clone())));
        }
        let auth = state.auth.clone();
        // Every live event stream ends when the server stops, whoever
        // opened it and however (a built-in session, a bearer token, one
        // opened while stopping): a browser's stream must not hold the
        // shutdown until the grace period is over.
        let app = router(state).layer(axum::middleware::from_fn_with_state(
            stopped.clone(),
            end_streams_at_stop,
        ));

        let mut until_stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = until_stopped.changed().await;
            };
            inbox_http::http::serve(listener, app, header_timeout, grace, shutdown).await;
        }));
        // Settings changed through another instance apply here too.
        let follower = inbox.clone();
        let mut until_stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                () = follower.follow_settings() => {}
                _ = until_stopped.changed() => {}
            }
        }));
        tasks.push(tokio::spawn(work(
            inbox.clone(),
            self.tick,
            stopped.clone(),
        )));
        if let (Some(m), Delivery::Simulate { rate, .. }) = (&meta, &self.delivery) {
            if *rate > 0 {
                tasks.push(tokio::spawn(run_customers(m.clone(), *rate, 7, stopped)));
            }
        }
        Ok(Running {
            url,
            inbox,
            meta,
            graph_url: sends_to,
            stop,
            auth,
            tasks,
            graph: graph_task,
            durable: self.database_url.is_some(),
        })
    }
}

/// How long requests in flight get to finish once the server stops (at
/// most the request timeout): with the final outbox pass, shutting down
/// takes about two seconds, browsers with live streams open or not.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// With PostgreSQL, how long after the stop the final outbox passes go on
/// while they find work (at least one pass runs): what is left stays
/// queued and is sent after the next start. The in-memory store keeps
/// nothing, so there the passes go on until the outbox is empty.
pub const OUTBOX_GRACE: Duration = Duration::from_millis(1500);

/// Ends a live event stream (`text/event-stream`) when the server stops;
/// other answers pass untouched.
async fn end_streams_at_stop(
    State(stopped): State<watch::Receiver<bool>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let streams = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !streams {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut stopped = stopped;
    let stop = async move {
        if stopped.wait_for(|s| *s).await.is_err() {
            // Dropped without a shutdown: the server goes on serving.
            std::future::pending::<()>().await;
        }
    };
    Response::from_parts(
        parts,
        Body::from_stream(body.into_data_stream().take_until(stop)),
    )
}

/// Keeps the file of each new media message soon after it arrives, before
/// Meta's download link expires (one at a time; a failure is logged and
/// the file fetched when an agent opens it), until the stop.
async fn prefetch_media(state: inbox_http::AppState, mut stopped: watch::Receiver<bool>) {
    let mut events = state.inbox.ports().bus.subscribe_all();
    loop {
        let item = tokio::select! {
            item = events.next() => item,
            _ = stopped.changed() => return,
        };
        let Some(item) = item else { return };
        let inbox_core::ports::BusItem::Event(event) = item else {
            continue;
        };
        if let inbox_core::EventKind::MessageReceived { message, content } = &event.kind {
            if !matches!(
                content.as_str(),
                "image" | "video" | "audio" | "voice" | "document" | "sticker"
            ) {
                continue;
            }
            match inbox_http::media::prefetch(&state, &event.tenant, message).await {
                Ok(kept) => tracing::debug!(%message, kept, "media prefetch"),
                Err(e) => {
                    tracing::warn!(%message, code = e.code, error = %e.message, "media prefetch failed; fetched again when viewed")
                }
            }
        }
    }
}

/// Bot turns, timers (SLA, snoozes, automation) and the outbox, every
/// `tick`, until the stop (a pass under way is finished, no other starts).
/// A bot's turn comes due when a customer writes: taken at the next pass
/// (the server's tick is a second), its reply sent in the same pass.
async fn work(inbox: Inbox, tick: Duration, mut stopped: watch::Receiver<bool>) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    let mut purged = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopped.changed() => return,
        }
        // Expired sessions are refused anyway; once an hour they go.
        if purged.elapsed() >= Duration::from_secs(3600) {
            purged = tokio::time::Instant::now();
            if let Err(e) = inbox.purge_sessions().await {
                tracing::warn!(error = %e, "purge sessions");
            }
        }
        if let Err(e) = inbox.run_bots(100).await {
            tracing::warn!(error = %e, "bots");
        }
        let now = inbox.now();
        if let Err(e) = inbox.tick(now, 500).await {
            tracing::warn!(error = %e, "timers");
        }
        // Broadcasts: scheduled ones start, recipients are selected and a
        // batch within each one's rate is queued for the outbox below.
        if let Err(e) = inbox.run_broadcasts(20).await {
            tracing::warn!(error = %e, "broadcasts");
        }
        drain_outbox(&inbox, 100, 20, || !*stopped.borrow()).await;
    }
}

/// Writes conversations on tenants' CRM records (each tenant's `log`
/// policy of its connectors), every `tick` until the stop.
async fn log_to_crms(
    connectors: inbox_connectors::Connectors,
    inbox: Inbox,
    log: Arc<dyn SubscriptionLog>,
    tick: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let logger = inbox_connectors::CrmLogger::new(
        Arc::new(connectors),
        inbox.ports().store.clone(),
        log,
        inbox.clock(),
        inbox_connectors::LogPolicy::default(),
    );
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopped.changed() => return,
        }
        if let Err(e) = logger.pump(200).await {
            tracing::warn!(error = %e, "CRM log");
        }
    }
}

/// Dispatcher passes while they find work (a conversation's queued replies
/// go out one per pass, in order) and `more()` says so, at most `passes`;
/// the first pass always runs.
async fn drain_outbox(inbox: &Inbox, limit: u32, passes: u32, more: impl Fn() -> bool) {
    for _ in 0..passes {
        match inbox.dispatch(limit).await {
            Ok(r) if r.total() > 0 && more() => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "outbox");
                return;
            }
        }
    }
}

impl Running {
    /// Stops: the listener closes, every live event stream ends, requests
    /// in flight get [`SHUTDOWN_GRACE`] to finish (connections then
    /// close), the worker finishes the pass under way and the simulated
    /// customers stop; then the outbox is sent one last time (see
    /// [`OUTBOX_GRACE`]), the fake Graph API last. With browsers open this
    /// takes about two seconds at most, unless a send to the Graph API
    /// hangs (its own timeout bounds it).
    pub async fn shutdown(self) {
        let started = tokio::time::Instant::now();
        let _ = self.stop.send(true);
        // Sign-outs end streams at once too; the middleware ends the rest.
        self.auth.end_streams();
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .is_err()
            {
                tracing::warn!("a task did not stop within 30 s");
            }
        }
        let durable = self.durable;
        drain_outbox(&self.inbox, 1000, 100, || {
            !durable || started.elapsed() < OUTBOX_GRACE
        })
        .await;
        if let Some(g) = self.graph {
            g.abort();
        }
        tracing::info!(took = ?started.elapsed(), "stopped");
    }
}
