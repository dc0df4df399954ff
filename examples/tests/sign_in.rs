//! Sign-in under password guessing: a bounded number of password hashes at
//! once, rate limits per account and per client address, and a lockout
//! that grows with repeated failures. Time is the inbox's manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use chrono::TimeDelta;

use common::{app, CLIENT};
use inbox_http::settings::{Settings, SignInLimits};

/// A server running at most `concurrent_hashes` password checks at once,
/// with `waiting` more allowed to wait for a slot.
async fn app_hashing(concurrent_hashes: usize, waiting: usize) -> common::App {
    common::app_with(Settings {
        sign_in: SignInLimits {
            concurrent_hashes,
            waiting,
            ..SignInLimits::default()
        },
        ..Settings::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_wrong_passwords_are_mostly_refused_unchecked() {
    let app = app().await;
    let attempts = (0..100).map(|i| {
        let app = &app;
        async move { app.try_sign_in("ana", &format!("guess{i}"), CLIENT).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let checked = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(checked <= 5, "{checked} passwords were checked");
    assert_eq!(checked + limited.len(), 100);
    for (_, body, headers) in limited {
        assert_eq!(body["code"], "too_many_attempts", "{body}");
        let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait >= 1, "{wait}");
    }
    // The right password is refused too while the account is locked ...
    let (s, body, _) = app.try_sign_in("ana", "ana", CLIENT).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // ... and accepted once the lockout is over.
    app.clock.advance(TimeDelta::seconds(31));
    let (s, body, _) = app.try_sign_in("ana", "ana", CLIENT).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_lockout_grows_with_each_failure_and_ends_with_a_success() {
    let app = app().await;
    for i in 0..5 {
        let (s, _, _) = app.try_sign_in("ben", &format!("guess{i}"), CLIENT).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Five failures: locked for 30 s, from any address.
    let (s, _, h) = app.try_sign_in("ben", "ben", "198.51.100.7:1234").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h["retry-after"], "30");
    app.clock.advance(TimeDelta::seconds(30));
    // One more failure doubles it.
    let (s, _, _) = app.try_sign_in("ben", "guess5", CLIENT).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, h) = app.try_sign_in("ben", "ben", CLIENT).await;
    assert_eq!(
        (s, h["retry-after"].to_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, "60")
    );
    app.clock.advance(TimeDelta::seconds(30));
    assert_eq!(
        app.try_sign_in("ben", "ben", CLIENT).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(TimeDelta::seconds(30));
    assert_eq!(
        app.try_sign_in("ben", "ben", CLIENT).await.0,
        StatusCode::OK
    );
    // The success forgot the failures: one wrong password is just wrong.
    assert_eq!(
        app.try_sign_in("ben", "nope", CLIENT).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.try_sign_in("ben", "ben", CLIENT).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_locked_out_alone() {
    let app = app().await;
    let agents = ["ana", "ben", "sam", "ada", "nobody"];
    // Four failures per account (under the account lockout), spaced so the
    // rate limits let them through: twenty failures from one address.
    for round in 0..4 {
        for a in agents {
            let (s, b, _) = app.try_sign_in(a, &format!("guess{round}"), CLIENT).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{a} round {round}: {b}");
            app.clock.advance(TimeDelta::seconds(3));
        }
    }
    let (s, body, _) = app.try_sign_in("sam", "sam", CLIENT).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
        "{body}"
    );
    // Another address signs in to the same accounts.
    assert_eq!(
        app.try_sign_in("sam", "sam", "198.51.100.7:1234").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_behind_a_proxy() {
    let app = app().await;
    // Without a proxy in front, X-Forwarded-For is the client's say-so:
    // a guesser cannot spread over made-up addresses.
    let mut limited = 0;
    for i in 0..40 {
        let mut req = common::post(
            "/api/session",
            None,
            None,
            serde_json::json!({"agent": format!("nobody{i}"), "password": "x"}),
        );
        req.headers_mut()
            .insert("x-forwarded-for", format!("203.0.113.{i}").parse().unwrap());
        if app.call(req).await.0 == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 20, "{limited}");
}

#[tokio::test]
async fn password_checks_wait_for_a_slot_or_are_turned_away() {
    let app = app_hashing(1, 0).await;
    let gate = app.state.hashes.clone();
    let held = gate.try_admit().unwrap();
    assert!(gate.try_admit().is_none());
    let (s, body, h) = app.try_sign_in("ana", "ana", CLIENT).await;
    assert_eq!(
        (s, body["code"].as_str(), h["retry-after"].to_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, Some("sign_in_busy"), "1"),
        "{body}"
    );
    drop(held);
    assert_eq!(
        app.try_sign_in("ana", "ana", CLIENT).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_hashes_run_at_once_than_allowed() {
    let app = app_hashing(2, 64).await;
    let attempts = (0..16).map(|i| {
        let app = &app;
        let agent = ["ana", "ben", "sam", "ada"][i % 4];
        async move {
            app.try_sign_in(agent, "wrong", &format!("198.51.100.{i}:4000"))
                .await
                .0
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    assert!(
        answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    let peak = app.state.hashes.peak();
    assert!((1..=2).contains(&peak), "{peak} hashes ran at once");
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_address_is_the_client() {
    let app = common::app_with(Settings {
        behind_proxy: true,
        ..Settings::default()
    })
    .await;
    // Twenty failures from one forwarded address lock it out; the proxy's
    // own address (the peer) is not what is limited.
    let from = |agent: &str, password: &str, forwarded: &str| {
        let mut req = common::post(
            "/api/session",
            None,
            None,
            serde_json::json!({"agent": agent, "password": password}),
        );
        req.headers_mut().insert(
            "x-forwarded-for",
            format!("10.0.0.1, {forwarded}").parse().unwrap(),
        );
        req
    };
    for round in 0..4 {
        for a in ["ana", "ben", "sam", "ada", "nobody"] {
            let (s, b, _) = app.call(from(a, &format!("g{round}"), "203.0.113.9")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
            app.clock.advance(TimeDelta::seconds(3));
        }
    }
    assert_eq!(
        app.call(from("sam", "sam", "203.0.113.9")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.call(from("sam", "sam", "203.0.113.10")).await.0,
        StatusCode::OK
    );
}
