//! Finding the customer: each module of the settings in order, by phone,
//! then by e-mail; of several matches the most recently modified.
//!
//! `GET /crm/v7/{Module}/search?phone=…` ("all the phone fields of the
//! module are searched") and `?email=…` ("all the email fields"), with
//! `page` and `per_page` (at most 200), 204 with no body when nothing
//! matches, `info.more_records` when another page has more:
//! <https://www.zoho.com/crm/developer/docs/api/v7/search-records.html>.

use inbox_core::settings::ZohoModule;

use crate::{ConnectorError, Customer};

use super::wire::{Page, Record};
use super::Zoho;

/// Records asked for per page (Zoho's maximum).
const PER_PAGE: &str = "200";

/// Pages read at most for one search (1,000 matches); a customer's number
/// on more records than that is shown from the first pages.
const MAX_PAGES: u32 = 5;

/// How a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    Phone,
    Email,
}

impl By {
    fn param(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
        }
    }
}

/// The record that stands for the customer.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) module: ZohoModule,
    pub(crate) record: Record,
    pub(crate) by: By,
}

impl Zoho {
    /// The customer's record: by phone in each module, then by e-mail.
    pub(crate) async fn find(&self, customer: &Customer) -> Result<Option<Found>, ConnectorError> {
        let keys = [
            (By::Phone, customer.phone.as_deref()),
            (By::Email, customer.email.as_deref()),
        ];
        for (by, value) in keys {
            let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            for module in &self.settings.modules {
                if let Some(record) = self.search(*module, by, value).await? {
                    return Ok(Some(Found {
                        module: *module,
                        record,
                        by,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The most recently modified record of `module` matching, reading
    /// the pages Zoho has (at most [`MAX_PAGES`]).
    async fn search(
        &self,
        module: ZohoModule,
        by: By,
        value: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        let url = self.api_url(&format!("{}/search", module.api_name()))?;
        let mut best: Option<Record> = None;
        for page in 1..=MAX_PAGES {
            let page_no = page.to_string();
            let query = [
                (by.param(), value),
                ("page", page_no.as_str()),
                ("per_page", PER_PAGE),
            ];
            let answer = self
                .call("the record search", |c| c.get(url.clone()).query(&query))
                .await?;
            let found: Page = self.read(&answer, "the record search")?;
            let more = found.info.is_some_and(|i| i.more_records);
            for record in found.data {
                best = Some(match best {
                    Some(b) if !newer(&record, &b) => b,
                    _ => record,
                });
            }
            if !more {
                break;
            }
        }
        Ok(best)
    }
}

/// Whether `a` was modified after `b` (a record without a readable time
/// is older than any with one).
fn newer(a: &Record, b: &Record) -> bool {
    match (a.modified(), b.modified()) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}
