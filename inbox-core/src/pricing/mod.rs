//! Per-message pricing: the tenant's rate card (the `pricing` section of
//! its settings), the customer's market, the cost report over what was
//! sent, and the estimate of what a send will cost before it goes.
//!
//! Money is [`Amount`]: integer millionths of the currency unit, so that
//! sums are exact and every store gives the same figures.

mod amount;
mod costs;
mod estimate;
mod market;
mod rates;
#[cfg(test)]
mod tests;

pub use amount::Amount;
pub use costs::{Billing, CostLine, CostQuery, CostReport, MessageTally};
pub use estimate::{estimate, EntryPoint, PriceEstimate, PriceReason, Sending};
pub use market::{
    country_of_phone, country_of_user_id, is_country, market_of, CALLING_CODES, COUNTRIES,
};
pub use rates::{CategoryRates, PricingSection, RateCard};
