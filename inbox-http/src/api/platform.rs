//! The platform operator's API (the BSP running the deployment): tenants
//! (created, renamed, suspended) and their WhatsApp numbers with their
//! secrets, which are sealed before the store sees them and never
//! answered. Authenticated by the operator's token (`Authorization:
//! Bearer`), compared by digest in constant time; without a configured
//! token the routes answer 401.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json as JsonAnswer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use inbox_core::model::{Channel, Tenant};
use inbox_core::ports::SecretSlot;
use inbox_core::{ChannelId, Secret, TenantId};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::secrets::SecretBox;
use crate::AppState;

/// The names of a number's secrets.
pub const SECRET_NAMES: [&str; 3] = ["access_token", "app_secret", "verify_token"];

/// The operator's token, kept as its SHA-256 digest.
#[derive(Clone)]
pub struct OperatorToken([u8; 32]);

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken([redacted])")
    }
}

impl OperatorToken {
    /// The token operators present (at least 16 characters).
    pub fn new(token: &Secret) -> Result<Self, String> {
        if token.expose().len() < 16 {
            return Err("the operator token must have at least 16 characters".into());
        }
        Ok(Self(Sha256::digest(token.expose().as_bytes()).into()))
    }

    fn accepts(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&digest).into()
    }
}

/// A request of the platform operator: the shared state and the sealing
/// box.
#[derive(Debug)]
pub struct Operator {
    state: AppState,
    secrets: SecretBox,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (Some(token), Some(secrets)) = (&state.operator, &state.secrets) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "this deployment has no platform operator",
            ));
        };
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthenticated)?;
        if !token.accepts(presented.trim()) {
            return Err(ApiError::unauthenticated());
        }
        tracing::Span::current().record("actor", "platform operator");
        Ok(Self {
            state: state.clone(),
            secrets: secrets.clone(),
        })
    }
}

/// A tenant as the operator writes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantForm {
    /// The business's name.
    pub name: String,
    /// Suspended: its agents and keys are refused; its customers'
    /// messages are still kept (left out: as it is; false for a new one).
    pub suspended: Option<bool>,
}

/// A tenant as the operator sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it is suspended.
    pub suspended: bool,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            suspended: t.suspended,
        }
    }
}

/// `GET /api/platform/tenants`: every tenant (the operator).
#[utoipa::path(get, path = "/api/platform/tenants", tag = "platform", security(("operator" = [])), responses((status = 200, body = Vec<TenantView>), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn platform_tenants(op: Operator) -> ApiResult<JsonAnswer<Vec<TenantView>>> {
    let tenants = op.state.inbox.ports().store.tenants().await?;
    Ok(JsonAnswer(tenants.into_iter().map(Into::into).collect()))
}

/// `PUT /api/platform/tenants/{id}`: creates, renames, suspends or
/// restores a tenant (201 when created).
#[utoipa::path(put, path = "/api/platform/tenants/{id}", tag = "platform", security(("operator" = [])), params(("id" = String, Path, description = "Tenant id")), request_body = TenantForm, responses((status = 200, body = TenantView), (status = 201, body = TenantView), (status = 401, body = ApiError), (status = 422, body = ApiError)))]
pub async fn put_tenant(
    op: Operator,
    Path(id): Path<String>,
    Json(form): Json<TenantForm>,
) -> ApiResult<(StatusCode, JsonAnswer<TenantView>)> {
    let id = TenantId::new(id)?;
    let store = &op.state.inbox.ports().store;
    let (status, was) = match store.tenant(&id).await {
        Ok(t) => (StatusCode::OK, t.suspended),
        Err(inbox_core::Error::NotFound { .. }) => (StatusCode::CREATED, false),
        Err(e) => return Err(e.into()),
    };
    let tenant = Tenant {
        suspended: form.suspended.unwrap_or(was),
        ..Tenant::new(id, form.name)
    };
    op.state.inbox.provision_tenant(&tenant).await?;
    op.state.tenants.forget(&tenant.id);
    Ok((status, JsonAnswer(tenant.into())))
}

/// A number as the operator writes it. Secrets given are sealed and
/// stored; secrets left out stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberForm {
    /// Meta's phone number id (unique across the deployment).
    pub phone_number_id: String,
    /// The number as customers see it.
    pub display_number: String,
    /// A label for agents (left out: as it is; the id for a new number).
    pub name: Option<String>,
    /// Meta's id of the WhatsApp Business Account the number belongs to,
    /// where its templates are listed (left out: as it is; empty: none).
    pub waba_id: Option<String>,
    /// Whether the number is also used in the WhatsApp Business app
    /// (coexistence: sends held to 20 a second; left out: as it is).
    #[serde(default)]
    pub coexistence: Option<bool>,
    /// The Graph API access token for this number. Stored sealed; the
    /// Graph client sends for the number with it (through
    /// [`StoredTokens`](crate::secrets::StoredTokens)).
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Secret>,
    /// The Meta app's secret (webhook signatures).
    #[schema(value_type = Option<String>)]
    pub app_secret: Option<Secret>,
    /// The webhook subscription's verify token.
    #[schema(value_type = Option<String>)]
    pub verify_token: Option<Secret>,
}

impl std::fmt::Debug for NumberForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberForm")
            .field("phone_number_id", &self.phone_number_id)
            .field("display_number", &self.display_number)
            .finish_non_exhaustive()
    }
}

