//! Reading the inbox: views, a conversation with its history, a contact with
//! theirs.

use serde::{Deserialize, Serialize};

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::ids::{ChannelId, ContactId, ConversationId, TeamId};
use crate::metrics::{LiveQuery, LiveSnapshot, MetricsQuery, MetricsReport};
use crate::model::Agent;
use crate::model::{Contact, Conversation, ConversationStatus, Message, Priority};
use crate::permissions::{self, Action};
use crate::query::{
    AssigneeFilter, ConversationFilter, ConversationQuery, Cursor, Page, SortOrder, VisibleTo,
};
use crate::query::{SearchHit, SearchQuery};

/// Which part of the inbox to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "view", content = "team", rename_all = "snake_case")]
pub enum View {
    /// Conversations the acting agent owns.
    Mine,
    /// Conversations nobody owns (that the agent may see).
    Unassigned,
    /// A team's conversations (members, supervisors and admins).
    Team(TeamId),
    /// Everything the agent may see.
    All,
}

/// Where view counts stop: a view holding more shows as "1000+".
pub const VIEW_COUNT_CAP: u32 = 1000;

/// How many conversations each of an agent's views holds
/// ([`Inbox::view_counts`]); each count stops at `cap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewCounts {
    /// Theirs.
    pub mine: u64,
    /// Nobody's (that they may see).
    pub unassigned: u64,
    /// Everything they may see.
    pub all: u64,
    /// Each of their teams'.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, u64>))]
    pub teams: std::collections::BTreeMap<TeamId, u64>,
    /// Where the counts stop (a count equal to it means at least that).
    pub cap: u32,
}

/// A listing request from an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewQuery {
    /// The view.
    pub view: View,
    /// Only these statuses (empty: any).
    #[serde(default)]
    pub statuses: Vec<ConversationStatus>,
    /// Only this channel.
    pub channel: Option<ChannelId>,
    /// Only with this tag.
    pub tag: Option<String>,
    /// Only at least this priority.
    pub min_priority: Option<Priority>,
    /// Order.
    #[serde(default)]
    pub sort: SortOrder,
    /// Continue after this cursor.
    pub after: Option<Cursor>,
    /// Page size (1 to 500).
    pub limit: u32,
}

impl ViewQuery {
    /// A view of active conversations (open, pending, snoozed), latest
    /// activity first, 50 per page.
    ///
    /// ```
    /// use inbox_core::{View, ViewQuery};
    /// let q = ViewQuery::new(View::Unassigned).limit(20);
    /// assert_eq!(q.limit, 20);
    /// ```
    pub fn new(view: View) -> Self {
        Self {
            view,
            statuses: vec![
                ConversationStatus::Open,
                ConversationStatus::Pending,
                ConversationStatus::Snoozed,
            ],
            channel: None,
            tag: None,
            min_priority: None,
            sort: SortOrder::LatestActivity,
            after: None,
            limit: 50,
        }
    }

    /// Sets the statuses (empty: any).
    pub fn statuses(mut self, statuses: &[ConversationStatus]) -> Self {
        self.statuses = statuses.to_vec();
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Sets the order.
    pub fn sort(mut self, sort: SortOrder) -> Self {
        self.sort = sort;
        self
    }

    /// Continues after a cursor.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }

    /// Filters by tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }
}

/// A conversation with everything an agent needs to work it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationDetail {
    /// The conversation (note its `version`: pass it back with actions).
    pub conversation: Conversation,
    /// The customer.
    pub contact: Contact,
    /// Messages, replies and notes in order.
    pub messages: Vec<Message>,
    /// The recorded events (ownership changes with actor, time and reason,
    /// status changes, deliveries ...), oldest first.
    pub timeline: Vec<Event>,
    /// What the embedder's systems know about the customer.
    pub context: CustomerContextView,
    /// What the acting agent may do with it now, so a screen offers only
    /// that (the actions are checked again when taken).
    pub may: AgentMay,
}

/// What an agent may do with a conversation, by their role, the tenant's
/// reply policy and who owns it. Refusals carry the reason to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentMay {
    /// Reply to the customer; when not, why.
    pub reply: Allowance,
    /// Add an internal note.
    pub note: bool,
    /// Claim it.
    pub claim: bool,
    /// Assign it to someone else, or take it from them.
    pub assign: bool,
    /// Tag it, change its priority.
    pub tag: bool,
    /// Resolve, reopen, snooze it.
    pub change_status: bool,
}

