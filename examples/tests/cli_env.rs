//! The server's options from environment variables (one test, alone in its
//! binary: it sets the process's environment).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::Parser;

use inbox_examples::server::cli::{Cli, DEMO_CONFIG};
use inbox_examples::server::launch::Delivery;

const VARS: [&str; 10] = [
    "INBOX_CONFIG",
    "INBOX_LISTEN",
    "DATABASE_URL",
    "INBOX_SIMULATE",
    "INBOX_SIMULATE_RATE",
    "INBOX_SIMULATE_TIMEOUTS",
    "WHATSAPP_ACCESS_TOKEN",
    "INBOX_GRAPH_URL",
    "INBOX_BEHIND_PROXY",
    "INBOX_SECURE_COOKIES",
];

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
}

fn set(vars: &[(&str, &str)]) {
    for v in VARS {
        std::env::remove_var(v);
    }
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
}

#[test]
fn every_option_can_come_from_the_environment() {
    set(&[
        ("INBOX_CONFIG", DEMO_CONFIG),
        ("INBOX_LISTEN", "127.0.0.1:0"),
        ("DATABASE_URL", "postgres://db.example/inbox"),
        ("INBOX_SIMULATE", "true"),
        ("INBOX_SIMULATE_RATE", "2"),
        ("INBOX_SIMULATE_TIMEOUTS", "0.5"),
        ("INBOX_BEHIND_PROXY", "1"),
        ("INBOX_SECURE_COOKIES", "yes"),
    ]);
    let cli = parse(&[]).unwrap();
    assert_eq!(cli.listen.to_string(), "127.0.0.1:0");
    assert_eq!(
        cli.database_url.as_deref(),
        Some("postgres://db.example/inbox")
    );
    assert!(cli.simulate && cli.behind_proxy && cli.secure_cookies);
    match cli.delivery() {
        Delivery::Simulate { rate, late, .. } => {
            assert_eq!(rate, 2);
            assert!((late.fraction - 0.5).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
    // The command line wins.
    let cli = parse(&["--listen", "127.0.0.1:9", "--rate", "4"]).unwrap();
    assert_eq!((cli.listen.port(), cli.rate), (9, 4));

    // Flags read false, 0, no and off as off.
    set(&[
        ("INBOX_SIMULATE", "false"),
        ("INBOX_BEHIND_PROXY", "0"),
        ("INBOX_SECURE_COOKIES", "off"),
    ]);
    let cli = parse(&[]).unwrap();
    assert!(!cli.simulate && !cli.behind_proxy && !cli.secure_cookies);
    assert!(matches!(cli.delivery(), Delivery::Record));

    // The Graph API from the environment; an empty database URL is none.
    set(&[
        ("WHATSAPP_ACCESS_TOKEN", "env-token"),
        ("INBOX_GRAPH_URL", "http://127.0.0.1:9090/"),
        ("DATABASE_URL", ""),
    ]);
    let cli = parse(&[]).unwrap();
    match cli.delivery() {
        Delivery::CloudApi {
            access_token,
            graph_url,
        } => {
            assert_eq!(access_token.expose(), "env-token");
            assert_eq!(graph_url.as_deref(), Some("http://127.0.0.1:9090"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cli.launch().unwrap().database_url, None);

    // A malformed value in the environment is refused like one given on
    // the command line, naming the option.
    for (var, value, says) in [
        ("INBOX_GRAPH_URL", "graph.example.com", "--graph-url"),
        ("INBOX_LISTEN", "nowhere", "--listen"),
        ("INBOX_SIMULATE", "perhaps", "--simulate"),
        ("INBOX_SIMULATE_TIMEOUTS", "-0.1", "between 0 and 1"),
    ] {
        set(&[(var, value)]);
        let err = parse(&[]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{var}");
        assert!(err.to_string().contains(says), "{var}: {err}");
    }
    set(&[]);
}
