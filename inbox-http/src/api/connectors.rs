//! A tenant's CRM and shop connectors over HTTP: which are set up and
//! whether their credentials are stored (never the credentials), storing
//! and removing credentials (sealed before the store sees them), checking
//! them against the provider, and the customer context they give
//! (`GET /api/contacts/{id}/context`). What each connector does is the
//! settings document's `connectors` section (`PUT /api/settings`).

use axum::Json as JsonAnswer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use inbox_connectors::{ConnectorError, ConnectorKind};
use inbox_core::ports::TenantSecretSlot;
use inbox_core::{Actor, ContactId, CustomerContextView, Secret};

use super::session::{Caller, On};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

/// The longest credential accepted (tokens are far shorter).
const MAX_CREDENTIAL: usize = 4096;

/// One credential a connector needs, and whether it is stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialView {
    /// Its name (`token`, `refresh_token`).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Whether one is stored (its value is never shown).
    pub set: bool,
}

/// A connector as an admin sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorView {
    /// `hubspot`, `zoho` or `shopify`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Whether the settings document has its section.
    pub configured: bool,
    /// Whether that section has it enabled.
    pub enabled: bool,
    /// Its credentials.
    pub credentials: Vec<CredentialView>,
}

/// Credentials to store, by name: a value stores (replaces) it, `null`
/// removes it; names left out are kept.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsForm {
    /// The credentials (`{"token": "pat-..."}`).
    #[schema(value_type = Object)]
    pub credentials: BTreeMap<String, Option<String>>,
}

/// What checking a connector found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckView {
    /// Whether the provider accepted the credentials.
    pub ok: bool,
    /// Why not (no credential in it).
    pub problem: Option<String>,
}

fn kind_of(id: &str) -> ApiResult<ConnectorKind> {
    ConnectorKind::parse(id).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("no connector {id:?}: hubspot, zoho or shopify"),
        )
    })
}

async fn views(state: &AppState, actor: &Actor) -> ApiResult<Vec<ConnectorView>> {
    let names = state.inbox.tenant_secret_names(actor).await?;
    let settings = state.inbox.settings(actor).await?;
    let section = &settings.document.connectors;
    Ok(ConnectorKind::ALL
        .into_iter()
        .map(|kind| {
            let enabled = match kind {
                ConnectorKind::HubSpot => section.hubspot.as_ref().map(|s| s.enabled),
                ConnectorKind::Zoho => section.zoho.as_ref().map(|s| s.enabled),
                ConnectorKind::Shopify => section.shopify.as_ref().map(|s| s.enabled),
            };
            ConnectorView {
                id: kind.id().into(),
                name: kind.to_string(),
                configured: enabled.is_some(),
                enabled: enabled.unwrap_or(false),
                credentials: kind
                    .credentials()
                    .iter()
                    .map(|(name, description)| CredentialView {
                        name: (*name).into(),
                        description: (*description).into(),
                        set: names.contains(&kind.secret_name(name)),
                    })
                    .collect(),
            }
        })
        .collect())
}

/// `GET /api/connectors`: each connector, whether it is set up and which
/// credentials are stored (supervisors and admins).
#[utoipa::path(get, path = "/api/connectors", tag = "connectors", responses((status = 200, body = Vec<ConnectorView>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn connectors(Caller(state, actor): Caller) -> ApiResult<JsonAnswer<Vec<ConnectorView>>> {
    Ok(JsonAnswer(views(&state, &actor).await?))
}

/// `PUT /api/connectors/{id}/credentials`: stores or removes a connector's
/// credentials (admins), sealed at rest; answers the connector as listed.
#[utoipa::path(put, path = "/api/connectors/{id}/credentials", tag = "connectors", params(("id" = String, Path, description = "hubspot, zoho or shopify")), request_body = CredentialsForm, responses((status = 200, body = ConnectorView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the server has no secret keys")))]
pub async fn put_credentials(
    Caller(state, actor): Caller,
    Path(id): Path<String>,
    Json(form): Json<CredentialsForm>,
) -> ApiResult<JsonAnswer<ConnectorView>> {
    let kind = kind_of(&id)?;
    // The role first: nobody else learns how this server keeps secrets.
    state.inbox.may_use_tenant_secrets(&actor).await?;
    let known: Vec<&str> = kind.credentials().iter().map(|(n, _)| *n).collect();
    for (name, value) in &form.credentials {
        if !known.contains(&name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "{kind} has no credential {name:?}; it takes {}",
                known.join(", ")
            )));
        }
        if value
            .as_ref()
            .is_some_and(|v| v.trim().is_empty() || v.len() > MAX_CREDENTIAL)
        {
            return Err(ApiError::bad_request(format!(
                "{name}: 1 to {MAX_CREDENTIAL} characters, or null to remove it"
            )));
        }
    }
    let secrets = state.secrets.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_secret_keys",
            crate::secrets::NO_KEYS,
        )
    })?;
    for (name, value) in &form.credentials {
        let slot = TenantSecretSlot {
            tenant: actor.tenant.clone(),
            name: kind.secret_name(name),
        };
        let sealed =
            match value {
                Some(v) => Some(secrets.seal_tenant(&slot, &Secret::new(v.trim())).map_err(
                    |e| {
                        ApiError::internal(
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "secrets",
                            &e,
                        )
                    },
                )?),
                None => None,
            };
        state
            .inbox
            .put_tenant_secret(&actor, &slot.name, sealed.as_ref())
            .await?;
    }
    if let Some(c) = &state.connectors {
        c.forget(&actor.tenant);
    }
    let all = views(&state, &actor).await?;
    let view = all.into_iter().find(|v| v.id == kind.id());
    view.map(JsonAnswer)
        .ok_or_else(|| ApiError::bad_request(format!("no connector {id:?}")))
}

/// `POST /api/connectors/{id}/check`: calls the provider once with the
/// stored credentials (admins): `ok`, or the reason it failed.
#[utoipa::path(post, path = "/api/connectors/{id}/check", tag = "connectors", params(("id" = String, Path, description = "hubspot, zoho or shopify")), responses((status = 200, body = CheckView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn check_connector(
    Caller(state, actor): Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonAnswer<CheckView>> {
    let kind = kind_of(&id)?;
    // Checking calls out with the tenant's credentials: admins only.
    state.inbox.may_use_tenant_secrets(&actor).await?;
    let Some(connectors) = &state.connectors else {
        return Ok(JsonAnswer(CheckView {
            ok: false,
            problem: Some("this server runs no connectors".into()),
        }));
    };
    connectors.forget(&actor.tenant);
    let result: Result<(), ConnectorError> = connectors.check(&actor.tenant, kind).await;
    Ok(JsonAnswer(CheckView {
        ok: result.is_ok(),
        problem: result.err().map(|e| e.to_string()),
    }))
}

/// `GET /api/contacts/{id}/context`: what the tenant's connectors know
/// about a contact (any agent), each connector's cards or the reason it has
/// none; a front end loads it beside the conversation.
#[utoipa::path(get, path = "/api/contacts/{id}/context", tag = "contacts", params(("id" = String, Path, description = "Contact id")), responses((status = 200, body = inbox_core::CustomerContextView), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn contact_context(on: On<ContactId>) -> ApiResult<JsonAnswer<CustomerContextView>> {
    Ok(JsonAnswer(
        on.state.inbox.customer_context(&on.actor, &on.id).await?,
    ))
}
