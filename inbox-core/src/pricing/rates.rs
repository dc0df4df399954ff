//! The rate card: what the tenant pays Meta per billed message, by
//! category and market, as the settings document writes it
//! ([`PricingSection`]) and as the inbox runs it ([`RateCard`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::amount::Amount;
use super::market::is_country;
use crate::error::SettingsProblem;

/// The `pricing` section of the tenant settings: the currency and, per
/// pricing category, a default rate and rates by market. Empty by default:
/// no rate card, and cost reports count messages without costs.
///
/// ```
/// use inbox_core::settings::TenantSettings;
/// let yaml = r#"
/// pricing:
///   currency: USD
///   rates:
///     marketing: {default: 0.025, markets: {BR: "0.0625", IN: 0.0107}}
///     utility: {default: "0.004"}
/// "#;
/// let policy = TenantSettings::from_yaml(yaml).unwrap().compile_stored().unwrap();
/// let card = policy.rate_card.unwrap();
/// assert_eq!(card.rate("MARKETING", Some("BR")).unwrap().to_string(), "0.0625");
/// assert_eq!(card.rate("marketing", Some("MX")).unwrap().to_string(), "0.025");
/// assert_eq!(card.rate("authentication", None), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PricingSection {
    /// The currency of every rate: an ISO 4217 code (`USD`, `EUR`, `INR`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Rates by pricing category as Meta names it (`marketing`,
    /// `utility`, `authentication`, `service`, or any other; case aside).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rates: BTreeMap<String, CategoryRates>,
}

impl PricingSection {
    /// Whether the section says nothing (the default).
    pub fn is_empty(&self) -> bool {
        self.currency.is_none() && self.rates.is_empty()
    }

    /// Checks the section and compiles it: `None` when it is empty, the
    /// rate card otherwise, or every problem, each by its path.
    pub(crate) fn compile(&self) -> Result<Option<RateCard>, Vec<SettingsProblem>> {
        let mut problems = Vec::new();
        let mut push =
            |path: String, reason: String| problems.push(SettingsProblem { path, reason });
        if self.is_empty() {
            return Ok(None);
        }
        match &self.currency {
            None => push(
                "pricing.currency".into(),
                "required with rates (an ISO 4217 code such as USD)".into(),
            ),
            Some(c) if !is_currency_code(c) => push(
                "pricing.currency".into(),
                format!("{c:?} is not an ISO 4217 currency code (three capital letters, e.g. USD)"),
            ),
            Some(_) => {}
        }
        let mut rates = BTreeMap::new();
        for (category, r) in &self.rates {
            let path = format!("pricing.rates.{category}");
            let key = category.trim().to_lowercase();
            if key.is_empty() {
                push(path.clone(), "a category needs a name".into());
            }
            match r.default {
                None => push(
                    format!("{path}.default"),
                    "required (the rate of markets not listed)".into(),
                ),
                Some(a) if a.is_negative() => {
                    push(format!("{path}.default"), format!("{a} is negative"))
                }
                Some(_) => {}
            }
            for (market, a) in &r.markets {
                if !is_country(market) {
                    push(
                        format!("{path}.markets.{market}"),
                        format!("{market:?} is not a country code (ISO 3166-1 alpha-2 in capitals, e.g. BR)"),
                    );
                }
                if a.is_negative() {
                    push(
                        format!("{path}.markets.{market}"),
                        format!("{a} is negative"),
                    );
                }
            }
            if rates.insert(key, r.clone()).is_some() {
                push(
                    path,
                    "the same category is listed twice (case aside)".into(),
                );
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Some(RateCard {
            currency: self.currency.clone().unwrap_or_default(),
            rates,
        }))
    }
}

/// One category's rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CategoryRates {
    /// The rate of a market not listed (or a customer whose market is not
    /// known). Required.
    #[serde(default)]
    pub default: Option<Amount>,
    /// Rates by market: the customer's country, ISO 3166-1 alpha-2
    /// (`BR`, `IN`; see [`market_of`](super::market_of)).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub markets: BTreeMap<String, Amount>,
}

/// A checked rate card, as the inbox runs it
/// ([`TenantPolicy::rate_card`](crate::settings::TenantPolicy::rate_card)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCard {
    /// The ISO 4217 code of every rate.
    pub currency: String,
    /// By category, in lower case.
    rates: BTreeMap<String, CategoryRates>,
}

impl RateCard {
    /// The rate of one message of `category` (any case) to a customer in
    /// `market`: the market's rate, else the category's default; `None`
    /// when the card has no rate for the category.
    pub fn rate(&self, category: &str, market: Option<&str>) -> Option<Amount> {
        let rates = self.rates.get(&category.to_lowercase())?;
        market
            .and_then(|m| rates.markets.get(m))
            .copied()
            .or(rates.default)
    }
}

/// Whether `code` has the shape of an ISO 4217 code: three capital ASCII
/// letters (the list itself is not checked: a new currency is not refused).
fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}
