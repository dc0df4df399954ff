use super::*;
use crate::error::SettingsProblem;
use crate::ids::TeamId;

fn known() -> Known {
    Known::default()
        .with_teams(["sales", "support"])
        .with_agents(["ana", "bo"])
        .with_channels(["main"])
}

fn problems(yaml: &str) -> Vec<SettingsProblem> {
    let settings = TenantSettings::from_yaml(yaml).expect("the document parses");
    match settings.compile(&known()) {
        Err(Error::InvalidSettings { problems }) => problems,
        other => panic!("expected invalid settings, got {other:?}"),
    }
}

fn paths(problems: &[SettingsProblem]) -> Vec<&str> {
    problems.iter().map(|p| p.path.as_str()).collect()
}

const FULL: &str = r#"
routing:
  teams:
    sales: {strategy: round_robin}
    support: {strategy: least_loaded, when_offline: reassign}
  calendars:
    office: {zone: Europe/Madrid, weekdays: ["09:00-13:00", "14:00-18:00"], holidays: [2026-12-25]}
    night: {zone: UTC, weekdays: ["22:00-06:00"]}
  business_hours: office
  rules:
    - name: vip to sales
      on: [message_received]
      when: {all: [{contact_tag: vip}, {channel: main}]}
      then: [{route_to_team: sales}, {assign: {}}]
    - name: after hours
      when: {business_hours: closed}
      then: [{auto_reply: {text: "We open at 9."}}]
      cooldown: 12h
sla:
  calendar: office
  team_calendars: {support: night}
  policies:
    - id: vip
      applies: {tag: vip, team: sales}
      first_response_secs: 300
      business_hours: true
      warn_at_percent: 80
timers: {window_warning_before: 30m, follow_up_after: 1d, auto_resolve_after: 3d}
replies: {assignee_only: true, stale: warn}
reopen: {kind: reopen_within, within_secs: 86400}
canned_responses:
  - {shortcut: hours, text: "Hi {{contact.name}}, we open 9 to 6."}
  - {shortcut: hours, text: "Sales hours are 9 to 5.", owner: {team: sales}}
templates:
  - name: order_update
    language: en_US
    parameters: [{component: {type: body}, count: 2}]
"#;

#[test]
fn a_full_document_compiles_into_the_policy_the_inbox_runs() {
    let settings = TenantSettings::from_yaml(FULL).unwrap();
    let policy = settings.compile(&known()).unwrap();
    assert_eq!(policy.routing.rules.len(), 2);
    assert_eq!(policy.sla.policies[0].id, "vip");
    assert!(policy
        .sla
        .team_calendars
        .contains_key(&TeamId::new("support").unwrap()));
    assert_eq!(
        policy.timers().follow_up_after,
        Some(std::time::Duration::from_secs(86_400))
    );
    assert!(policy.replies().assignee_only);
    assert!(
        policy.replies().claim_on_reply,
        "a field left out keeps its default"
    );
    assert_eq!(policy.reopen(), ReopenPolicy::ReopenWithin(86_400));
    assert_eq!(policy.document.canned_responses.len(), 2);
    assert_eq!(policy.document.templates[0].name, "order_update");
}

#[test]
fn export_then_import_gives_the_same_document() {
    let settings = TenantSettings::from_yaml(FULL).unwrap();
    let yaml = settings.to_yaml().unwrap();
    assert_eq!(TenantSettings::from_yaml(&yaml).unwrap(), settings);
    // And the export of the import is the same text.
    assert_eq!(
        TenantSettings::from_yaml(&yaml).unwrap().to_yaml().unwrap(),
        yaml
    );
}

#[test]
fn an_empty_document_is_the_defaults() {
    let settings = TenantSettings::from_yaml("{}").unwrap();
    assert_eq!(settings, TenantSettings::default());
    let policy = settings.compile(&Known::default()).unwrap();
    assert!(policy.routing.rules.is_empty());
    assert_eq!(policy.timers(), TimerPolicy::default());
    assert_eq!(policy.replies(), ReplyPolicy::default());
    assert_eq!(policy.reopen(), ReopenPolicy::default());
}