/// Whether something is allowed, and why not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Allowance {
    /// Allowed.
    pub allowed: bool,
    /// Why not, in words for the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Allowance {
    fn yes() -> Self {
        Self {
            allowed: true,
            reason: None,
        }
    }

    fn no(reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            reason: Some(reason.into()),
        }
    }
}

/// What `agent` may do with `c` under `replies`.
fn agent_may(agent: &Agent, c: &Conversation, replies: &crate::inbox::ReplyPolicy) -> AgentMay {
    let can = |a: Action| agent.active && agent.role.allows(a);
    // An imported conversation takes notes and tags only.
    let live = |a: Action| can(a) && !c.imported;
    let reply = match &c.assignee {
        _ if c.imported => Allowance::no(super::IMPORTED_READ_ONLY),
        _ if !can(Action::Reply) => Allowance::no("your role may not reply"),
        Some(owner) if owner != &agent.id && replies.assignee_only && !can(Action::OverrideAssignee) => {
            Allowance::no(format!(
                "only its owner, {owner}, may reply (this workspace's reply policy is assignee-only): claim it or add a note"
            ))
        }
        _ => Allowance::yes(),
    };
    AgentMay {
        reply,
        note: can(Action::AddNote),
        claim: live(Action::Claim),
        assign: live(Action::AssignOthers),
        tag: can(Action::Tag),
        change_status: live(Action::ChangeStatus),
    }
}

/// Customer context shown with a conversation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", content = "value", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CustomerContextView {
    /// No provider is set.
    NotConfigured,
    /// The provider's cards.
    Cards(Vec<crate::ports::ContextCard>),
    /// The provider failed; the view is shown without it.
    Unavailable(String),
}

/// A contact with their conversations across numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactDetail {
    /// The contact.
    pub contact: Contact,
    /// Their conversations the agent may see, newest first.
    pub conversations: Vec<Conversation>,
}

impl Inbox {
    /// The store filter for an agent's view: the view's conditions plus what
    /// the agent may see.
    async fn view_filter(&self, agent: &Agent, query: &ViewQuery) -> Result<ConversationFilter> {
        permissions::require(agent, Action::View)?;
        let sees_all = agent.role.allows(Action::ViewAll);
        let mut filter = ConversationFilter {
            statuses: query.statuses.clone(),
            channel: query.channel.clone(),
            tag: match &query.tag {
                Some(t) => Some(super::actions::normalize_tag(t)?),
                None => None,
            },
            min_priority: query.min_priority,
            visible_to: (!sees_all).then(|| VisibleTo {
                agent: agent.id.clone(),
                teams: agent.teams.clone(),
            }),
            ..ConversationFilter::default()
        };
        match &query.view {
            View::Mine => filter.assignee = AssigneeFilter::Agent(agent.id.clone()),
            View::Unassigned => filter.assignee = AssigneeFilter::Unassigned,
            View::Team(t) => {
                self.ports.store.team(&agent.tenant, t).await?;
                if !sees_all && !agent.is_in_team(t) {
                    return Err(Error::Forbidden {
                        agent: agent.id.clone(),
                        action: Action::View,
                        reason: format!("not a member of team {t}"),
                    });
                }
                filter.team = Some(t.clone());
            }
            View::All => {}
        }
        Ok(filter)
    }

