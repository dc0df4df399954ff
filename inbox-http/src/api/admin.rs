//! A tenant's configuration over HTTP: its settings document (JSON or
//! YAML), the history of changes, a past version, the dry run ("who would
//! get this message?"), its agents and teams, and the canned responses.
//! Supervisors read settings; admins change them (the core decides: see
//! [`inbox_core::permissions`]).

use axum::extract::Query;
use axum::http::StatusCode;
use axum::Json as JsonAnswer;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use inbox_core::inbound::InboundMessage;
use inbox_core::model::{
    AccountSignal, Agent, Channel, ContactIdentity, Content, HistoryImport, Role, Team,
};
use inbox_core::ports::{HistoryQuery, SettingsChange, StoredSettings};
use inbox_core::settings::{CannedResponse, TenantSettings};
use inbox_core::{AgentId, ChannelId, ConversationId, DryRunSettings, Explanation, TeamId};

use super::session::{Caller, On};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};

/// A settings document as read: its version, who stored it and when, and
/// the document both as JSON and as the YAML an admin edits.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// The version (0: none stored yet, the empty document).
    pub version: u64,
    /// When it was stored.
    pub updated_at: DateTime<Utc>,
    /// Who stored it (`null`: provisioning or an import).
    #[schema(value_type = Option<String>)]
    pub updated_by: Option<AgentId>,
    /// The document.
    #[schema(value_type = Object)]
    pub document: TenantSettings,
    /// The same document as YAML.
    pub yaml: String,
}

impl SettingsView {
    fn of(stored: StoredSettings) -> ApiResult<Self> {
        Ok(Self {
            yaml: stored.document.to_yaml()?,
            version: stored.version,
            updated_at: stored.updated_at,
            updated_by: stored.updated_by,
            document: stored.document,
        })
    }
}

/// A settings document as sent: exactly one of `document` (JSON) and
/// `yaml`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentForm {
    /// The document as JSON.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    /// The document as YAML (what the editor sends).
    pub yaml: Option<String>,
}

impl DocumentForm {
    fn read(&self) -> ApiResult<TenantSettings> {
        match (&self.document, &self.yaml) {
            (Some(doc), None) => Ok(TenantSettings::from_value(doc)?),
            (None, Some(yaml)) => Ok(TenantSettings::from_yaml(yaml)?),
            _ => Err(ApiError::bad_request(
                "send exactly one of `document` and `yaml`",
            )),
        }
    }
}

/// A change of the settings: the whole new document, made on `version`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsForm {
    /// The version the change was made on (a stale one is refused, 409).
    pub version: u64,
    /// The new document.
    #[serde(flatten)]
    pub document: DocumentForm,
}

/// `GET /api/settings`: the tenant's settings (supervisors and admins).
#[utoipa::path(get, path = "/api/settings", tag = "settings", responses((status = 200, body = SettingsView), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_settings(Caller(s, a): Caller) -> ApiResult<JsonAnswer<SettingsView>> {
    Ok(JsonAnswer(SettingsView::of(s.inbox.settings(&a).await?)?))
}

/// `PUT /api/settings`: replaces the settings (admins). Refused whole with
/// 422 `invalid_settings` naming every bad field (`details.problems`: path
/// and reason), 409 `conflict` when made on a stale version.
#[utoipa::path(put, path = "/api/settings", tag = "settings", request_body = SettingsForm, responses((status = 200, body = SettingsView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn put_settings(
    Caller(s, a): Caller,
    Json(form): Json<SettingsForm>,
) -> ApiResult<JsonAnswer<SettingsView>> {
    let doc = form.document.read()?;
    let stored = s.inbox.update_settings(&a, form.version, doc).await?;
    // Connectors pick up their new settings now here (other instances
    // within the few seconds they keep them).
    if let Some(c) = &s.connectors {
        c.forget(&a.tenant);
    }
    Ok(JsonAnswer(SettingsView::of(stored)?))
}

/// Settings history parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only changes below this version (the last `version` of the previous
    /// page).
    pub before: Option<u64>,
    /// At most this many (default 50, at most 200).
    pub limit: Option<u32>,
}

/// `GET /api/settings/history`: the changes, newest first: who, when,
/// which sections (document sections, and `agents.<id>`, `teams.<id>`,
/// `channels.<id>` for provisioning) with their values before and after.
#[utoipa::path(get, path = "/api/settings/history", tag = "settings", params(HistoryParams), responses((status = 200, body = Vec<Object>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn settings_history(
    Caller(s, a): Caller,
    Query(p): Query<HistoryParams>,
) -> ApiResult<JsonAnswer<Vec<SettingsChange>>> {
    let query = HistoryQuery {
        before: p.before,
        limit: p.limit.unwrap_or(50),
    };
    Ok(JsonAnswer(s.inbox.settings_history(&a, query).await?))
}

/// A past settings version, rebuilt from the history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    /// The version.
    pub version: u64,
    /// The document as it was.
    #[schema(value_type = Object)]
    pub document: TenantSettings,
    /// The same as YAML.
    pub yaml: String,
}

