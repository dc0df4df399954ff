//! The `customers` search terms for a customer: `phone:…`, then `email:…`.
//!
//! Shopify's search syntax (<https://shopify.dev/docs/api/usage/search-syntax>):
//! a term is `field:value`, where a value is a *name* (no whitespace, no
//! special character) or a quoted string (single or double quotes). A
//! number in E.164 (`+34600111222`) or a plain e-mail is a name and is
//! written as is (as in Shopify's own examples,
//! `email:bob.norman@mail.example.com`); anything else is double-quoted,
//! its backslashes and double quotes escaped with a backslash. The term
//! goes in a GraphQL variable, never into the document.

use crate::Customer;

/// The terms to try, in order: the phone, then the e-mail.
pub(super) fn terms(customer: &Customer) -> Vec<String> {
    let phone = customer.phone.as_deref().map(|p| term("phone", p));
    let email = customer.email.as_deref().map(|e| term("email", e));
    phone.into_iter().chain(email).collect()
}

/// `field:value`, the value written safely.
pub(super) fn term(field: &str, value: &str) -> String {
    let value = value.trim();
    if is_plain(value) {
        format!("{field}:{value}")
    } else {
        format!("{field}:{}", quoted(value))
    }
}

/// Letters, digits and `+ @ . _ -` (not first: `-` negates a term).
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '@' | '.' | '_' | '-'))
}

fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_written_as_is_and_others_quoted() {
        assert_eq!(term("phone", "+34600111222"), "phone:+34600111222");
        assert_eq!(
            term("email", "ana.lopez@example.com"),
            "email:ana.lopez@example.com"
        );
        assert_eq!(
            term("email", r#"o'neil "x"\y@example.com"#),
            r#"email:"o'neil \"x\"\\y@example.com""#
        );
        assert_eq!(term("email", "a:b OR c"), r#"email:"a:b OR c""#);
        assert_eq!(
            term("email", "-ana@example.com"),
            r#"email:"-ana@example.com""#
        );
    }

    #[test]
    fn the_phone_is_tried_before_the_email() {
        let c = Customer {
            phone: Some("+34600111222".into()),
            email: Some("ana@example.com".into()),
            name: None,
        };
        assert_eq!(terms(&c), ["phone:+34600111222", "email:ana@example.com"]);
        assert!(terms(&Customer::default()).is_empty());
    }
}