#[test]
fn a_misspelt_team_is_named_by_path_with_a_suggestion() {
    let found = problems(
        r#"
routing:
  rules:
    - {name: a, then: [{route_to_team: sales}]}
    - {name: b, then: [{note: hi}]}
    - {name: c, then: [{note: x}, {route_to_team: slaes}]}
"#,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        r#"routing.rules[2].then[1].route_to_team: no team "slaes"; did you mean "sales"?"#
    );
}

#[test]
fn every_bad_field_is_named_not_only_the_first() {
    let found = problems(
        r#"
routing:
  calendars: {office: {zone: Europe/Madrid, weekdays: ["09:00-18:00"]}}
  rules:
    - {name: a, then: [{assign_agent: anna}]}
    - {name: b, when: {regex: {pattern: "(unclosed"}}, then: [{note: x}]}
    - {name: a, when: {team: sopport}, then: [{note: y}]}
sla:
  calendar: ofice
  team_calendars: {nobody: office}
  policies:
    - {id: p, warn_at_percent: 0, first_response_secs: -5}
    - {id: p, warn_at_percent: 80}
canned_responses:
  - {shortcut: "no spaces", text: "Hi {{contact.nmae}}", owner: {agent: zed}}
templates:
  - {name: t, language: en, parameters: []}
  - {name: t, language: en, parameters: []}
"#,
    );
    assert_eq!(
        paths(&found),
        [
            "routing.rules[0].then[0].assign_agent",
            "routing.rules[1].when.regex.pattern",
            "routing.rules[2].name",
            "routing.rules[2].when.team",
            "sla.calendar",
            "sla.team_calendars.nobody",
            "sla.policies[0].first_response_secs",
            "sla.policies[0].warn_at_percent",
            "sla.policies[1].id",
            "sla.policies[1]",
            "canned_responses[0].shortcut",
            "canned_responses[0].text",
            "canned_responses[0].owner.agent",
            "templates[1]",
        ],
        "{found:#?}"
    );
    let text = |path: &str| {
        found
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.reason.clone())
            .unwrap()
    };
    assert!(text("routing.rules[0].then[0].assign_agent").contains(r#"did you mean "ana"?"#));
    assert!(text("routing.rules[2].when.team").contains(r#"did you mean "support"?"#));
    assert!(text("sla.calendar").contains(r#"did you mean "office"?"#));
    assert!(text("canned_responses[0].text").contains(r#"did you mean "contact.name"?"#));
}

#[test]
fn a_name_far_from_every_known_one_gets_no_suggestion() {
    let found = problems("routing: {rules: [{name: a, then: [{route_to_team: billing}]}]}");
    assert_eq!(found[0].reason, r#"no team "billing""#);
}

#[test]
fn shape_errors_name_their_path() {
    let err = TenantSettings::from_yaml("timers: {follow_up_after: soon}").unwrap_err();
    let Error::InvalidSettings { problems } = err else {
        panic!("expected invalid settings");
    };
    assert_eq!(problems[0].path, "timers.follow_up_after");
    let err = TenantSettings::from_yaml("routnig: {}").unwrap_err();
    assert!(err.to_string().contains("routnig"), "{err}");
    let err = TenantSettings::from_yaml("routing: [unclosed").unwrap_err();
    assert_eq!(err.code(), "invalid_settings");
}

#[test]
fn canned_responses_fill_their_variables() {
    let c = CannedResponse {
        shortcut: "hi".into(),
        text: "{{contact.name}} / {{ agent.name }} / {{conversation.id}} / {{contact.phone}} / {{ unclosed".into(),
        owner: CannedOwner::Tenant,
    };
    let v = CannedValues {
        contact_name: "Ana".into(),
        contact_phone: "34600000000".into(),
        agent_name: "Bo".into(),
        conversation_id: "c1".into(),
    };
    assert_eq!(c.render(&v), "Ana / Bo / c1 / 34600000000 / {{ unclosed");
    assert!(c.unknown_variables().is_empty());
}

#[test]
fn calendars_have_windows_per_weekday_holidays_and_special_hours() {
    use chrono::{TimeZone, Utc};
    let doc = TenantSettings::from_yaml(
        r#"
routing:
  calendars:
    office:
      zone: UTC
      weekdays: ["09:00-13:00", "14:00-18:00"]
      friday: ["09:00-15:00"]
      saturday: ["10:00-12:00"]
      holidays: [2026-03-04]
      special: {2026-03-05: ["12:00-13:00"], 2026-03-09: []}
sla: {calendar: office}
"#,
    )
    .unwrap();
    let cal = doc.compile_stored().unwrap().sla.calendar;
    let open =
        |d: u32, h: u32, m: u32| cal.is_open(Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap());
    // Monday 2 March: two windows and a lunch break.
    assert!(open(2, 9, 0) && open(2, 17, 59) && !open(2, 13, 30));
    // Wednesday 4 March, a holiday; Thursday 5, special hours only.
    assert!(!open(4, 10, 0));
    assert!(open(5, 12, 30) && !open(5, 10, 0));
    // Friday 6 March: its own hours; Saturday 7: the morning.
    assert!(open(6, 14, 30) && !open(6, 16, 0));
    assert!(open(7, 11, 0) && !open(7, 13, 0));
    // Monday 9 March: special with no hours is closed.
    assert!(!open(9, 10, 0));
    // Written back, read again: the same document.
    assert_eq!(
        TenantSettings::from_yaml(&doc.to_yaml().unwrap()).unwrap(),
        doc
    );
}

#[test]
fn every_section_of_the_wrong_shape_is_named() {
    let yaml = "timers: {follow_up_after: soon}\nreopen: {kind: sometimes}\nreplies: {assignee_only: true}\n";
    let err = TenantSettings::from_yaml(yaml).unwrap_err();
    let Error::InvalidSettings { problems } = &err else {
        panic!("{err}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["reopen.kind", "timers.follow_up_after"], "{err}");
}

#[test]
fn durations_and_targets_too_long_to_compute_with_are_refused() {
    // Either would overflow the clock arithmetic of the next message.
    let err = TenantSettings::from_yaml("timers: {max_snooze: 300000y}").unwrap_err();
    assert!(err.to_string().contains("timers.max_snooze"), "{err}");
    let doc = TenantSettings::from_yaml(
        "sla: {policies: [{id: a, first_response_secs: 10000000000000}]}",
    )
    .unwrap();
    let err = doc.compile_stored().unwrap_err();
    assert!(
        err.to_string()
            .contains("sla.policies[0].first_response_secs: longer than"),
        "{err}"
    );
}

#[test]
fn auto_reply_templates_are_checked_against_the_tenants_templates() {
    let rules = |template: &str| {
        format!(
            "routing:\n  rules:\n    - {{name: away, then: [{{auto_reply: {{template: {template}}}}}]}}\n\
             templates:\n  - {{name: away, language: en, parameters: [{{component: {{type: body}}, count: 1}}]}}\n\
             \x20 - {{name: promo, language: en, parameters: [], status: PAUSED}}\n"
        )
    };
    let at = "routing.rules[0].then[0].auto_reply.template";
    let cases = [
        ("{name: awya, language: en, params: [x]}", "name"),
        ("{name: away, language: es, params: [x]}", "name"),
        ("{name: away, language: en, params: []}", "params"),
        ("{name: away, language: en, params: [x, y]}", "params"),
        ("{name: promo, language: en}", "name"),
    ];
    for (template, field) in cases {
        let found = problems(&rules(template));
        assert_eq!(
            paths(&found),
            [format!("{at}.{field}")],
            "{template}: {found:#?}"
        );
    }
    let fine =
        TenantSettings::from_yaml(&rules("{name: away, language: en, params: [x]}")).unwrap();
    assert!(fine.compile(&known()).is_ok());
    // A stored document is not refused when Meta pauses its template later.
    let paused = TenantSettings::from_yaml(&rules("{name: promo, language: en}")).unwrap();
    assert!(paused.compile_stored().is_ok());
    // With no templates listed, nothing to check against.
    let free = "routing:\n  rules:\n    - {name: away, then: [{auto_reply: {template: {name: any, language: en}}}]}\n";
    assert!(TenantSettings::from_yaml(free)
        .unwrap()
        .compile(&known())
        .is_ok());
}
