//! Starting and stopping the whole server: store, transport (recording,
//! simulated or the real Cloud API), HTTP, the timer and outbox worker, the
//! simulated customers. The `server` example and the tests share it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use inbox_core::ports::{EventBus, Store, Transport};
use inbox_core::testing::RecordingTransport;
use inbox_core::{Inbox, InboxConfig, Secret};
use inbox_store_memory::{MemoryEventBus, MemoryStore};
use inbox_whatsapp::{GraphClient, GraphConfig};

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
    /// To the WhatsApp Cloud API.
    CloudApi {
        /// The access token.
        access_token: Secret,
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
    /// How often timers fire and the outbox is sent.
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
    stop: watch::Sender<bool>,
    auth: Arc<Auth>,
    tasks: Vec<JoinHandle<()>>,
    /// The fake Graph API, stopped last.
    graph: Option<JoinHandle<()>>,
}

impl Launch {
    /// Opens the store, provisions the configuration, binds and serves.
    pub async fn start(self) -> Result<Running, String> {
        // With PostgreSQL, live events go through LISTEN/NOTIFY, so several
        // server instances on one database see each other's changes.
        let (store, bus): (Arc<dyn Store>, Arc<dyn EventBus>) = match &self.database_url {
            Some(url) => {
                let pg = inbox_store_postgres::PgStore::connect(url, 8)
                    .await
                    .map_err(|e| format!("PostgreSQL: {e}"))?;
                pg.migrate().await.map_err(|e| format!("migrations: {e}"))?;
                let bus = inbox_store_postgres::PgEventBus::connect(pg.clone())
                    .await
                    .map_err(|e| format!("PostgreSQL events: {e}"))?;
                tracing::info!("store: PostgreSQL (migrations applied), events by LISTEN/NOTIFY");
                (Arc::new(pg), Arc::new(bus))
            }
            None => {
                tracing::info!("store: in memory (nothing survives a restart)");
                (
                    Arc::new(MemoryStore::new()),
                    Arc::new(MemoryEventBus::new(1024)),
                )
            }
        };
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|e| format!("{}: {e}", self.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let url = format!("http://{addr}");
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut graph_task = None;

        let mut meta = None;
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
                tracing::info!(url = %graph_url, "transport: the simulator's fake Graph API");
                meta = Some(fake);
                let mut graph = GraphConfig::new("simulated-token").base_url(graph_url);
                graph.timeout = *graph_timeout;
                graph.connect_timeout = graph.connect_timeout.min(*graph_timeout / 2);
                Arc::new(GraphClient::new(graph).map_err(|e| e.to_string())?)
            }
            Delivery::CloudApi { access_token } => {
                tracing::info!("transport: the WhatsApp Cloud API");
                Arc::new(
                    GraphClient::new(GraphConfig::new(access_token.clone()))
                        .map_err(|e| e.to_string())?,
                )
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
        let header_timeout = self.settings.header_timeout;
        let grace = self.settings.request_timeout;
        let state =
            app_state(inbox.clone(), &self.config, self.settings).map_err(|e| e.to_string())?;
        let auth = state.auth.clone();
        let app = router(state);

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
            stop,
            auth,
            tasks,
            graph: graph_task,
        })
    }
}

/// Timers (SLA, snoozes, automation) and the outbox, every `tick`.
async fn work(inbox: Inbox, tick: Duration, mut stopped: watch::Receiver<bool>) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopped.changed() => return,
        }
        let now = inbox.now();
        if let Err(e) = inbox.tick(now, 500).await {
            tracing::warn!(error = %e, "timers");
        }
        drain_outbox(&inbox, 100, 20).await;
    }
}

/// Dispatcher passes while they find work (a conversation's queued replies
/// go out one per pass, in order), at most `passes`.
async fn drain_outbox(inbox: &Inbox, limit: u32, passes: u32) {
    for _ in 0..passes {
        match inbox.dispatch(limit).await {
            Ok(r) if r.total() > 0 => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "outbox");
                return;
            }
        }
    }
}

impl Running {
    /// Stops accepting requests, lets those in flight finish, stops the
    /// worker and the simulated customers, then sends what is left in the
    /// outbox: nothing committed is lost.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        // Live event streams never finish by themselves: end them, so the
        // connections carrying them can close.
        self.auth.end_streams();
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .is_err()
            {
                tracing::warn!("a task did not stop within 30 s");
            }
        }
        drain_outbox(&self.inbox, 1000, 100).await;
        if let Some(g) = self.graph {
            g.abort();
        }
    }
}