/// `GET /api/settings/versions/{version}`: the document as it was at a
/// version (supervisors and admins); 422 for a version never stored.
#[utoipa::path(get, path = "/api/settings/versions/{version}", tag = "settings", params(("version" = u64, Path, description = "A settings version")), responses((status = 200, body = VersionView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn settings_version(
    Caller(s, a): Caller,
    Path(version): Path<u64>,
) -> ApiResult<JsonAnswer<VersionView>> {
    let document = s.inbox.settings_at(&a, version).await?;
    Ok(JsonAnswer(VersionView {
        version,
        yaml: document.to_yaml()?,
        document,
    }))
}

/// Which settings a dry run explains: those running (neither field), a
/// past `version`, or a `draft` (JSON `document` or `yaml`, not stored).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnderForm {
    /// A past (or the current) version.
    pub version: Option<u64>,
    /// A draft, as JSON.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    /// A draft, as YAML.
    pub yaml: Option<String>,
}

impl UnderForm {
    fn read(self) -> ApiResult<DryRunSettings> {
        match (self.version, self.document, self.yaml) {
            (None, None, None) => Ok(DryRunSettings::Running),
            (Some(v), None, None) => Ok(DryRunSettings::Version(v)),
            (None, document, yaml) => {
                let doc = DocumentForm { document, yaml }.read()?;
                Ok(DryRunSettings::Draft(Box::new(doc)))
            }
            _ => Err(ApiError::bad_request(
                "give a `version` or a draft (`document` or `yaml`), not both",
            )),
        }
    }
}

/// A sample customer message for a dry run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleForm {
    /// The number (channel id) it is written to.
    pub channel: String,
    /// The customer's WhatsApp id (their number, digits).
    pub from: String,
    /// Their profile name, if any.
    pub name: Option<String>,
    /// What they write.
    pub text: String,
}

/// A dry run: a sample message, or an existing conversation (as if its
/// customer wrote again now), under some settings.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainForm {
    /// Which settings (default: those running).
    #[serde(default)]
    pub settings: UnderForm,
    /// A sample message ...
    pub sample: Option<SampleForm>,
    /// ... or an existing conversation's id.
    pub conversation: Option<String>,
}

/// `POST /api/settings/explain`: what a message would do (the rule that
/// matches, the team, the agent and why, the SLA and its due times, the
/// timers), changing nothing (supervisors and admins).
#[utoipa::path(post, path = "/api/settings/explain", tag = "settings", request_body = ExplainForm, responses((status = 200, body = Object, description = "The explanation"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn explain(
    Caller(s, a): Caller,
    Json(form): Json<ExplainForm>,
) -> ApiResult<JsonAnswer<Explanation>> {
    let under = form.settings.read()?;
    let explained = match (form.sample, form.conversation) {
        (Some(sample), None) => {
            let channel = ChannelId::new(&sample.channel)?;
            let channel = s.inbox.ports().store.channel(&a.tenant, &channel).await?;
            let now = s.now();
            let message = InboundMessage {
                phone_number_id: channel.phone_number_id,
                external_id: format!("dry-run.{}", hex::encode(rand::random::<[u8; 8]>())),
                from: ContactIdentity::wa(sample.from),
                profile_name: sample.name,
                username: None,
                timestamp: now,
                content: Content::text(sample.text),
                context: Default::default(),
            };
            s.inbox.explain(&a, under, message).await?
        }
        (None, Some(id)) => {
            let id = ConversationId::new(id)?;
            s.inbox.explain_conversation(&a, under, &id).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "give a `sample` or a `conversation`, not both",
            ))
        }
    };
    Ok(JsonAnswer(explained))
}

/// `GET /api/teams`: the tenant's teams (any agent).
#[utoipa::path(get, path = "/api/teams", tag = "directory", responses((status = 200, body = Vec<Team>), (status = 401, body = ApiError)))]
pub async fn teams(Caller(s, a): Caller) -> ApiResult<JsonAnswer<Vec<Team>>> {
    Ok(JsonAnswer(s.inbox.teams(&a).await?))
}

/// A number as agents see it (no secrets).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    /// Its id.
    pub id: String,
    /// A label ("Sales").
    pub name: String,
    /// The number as customers see it.
    pub display_number: String,
    /// What Meta last said about the number, its account and templates
    /// (its quality, a paused template …), newest first.
    pub signals: Vec<SignalView>,
    /// How far the import of the number's past chats from the WhatsApp
    /// Business app has come (none started: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryImport>,
}

/// One thing Meta said about a number, its account or a template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignalView {
    /// What Meta said.
    pub signal: AccountSignal,
    /// When Meta sent it.
    pub at: DateTime<Utc>,
    /// Whether an admin should act on it.
    pub needs_attention: bool,
}

