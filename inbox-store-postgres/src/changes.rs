//! The changeset writer: applies a [`Changeset`] (the checks that its
//! tenant, conversations and channel exist and that its versions are the
//! stored ones, then each table's writer, [`crate::tables`]), alone in a
//! transaction ([`write_one`]) or with a whole batch of others in one
//! statement ([`write_batch`]); and [`Writer`], the handle group commit
//! and the store write through.

use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::model::{Conversation, Message};
use inbox_core::ports::{Changeset, Committed, ContactMerge, MessageUpdated, Write};
use inbox_core::timer::TimerChange;

use crate::error::{db, unique_violation};
use crate::mutations::{Applied, MutationJob};
use crate::sql::{version, Statement};
use crate::tables::events::{self, Next};
use crate::tables::{contacts, conversations, cursors, directory, messages, outbox, timers};

/// Why a changeset's transaction body stopped.
pub(crate) enum Failure {
    /// A unique index refused a row; explained after rollback.
    Unique(String),
    /// A core error to return as is.
    Core(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

fn fail(context: &'static str) -> impl Fn(sqlx::Error) -> Failure {
    move |e| match unique_violation(&e) {
        Some(c) => Failure::Unique(c),
        None => Failure::Core(db(context, e)),
    }
}

/// What writes changesets, merges and message mutations on a pool: the
/// narrow handle group commit works through (its batches run on pools of
/// their own, see [`crate::plans`]), and what the store writes with when
/// a changeset is committed alone.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pool: PgPool,
}

impl Writer {
    /// A writer on `pool`.
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool it writes on.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Commits one changeset in a transaction of its own.
    pub(crate) async fn commit_alone(
        &self,
        tenant: &TenantId,
        changes: &Changeset,
    ) -> Result<Committed> {
        let mut tx = self.pool.begin().await.map_err(|e| db("begin", e))?;
        match write_one(&mut tx, tenant, changes).await {
            Ok(events) => {
                tx.commit().await.map_err(|e| match unique_violation(&e) {
                    Some(_) => Error::Conflict(Box::new(Conflict::on(
                        Entity::Commit,
                        "deferred unique key",
                        0,
                        0,
                    ))),
                    None => db("commit", e),
                })?;
                Ok(Committed { events })
            }
            Err(failure) => {
                let _ = tx.rollback().await;
                Err(self.explain(tenant, changes, failure).await)
            }
        }
    }

    /// Commits changesets one at a time in one transaction, each under a
    /// savepoint, so each succeeds or fails on its own (as if alone). Fails
    /// as a whole, having committed nothing, if the transaction does.
    pub(crate) async fn commit_each(
        &self,
        batch: &[(&TenantId, &Changeset)],
    ) -> Result<Vec<Result<Committed>>> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut tx = self.pool.begin().await.map_err(|e| db("begin", e))?;
        for (tenant, changes) in batch {
            savepoint(&mut tx, "SAVEPOINT inbox_job").await?;
            let outcome = write_one(&mut tx, tenant, changes).await;
            let end = match outcome {
                Ok(_) => "RELEASE SAVEPOINT inbox_job",
                Err(_) => "ROLLBACK TO SAVEPOINT inbox_job",
            };
            savepoint(&mut tx, end).await?;
            outcomes.push(outcome);
        }
        tx.commit().await.map_err(|e| db("commit", e))?;
        let mut results = Vec::with_capacity(batch.len());
        for ((tenant, changes), outcome) in batch.iter().zip(outcomes) {
            results.push(match outcome {
                Ok(events) => Ok(Committed { events }),
                Err(failure) => Err(self.explain(tenant, changes, failure).await),
            });
        }
        Ok(results)
    }

    /// A message mutation in a transaction of its own.
    pub(crate) async fn mutate_alone(&self, job: &MutationJob) -> Result<Option<MessageUpdated>> {
        crate::mutations::alone(&self.pool, job).await
    }

