//! A contact's open deals: its deal associations (every page), the deals
//! read in batches, the closed ones left out, stages named from the deal
//! pipelines (read once, again when a stage is unknown).

use std::collections::HashMap;

use super::wire::Object;
use super::HubSpot;
use crate::ConnectorError;

/// The deal properties the cards show.
pub(crate) const DEAL_PROPERTIES: &[&str] = &[
    "dealname",
    "dealstage",
    "pipeline",
    "amount",
    "deal_currency_code",
    "closedate",
    "hs_is_closed",
];

/// A deal stage: its label and whether deals in it are closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StageInfo {
    pub(crate) label: String,
    pub(crate) closed: Option<bool>,
}

/// An open deal, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenDeal {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) stage: Option<String>,
    pub(crate) amount: Option<String>,
    /// `YYYY-MM-DD`.
    pub(crate) close_date: Option<String>,
}

impl HubSpot {
    /// The contact's open deals, the soonest to close first.
    pub(crate) async fn open_deals(&self, contact: &str) -> Result<Vec<OpenDeal>, ConnectorError> {
        let ids: Vec<String> = self
            .associations("deal associations", contact, "deals")
            .await?
            .into_iter()
            .map(|a| a.to)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let deals = self.deals(&ids, DEAL_PROPERTIES).await?;
        let stages = self.stages_of(&deals).await;
        let mut open: Vec<OpenDeal> = deals
            .iter()
            .filter(|d| !is_closed(d, &stages))
            .map(|d| shown(d, &stages))
            .collect();
        open.sort_by(|a, b| match (&a.close_date, &b.close_date) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        });
        Ok(open)
    }

    /// The stages the deals are in, from the cache, else read again. A
    /// failure leaves the stages unnamed (the deals are still shown).
    async fn stages_of(&self, deals: &[Object]) -> HashMap<String, StageInfo> {
        let known = self.known_stages();
        let unknown = deals
            .iter()
            .filter_map(|d| d.prop("dealstage"))
            .any(|s| !known.contains_key(s));
        if !unknown {
            return known;
        }
        match self.deal_pipelines().await {
            Ok(p) => {
                let fresh: HashMap<String, StageInfo> = p
                    .results
                    .into_iter()
                    .flat_map(|p| p.stages)
                    .map(|s| {
                        let closed = s.is_closed();
                        (
                            s.id,
                            StageInfo {
                                label: s.label,
                                closed,
                            },
                        )
                    })
                    .collect();
                self.remember_stages(fresh.clone());
                fresh
            }
            Err(e) => {
                tracing::warn!(error = %e, "HubSpot deal stages could not be read");
                known
            }
        }
    }
}

/// Whether a deal is closed: HubSpot's `hs_is_closed`, else its stage's
/// `isClosed`, else the default pipeline's closed stages.
fn is_closed(deal: &Object, stages: &HashMap<String, StageInfo>) -> bool {
    if let Some(closed) = deal.prop("hs_is_closed").and_then(|v| v.parse().ok()) {
        return closed;
    }
    let stage = deal.prop("dealstage");
    stage
        .and_then(|s| stages.get(s))
        .and_then(|s| s.closed)
        .unwrap_or(matches!(stage, Some("closedwon" | "closedlost")))
}

fn shown(deal: &Object, stages: &HashMap<String, StageInfo>) -> OpenDeal {
    let stage = deal.prop("dealstage").map(|s| {
        stages
            .get(s)
            .map_or_else(|| s.to_string(), |i| i.label.clone())
    });
    let amount = deal
        .prop("amount")
        .map(|a| match deal.prop("deal_currency_code") {
            Some(cur) => format!("{a} {cur}"),
            None => a.to_string(),
        });
    OpenDeal {
        id: deal.id.clone(),
        name: deal.prop("dealname").map(str::to_string),
        stage,
        amount,
        close_date: deal.prop("closedate").map(|d| d.chars().take(10).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deal(props: serde_json::Value) -> Object {
        serde_json::from_value(json!({"id": "7", "properties": props})).unwrap()
    }

    #[test]
    fn closed_deals_are_known_by_flag_then_stage() {
        let mut stages = HashMap::new();
        stages.insert(
            "won-ish".to_string(),
            StageInfo {
                label: "Signed".into(),
                closed: Some(true),
            },
        );
        assert!(is_closed(&deal(json!({"hs_is_closed": "true"})), &stages));
        assert!(!is_closed(
            &deal(json!({"hs_is_closed": "false", "dealstage": "won-ish"})),
            &stages
        ));
        assert!(is_closed(&deal(json!({"dealstage": "won-ish"})), &stages));
        assert!(is_closed(
            &deal(json!({"dealstage": "closedlost"})),
            &HashMap::new()
        ));
        assert!(!is_closed(
            &deal(json!({"dealstage": "qualifiedtobuy"})),
            &HashMap::new()
        ));
    }

    #[test]
    fn deals_are_shown_with_stage_label_amount_and_date() {
        let mut stages = HashMap::new();
        stages.insert(
            "appointmentscheduled".to_string(),
            StageInfo {
                label: "Appointment scheduled".into(),
                closed: Some(false),
            },
        );
        let d = deal(
            json!({"dealname": "Renewal", "dealstage": "appointmentscheduled",
            "amount": "1500", "deal_currency_code": "EUR", "closedate": "2024-06-30T10:00:00Z"}),
        );
        let shown = shown(&d, &stages);
        assert_eq!(shown.stage.as_deref(), Some("Appointment scheduled"));
        assert_eq!(shown.amount.as_deref(), Some("1500 EUR"));
        assert_eq!(shown.close_date.as_deref(), Some("2024-06-30"));
    }
}