/// A number as the operator sees it: never its secrets, only which are
/// set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberView {
    /// Its id (the channel id).
    pub id: String,
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// The number as customers see it.
    pub display_number: String,
    /// Its label.
    pub name: String,
    /// Its WhatsApp Business Account's id, if set.
    pub waba_id: Option<String>,
    /// Whether it is also used in the WhatsApp Business app.
    pub coexistence: bool,
    /// The names of the secrets stored for it.
    pub secrets: Vec<String>,
    /// Where Meta should send its webhooks, below this API's root.
    pub webhook_path: String,
}

async fn number_view(op: &Operator, channel: Channel) -> ApiResult<NumberView> {
    let store = &op.state.inbox.ports().store;
    let mut secrets = Vec::new();
    for name in SECRET_NAMES {
        let slot = slot(&channel.tenant, &channel.id, name);
        if store.channel_secret(&slot).await?.is_some() {
            secrets.push(name.to_string());
        }
    }
    Ok(NumberView {
        webhook_path: format!("/webhooks/whatsapp/{}/{}", channel.tenant, channel.id),
        id: channel.id.to_string(),
        phone_number_id: channel.phone_number_id,
        display_number: channel.display_number,
        name: channel.name,
        waba_id: channel.waba_id,
        coexistence: channel.coexistence,
        secrets,
    })
}

/// The slot of a number's secret.
pub fn slot(tenant: &TenantId, channel: &ChannelId, name: &str) -> SecretSlot {
    SecretSlot {
        tenant: tenant.clone(),
        channel: channel.clone(),
        name: name.to_string(),
    }
}

/// `GET /api/platform/tenants/{id}/numbers`: a tenant's numbers.
#[utoipa::path(get, path = "/api/platform/tenants/{id}/numbers", tag = "platform", security(("operator" = [])), params(("id" = String, Path, description = "Tenant id")), responses((status = 200, body = Vec<NumberView>), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn platform_numbers(
    op: Operator,
    Path(id): Path<String>,
) -> ApiResult<JsonAnswer<Vec<NumberView>>> {
    let id = TenantId::new(id)?;
    let store = &op.state.inbox.ports().store;
    store.tenant(&id).await?;
    let mut views = Vec::new();
    for channel in store.channels(&id).await? {
        views.push(number_view(&op, channel).await?);
    }
    Ok(JsonAnswer(views))
}

/// `PUT /api/platform/tenants/{id}/numbers/{channel}`: adds or changes a
/// number and stores the secrets given, sealed (201 when added).
#[utoipa::path(put, path = "/api/platform/tenants/{id}/numbers/{channel}", tag = "platform", security(("operator" = [])), params(("id" = String, Path, description = "Tenant id"), ("channel" = String, Path, description = "Number (channel) id")), request_body = NumberForm, responses((status = 200, body = NumberView), (status = 201, body = NumberView), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn put_number(
    op: Operator,
    Path((tenant, channel)): Path<(String, String)>,
    Json(form): Json<NumberForm>,
) -> ApiResult<(StatusCode, JsonAnswer<NumberView>)> {
    let (tenant, id) = (TenantId::new(tenant)?, ChannelId::new(channel)?);
    let store = &op.state.inbox.ports().store;
    store.tenant(&tenant).await?;
    let given = [
        ("access_token", &form.access_token),
        ("app_secret", &form.app_secret),
        ("verify_token", &form.verify_token),
    ];
    // Checked before anything is written.
    for (name, secret) in given {
        if secret
            .as_ref()
            .is_some_and(|s| s.expose().trim().is_empty())
        {
            return Err(inbox_core::Error::invalid(name, "must not be empty").into());
        }
    }
    let (status, label, waba, shared) = match store.channel(&tenant, &id).await {
        Ok(c) => (StatusCode::OK, c.name, c.waba_id, c.coexistence),
        Err(inbox_core::Error::NotFound { .. }) => {
            (StatusCode::CREATED, id.to_string(), None, false)
        }
        Err(e) => return Err(e.into()),
    };
    let mut channel = Channel::new(
        tenant.clone(),
        id.clone(),
        form.phone_number_id.trim(),
        form.display_number.trim(),
    );
    channel.name = form.name.clone().unwrap_or(label);
    channel.waba_id = match &form.waba_id {
        Some(w) => Some(w.trim().to_string()).filter(|w| !w.is_empty()),
        None => waba,
    };
    channel.coexistence = form.coexistence.unwrap_or(shared);
    op.state.inbox.provision_channel(&channel).await?;
    for (name, secret) in given {
        let Some(secret) = secret else { continue };
        let slot = slot(&tenant, &id, name);
        let sealed = op.secrets.seal(&slot, secret).map_err(sealing)?;
        store.put_channel_secret(&slot, Some(&sealed)).await?;
    }
    op.state.numbers.forget(&tenant, &id);
    Ok((status, JsonAnswer(number_view(&op, channel).await?)))
}

fn sealing(e: crate::secrets::SecretError) -> ApiError {
    ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e)
}

/// What a re-seal did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Resealed {
    /// Secrets re-sealed under the current key.
    pub resealed: usize,
    /// The current key's id.
    pub key: String,
}

/// `POST /api/platform/secrets/reseal`: re-seals every stored secret under
/// the current key (after adding a key, before dropping the old one).
#[utoipa::path(post, path = "/api/platform/secrets/reseal", tag = "platform", security(("operator" = [])), responses((status = 200, body = Resealed), (status = 401, body = ApiError)))]
pub async fn reseal(op: Operator) -> ApiResult<JsonAnswer<Resealed>> {
    let store = op.state.inbox.ports().store.clone();
    let resealed = op.secrets.reseal_all(&*store).await.map_err(sealing)?;
    Ok(JsonAnswer(Resealed {
        resealed,
        key: op.secrets.current().to_string(),
    }))
}
