//! The server binary's command line: the options keep the names the
//! READMEs use, each has an environment variable, a malformed `--graph-url`
//! is refused (exit code 2), `--graph-url` reaches the transport (a path
//! prefix kept, as a proxy needs), and the first address printed is the
//! inbox's.
//!
//! No test here sets environment variables (tests run in parallel
//! threads); `tests/cli_env.rs` does, alone in its binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use axum::{Json, Router};
use clap::{CommandFactory, Parser};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbox_core::Secret;
use inbox_examples::server::cli::{banner, Cli, Command, DEMO_CONFIG};
use inbox_examples::server::launch::{Delivery, Launch};
use inbox_examples::server::simulator::{FakeMeta, SimConfig, SimContent};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
}

#[test]
fn every_option_has_help_and_an_environment_variable() {
    let cmd = Cli::command();
    let mut seen = Vec::new();
    for arg in cmd.get_arguments() {
        let Some(id) = arg.get_long() else { continue };
        if matches!(id, "help" | "version") {
            continue;
        }
        assert!(arg.get_help().is_some(), "--{id} has no help");
        let env = arg.get_env().unwrap_or_else(|| panic!("--{id}: no env"));
        seen.push(format!("--{id} {}", env.to_string_lossy()));
    }
    assert_eq!(
        seen,
        [
            "--config INBOX_CONFIG",
            "--listen INBOX_LISTEN",
            "--database-url DATABASE_URL",
            "--simulate INBOX_SIMULATE",
            "--rate INBOX_SIMULATE_RATE",
            "--simulate-timeouts INBOX_SIMULATE_TIMEOUTS",
            "--access-token WHATSAPP_ACCESS_TOKEN",
            "--graph-url INBOX_GRAPH_URL",
            "--behind-proxy INBOX_BEHIND_PROXY",
            "--secure-cookies INBOX_SECURE_COOKIES",
            "--operator-token INBOX_OPERATOR_TOKEN",
            "--secret-keys INBOX_SECRET_KEYS",
            "--connectors-url INBOX_CONNECTORS_URL",
            "--media-dir INBOX_MEDIA_DIR",
        ]
    );
    cmd.debug_assert();
    // Secrets are not shown by --help, even when set.
    let help = Cli::command().render_long_help().to_string();
    for hidden in ["[env: DATABASE_URL]", "[env: WHATSAPP_ACCESS_TOKEN]"] {
        assert!(help.contains(hidden), "{help}");
    }
}

