#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every shipped scenario runs and its expectations hold; broken files are
//! refused with an error that names the line or the field.

use inbox_examples::scenario::{Scenario, ScenarioError};

fn run(text: &str) -> Result<(inbox_examples::scenario::Report, String), ScenarioError> {
    let scenario = Scenario::parse(text)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut out = Vec::new();
    let report = rt.block_on(scenario.run(&mut out))?;
    Ok((report, String::from_utf8(out).unwrap()))
}

#[test]
fn shipped_scenarios_hold() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let (report, out) = run(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                report.expectations >= 3,
                "{}: too few checks",
                path.display()
            );
            // Every line before the summary is one JSON event.
            for line in out.lines().filter(|l| !l.starts_with('#')) {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert!(v["seq"].as_u64().is_some(), "{line}");
            }
            names.push(path.file_stem().unwrap().to_string_lossy().to_string());
        }
    }
    names.sort();
    for required in [
        "round_robin",
        "least_loaded",
        "sticky",
        "vip",
        "after_hours",
        "offline_reassign",
        "sla_breach",
        "window_refusal",
        "queue_drain",
        "settings_midday",
        "tenant_policies",
        "bot_handoff",
        "bot_after_hours",
        "csat_after_resolve",
        "csat_window_closed",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing {required}: {names:?}"
        );
    }
}

#[test]
fn the_same_scenario_prints_the_same_events() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/round_robin.yaml"),
    )
    .unwrap();
    assert_eq!(run(&text).unwrap().1, run(&text).unwrap().1);
}

const BASE: &str = r#"
config:
  channels: [ { id: sales, phone_number_id: "1001" } ]
  agents: [ { id: ana, presence: online } ]
steps:
"#;

#[test]
fn invalid_files_name_the_line_or_the_field() {
    let cases: &[(&str, &[&str])] = &[
        // Not YAML.
        ("config: [\nsteps: {", &["line"]),
        // An unknown field in a step: the path and the line.
        (
            &format!("{BASE}  - customer: {{ from: \"1\", to: sales, txt: hi }}\n"),
            &["steps[0].customer", "txt", "line 6"],
        ),
        // Two things in one step.
        (
            &format!("{BASE}  - after: 5m\n    expect: {{ sent: 0 }}\n"),
            &["steps[0]", "exactly one"],
        ),
        // A bad duration.
        (&format!("{BASE}  - after: soonish\n"), &["steps[0].after", "soonish"]),
        // A rule error names the rule and the field.
        (
            "config:\n  channels: []\n  agents: []\n  routing:\n    rules: [ { name: vip, then: [ { set_priority: extreme } ] } ]\nsteps: []\n",
            &["config.routing", "rule \"vip\"", "then[0].set_priority"],
        ),
        // A settings document of the wrong shape: every section's mistake.
        (
            "config:\n  channels: []\n  agents: []\n  settings:\n    reopen: {kind: sometimes}\n    timers: {follow_up_after: soon}\nsteps: []\n",
            &["config.settings", "timers.follow_up_after", "soon", "reopen"],
        ),
        // Of the right shape, checked as a whole: every bad field named.
        (
            "config:\n  channels: []\n  agents: []\n  settings:\n    sla: {calendar: office, policies: [{id: a}, {id: a}]}\nsteps: []\n",
            &["sla.calendar", "office", "sla.policies[1]"],
        ),
        (
            &format!("{BASE}  - settings: {{ reopen: {{kind: sometimes}} }}\n"),
            &["steps[0].settings", "reopen"],
        ),
        // Settings in one place only.
        (
            "config:\n  channels: []\n  agents: []\n  settings: {}\n  window_warning: 1h\nsteps: []\n",
            &["config", "not also in"],
        ),
    ];
    for (text, wanted) in cases {
        let err = Scenario::parse(text).unwrap_err().to_string();
        for w in *wanted {
            assert!(err.contains(w), "{text:?}: {err:?} lacks {w:?}");
        }
    }
}

#[test]
fn failed_expectations_and_steps_say_which_step() {
    let text = format!(
        "{BASE}  - customer: {{ from: \"34600\", to: sales, text: hi }}\n  - expect: {{ conversation: \"34600\", assignee: ana }}\n"
    );
    let err = run(&text).unwrap_err().to_string();
    assert!(
        err.contains("step 2") && err.contains("assignee is none, expected ana"),
        "{err}"
    );

    let text = format!("{BASE}  - agent: {{ who: ana, do: dance, conversation: \"34600\" }}\n");
    let err = run(&text).unwrap_err().to_string();
    assert!(err.contains("step 1"), "{err}");
}
