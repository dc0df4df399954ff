//! Contacts imported from a list: checked row by row with a report by
//! line and field, applied once, idempotent.

use crate::model::ConsentSource;
use crate::testing::conformance::support::*;
use crate::ImportRow;

fn row(line: u32, wa: &str) -> ImportRow {
    ImportRow {
        line,
        wa_id: Some(wa.into()),
        ..ImportRow::default()
    }
}

/// Good rows create or update customers (name only where the team named
/// none, tags added, attributes set, consent when newer, with its source);
/// bad rows are refused by line and field and change nothing; the same
/// list again changes nothing; agents may not import.
pub(crate) async fn import_rows_validated_and_idempotent<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    // A customer who already wrote.
    let c = says(&f, "1001", "i1", "34600111333", "hola").await;
    let known = f.store.conversation(&f.acme(), &c).await.unwrap().contact;
    let day_ago = f.clock.now() - TimeDelta::days(1);
    let mut rows = vec![
        ImportRow {
            name: Some("Marta Ruiz".into()),
            tags: vec!["VIP".into(), "vip".into()],
            attributes: [("plan".to_string(), "gold".to_string())].into(),
            consent: Some(true),
            consent_at: Some(day_ago),
            ..row(2, "+34 600-111 222")
        },
        row(3, "12ab"),
        ImportRow {
            line: 4,
            ..ImportRow::default()
        },
        row(5, "34600111222"),
        ImportRow {
            name: Some("Luis".into()),
            tags: vec!["newsletter".into()],
            consent: Some(false),
            ..row(6, "34600111333")
        },
        ImportRow {
            consent: Some(true),
            consent_at: Some(f.clock.now() + TimeDelta::days(1)),
            ..row(7, "34600111444")
        },
        ImportRow {
            consent_at: Some(day_ago),
            ..row(8, "34600111555")
        },
        ImportRow {
            user_id: Some("US.1234567890".into()),
            wa_id: None,
            ..row(9, "")
        },
    ];
    let sam = f.actor("sam");
    let report = f.inbox.import_contacts(&sam, &rows).await.unwrap();
    assert_eq!(
        (
            report.rows,
            report.created,
            report.updated,
            report.unchanged,
            report.refused
        ),
        (8, 2, 1, 0, 5),
        "{report:?}"
    );
    let refused: Vec<(u32, &str)> = report
        .problems
        .iter()
        .map(|p| (p.line, p.field.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (3, "phone"),
            (4, "phone"),
            (5, "phone"),
            (7, "consent_at"),
            (8, "consent_at")
        ]
    );
    assert!(
        report.problems[2].problem.contains("line 2"),
        "{:?}",
        report.problems[2]
    );
    let marta = f
        .store
        .find_contact(&f.acme(), &ContactIdentity::wa("34600111222"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marta.display_name.as_deref(), Some("Marta Ruiz"));
    assert_eq!(marta.tags, ["vip"]);
    assert_eq!(
        marta.attributes.get("plan").map(String::as_str),
        Some("gold")
    );
    let choice = marta.marketing.clone().unwrap();
    assert!(choice.opted_in && !choice.stopped);
    assert_eq!((choice.source, choice.at), (ConsentSource::Import, day_ago));
    let luis = f.store.contact(&f.acme(), &known).await.unwrap();
    assert_eq!(luis.display_name.as_deref(), Some("Luis"));
    assert!(!luis.accepts_marketing());
    assert!(f
        .store
        .find_contact(&f.acme(), &ContactIdentity::user("US.1234567890"))
        .await
        .unwrap()
        .is_some());
    // The same list again: nothing changes.
    let again = f.inbox.import_contacts(&sam, &rows).await.unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged, again.refused),
        (0, 0, 3, 5)
    );
    assert_eq!(
        f.store.contact(&f.acme(), &known).await.unwrap().version,
        luis.version
    );
    // An older consent never undoes a newer choice; the team's name stays.
    rows[4] = ImportRow {
        name: Some("Other".into()),
        consent: Some(true),
        consent_at: Some(day_ago),
        ..row(6, "34600111333")
    };
    let older = f.inbox.import_contacts(&sam, &rows[4..5]).await.unwrap();
    assert_eq!(older.unchanged, 1);
    let created = events(&f)
        .await
        .iter()
        .filter(|e| {
            matches!(e.kind, EventKind::ContactCreated { .. })
                && e.actor == EventActor::Agent(sam.agent.clone())
        })
        .count();
    assert_eq!(created, 2);
    let refused = f.inbox.import_contacts(&f.actor("ana"), &rows).await;
    assert_eq!(refused.unwrap_err().code(), "forbidden");
}