    /// How many conversations each of an agent's views holds, under the
    /// statuses, number, tag and priority of `query` (its view, order and
    /// page are ignored): theirs, the unassigned ones, all they may see,
    /// and each of their teams' (every team's for those who see every
    /// conversation; with the team of `query.view`, if it is one). Each
    /// count stops at [`VIEW_COUNT_CAP`].
    ///
    /// ```
    /// # use inbox_core::ViewCounts;
    /// let counts = ViewCounts { mine: 2, unassigned: 5, all: 1000, teams: Default::default(), cap: 1000 };
    /// assert!(counts.all >= u64::from(counts.cap), "shown as 1000+");
    /// ```
    pub async fn view_counts(&self, actor: &Actor, query: &ViewQuery) -> Result<ViewCounts> {
        let agent = self.load_agent(actor).await?;
        // Every team for those who see everything; else their own.
        let mut teams: Vec<TeamId> = if agent.role.allows(Action::ViewAll) {
            let all = self.ports.store.teams(&actor.tenant).await?;
            all.into_iter().map(|t| t.id).collect()
        } else {
            agent.teams.clone()
        };
        if let View::Team(t) = &query.view {
            if !teams.contains(t) {
                teams.push(t.clone());
            }
        }
        let count = |view: View| {
            let q = ViewQuery {
                view,
                ..query.clone()
            };
            let agent = &agent;
            async move {
                let filter = self.view_filter(agent, &q).await?;
                (self.ports.store)
                    .count_conversations(&actor.tenant, &filter, VIEW_COUNT_CAP)
                    .await
            }
        };
        let mut counts = ViewCounts {
            mine: count(View::Mine).await?,
            unassigned: count(View::Unassigned).await?,
            all: count(View::All).await?,
            teams: std::collections::BTreeMap::new(),
            cap: VIEW_COUNT_CAP,
        };
        for t in teams {
            let n = count(View::Team(t.clone())).await?;
            counts.teams.insert(t, n);
        }
        Ok(counts)
    }

    /// Lists a view of the inbox for an agent, one page at a time.
    pub async fn list(&self, actor: &Actor, query: &ViewQuery) -> Result<Page<Conversation>> {
        let agent = self.load_agent(actor).await?;
        let filter = self.view_filter(&agent, query).await?;
        let q = ConversationQuery {
            filter,
            sort: query.sort,
            after: query.after.clone(),
            limit: query.limit,
        };
        q.validate()?;
        self.ports.store.list_conversations(&actor.tenant, &q).await
    }

    /// Searches message text, internal notes, contacts (names, tags,
    /// attribute values, numbers, user ids) and conversation tags within a
    /// view (resolved conversations when its statuses include them),
    /// limited to what the agent may see; most recent activity first, one
    /// page at a time (`query.sort` is ignored). Case and accents never
    /// matter; each hit says what matched, for highlighting
    /// ([`SearchHit::matches`](crate::search::SearchHit::matches)). See
    /// [`SearchQuery`] for how words match; punctuation and operators in
    /// the text are never interpreted.
    pub async fn search(
        &self,
        actor: &Actor,
        text: &str,
        query: &ViewQuery,
    ) -> Result<Page<SearchHit>> {
        let agent = self.load_agent(actor).await?;
        let filter = self.view_filter(&agent, query).await?;
        let q = SearchQuery {
            text: text.to_string(),
            filter,
            after: query.after.clone(),
            limit: query.limit,
        };
        q.validate()?;
        self.ports.store.search(&actor.tenant, &q).await
    }

    /// A conversation with its contact, messages, notes and timeline.
    pub async fn conversation(
        &self,
        actor: &Actor,
        id: &ConversationId,
    ) -> Result<ConversationDetail> {
        let conversation = self.conversation_state(actor, id).await?;
        let store = &self.ports.store;
        let contact = store.contact(&actor.tenant, &conversation.contact).await?;
        let mut messages = store.messages(&actor.tenant, id).await?;
        if conversation.imported {
            // Chunks of history arrive in any order: show them as sent.
            messages.sort_by_key(|m| m.sent_at);
        }
        let timeline = store.conversation_events(&actor.tenant, id, 0).await?;
        let context = self.context_for(&actor.tenant, &contact).await;
        let agent = self.load_agent(actor).await?;
        let replies = self.policy(&actor.tenant).await?.replies();
        Ok(ConversationDetail {
            may: agent_may(&agent, &conversation, &replies),
            conversation,
            contact,
            messages,
            timeline,
            context,
        })
    }