    /// [`Contacts::merge_contacts`](inbox_core::ports::Contacts::merge_contacts).
    pub(crate) async fn merge_contacts(
        &self,
        tenant: &TenantId,
        m: &ContactMerge,
    ) -> Result<Committed> {
        let (from, into) = (&m.from.value, &m.into.value);
        if from.tenant != *tenant
            || into.tenant != *tenant
            || m.events.iter().any(|e| &e.tenant != tenant)
        {
            return Err(Error::invalid("merge", "belongs to another tenant"));
        }
        let mut tx = self.pool.begin().await.map_err(|e| db("merge: begin", e))?;
        sqlx::query("SELECT 1 FROM inbox_tenants WHERE tenant_id = $1 FOR NO KEY UPDATE")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| db("merge: lock tenant", e))?;
        // Lock both, in id order (no deadlock with a merge the other way).
        let stored = contacts::lock_versions(&mut tx, tenant, &[&from.id, &into.id]).await?;
        for w in [&m.from, &m.into] {
            let expected = w.expected_version.unwrap_or(0);
            let current = stored
                .iter()
                .find(|(id, _)| id == w.value.id.as_str())
                .map(|(_, v)| *v)
                .ok_or_else(|| Error::not_found(Entity::Contact, &w.value.id))?;
            if current != expected || w.value.version != expected + 1 {
                return Err(Error::Conflict(Box::new(Conflict::on(
                    Entity::Contact,
                    &w.value.id,
                    expected,
                    current,
                ))));
            }
        }
        // The merged contact lets go of its identity first, so the survivor
        // may take it. Each is written over the version stored (locked).
        let mut stored = stored;
        for w in [&m.from, &m.into] {
            let Some(slot) = stored.iter_mut().find(|(id, _)| id == w.value.id.as_str()) else {
                continue;
            };
            let mut st = Statement::new();
            contacts::update(&mut st, &[(&w.value, slot.1 as i64)]);
            st.run(&mut tx, "")
                .await
                .map_err(|e| match unique_violation(&e) {
                    Some(_) => Error::Duplicate {
                        what: Unique::Contact,
                        existing: w.value.id.to_string(),
                    },
                    None => db("merge: contact", e),
                })?;
            slot.1 = w.value.version;
        }
        conversations::move_to_contact(&mut tx, tenant, &from.id, &into.id).await?;
        let events = events::record(&mut tx, m.events.clone()).await?;
        tx.commit().await.map_err(|e| db("merge: commit", e))?;
        Ok(Committed { events })
    }

    /// The error of a changeset that failed: as is, or, for a unique
    /// index, which key it collided with, and with what.
    async fn explain(&self, tenant: &TenantId, changes: &Changeset, failure: Failure) -> Error {
        match failure {
            Failure::Core(e) => e,
            Failure::Unique(constraint) => {
                self.explain_duplicate(tenant, changes, &constraint).await
            }
        }
    }

    /// Says which unique key a failed commit collided with, and with what.
    async fn explain_duplicate(
        &self,
        tenant: &TenantId,
        ch: &Changeset,
        constraint: &str,
    ) -> Error {
        let duplicate = |what: Unique, existing: String| Error::Duplicate { what, existing };
        // Messages first: a redelivered webhook is a duplicate message,
        // whatever else raced with it.
        for m in &ch.messages {
            if let Some(existing) = self.existing_message(tenant, m, constraint).await {
                return existing;
            }
        }
        if let Some(w) = &ch.contact {
            if constraint == "inbox_contacts_pkey" {
                return duplicate(Unique::Contact, w.value.id.to_string());
            }
            if let Ok(Some(other)) = contacts::other_holder(&self.pool, tenant, &w.value).await {
                return duplicate(Unique::Contact, other);
            }
        }
        if let Some(w) = &ch.conversation {
            let c = &w.value;
            if constraint == "inbox_conversations_pkey" {
                return duplicate(Unique::Conversation, c.id.to_string());
            }
            if let Ok(Some(active)) = conversations::LATEST
                .one(
                    &self.pool,
                    &[tenant.as_str(), c.channel.as_str(), c.contact.as_str()],
                )
                .await
            {
                if active.status.is_active() && active.id != c.id {
                    return duplicate(Unique::ActiveConversation, active.id.to_string());
                }
            }
        }
        if constraint == "inbox_outbox_pkey" {
            return duplicate(Unique::OutboxEntry, String::new());
        }
        // The colliding row is gone again (a race): let the caller retry.
        Error::Conflict(Box::new(Conflict::on(Entity::UniqueKey, constraint, 0, 0)))
    }

    /// The duplicate a new message collided with, if any: another with its
    /// provider id or idempotency key, or itself.
    async fn existing_message(
        &self,
        tenant: &TenantId,
        m: &Message,
        constraint: &str,
    ) -> Option<Error> {
        if let Some(ext) = &m.external_id {
            if let Ok(Some(existing)) = messages::BY_EXTERNAL_ID
                .one(&self.pool, &[tenant.as_str(), m.channel.as_str(), ext])
                .await
            {
                return Some(Error::Duplicate {
                    what: Unique::Message,
                    existing: existing.id.to_string(),
                });
            }
        }
        if let Some(key) = &m.idempotency_key {
            if let Ok(Some(existing)) = messages::BY_IDEMPOTENCY_KEY
                .one(&self.pool, &[tenant.as_str(), key])
                .await
            {
                return Some(Error::Duplicate {
                    what: Unique::IdempotencyKey,
                    existing: existing.id.to_string(),
                });
            }
        }
        if constraint == "inbox_messages_pkey"
            && matches!(
                messages::BY_ID
                    .one(&self.pool, &[tenant.as_str(), m.id.as_str()])
                    .await,
                Ok(Some(_))
            )
        {
            return Some(Error::Duplicate {
                what: Unique::Message,
                existing: m.id.to_string(),
            });
        }
        None
    }
}

