//! The `wa-decode` command's output and exit behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use inbox_examples::wa_decode::run;
use inbox_whatsapp::{sign, Secret};

fn fixture(name: &str) -> String {
    format!(
        "{}/../inbox-whatsapp/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn prints_one_line_per_item_with_the_documented_fields() {
    let lines = run(
        args(&[&fixture("all_message_types.json")]),
        &mut std::io::empty(),
    )
    .unwrap();
    assert_eq!(lines.len(), 29);
    let text = &lines[0];
    assert_eq!(text["kind"], "message");
    assert_eq!(text["channel"], "550001");
    assert_eq!(text["external_id"], "wamid.text");
    assert_eq!(text["from"], "34611000001");
    assert_eq!(text["user_id"], "ES.bsuid.marta");
    assert_eq!(text["timestamp"], "2025-10-09T08:53:20Z");
    assert_eq!(text["type"], "text");
    let find = |id: &str| {
        lines
            .iter()
            .find(|l| l["external_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(find("wamid.reaction")["removed"], false);
    assert_eq!(find("wamid.unreact")["removed"], true);
    assert_eq!(find("wamid.future")["type"], "unsupported");
    assert_eq!(find("wamid.voice")["type"], "audio");
    assert_eq!(find("wamid.bsuid")["from"], serde_json::Value::Null);
    assert!(lines.iter().any(|l| l["kind"] == "invalid"));

    let lines = run(args(&[&fixture("statuses.json")]), &mut std::io::empty()).unwrap();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "error",
            "status",
            "status",
            "status",
            "status",
            "status",
            "status",
            "status",
            "account_signal",
            "account_signal"
        ]
    );
    let statuses: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "status")
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "sent",
            "delivered",
            "read",
            "played",
            "failed",
            "delivered",
            "unknown"
        ]
    );
    assert_eq!(lines[0]["code"], 131052);
    assert_eq!(lines[8]["signal"]["kind"], "account");
    assert_eq!(lines[8]["signal"]["event"], "VERIFIED_ACCOUNT");
    assert_eq!(lines[9]["signal"]["status"], "APPROVED");
}

#[test]
fn reads_standard_input_and_checks_signatures() {
    let body = std::fs::read(fixture("statuses.json")).unwrap();
    assert_eq!(run(args(&[]), &mut body.as_slice()).unwrap().len(), 10);
    let sig = sign(&Secret::new("s"), &body);
    assert_eq!(
        run(
            args(&["--app-secret", "s", "--signature", &sig]),
            &mut body.as_slice()
        )
        .unwrap()
        .len(),
        10
    );
    let wrong = run(
        args(&["--app-secret", "other", "--signature", &sig]),
        &mut body.as_slice(),
    )
    .unwrap_err();
    assert!(wrong.contains("does not match"), "{wrong}");
    let missing = run(args(&["--app-secret", "s"]), &mut body.as_slice()).unwrap_err();
    assert!(missing.contains("missing"), "{missing}");
}

#[test]
fn refuses_what_is_not_a_webhook() {
    assert!(run(args(&[]), &mut &b"{nope"[..])
        .unwrap_err()
        .contains("invalid JSON"));
    assert!(run(args(&[]), &mut &br#"{"object":"page","entry":[]}"#[..])
        .unwrap_err()
        .contains("not a WhatsApp webhook"));
    assert!(run(args(&["--bogus"]), &mut std::io::empty())
        .unwrap_err()
        .contains("usage"));
    assert!(run(args(&["/no/such/file"]), &mut std::io::empty())
        .unwrap_err()
        .contains("cannot read"));
}