    /// A conversation's state (owner, status, version ...; without its
    /// messages and timeline) if the agent may see it: the cheap check
    /// before showing something of it again.
    pub async fn conversation_state(
        &self,
        actor: &Actor,
        id: &ConversationId,
    ) -> Result<Conversation> {
        let agent = self.load_agent(actor).await?;
        let conversation = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&agent, &conversation)?;
        Ok(conversation)
    }

    /// A report over the conversations opened in a range (supervisors and
    /// admins). `query.now` is set from the inbox's clock; days and hours
    /// are in `query.time_zone`, else in the zone of the tenant's business
    /// calendar (`sla.calendar`; UTC without one).
    pub async fn metrics(&self, actor: &Actor, mut query: MetricsQuery) -> Result<MetricsReport> {
        self.agent_allowed(actor, Action::ViewAll).await?;
        query.now = self.now();
        query.validate()?;
        if query.time_zone.is_none() {
            query.time_zone = Some(self.policy(&actor.tenant).await?.sla.calendar.zone);
        }
        self.ports.store.metrics(&actor.tenant, &query).await
    }

    /// The live snapshot (supervisors and admins): open, unassigned and
    /// waiting conversations, SLA at risk and breached, agents' loads.
    /// `query.now` is set from the inbox's clock.
    pub async fn live_snapshot(&self, actor: &Actor, mut query: LiveQuery) -> Result<LiveSnapshot> {
        self.agent_allowed(actor, Action::ViewAll).await?;
        query.now = self.now();
        self.ports.store.live_snapshot(&actor.tenant, &query).await
    }

    /// Sets the provider of customer context shown with conversations.
    pub fn set_customer_context(
        &self,
        provider: std::sync::Arc<dyn crate::ports::CustomerContext>,
    ) {
        let mut slot = self.context.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(provider);
    }

    /// The customer context of a contact the agent may see (for front ends
    /// that load it separately from the conversation).
    pub async fn customer_context(
        &self,
        actor: &Actor,
        id: &ContactId,
    ) -> Result<CustomerContextView> {
        self.agent_allowed(actor, Action::View).await?;
        let contact = self.ports.store.contact(&actor.tenant, id).await?;
        Ok(self.context_for(&actor.tenant, &contact).await)
    }

    async fn context_for(
        &self,
        tenant: &crate::ids::TenantId,
        contact: &crate::model::Contact,
    ) -> CustomerContextView {
        let provider = self
            .context
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match provider {
            None => CustomerContextView::NotConfigured,
            Some(p) => match p.cards(tenant, contact).await {
                Ok(cards) => CustomerContextView::Cards(cards),
                Err(e) => {
                    tracing::warn!(error = %e, "customer context provider failed");
                    CustomerContextView::Unavailable(e.0)
                }
            },
        }
    }

    /// The contacts of these ids that exist (for the names beside a page of
    /// conversations; [`Inbox::contact`] gives one with its
    /// conversations). Any agent may see contacts.
    pub async fn contacts(&self, actor: &Actor, ids: &[ContactId]) -> Result<Vec<Contact>> {
        self.agent_allowed(actor, Action::View).await?;
        self.ports.store.contacts(&actor.tenant, ids).await
    }

    /// A contact with every conversation of theirs the agent may see, across
    /// all of the tenant's numbers.
    pub async fn contact(&self, actor: &Actor, id: &ContactId) -> Result<ContactDetail> {
        let agent = self.agent_allowed(actor, Action::View).await?;
        let contact = self.ports.store.contact(&actor.tenant, id).await?;
        let mut conversations = Vec::new();
        let mut after = None;
        loop {
            let q = ConversationQuery {
                filter: ConversationFilter {
                    contact: Some(id.clone()),
                    visible_to: (!agent.role.allows(Action::ViewAll)).then(|| VisibleTo {
                        agent: agent.id.clone(),
                        teams: agent.teams.clone(),
                    }),
                    ..ConversationFilter::default()
                },
                sort: SortOrder::Newest,
                after,
                limit: ConversationQuery::MAX_LIMIT,
            };
            let page = self
                .ports
                .store
                .list_conversations(&actor.tenant, &q)
                .await?;
            conversations.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(ContactDetail {
            contact,
            conversations,
        })
    }

    /// Stored events of the tenant after sequence `after_seq` (for catching
    /// up after a lagged live subscription, and for integrations). Requires
    /// the view-all permission.
    pub async fn events_since(
        &self,
        actor: &Actor,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        self.agent_allowed(actor, Action::ViewAll).await?;
        if limit == 0 || limit > 10_000 {
            return Err(Error::invalid("limit", "must be between 1 and 10000"));
        }
        self.ports
            .store
            .events_since(&actor.tenant, after_seq, limit)
            .await
    }
}
