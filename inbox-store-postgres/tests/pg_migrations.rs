//! Migrations keep what is stored: rows written by the schema before a
//! migration read back the same after it, and the columns a migration
//! fills from the stored documents hold what the store writes for the
//! same entity now; tables a migration renames keep their rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use std::path::Path;

use inbox_core::model::{
    Author, Content, Conversation, ConversationStatus, Direction, Message, ReplyContext,
    ResponseTime,
};
use inbox_core::ports::{
    Changeset, Conversations, Messages, SubscriptionDeadLetter, SubscriptionKey, SubscriptionLog,
    SubscriptionRetry, Write,
};
use inbox_core::sla::{SlaState, SlaTarget, SlaTargetKind, SlaTargetState};
use inbox_core::{
    AgentId, ChannelId, ContactId, ConversationId, Event, EventActor, EventKind, MessageId,
    TenantId,
};
use inbox_store_postgres::PgStore;

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// Applies the store's migrations older than `version` (their files
/// copied aside, so that the full set applied later finds them intact).
async fn migrate_before(pool: &PgPool, version: i64) {
    let dir = std::env::temp_dir().join(format!("inbox-migrations-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(MIGRATIONS).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let v: i64 = name.split('_').next().unwrap().parse().unwrap();
        if v < version {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    Migrator::new(Path::new(&dir))
        .await
        .unwrap()
        .run(pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A new database (its URL and a pool on it) with the migrations older
/// than `version` applied; `None` where PostgreSQL tests are skipped.
async fn database_before(version: i64) -> Option<(String, PgPool)> {
    let url = common::empty_database().await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    migrate_before(&pool, version).await;
    Some((url, pool))
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn target(kind: SlaTargetKind, due: DateTime<Utc>, state: SlaTargetState) -> SlaTarget {
    SlaTarget {
        kind,
        started_at: at(9, 0),
        due_at: due,
        warn_at: due - TimeDelta::minutes(5),
        warned: false,
        state,
    }
}

/// Conversations with every report fact: none at all, a first response
/// and SLA targets in each state, a resolution after a reopening, an SLA
/// without targets.
fn conversations() -> Vec<Conversation> {
    let t = tenant();
    let new = |n: usize| Conversation {
        version: 1,
        ..Conversation::new(
            t.clone(),
            ConversationId::new(format!("conv-{n}")).unwrap(),
            ChannelId::new("sales").unwrap(),
            ContactId::new(format!("k-{n}")).unwrap(),
            at(9, 0),
        )
    };
    let plain = new(0);
    let mut answered = new(1);
    answered.assignee = Some(AgentId::new("ana").unwrap());
    answered.first_response_at = Some(at(9, 7) + TimeDelta::milliseconds(900));
    answered.first_response_business_secs = Some(420);
    // (the report columns use NULL for what is unknown; `concat_ws` below
    // leaves NULLs out)
    answered.waiting_since = Some(at(9, 30));
    answered.sla = Some(SlaState {
        policy: "std \"gold\"".into(),
        targets: vec![
            target(
                SlaTargetKind::FirstResponse,
                at(9, 10),
                SlaTargetState::Met { at: at(9, 7) },
            ),
            target(
                SlaTargetKind::NextResponse,
                at(9, 20),
                SlaTargetState::Breached { at: at(9, 20) },
            ),
            target(
                SlaTargetKind::NextResponse,
                at(9, 50),
                SlaTargetState::Active,
            ),
            target(
                SlaTargetKind::Resolution,
                at(17, 0),
                SlaTargetState::Paused {
                    remaining_secs: 600,
                    warn_remaining_secs: Some(300),
                },
            ),
        ],
    });
    let mut resolved = new(2);
    resolved.status = ConversationStatus::Resolved;
    resolved.resolved_at = Some(at(11, 0));
    resolved.resolution_business_secs = Some(3600);
    resolved.reopen_count = 2;
    let mut empty_sla = new(3);
    empty_sla.sla = Some(SlaState {
        policy: "none yet".into(),
        targets: vec![],
    });
    vec![plain, answered, resolved, empty_sla]
}

fn messages() -> Vec<Message> {
    let t = tenant();
    let base = Message {
        tenant: t,
        id: MessageId::new("m-in").unwrap(),
        conversation: ConversationId::new("conv-1").unwrap(),
        channel: ChannelId::new("sales").unwrap(),
        direction: Direction::Inbound,
        author: Author::Customer(ContactId::new("k-1").unwrap()),
        content: Content::text("hello"),
        external_id: Some("wamid.1".into()),
        idempotency_key: None,
        context: ReplyContext::default(),
        mentions: vec![],
        sent_at: at(9, 0),
        created_at: at(9, 0),
        delivery: None,
        response: None,
        origin: Default::default(),
    };
    let reply = Message {
        response: Some(ResponseTime {
            secs: 420,
            business_secs: 400,
            first: false,
        }),
        ..by_agent(&base, "m-out", Direction::Outbound, "ana", "hi", "k1")
    };
    let note = by_agent(&base, "m-note", Direction::Note, "ben", "vip", "k2");
    vec![base, reply, note]
}

/// `base` as message `id` in `direction`, written by `agent` with an
/// idempotency key.
fn by_agent(
    base: &Message,
    id: &str,
    direction: Direction,
    agent: &str,
    text: &str,
    key: &str,
) -> Message {
    Message {
        id: MessageId::new(id).unwrap(),
        direction,
        author: Author::Agent(AgentId::new(agent).unwrap()),
        content: Content::text(text),
        external_id: None,
        idempotency_key: Some(key.into()),
        ..base.clone()
    }
}

/// Each message's id and the columns generated from its document, in id
/// order, joined with `|`.
async fn message_columns(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT concat_ws('|', message_id, author_agent, direction, next_response_secs, next_response_business_secs) \
         FROM inbox_messages ORDER BY message_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Writes `c` as the store did before migration 17 (a `jsonb` document).
async fn insert_conversation_v16(pool: &PgPool, c: &Conversation) {
    sqlx::query(
        "INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, assignee, team_id, \
         priority_rank, tags, last_activity_us, created_us, waiting_us, version, data) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 1, '{}', $7, $8, $9, $10, $11::jsonb)",
    )
    .bind(c.tenant.as_str())
    .bind(c.id.as_str())
    .bind(c.channel.as_str())
    .bind(c.contact.as_str())
    .bind(c.status.as_str())
    .bind(c.assignee.as_ref().map(|a| a.as_str()))
    .bind(micros(c.last_activity_at))
    .bind(micros(c.created_at))
    .bind(c.waiting_since.map(micros))
    .bind(c.version as i64)
    .bind(serde_json::to_string(c).unwrap())
    .execute(pool)
    .await
    .unwrap();
}

/// The report columns of a conversation row, as text.
async fn report_columns(pool: &PgPool, id: &str) -> String {
    sqlx::query(
        "SELECT concat_ws('|', first_response_secs, resolution_secs, first_response_business_secs, \
         resolution_business_secs, reopen_count, sla_policy, sla_kinds::text, sla_states::text, \
         sla_warn_us::text, sla_due_us::text, pg_typeof(data)::text) \
         FROM inbox_conversations WHERE tenant_id = 'acme' AND conversation_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn documents_stored_before_migrations_16_and_17_read_the_same_and_report_the_same() {
    let Some((url, pool)) = database_before(20261202000016).await else {
        return;
    };
    sqlx::query("INSERT INTO inbox_tenants (tenant_id, name) VALUES ('acme', 'Acme')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO inbox_channels (tenant_id, channel_id, phone_number_id, data) VALUES ('acme', 'sales', '1001', $1::jsonb)",
    )
    .bind(
        serde_json::to_string(&inbox_core::model::Channel::new(
            tenant(),
            ChannelId::new("sales").unwrap(),
            "1001",
            "+34 600 1001",
        ))
        .unwrap(),
    )
    .execute(&pool)
    .await
    .unwrap();
    for c in conversations() {
        insert_conversation_v16(&pool, &c).await;
    }
    for m in messages() {
        sqlx::query(
            "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, idempotency_key, data, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)",
        )
        .bind(m.tenant.as_str())
        .bind(m.id.as_str())
        .bind(m.conversation.as_str())
        .bind(m.channel.as_str())
        .bind(m.external_id.as_deref())
        .bind(m.idempotency_key.as_deref())
        .bind(serde_json::to_string(&m).unwrap())
        .bind(m.content.text_body())
        .execute(&pool)
        .await
        .unwrap();
    }
    let generated = message_columns(&pool).await;

    // The rest of the migrations, as a deployment's upgrade runs them.
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let t = tenant();

    // Messages: the same documents, the columns the server had generated
    // kept as they were.
    for m in messages() {
        assert_eq!(store.message(&t, &m.id).await.unwrap(), m);
    }
    let kept = message_columns(&pool).await;
    assert_eq!(kept, generated);
    assert_eq!(
        generated,
        [
            "m-in|inbound",
            "m-note|ben|note",
            "m-out|ana|outbound|420|400"
        ]
    );

    // Conversations: the same documents, and the report columns filled
    // from them hold what the store writes for the same conversation today
    // (a copy under another id and contact, committed through the store).
    for c in conversations() {
        assert_eq!(store.conversation(&t, &c.id).await.unwrap(), c);
        let mut copy = c.clone();
        copy.id = ConversationId::new(format!("{}-now", c.id)).unwrap();
        copy.contact = ContactId::new(format!("{}-now", c.contact)).unwrap();
        let mut today = Changeset::new(t.clone());
        today.conversation = Some(Write {
            value: copy.clone(),
            expected_version: None,
        });
        store.commit(today).await.unwrap();
        let migrated = report_columns(&pool, c.id.as_str()).await;
        assert_eq!(migrated, report_columns(&pool, copy.id.as_str()).await);
        assert!(migrated.ends_with("|json"), "{migrated}");
    }
    assert_eq!(
        report_columns(&pool, "conv-1").await,
        format!(
            "420|420|0|std \"gold\"|{{first_response,next_response,next_response,resolution}}|{{met,breached,active,paused}}|{{{},{},{},{}}}|{{{},{},{},{}}}|json",
            micros(at(9, 5)),
            micros(at(9, 15)),
            micros(at(9, 45)),
            micros(at(16, 55)),
            micros(at(9, 10)),
            micros(at(9, 20)),
            micros(at(9, 50)),
            micros(at(17, 0)),
        )
    );
    assert_eq!(report_columns(&pool, "conv-2").await, "7200|3600|2|json");
    assert_eq!(
        report_columns(&pool, "conv-3").await,
        "0|none yet|{}|{}|{}|{}|json"
    );
    assert_eq!(report_columns(&pool, "conv-0").await, "0|json");
    store.close().await;
    pool.close().await;
}

/// Subscription state stored before migration 20 (under the tables' old
/// "webhook" names) is the same after it: the position, a retry (still
/// due, earliest first) and a dead letter.
#[tokio::test]
async fn subscription_state_stored_before_migration_20_is_kept() {
    let Some((url, pool)) = database_before(20261208000020).await else {
        return;
    };
    let t = tenant();
    let event = |seq: u64| {
        let mut e = Event::new(
            t.clone(),
            at(9, 0),
            EventActor::System,
            EventKind::Integration {
                name: "crm.lead".into(),
                data: [("seq".to_string(), seq.to_string())].into(),
            },
        );
        e.seq = seq;
        e
    };
    let retry = SubscriptionRetry {
        subscription: "crm".into(),
        event: event(4),
        attempts: 2,
        due: at(9, 30),
        last_error: "HTTP 503".into(),
    };
    let dead = SubscriptionDeadLetter {
        subscription: "crm".into(),
        event: event(5),
        attempts: 8,
        last_error: "HTTP 410".into(),
        failed_at: at(9, 10),
    };
    sqlx::query(
        "INSERT INTO inbox_webhook_positions (tenant_id, subscription, position) VALUES ('acme', 'crm', 7)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (seq, is_dead, due, data) in [
        (
            4,
            false,
            Some(retry.due.timestamp_micros()),
            serde_json::to_value(&retry).unwrap(),
        ),
        (5, true, None, serde_json::to_value(&dead).unwrap()),
    ] {
        sqlx::query(
            "INSERT INTO inbox_webhook_deliveries (tenant_id, subscription, seq, dead, due_us, data) \
             VALUES ('acme', 'crm', $1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(is_dead)
        .bind(due)
        .bind(data)
        .execute(&pool)
        .await
        .unwrap();
    }

    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let crm = SubscriptionKey::of(&t, "crm");
    assert_eq!(store.subscription_position(crm).await.unwrap(), Some(7));
    assert_eq!(
        store
            .subscription_due_retries(crm, at(10, 0), 10)
            .await
            .unwrap(),
        vec![retry]
    );
    assert_eq!(
        store.subscription_dead_letters(crm).await.unwrap(),
        vec![dead]
    );
    store.close().await;
    pool.close().await;
}

/// Writes the tenant `acme` and its channel `sales` (number `1001`).
async fn insert_tenant_and_channel(pool: &PgPool) {
    sqlx::query("INSERT INTO inbox_tenants (tenant_id, name) VALUES ('acme', 'Acme')")
        .execute(pool)
        .await
        .unwrap();
    let channel = inbox_core::model::Channel::new(
        tenant(),
        ChannelId::new("sales").unwrap(),
        "1001",
        "+34 600 1001",
    );
    sqlx::query(
        "INSERT INTO inbox_channels (tenant_id, channel_id, phone_number_id, data) VALUES ('acme', 'sales', '1001', $1::jsonb)",
    )
    .bind(serde_json::to_string(&channel).unwrap())
    .execute(pool)
    .await
    .unwrap();
}

/// What `text` finds in every status, by conversation id.
async fn search_ids(store: &PgStore, text: &str) -> Vec<String> {
    use inbox_core::ports::Reports;
    let q = inbox_core::query::SearchQuery {
        text: text.into(),
        filter: Default::default(),
        after: None,
        limit: 10,
    };
    let page = store.search(&tenant(), &q).await.unwrap();
    page.items
        .iter()
        .map(|h| h.conversation.id.to_string())
        .collect()
}

#[tokio::test]
async fn rows_stored_before_migration_25_are_reindexed_for_search() {
    let Some((url, pool)) = database_before(20261214000025).await else {
        return;
    };
    insert_tenant_and_channel(&pool).await;
    let contact = inbox_core::model::Contact {
        tenant: tenant(),
        id: ContactId::new("k-1").unwrap(),
        identity: inbox_core::model::ContactIdentity::wa("34600111222"),
        profile_name: Some("João Silva".into()),
        username: None,
        marketing: None,
        app_name: None,
        app_name_at: None,
        display_name: None,
        tags: vec!["vip".into()],
        attributes: [("city".to_string(), "São Paulo".to_string())].into(),
        created_at: at(9, 0),
        merged_into: None,
        version: 1,
    };
    sqlx::query(
        "INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, version, data) VALUES ('acme', 'k-1', $1, 1, $2::jsonb)",
    )
    .bind(contact.identity.wa_id.as_deref())
    .bind(serde_json::to_string(&contact).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let mut c = conversations().remove(1);
    c.tags = vec!["devolução".into()];
    sqlx::query(
        "INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, priority_rank, tags, \
         last_activity_us, created_us, version, data) VALUES ('acme', $1, 'sales', 'k-1', $2, 1, $3, $4, $5, 1, $6::json)",
    )
    .bind(c.id.as_str())
    .bind(c.status.as_str())
    .bind(&c.tags)
    .bind(micros(c.last_activity_at))
    .bind(micros(c.created_at))
    .bind(serde_json::to_string(&c).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    // More messages than one re-indexing batch holds, the last one saying
    // something worth finding.
    sqlx::query(
        "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, data, body, direction) \
         SELECT 'acme', 'm-' || lpad(n::text, 4, '0'), $1, 'sales', $2::json, 'hello ' || n, 'inbound' \
         FROM generate_series(1, 1200) AS n",
    )
    .bind(c.id.as_str())
    .bind(serde_json::to_string(&messages()[0]).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let mut m = messages().remove(0);
    m.id = MessageId::new("m-9999").unwrap();
    m.conversation = c.id.clone();
    m.content = Content::text("Olá, meu TELEFONE é outro");
    sqlx::query(
        "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, data, body, direction) \
         VALUES ('acme', $1, $2, 'sales', $3::json, $4, 'inbound')",
    )
    .bind(m.id.as_str())
    .bind(c.id.as_str())
    .bind(serde_json::to_string(&m).unwrap())
    .bind(m.content.text_body())
    .execute(&pool)
    .await
    .unwrap();

    // The migration, then the store's re-indexing (`migrate` does both).
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let id = c.id.to_string();
    for text in [
        "joao",
        "JOÃO",
        "sao paulo",
        "vip",
        "devolucao",
        "telefone e",
        "ola",
    ] {
        assert_eq!(search_ids(&store, text).await, vec![id.clone()], "{text:?}");
    }
    let done: Vec<(String, i16, bool)> =
        sqlx::query_as("SELECT table_name, version, done FROM inbox_search_reindex ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    let v = inbox_core::search::WORDS_VERSION;
    assert!(
        done.iter().all(|(_, version, done)| *version == v && *done),
        "{done:?}"
    );
    assert_eq!(done.len(), 3);
    assert_eq!(store.reindex_search().await.unwrap(), 0, "nothing left");

    // A later version of the rules re-indexes everything again.
    sqlx::query("UPDATE inbox_search_reindex SET version = 0")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE inbox_messages SET tsv = ''")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(store.reindex_search().await.unwrap(), 1201 + 1 + 1);
    assert_eq!(search_ids(&store, "telefone").await, [id]);
}

#[tokio::test]
async fn contacts_stored_before_migration_26_are_found_by_their_parent_user_id() {
    let Some((url, pool)) = database_before(20261215000026).await else {
        return;
    };
    insert_tenant_and_channel(&pool).await;
    let mut identity = inbox_core::model::ContactIdentity::user("ES.portfolio1");
    identity.parent_user_id = Some("ES.ENT.marta".into());
    let contact = inbox_core::model::Contact {
        tenant: tenant(),
        id: ContactId::new("k-1").unwrap(),
        identity,
        profile_name: Some("Marta".into()),
        username: Some("marta.ruiz".into()),
        marketing: None,
        app_name: None,
        app_name_at: None,
        display_name: None,
        tags: vec![],
        attributes: Default::default(),
        created_at: at(9, 0),
        merged_into: None,
        version: 1,
    };
    sqlx::query(
        "INSERT INTO inbox_contacts (tenant_id, contact_id, user_id, version, data) VALUES ('acme', 'k-1', $1, 1, $2::jsonb)",
    )
    .bind(contact.identity.user_id.as_deref())
    .bind(serde_json::to_string(&contact).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    // The customer writes to a number of a linked portfolio: another BSUID,
    // the same parent.
    let mut other = inbox_core::model::ContactIdentity::user("ES.portfolio2");
    other.parent_user_id = Some("ES.ENT.marta".into());
    let request = inbox_core::ports::IngestRequest {
        tenant: &tenant(),
        channel: &ChannelId::new("sales").unwrap(),
        identity: &other,
        external_id: "wamid.new",
    };
    let found = store.ingest_context(request).await.unwrap().contact;
    assert_eq!(found.map(|k| k.id.to_string()), Some("k-1".into()));
}

#[tokio::test]
async fn messages_stored_before_migration_27_are_priced_by_their_sent_time() {
    let Some((url, pool)) = database_before(20261216000027).await else {
        return;
    };
    insert_tenant_and_channel(&pool).await;
    let mut messages = messages();
    let pricing = inbox_core::model::Pricing {
        model: Some("PMP".into()),
        category: Some("marketing".into()),
        kind: Some("regular".into()),
        billable: None,
    };
    let mut delivery = inbox_core::model::DeliveryState::pending(at(9, 5));
    delivery.pricing = Some(pricing.clone());
    messages[1].delivery = Some(delivery);
    messages[1].sent_at = at(9, 5) + TimeDelta::microseconds(7);
    for m in &messages {
        sqlx::query(
            "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, data, direction, author_agent) \
             VALUES ('acme', $1, 'conv-1', 'sales', $2::json, $3, $4)",
        )
        .bind(m.id.as_str())
        .bind(serde_json::to_string(m).unwrap())
        .bind(serde_json::to_value(m.direction).unwrap().as_str().unwrap().to_string())
        .bind(match &m.author {
            Author::Agent(a) => Some(a.to_string()),
            _ => None,
        })
        .execute(&pool)
        .await
        .unwrap();
    }
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let rows: Vec<(String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT message_id, sent_us, pricing::text FROM inbox_messages ORDER BY message_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let written = serde_json::to_value(&pricing).unwrap();
    let read = |p: &Option<String>| {
        p.as_deref()
            .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap())
    };
    let got: Vec<_> = rows
        .iter()
        .map(|(id, us, p)| (id.as_str(), *us, read(p)))
        .collect();
    assert_eq!(
        got,
        [
            ("m-in", None, None),
            ("m-note", None, None),
            ("m-out", Some(micros(messages[1].sent_at)), Some(written)),
        ]
    );
}
