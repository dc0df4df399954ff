//! A contact's profile as agents change it: tags, attributes (CRM id,
//! language ...) and the name the team uses.

use axum::Json as JsonAnswer;
use serde::Deserialize;
use std::collections::BTreeMap;

use inbox_core::model::Contact;
use inbox_core::{ContactId, ContactUpdate};

use super::session::On;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;

/// Changes to a contact, on the version the agent saw.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactForm {
    /// The contact's version the agent saw (a stale one: 409 `conflict`).
    pub version: u64,
    /// Tags to add.
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Tags to remove.
    #[serde(default)]
    pub remove_tags: Vec<String>,
    /// Attributes to set; an empty value removes one.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The name the team uses instead of the WhatsApp profile name.
    pub display_name: Option<String>,
}

/// `PUT /api/contacts/{id}`: changes a contact's tags, attributes or name
/// (roles that may tag), recorded as `contact_updated`.
#[utoipa::path(put, path = "/api/contacts/{id}", tag = "contacts", params(("id" = String, Path, description = "Contact id")), request_body = ContactForm, responses((status = 200, description = "The contact as changed", body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict"), (status = 422, body = ApiError)))]
pub async fn put_contact(
    on: On<ContactId>,
    Json(form): Json<ContactForm>,
) -> ApiResult<JsonAnswer<Contact>> {
    let update = ContactUpdate {
        add_tags: form.add_tags,
        remove_tags: form.remove_tags,
        attributes: form.attributes,
        display_name: form.display_name,
    };
    let contact = on
        .state
        .inbox
        .update_contact(&on.actor, &on.id, form.version, update)
        .await
        .map_err(ApiError::from)?;
    Ok(JsonAnswer(contact))
}
