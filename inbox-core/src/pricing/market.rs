//! The customer's market: see the [pricing module](crate::pricing) docs.

use crate::model::ContactIdentity;

/// The ISO 3166-1 alpha-2 country codes (officially assigned), in
/// alphabetical order, two letters each, separated by spaces.
pub const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM \
PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Whether `code` is an ISO 3166-1 alpha-2 country code (in capitals).
///
/// ```
/// use inbox_core::pricing::is_country;
/// assert!(is_country("BR") && is_country("GB"));
/// assert!(!is_country("UK") && !is_country("br") && !is_country("BRA"));
/// ```
pub fn is_country(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && COUNTRIES.split(' ').any(|c| c == code)
}

/// Common country calling codes and the country that holds their numbers
/// (see the [module docs](crate::pricing) for those left out). No code is a prefix
/// of another.
pub const CALLING_CODES: &[(&str, &str)] = &[
    ("20", "EG"),
    ("27", "ZA"),
    ("30", "GR"),
    ("31", "NL"),
    ("32", "BE"),
    ("33", "FR"),
    ("34", "ES"),
    ("36", "HU"),
    ("39", "IT"),
    ("40", "RO"),
    ("41", "CH"),
    ("43", "AT"),
    ("44", "GB"),
    ("45", "DK"),
    ("46", "SE"),
    ("47", "NO"),
    ("48", "PL"),
    ("49", "DE"),
    ("51", "PE"),
    ("52", "MX"),
    ("53", "CU"),
    ("54", "AR"),
    ("55", "BR"),
    ("56", "CL"),
    ("57", "CO"),
    ("58", "VE"),
    ("60", "MY"),
    ("61", "AU"),
    ("62", "ID"),
    ("63", "PH"),
    ("64", "NZ"),
    ("65", "SG"),
    ("66", "TH"),
    ("81", "JP"),
    ("82", "KR"),
    ("84", "VN"),
    ("86", "CN"),
    ("90", "TR"),
    ("91", "IN"),
    ("92", "PK"),
    ("93", "AF"),
    ("94", "LK"),
    ("95", "MM"),
    ("98", "IR"),
    ("212", "MA"),
    ("213", "DZ"),
    ("216", "TN"),
    ("233", "GH"),
    ("234", "NG"),
    ("254", "KE"),
    ("255", "TZ"),
    ("256", "UG"),
    ("351", "PT"),
    ("352", "LU"),
    ("353", "IE"),
    ("358", "FI"),
    ("380", "UA"),
    ("420", "CZ"),
    ("421", "SK"),
    ("502", "GT"),
    ("503", "SV"),
    ("504", "HN"),
    ("505", "NI"),
    ("506", "CR"),
    ("507", "PA"),
    ("591", "BO"),
    ("593", "EC"),
    ("595", "PY"),
    ("598", "UY"),
    ("852", "HK"),
    ("853", "MO"),
    ("880", "BD"),
    ("886", "TW"),
    ("961", "LB"),
    ("962", "JO"),
    ("965", "KW"),
    ("966", "SA"),
    ("968", "OM"),
    ("971", "AE"),
    ("972", "IL"),
    ("973", "BH"),
    ("974", "QA"),
    ("977", "NP"),
];

/// The country of a phone number (digits, as WhatsApp's `wa_id`; a
/// leading `+` is allowed) by its calling code, when the code is listed.
pub fn country_of_phone(number: &str) -> Option<&'static str> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    CALLING_CODES
        .iter()
        .find(|(code, _)| digits.starts_with(code))
        .map(|(_, country)| *country)
}

/// The country a business-scoped user id starts with (`US` of
/// `US.1349…`), when it is a country code.
pub fn country_of_user_id(user_id: &str) -> Option<&str> {
    let (prefix, _) = user_id.split_once('.')?;
    is_country(prefix).then_some(prefix)
}

/// The market of a customer: the country of their number's calling code,
/// else the country their BSUID starts with, else none (see the [module
/// docs](crate::pricing)).
pub fn market_of(identity: &ContactIdentity) -> Option<String> {
    identity
        .wa_id
        .as_deref()
        .and_then(country_of_phone)
        .or_else(|| identity.user_id.as_deref().and_then(country_of_user_id))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_country_list_is_iso_3166_alpha_2() {
        let all: Vec<&str> = COUNTRIES.split(' ').collect();
        assert_eq!(all.len(), 249);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
        assert!(all.iter().all(|c| c.len() == 2));
    }

    #[test]
    fn calling_codes_are_prefix_free_and_name_countries() {
        for (a, country) in CALLING_CODES {
            assert!(is_country(country), "{country}");
            for (b, _) in CALLING_CODES {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn markets_come_from_the_number_then_the_user_id() {
        let both = ContactIdentity {
            wa_id: Some("5511987654321".into()),
            user_id: Some("US.1".into()),
            parent_user_id: None,
        };
        assert_eq!(market_of(&both).as_deref(), Some("BR"));
        let shared_code = ContactIdentity {
            wa_id: Some("14155550100".into()),
            ..both.clone()
        };
        assert_eq!(market_of(&shared_code).as_deref(), Some("US"));
        for (user_id, market) in [
            ("MX.9", Some("MX")),
            ("XX.9", None),
            ("mx.9", None),
            ("MX9", None),
        ] {
            assert_eq!(
                market_of(&ContactIdentity::user(user_id)).as_deref(),
                market,
                "{user_id}"
            );
        }
        assert_eq!(country_of_phone("+4915112345678"), Some("DE"));
        assert_eq!(country_of_phone("79161234567"), None);
    }
}