#[test]
fn the_options_the_readmes_use_still_parse() {
    // README.md: a real number behind a TLS proxy.
    let cli = parse(&[
        "--config",
        DEMO_CONFIG,
        "--access-token",
        "EAAG-token",
        "--listen",
        "0.0.0.0:8080",
        "--behind-proxy",
    ])
    .unwrap();
    assert_eq!(cli.listen.to_string(), "0.0.0.0:8080");
    assert!(cli.behind_proxy);
    match cli.delivery() {
        Delivery::CloudApi {
            access_token,
            graph_url,
        } => {
            assert_eq!(access_token.expose(), "EAAG-token");
            assert_eq!(graph_url, None);
        }
        other => panic!("{other:?}"),
    }
    let launch = cli.launch().unwrap();
    assert!(launch.settings.behind_proxy && !launch.settings.secure_cookies);

    // The simulator, its rate and its late answers; PostgreSQL.
    let cli = parse(&[
        "--simulate",
        "--rate",
        "3",
        "--simulate-timeouts",
        "0.3",
        "--database-url",
        "postgres://postgres@127.0.0.1:5432/postgres",
        "--secure-cookies",
    ])
    .unwrap();
    assert_eq!(
        cli.database_url.as_deref(),
        Some("postgres://postgres@127.0.0.1:5432/postgres")
    );
    assert!(cli.secure_cookies);
    match cli.delivery() {
        Delivery::Simulate { rate, late, .. } => {
            assert_eq!(rate, 3);
            assert!((late.fraction - 0.3).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }

    // The subcommand.
    let cli = parse(&["hash-password"]).unwrap();
    assert!(matches!(cli.command, Some(Command::HashPassword)));
}

#[test]
fn bad_values_are_refused_with_exit_code_2() {
    for (args, says) in [
        (&["--graph-url", "graph.example.com"][..], "not a URL"),
        (
            &["--graph-url", "ftp://graph.example.com"],
            "needs http or https",
        ),
        (&["--graph-url", "http://"], "not a URL"),
        (&["--graph-url", "https://x.example/?a=1"], "no query"),
        (&["--graph-url", "https://x.example/#f"], "no fragment"),
        (&["--graph-url", "https://u:p@x.example/"], "no credentials"),
        (
            &["--graph-url", "file:///etc/passwd"],
            "needs http or https",
        ),
        (
            &["--simulate", "--graph-url", "http://127.0.0.1:9"],
            "cannot be used with",
        ),
        (&["--simulate-timeouts", "1.5"], "between 0 and 1"),
        (&["--simulate-timeouts", "lots"], "invalid"),
        (&["--listen", "localhost"], "--listen"),
        (&["--rate", "-1"], "'-1'"),
        (&["--bogus"], "--bogus"),
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}");
        let text = err.to_string();
        assert!(text.contains(says), "{args:?}: {text}");
    }
}

#[test]
fn a_graph_url_is_kept_with_its_path_without_its_trailing_slash() {
    for (given, kept) in [
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("http://127.0.0.1:9090/", "http://127.0.0.1:9090"),
        (
            "https://bsp.example/whatsapp/graph/",
            "https://bsp.example/whatsapp/graph",
        ),
    ] {
        let cli = parse(&["--graph-url", given]).unwrap();
        assert_eq!(cli.graph_url.as_deref(), Some(kept));
        // Without a token: the endpoint, with an empty one.
        match cli.delivery() {
            Delivery::CloudApi {
                access_token,
                graph_url,
            } => {
                assert_eq!(access_token.expose(), "");
                assert_eq!(graph_url.as_deref(), Some(kept));
            }
            other => panic!("{other:?}"),
        }
    }
}

/// What a Graph-compatible endpoint received: the path and the
/// `Authorization` header of each send.
type Sends = Arc<Mutex<Vec<(String, String)>>>;

async fn graph_send(State(sends): State<Sends>, uri: Uri, headers: HeaderMap) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut sends = sends.lock().unwrap();
    sends.push((uri.path().to_string(), auth));
    Json(json!({
        "messaging_product": "whatsapp",
        "messages": [{"id": format!("wamid.mock.{}", sends.len())}],
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_to_the_graph_url() {
    // A Graph-compatible endpoint behind a proxy's path prefix.
    let sends = Sends::default();
    let mock = Router::new()
        .route("/proxy/{*rest}", post(graph_send))
        .with_state(sends.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock_url = format!("http://{}/proxy/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, mock).await });

    let cli = parse(&[
        "--listen",
        "127.0.0.1:0",
        "--graph-url",
        &mock_url,
        "--access-token",
        "mock-token",
    ])
    .unwrap();
    let Launch {
        config, delivery, ..
    } = cli.launch().unwrap();
    let channel = config.channels[0].clone();
    let running = Launch {
        config,
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: None,
        delivery: delivery.clone(),
        tick: Duration::from_secs(3600),
        settings: Default::default(),
    }
    .start()
    .await
    .unwrap();
    let graph = mock_url.trim_end_matches('/');
    assert_eq!(running.graph_url.as_deref(), Some(graph));
    let printed = banner(&running, std::slice::from_ref(&channel), &delivery);
    assert!(
        printed.contains(&format!("replies go to the Graph API at {graph}")),
        "{printed}"
    );

    // A customer writes (signed webhooks, as the simulator sends them).
    let customers = FakeMeta::new(SimConfig {
        inbox_url: running.url.clone(),
        webhook_path: format!("/webhooks/whatsapp/{}", channel.id),
        phone_number_id: channel.phone_number_id.clone(),
        display_number: "15550100".into(),
        app_secret: Secret::new(channel.app_secret.clone()),
        window: chrono::TimeDelta::hours(24),
        status_delay: Duration::from_millis(30),
        late_after: Duration::from_secs(6),
        late: Default::default(),
        templates: Vec::new(),
    })
    .unwrap();
    customers
        .customer_writes("34600100001", "Marta", SimContent::Text("¿Hola?".into()))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let ana = common::sign_in_over_http(&http, &running.url, "ana", "ana").await;
    let ana = ana["token"].as_str().unwrap();
    let page = common::json_answer(
        http.get(format!("{}/api/conversations?view=unassigned", running.url))
            .bearer_auth(ana),
    )
    .await;
    let id = page["items"][0]["id"].as_str().unwrap();
    let version = page["items"][0]["version"].clone();
    let claimed = common::json_answer(
        http.post(format!(
            "{}{}",
            running.url,
            common::conversation_path(id, "claim")
        ))
        .bearer_auth(ana)
        .header("idempotency-key", "c1")
        .json(&json!({ "version": version })),
    )
    .await;
    let replied = common::json_answer(
        http.post(format!(
            "{}{}",
            running.url,
            common::conversation_path(id, "reply")
        ))
        .bearer_auth(ana)
        .header("idempotency-key", "r1")
        .json(&json!({"version": common::version(&claimed), "text": "¡Hola!"})),
    )
    .await;
    assert!(replied["message"]["id"].is_string(), "{replied}");
    assert_eq!(running.inbox.dispatch(10).await.unwrap().sent, 1);
    let got = sends.lock().unwrap().clone();
    assert_eq!(
        got,
        [(
            format!("/proxy/v23.0/{}/messages", channel.phone_number_id),
            "Bearer mock-token".to_string()
        )]
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_address_printed_is_the_inbox() {
    let cli = parse(&["--simulate", "--rate", "0", "--listen", "127.0.0.1:0"]).unwrap();
    let launch = cli.launch().unwrap();
    let (channels, delivery) = (launch.config.channels.clone(), launch.delivery.clone());
    let running = launch.start().await.unwrap();
    let printed = banner(&running, &channels, &delivery);
    let first = printed
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap();
    assert_eq!(first, format!("{}/", running.url), "{printed}");
    // The fake Graph API is printed too, after it.
    let graph = running.graph_url.clone().unwrap();
    assert!(
        printed.contains(&format!("fake Graph API at {graph}")),
        "{printed}"
    );
    println!("{printed}");
    running.shutdown().await;
}

#[test]
fn the_operator_needs_the_sealing_keys_and_the_keys_serve_alone() {
    let keys = format!("k1:{}", "ab".repeat(32));
    let token = "an-operator-token-of-length";
    let both = parse(&["--operator-token", token, "--secret-keys", &keys]).unwrap();
    let printed = format!("{both:?}");
    assert!(
        !printed.contains(token) && !printed.contains("abab"),
        "{printed}"
    );
    let settings = both.launch().unwrap().settings;
    assert!(settings.operator.is_some());
    let shown = format!("{:?}", settings.operator);
    assert!(!shown.contains(token) && !shown.contains("abab"), "{shown}");
    let alone = parse(&["--operator-token", token]).unwrap();
    assert!(alone.launch().unwrap_err().contains("needs --secret-keys"));
    // The keys alone seal tenants' connector credentials; no operator.
    let keys_only = parse(&["--secret-keys", &keys])
        .unwrap()
        .launch()
        .unwrap()
        .settings;
    assert!(keys_only.operator.is_none() && keys_only.secrets.is_some());
    assert!(!format!("{keys_only:?}").contains("abab"));
    let short = parse(&["--operator-token", "short", "--secret-keys", &keys]).unwrap();
    assert!(short.launch().unwrap_err().contains("16 characters"));
    let bad = parse(&["--operator-token", token, "--secret-keys", "k1:00"]).unwrap();
    assert!(bad.launch().unwrap_err().contains("64 hex"));
}
