//! Message templates: the ones an agent may send once a customer's 24-hour
//! window has closed (the tenant's, from its settings), and the sync that
//! makes them Meta's list for the tenant's WhatsApp Business Accounts.

use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use inbox_core::model::{TemplateComponent, TemplateDefinition, TemplateSlot};
use inbox_whatsapp::templates::{sync_templates_by, TemplateAccount};

use super::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;

/// A template as agents pick it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    /// Its name in WhatsApp Manager.
    pub name: String,
    /// Its language code, e.g. `en_US`.
    pub language: String,
    /// What its body says (placeholders `{{1}}` as written); empty when
    /// its components are not known.
    pub text: String,
    /// Its category (`MARKETING`, `UTILITY`, `AUTHENTICATION`), if known.
    pub category: Option<String>,
    /// The parameters each component takes when sent: `header`, `body`,
    /// `button:0` ... with their count.
    pub parameters: Vec<ParameterCount>,
    /// Its components as Meta lists them (header, body, footer, buttons).
    #[schema(value_type = Vec<Object>)]
    pub components: Vec<serde_json::Value>,
}

/// How many parameters a component of a template takes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParameterCount {
    /// `header`, `body` or `button:{index}`.
    pub component: String,
    /// How many.
    pub count: usize,
}

impl From<TemplateDefinition> for TemplateView {
    fn from(t: TemplateDefinition) -> Self {
        let text = t
            .components
            .iter()
            .find(|c| {
                (c.get("type").and_then(|v| v.as_str()))
                    .is_some_and(|k| k.eq_ignore_ascii_case("body"))
            })
            .and_then(|c| c.get("text").and_then(|v| v.as_str()))
            .unwrap_or_default()
            .to_string();
        let parameters = t
            .parameters
            .iter()
            .map(|p| ParameterCount {
                component: match p.component {
                    TemplateComponent::Header => "header".into(),
                    TemplateComponent::Body => "body".into(),
                    TemplateComponent::Button { index } => format!("button:{index}"),
                },
                count: p.count,
            })
            .collect();
        Self {
            text,
            category: t.category.map(|c| c.to_string()),
            parameters,
            name: t.name,
            language: t.language,
            components: t.components,
        }
    }
}

/// `GET /api/templates`: the templates the agent may send (the tenant's,
/// approved or declared by hand).
#[utoipa::path(get, path = "/api/templates", tag = "conversations", responses((status = 200, body = Vec<TemplateView>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn templates(Caller(s, a): Caller) -> ApiResult<Json<Vec<TemplateView>>> {
    let list = s.inbox.templates(&a).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// A template with the values it takes, for a form.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateForm {
    /// The template.
    #[serde(flatten)]
    pub template: TemplateView,
    /// Its values, one input each, in order: `field` is where the value
    /// goes in a fill (`header`, `body[0]`, `buttons.1[0]`) and what an
    /// error about it names.
    pub slots: Vec<TemplateSlot>,
}

/// `GET /api/templates/{name}/{language}`: a template the agent may send,
/// with the values it takes (to fill it: `POST /api/conversations`).
#[utoipa::path(get, path = "/api/templates/{name}/{language}", tag = "conversations", params(("name" = String, Path, description = "The template's name"), ("language" = String, Path, description = "Its language code, e.g. `en_US`")), responses((status = 200, body = TemplateForm), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError, description = "not_found: no such template in that language that the agent may send")))]
pub async fn template(
    Caller(s, a): Caller,
    Path((name, language)): Path<(String, String)>,
) -> ApiResult<Json<TemplateForm>> {
    let t = s.inbox.template(&a, &name, &language).await?;
    let slots = t.slots();
    Ok(Json(TemplateForm {
        template: t.into(),
        slots,
    }))
}

/// A bot of the tenant, as agents pick one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BotView {
    /// Its id (the bot agent's).
    pub id: String,
    /// Its name.
    pub name: String,
    /// `faq` or `http`.
    pub kind: String,
}

/// `GET /api/bots`: the tenant's bots (to hand a conversation to one).
#[utoipa::path(get, path = "/api/bots", tag = "conversations", responses((status = 200, body = Vec<BotView>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn bots(Caller(s, a): Caller) -> ApiResult<Json<Vec<BotView>>> {
    let list = s.inbox.bots(&a).await?;
    Ok(Json(
        list.into_iter()
            .map(|(id, spec)| BotView {
                id,
                name: spec.name().to_string(),
                kind: match spec {
                    inbox_core::settings::BotSpec::Faq(_) => "faq".into(),
                    inbox_core::settings::BotSpec::Http(_) => "http".into(),
                },
            })
            .collect(),
    ))
}

/// What a template sync did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncView {
    /// The settings version running after it.
    pub version: u64,
    /// Whether it stored a new version (false: the list was Meta's).
    pub stored: bool,
    /// Templates added, as `name@language`.
    pub added: Vec<String>,
    /// Templates Meta lists differently now.
    pub changed: Vec<String>,
    /// Templates Meta no longer lists.
    pub removed: Vec<String>,
    /// The WhatsApp Business Accounts read.
    pub accounts: Vec<String>,
}

/// `POST /api/templates/sync`: makes the tenant's templates those Meta
/// lists for the WhatsApp Business Accounts of its numbers (each read with
/// its number's access token), as a settings change by the admin (in the
/// history). 422 when no number has an account id (the platform operator
/// sets `waba_id`), 502 when Meta refuses or fails, 503 when this
/// deployment has no Graph client.
#[utoipa::path(post, path = "/api/templates/sync", tag = "admin", responses((status = 200, body = SyncView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError), (status = 502, body = ApiError), (status = 503, body = ApiError)))]
pub async fn sync_templates(Caller(s, a): Caller) -> ApiResult<Json<SyncView>> {
    s.inbox.may_manage_settings(&a).await?;
    let mut accounts: Vec<TemplateAccount> = Vec::new();
    for c in s.inbox.ports().store.channels(&a.tenant).await? {
        let Some(waba_id) = c.waba_id.filter(|w| !w.trim().is_empty()) else {
            continue;
        };
        if !accounts.iter().any(|k| k.waba_id == waba_id) {
            accounts.push(TemplateAccount {
                waba_id,
                via: Some(c.phone_number_id),
            });
        }
    }
    if accounts.is_empty() {
        return Err(inbox_core::Error::invalid(
            "waba_id",
            "no number of this tenant names its WhatsApp Business Account; the platform operator sets waba_id on the number",
        )
        .into());
    }
    let Some(graph) = &s.graph else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this deployment has no WhatsApp Graph API client to read templates with",
        ));
    };
    let sync = sync_templates_by(&s.inbox, &a, graph, &accounts)
        .await
        .map_err(|e| ApiError::from_graph(e, "listing the templates"))?;
    Ok(Json(SyncView {
        version: sync.version,
        stored: sync.stored,
        added: sync.added,
        changed: sync.changed,
        removed: sync.removed,
        accounts: accounts.into_iter().map(|k| k.waba_id).collect(),
    }))
}