/// A number's signals, newest first.
fn signal_views(channel: &Channel) -> Vec<SignalView> {
    let mut views: Vec<SignalView> = channel
        .signals
        .values()
        .map(|seen| SignalView {
            needs_attention: seen.signal.needs_attention(),
            signal: seen.signal.clone(),
            at: seen.at,
        })
        .collect();
    views.sort_by_key(|v| std::cmp::Reverse(v.at));
    views
}

/// `GET /api/channels`: the tenant's numbers (any agent).
#[utoipa::path(get, path = "/api/channels", tag = "directory", responses((status = 200, body = Vec<ChannelView>), (status = 401, body = ApiError)))]
pub async fn channels(Caller(s, a): Caller) -> ApiResult<JsonAnswer<Vec<ChannelView>>> {
    let channels = s.inbox.channels(&a).await?;
    Ok(JsonAnswer(
        channels
            .into_iter()
            .map(|c| ChannelView {
                signals: signal_views(&c),
                history: c.history.clone(),
                id: c.id.to_string(),
                name: c.name,
                display_number: c.display_number,
            })
            .collect(),
    ))
}

/// A team as an admin writes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamForm {
    /// Its display name.
    pub name: String,
}

/// `PUT /api/teams/{id}`: creates or renames a team (admins); recorded in
/// the settings history.
#[utoipa::path(put, path = "/api/teams/{id}", tag = "directory", params(("id" = String, Path, description = "Team id")), request_body = TeamForm, responses((status = 200, body = Team), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn put_team(on: On<TeamId>, Json(form): Json<TeamForm>) -> ApiResult<JsonAnswer<Team>> {
    let team = Team::new(on.actor.tenant.clone(), on.id, form.name);
    on.state.inbox.save_team(&on.actor, &team).await?;
    Ok(JsonAnswer(team))
}

/// An agent as an admin writes it. Presence is the agent's own: kept as
/// it is for an existing agent, offline for a new one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentForm {
    /// Display name.
    pub name: String,
    /// `agent`, `supervisor` or `admin`.
    #[schema(value_type = String)]
    pub role: Role,
    /// Their teams (ids; each must exist).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub teams: Vec<TeamId>,
    /// Their skills, for skill-based routing.
    #[serde(default)]
    pub skills: Vec<String>,
    /// How many open conversations they take at once (0: no limit).
    #[serde(default)]
    pub capacity: u32,
    /// Whether they may sign in and take work (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// `PUT /api/agents/{id}`: creates or updates an agent (admins); recorded
/// in the settings history.
#[utoipa::path(put, path = "/api/agents/{id}", tag = "directory", params(("id" = String, Path, description = "Agent id")), request_body = AgentForm, responses((status = 200, body = super::AgentView, description = "The agent as stored"), (status = 201, body = super::AgentView, description = "A new agent"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn put_agent(
    on: On<AgentId>,
    Json(form): Json<AgentForm>,
) -> ApiResult<(StatusCode, JsonAnswer<super::AgentView>)> {
    let store = &on.state.inbox.ports().store;
    let existing = match store.agent(&on.actor.tenant, &on.id).await {
        Ok(agent) => Some(agent),
        Err(inbox_core::Error::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut agent = existing
        .unwrap_or_else(|| Agent::new(on.actor.tenant.clone(), on.id.clone(), "", form.role));
    agent.name = form.name;
    agent.role = form.role;
    agent.teams = form.teams;
    agent.skills = form.skills;
    agent.capacity = form.capacity;
    agent.active = form.active;
    on.state.inbox.save_agent(&on.actor, &agent).await?;
    Ok((status, JsonAnswer(agent.into())))
}

/// `GET /api/canned`: the canned responses the signed-in agent may use
/// (theirs, their teams', the tenant's; the most specific of a shortcut).
#[utoipa::path(get, path = "/api/canned", tag = "conversations", responses((status = 200, body = Vec<Object>), (status = 401, body = ApiError)))]
pub async fn canned(Caller(s, a): Caller) -> ApiResult<JsonAnswer<Vec<CannedResponse>>> {
    Ok(JsonAnswer(s.inbox.canned_responses(&a).await?))
}

/// A canned response filled in for a conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenderedCanned {
    /// The text, variables filled in.
    pub text: String,
}

/// `GET /api/conversations/{id}/canned/{shortcut}`: a canned response
/// filled in for the conversation (`{{contact.name}}` ...).
#[utoipa::path(get, path = "/api/conversations/{id}/canned/{shortcut}", tag = "conversations", params(("id" = String, Path, description = "Conversation id"), ("shortcut" = String, Path, description = "The canned response's shortcut")), responses((status = 200, body = RenderedCanned), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn render_canned(
    Caller(s, a): Caller,
    Path((id, shortcut)): Path<(String, String)>,
) -> ApiResult<JsonAnswer<RenderedCanned>> {
    let id = ConversationId::new(id)?;
    let text = s.inbox.render_canned(&a, &id, &shortcut).await?;
    Ok(JsonAnswer(RenderedCanned { text }))
}