/// Runs a savepoint command.
async fn savepoint(tx: &mut PgConnection, sql: &'static str) -> Result<()> {
    sqlx::query(sql)
        .execute(tx)
        .await
        .map(drop)
        .map_err(|e| db("savepoint", e))
}

/// Writes one changeset on `tx` (a connection in a transaction), table by
/// table, each table's statement checked as it runs: the tenant exists,
/// then the messages (first: see `explain_duplicate`), the contact, the
/// conversation, presence, timers, cursors, outbox, and last the events
/// (numbered at the end of the transaction, so the tenant's sequence row
/// stays locked only until commit). Returns the events, numbered.
pub(crate) async fn write_one(
    tx: &mut PgConnection,
    tenant: &TenantId,
    ch: &Changeset,
) -> std::result::Result<Vec<Event>, Failure> {
    let st = Statement::of(|st| directory::tenants_exist(st, vec![tenant.as_str()]));
    checked(tx, st, "commit: tenant", None, |_| {
        Error::not_found(Entity::Tenant, tenant)
    })
    .await?;
    write_messages(tx, tenant, ch).await?;
    if let Some(w) = &ch.contact {
        // Inserted, or updated under its expected version.
        let k = &w.value;
        let st = Statement::of(|st| match w.expected_version {
            None => contacts::insert(st, &[k]),
            Some(v) => contacts::update(st, &[(k, v as i64)]),
        });
        let stored = Some((contacts::VERSION, [tenant.as_str(), k.id.as_str()]));
        checked(tx, st, "commit: contact", stored, |stored| match stored {
            None => Error::not_found(Entity::Contact, &k.id),
            Some(current) => {
                let expected = w.expected_version.unwrap_or(0);
                Error::Conflict(Box::new(Conflict::on(
                    Entity::Contact,
                    &k.id,
                    expected,
                    current,
                )))
            }
        })
        .await?;
    }
    if let Some(w) = &ch.conversation {
        write_conversation(tx, tenant, w).await?;
    }
    if let Some((agent, presence)) = &ch.presence {
        let mut st = Statement::new();
        directory::set_presence(&mut st, &[(tenant, agent, presence)])?;
        checked(tx, st, "commit: presence", None, |_| {
            Error::not_found(Entity::Agent, agent)
        })
        .await?;
    }
    write_timers(tx, tenant, &ch.timers).await?;
    for c in &ch.cursors {
        let st = Statement::of(|st| cursors::store(st, &[(tenant, c)]));
        let stored = Some((cursors::VERSION, [tenant.as_str(), c.team.as_str()]));
        checked(tx, st, "commit: routing cursor", stored, |stored| {
            let stored = stored.unwrap_or(0);
            Error::Conflict(Box::new(Conflict::on(
                Entity::RoutingCursor,
                &c.team,
                c.version - 1,
                stored,
            )))
        })
        .await?;
    }
    if !ch.outbox.is_empty() {
        let entries: Vec<_> = outbox::entries(ch).collect();
        let st = Statement::of(|st| outbox::insert(st, &entries));
        st.run(tx, "").await.map_err(fail("commit: outbox"))?;
    }
    Ok(events::record(tx, ch.events.clone()).await?)
}

