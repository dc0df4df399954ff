//! Where the providers are: the process decides (tests point them at a
//! local mock), never a tenant's settings (an admin cannot aim a
//! connector, with its credentials, at another host).

use inbox_core::settings::ZohoDataCenter;
use url::Url;

/// The providers' base addresses.
///
/// ```
/// use inbox_connectors::Endpoints;
/// use inbox_core::settings::ZohoDataCenter;
/// let real = Endpoints::default();
/// assert_eq!(real.hubspot.as_str(), "https://api.hubapi.com/");
/// assert_eq!(real.zoho_api(ZohoDataCenter::Eu).as_str(), "https://www.zohoapis.eu/");
/// assert_eq!(real.zoho_accounts(ZohoDataCenter::Ca).as_str(), "https://accounts.zohocloud.ca/");
/// assert_eq!(real.shopify("acme.myshopify.com").unwrap().as_str(), "https://acme.myshopify.com/");
/// let mock = Endpoints::all_at("http://127.0.0.1:9999".parse().unwrap());
/// assert_eq!(mock.shopify("acme.myshopify.com").unwrap().as_str(), "http://127.0.0.1:9999/");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// HubSpot's API (`https://api.hubapi.com`).
    pub hubspot: Url,
    /// Zoho's accounts server, for every data centre (`None`: each data
    /// centre's own, `https://accounts.zoho.eu` …).
    pub zoho_accounts: Option<Url>,
    /// Zoho CRM's API, for every data centre (`None`: each data centre's
    /// own, `https://www.zohoapis.eu` …).
    pub zoho_api: Option<Url>,
    /// Every shop's Admin API (`None`: `https://<shop>.myshopify.com`).
    pub shopify: Option<Url>,
    /// The Shopify Admin API version asked for (`2025-10`).
    pub shopify_api_version: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            hubspot: url("https://api.hubapi.com"),
            zoho_accounts: None,
            zoho_api: None,
            shopify: None,
            shopify_api_version: "2025-10".into(),
        }
    }
}

/// One of the fixed addresses above (every one is parsed by the doc test).
#[allow(clippy::expect_used)]
fn url(s: &str) -> Url {
    Url::parse(s).expect("a fixed provider address")
}

impl Endpoints {
    /// Every provider at one address (a local mock server in tests).
    pub fn all_at(base: Url) -> Self {
        Self {
            hubspot: base.clone(),
            zoho_accounts: Some(base.clone()),
            zoho_api: Some(base.clone()),
            shopify: Some(base),
            ..Self::default()
        }
    }

    /// Zoho's accounts server for a data centre.
    pub fn zoho_accounts(&self, dc: ZohoDataCenter) -> Url {
        self.zoho_accounts
            .clone()
            .unwrap_or_else(|| url(&format!("https://accounts.{}", dc.domain())))
    }

    /// Zoho CRM's API for a data centre.
    pub fn zoho_api(&self, dc: ZohoDataCenter) -> Url {
        self.zoho_api.clone().unwrap_or_else(|| {
            let suffix = match dc {
                ZohoDataCenter::Ca => "ca",
                other => other.domain().trim_start_matches("zoho."),
            };
            url(&format!("https://www.zohoapis.{suffix}"))
        })
    }

    /// A shop's Admin API base (`None`: not a shop's domain).
    pub fn shopify(&self, shop: &str) -> Option<Url> {
        if let Some(base) = &self.shopify {
            return Some(base.clone());
        }
        Url::parse(&format!("https://{shop}"))
            .ok()
            .filter(|u| u.host_str() == Some(shop))
    }
}
