//! The HubSpot calls the connector makes, each one request (or one per
//! page) through the tenant's [`Api`](crate::Api), with the private app's
//! token as `Authorization: Bearer`.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use url::Url;

use super::wire::{Associated, AssociationPage, BatchPage, Object, Owner, Pipelines, SearchPage};
use super::HubSpot;
use crate::{ConnectorError, ConnectorKind};

/// The most association pages read for one record (500 a page).
const MAX_ASSOCIATION_PAGES: usize = 20;

/// The most ids in one batch read (HubSpot's limit).
const BATCH_LIMIT: usize = 100;

impl HubSpot {
    /// HubSpot's address with these path segments (each escaped).
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ConnectorError::NotConfigured {
                connector: ConnectorKind::HubSpot,
                what: "HubSpot's address is not a base URL".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &'static str,
        url: Url,
    ) -> Result<T, ConnectorError> {
        let token = self.token.expose();
        self.api
            .json(what, |c| c.get(url.clone()).bearer_auth(token))
            .await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        what: &'static str,
        url: Url,
        body: &Value,
    ) -> Result<T, ConnectorError> {
        let token = self.token.expose();
        self.api
            .json(what, |c| c.post(url.clone()).bearer_auth(token).json(body))
            .await
    }

    /// `POST /crm/v3/objects/contacts/search` with these filter groups
    /// (OR'd), the most recently modified first.
    pub(crate) async fn search_contacts(
        &self,
        filter_groups: Value,
        properties: &[&str],
    ) -> Result<Vec<Object>, ConnectorError> {
        let url = self.url(&["crm", "v3", "objects", "contacts", "search"])?;
        let body = json!({
            "filterGroups": filter_groups,
            "properties": properties,
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            "limit": 10,
        });
        let page: SearchPage = self.post("contact search", url, &body).await?;
        Ok(page.results)
    }

    /// `GET /crm/v3/owners/{ownerId}`.
    pub(crate) async fn owner(&self, id: &str) -> Result<Owner, ConnectorError> {
        let url = self.url(&["crm", "v3", "owners", id])?;
        self.get("owner lookup", url).await
    }

    /// `GET /crm/v3/objects/{type}/{id}?properties=…`.
    pub(crate) async fn object(
        &self,
        what: &'static str,
        object_type: &str,
        id: &str,
        properties: &[&str],
    ) -> Result<Object, ConnectorError> {
        let mut url = self.url(&["crm", "v3", "objects", object_type, id])?;
        url.query_pairs_mut()
            .append_pair("properties", &properties.join(","));
        self.get(what, url).await
    }

    /// Every record of `to_type` associated with a contact
    /// (`GET /crm/v4/objects/contacts/{id}/associations/{to_type}`),
    /// following `paging.next.after`.
    pub(crate) async fn associations(
        &self,
        what: &'static str,
        contact: &str,
        to_type: &str,
    ) -> Result<Vec<Associated>, ConnectorError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_ASSOCIATION_PAGES {
            let mut url = self.url(&[
                "crm",
                "v4",
                "objects",
                "contacts",
                contact,
                "associations",
                to_type,
            ])?;
            url.query_pairs_mut().append_pair("limit", "500");
            if let Some(a) = &after {
                url.query_pairs_mut().append_pair("after", a);
            }
            let page: AssociationPage = self.get(what, url).await?;
            all.extend(page.results);
            let next = page.paging.and_then(|p| p.next).map(|n| n.after);
            match next {
                Some(n) if Some(&n) != after.as_ref() => after = Some(n),
                _ => break,
            }
        }
        Ok(all)
    }

    /// `POST /crm/v3/objects/deals/batch/read`, 100 ids a request.
    pub(crate) async fn deals(
        &self,
        ids: &[String],
        properties: &[&str],
    ) -> Result<Vec<Object>, ConnectorError> {
        let url = self.url(&["crm", "v3", "objects", "deals", "batch", "read"])?;
        let mut deals = Vec::new();
        for chunk in ids.chunks(BATCH_LIMIT) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let body = json!({
                "properties": properties,
                "propertiesWithHistory": [],
                "inputs": inputs,
            });
            let page: BatchPage = self.post("deal lookup", url.clone(), &body).await?;
            deals.extend(page.results);
        }
        Ok(deals)
    }

    /// `GET /crm/v3/pipelines/deals`.
    pub(crate) async fn deal_pipelines(&self) -> Result<Pipelines, ConnectorError> {
        let url = self.url(&["crm", "v3", "pipelines", "deals"])?;
        self.get("deal pipelines", url).await
    }

    /// `POST /crm/v3/objects/{type}` with this body; the new record.
    pub(crate) async fn create(
        &self,
        what: &'static str,
        object_type: &str,
        body: &Value,
    ) -> Result<Object, ConnectorError> {
        let url = self.url(&["crm", "v3", "objects", object_type])?;
        let token = self.token.expose();
        // Never sent twice by this call: a timeout may have created it.
        self.api
            .creating()
            .json(what, |c| c.post(url.clone()).bearer_auth(token).json(body))
            .await
    }

    /// `GET /crm/v3/objects/contacts?limit=1`: whether the token works.
    pub(crate) async fn ping(&self) -> Result<(), ConnectorError> {
        let mut url = self.url(&["crm", "v3", "objects", "contacts"])?;
        url.query_pairs_mut().append_pair("limit", "1");
        let token = self.token.expose();
        self.api
            .send("credentials check", |c| {
                c.get(url.clone()).bearer_auth(token)
            })
            .await
            .map(|_| ())
    }
}