/// Runs `st` on `tx`; if a count is off, fails with what `explain` makes
/// of the stored version of the row written (read by `stored`: one of the
/// tables' `VERSION` queries and its keys), if any.
async fn checked(
    tx: &mut PgConnection,
    st: Statement<'_>,
    context: &'static str,
    stored: Option<(&'static str, [&str; 2])>,
    explain: impl FnOnce(Option<u64>) -> Error,
) -> std::result::Result<(), Failure> {
    if st.run(tx, "").await.map_err(fail(context))?.0 {
        return Ok(());
    }
    let version = match stored {
        Some((sql, keys)) => version(tx, sql, &keys).await.map_err(fail(context))?,
        None => None,
    };
    Err(explain(version).into())
}

/// The changeset's messages: each in an existing conversation (the
/// changeset's own, or one stored), then inserted.
async fn write_messages(
    tx: &mut PgConnection,
    tenant: &TenantId,
    ch: &Changeset,
) -> std::result::Result<(), Failure> {
    if ch.messages.is_empty() {
        return Ok(());
    }
    for m in &ch.messages {
        let in_changeset = ch
            .conversation
            .as_ref()
            .is_some_and(|w| w.value.id == m.conversation);
        if !in_changeset
            && !conversations::exists(&mut *tx, tenant, &m.conversation)
                .await
                .map_err(fail("commit: message conversation"))?
        {
            return Err(Error::not_found(Entity::Conversation, &m.conversation).into());
        }
    }
    let mut st = Statement::new();
    messages::insert(&mut st, &ch.messages.iter().collect::<Vec<_>>())?;
    st.run(tx, "").await.map_err(fail("commit: messages"))?;
    Ok(())
}

/// The changeset's conversation, on an existing channel, inserted or
/// updated under its expected version (its channel and contact unchanged).
async fn write_conversation(
    tx: &mut PgConnection,
    tenant: &TenantId,
    w: &Write<Conversation>,
) -> std::result::Result<(), Failure> {
    let c = &w.value;
    let channel = [(tenant.as_str(), c.channel.as_str())];
    let st = Statement::of(|st| directory::channels_exist(st, &channel));
    checked(tx, st, "commit: channel", None, |_| {
        Error::not_found(Entity::Channel, &c.channel)
    })
    .await?;
    let mut st = Statement::new();
    match w.expected_version {
        None => conversations::insert(&mut st, &[c])?,
        Some(v) => conversations::update(&mut st, &[(c, v as i64)])?,
    }
    let expected = w.expected_version.unwrap_or(0);
    let stored = Some((conversations::VERSION, [tenant.as_str(), c.id.as_str()]));
    checked(
        tx,
        st,
        "commit: conversation",
        stored,
        |stored| match stored {
            None => Error::not_found(Entity::Conversation, &c.id),
            Some(current) if current != expected => {
                Error::Conflict(Box::new(Conflict::conversation(&c.id, expected, current)))
            }
            Some(_) => Error::invalid(
                "conversation",
                "channel and contact of a conversation cannot change",
            ),
        },
    )
    .await
}

/// The changeset's timers: the cleared ones deleted, then the set ones
/// upserted.
async fn write_timers(
    tx: &mut PgConnection,
    tenant: &TenantId,
    changes: &[TimerChange],
) -> std::result::Result<(), Failure> {
    let clears = timers::clears(changes.iter().map(|c| (tenant, c)));
    if !clears.is_empty() {
        let mut st = Statement::new();
        timers::clear(&mut st, &clears);
        st.run(tx, "").await.map_err(fail("commit: timers"))?;
    }
    let sets = timers::sets(changes.iter());
    if !sets.is_empty() {
        let mut st = Statement::new();
        timers::set(&mut st, &sets);
        st.run(tx, "").await.map_err(fail("commit: timers"))?;
    }
    Ok(())
}

/// Writes a batch of changesets, and the messages changed by the batch's
/// mutations (`applied`), with one statement, its own transaction: every
/// table's writer once for all their rows, then a `SELECT` that passes the
/// counts the checks need (tenants and channels found, rows whose
/// expected version matched, events written) to `inbox_batch_checked`,
/// which raises if any is off, so that nothing of the batch is committed.
/// Returns the next sequence number of each tenant (its changesets' events
/// in batch order come first, then the mutations'). Fails if the batch
/// cannot be one statement ([`fits_one_statement`]) or the statement
/// fails; the reason is for the log.
pub(crate) async fn write_batch(
    conn: &mut PgConnection,
    batch: &[(&TenantId, &Changeset)],
    applied: Option<&Applied>,
) -> std::result::Result<Next, String> {
    if !fits_one_statement(batch) {
        return Err("a changeset needs the per-changeset path".into());
    }
    let why = |e: Error| e.to_string();
    let mut st = Statement::new();
    // Every tenant whose rows the batch writes, the mutations' too (a batch
    // of status reports alone has no changesets): their rows are locked
    // first, before any message.
    let mutated = applied.map(|a| &a.changed[..]).unwrap_or(&[]);
    let tenants: HashSet<&str> = batch
        .iter()
        .map(|(t, _)| t.as_str())
        .chain(mutated.iter().map(|m| m.tenant.as_str()))
        .collect();
    directory::tenants_exist(&mut st, tenants.into_iter().collect());
    let all_messages: Vec<&Message> = batch.iter().flat_map(|(_, ch)| &ch.messages).collect();
    if !all_messages.is_empty() {
        messages::insert(&mut st, &all_messages).map_err(why)?;
    }
    let (new, updated) = versioned(batch.iter().filter_map(|(_, ch)| ch.contact.as_ref()));
    if !new.is_empty() {
        contacts::insert(&mut st, &new);
    }
    if !updated.is_empty() {
        contacts::update(&mut st, &updated);
    }
    let (new, updated) = versioned(batch.iter().filter_map(|(_, ch)| ch.conversation.as_ref()));
    if !new.is_empty() {
        let channels: HashSet<(&str, &str)> = new
            .iter()
            .map(|c| (c.tenant.as_str(), c.channel.as_str()))
            .collect();
        directory::channels_exist(&mut st, &channels.into_iter().collect::<Vec<_>>());
        conversations::insert(&mut st, &new).map_err(why)?;
    }
    if !updated.is_empty() {
        conversations::update(&mut st, &updated).map_err(why)?;
    }
    let entries: Vec<_> = batch
        .iter()
        .flat_map(|(_, ch)| outbox::entries(ch))
        .collect();
    if !entries.is_empty() {
        outbox::insert(&mut st, &entries);
    }
    let clears = timers::clears(
        batch
            .iter()
            .flat_map(|(t, ch)| ch.timers.iter().map(move |c| (*t, c))),
    );
    if !clears.is_empty() {
        timers::clear(&mut st, &clears);
    }
    let sets = timers::sets(batch.iter().flat_map(|(_, ch)| &ch.timers));
    if !sets.is_empty() {
        timers::set(&mut st, &sets);
    }
    if let Some(a) = applied.filter(|a| !a.changed.is_empty()) {
        messages::update(&mut st, &a.changed, &a.versions).map_err(why)?;
    }
    let mutation_events = applied.map(|a| &a.events[..]).unwrap_or(&[]);
    let all_events: Vec<&Event> = batch
        .iter()
        .flat_map(|(_, ch)| &ch.events)
        .chain(mutation_events)
        .collect();
    let numbering = events::insert(&mut st, &all_events).map_err(why)?;
    // Each count is read in turn, running its CTE (CTEs nobody reads run
    // after the `SELECT`): every write of the batch comes before the
    // events, which lock the tenants' sequence rows, so a batch holds
    // those rows for its events and its commit only. The AFTER triggers
    // of the tables written (live counts, report marks) run at the
    // statement's end, after the events: so every path that bumps a
    // sequence locks the tenants' rows first (`tenants_exist`), and all
    // take their locks in one order (BENCHMARKS.md, "The HTTP path under
    // load": the deadlock it was). `fetch_one` reads up to the server's ready-for-query, so an error of
    // the implicit commit is seen too.
    let mut q = st.checked(numbering.tail());
    let row = q
        .build()
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    numbering.first_numbers(&row, 1)
}

/// Writes of one kind split into inserts and updates (each with its
/// expected version).
fn versioned<'a, T: 'a>(
    writes: impl Iterator<Item = &'a Write<T>>,
) -> (Vec<&'a T>, Vec<(&'a T, i64)>) {
    let mut new = Vec::new();
    let mut updated = Vec::new();
    for w in writes {
        match w.expected_version {
            None => new.push(&w.value),
            Some(v) => updated.push((&w.value, v as i64)),
        }
    }
    (new, updated)
}

/// Whether a batch can be written by the one statement of
/// [`write_batch`]: every message and timer in its changeset's
/// conversation ([`write_one`] checks others exist), no presence changes
/// or round-robin cursors (rare), and no conversation or contact written
/// by two changesets (one statement cannot change a row twice; one at a
/// time, the second sees the first).
fn fits_one_statement(batch: &[(&TenantId, &Changeset)]) -> bool {
    let mut conversations = HashSet::new();
    let mut contacts = HashSet::new();
    batch.iter().all(|(tenant, ch)| {
        let conv = ch.conversation.as_ref().map(|w| &w.value.id);
        ch.presence.is_none()
            && ch.cursors.is_empty()
            && ch.messages.iter().all(|m| Some(&m.conversation) == conv)
            && ch
                .timers
                .iter()
                .all(|t| Some(timer_conversation(t)) == conv)
            && conv.is_none_or(|c| conversations.insert((*tenant, c)))
            && ch
                .contact
                .as_ref()
                .is_none_or(|w| contacts.insert((*tenant, &w.value.id)))
    })
}

fn timer_conversation(t: &TimerChange) -> &inbox_core::ids::ConversationId {
    match t {
        TimerChange::Set(t) => &t.conversation,
        TimerChange::Clear { conversation, .. } => conversation,
    }
}
