//! The message templates a tenant knows, and the check that a template
//! message gives each component the parameters the template takes.
//!
//! A tenant's templates are a section of its settings
//! ([`TenantSettings::templates`](crate::settings::TenantSettings::templates)):
//! written by hand, or kept in step with Meta's list of the WhatsApp
//! Business Account's templates by the WhatsApp adapter's sync, which also
//! fills in each template's [`category`](TemplateDefinition::category),
//! [`status`](TemplateDefinition::status) and
//! [`components`](TemplateDefinition::components). [`TemplateDefinition::check`]
//! is the pure check to run where a definition is known, next to
//! [`Content::validate_outbound`], which checks what can be checked without
//! one.
//!
//! ```
//! use inbox_core::model::{Content, TemplateComponent, TemplateDefinition};
//! use inbox_core::{ContentProblem, Error};
//!
//! let order_update = TemplateDefinition::new("order_update", "en_US")
//!     .with(TemplateComponent::Body, 2);
//! let message = Content::Template {
//!     name: "order_update".into(),
//!     language: "en_US".into(),
//!     components: serde_json::json!([{ "type": "body", "parameters": [
//!         { "type": "text", "text": "Ana" }
//!     ]}]),
//! };
//! let Err(Error::InvalidContent(v)) = order_update.check(&message) else { panic!() };
//! assert_eq!(v.field, "template.components[0].parameters");
//! assert_eq!(v.problem.limit_and_actual(), Some((2, 1)));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Content;
use crate::error::{ContentProblem, Error, Result};

/// A component of a template that can take parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateComponent {
    /// The header (one text parameter, or the media of a media header).
    Header,
    /// The body.
    Body,
    /// The button at this position (0 first).
    Button {
        /// The button's position.
        index: u32,
    },
}

impl std::fmt::Display for TemplateComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateComponent::Header => f.write_str("header"),
            TemplateComponent::Body => f.write_str("body"),
            TemplateComponent::Button { index } => write!(f, "button {index}"),
        }
    }
}

/// How many parameters a component of a template takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentParameters {
    /// The component.
    pub component: TemplateComponent,
    /// Its parameters (`{{1}}`, `{{2}}` ... or named ones).
    pub count: usize,
}

/// Defines a string enum of Meta's: its known values, each written in
/// capitals as Meta writes them (read in any case), and `Other` for a value
/// Meta adds later, kept as it was written, so nothing Meta sends is lost
/// or refused. Serialized as the plain string.
macro_rules! meta_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value not listed above, as it was written. Build values
            /// with `from`: an `Other` holding a listed value reads back
            /// as that value.
            Other(String),
        }

        impl $name {
            /// The value as Meta writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })*
                $name::Other(text.to_string())
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match $name::from(text.as_str()) {
                    $name::Other(_) => $name::Other(text),
                    known => known,
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $name::Other(other) => other,
                    known => known.as_str().to_string(),
                }
            }
        }

        display_as_str!($name);
    };
}

meta_enum! {
    /// A template's category, which decides what Meta charges for it and
    /// what it may say. Read from any case (`utility` is
    /// [`TemplateCategory::Utility`]); a category Meta adds later is kept as
    /// [`TemplateCategory::Other`].
    ///
    /// ```
    /// use inbox_core::model::TemplateCategory;
    /// assert_eq!(TemplateCategory::from("utility"), TemplateCategory::Utility);
    /// assert_eq!(TemplateCategory::Utility.to_string(), "UTILITY");
    /// assert_eq!(TemplateCategory::from("NEW_ONE"), TemplateCategory::Other("NEW_ONE".into()));
    /// ```
    TemplateCategory {
        /// Promotions, offers, announcements.
        Marketing = "MARKETING",
        /// About a transaction or an account the customer has (order
        /// updates, alerts).
        Utility = "UTILITY",
        /// One-time passcodes.
        Authentication = "AUTHENTICATION",
    }
}

meta_enum! {
    /// Where a template stands in Meta's review. Only an
    /// [`TemplateStatus::Approved`] template can be sent: a reply with a
    /// template the tenant's settings list with another status is refused
    /// (see [`TenantSettings::check_template`](crate::settings::TenantSettings::check_template)).
    /// Read from any case; a status Meta adds later is kept as
    /// [`TemplateStatus::Other`].
    TemplateStatus {
        /// Approved: can be sent.
        Approved = "APPROVED",
        /// Under review.
        Pending = "PENDING",
        /// Refused in review.
        Rejected = "REJECTED",
        /// Appealed after a rejection.
        InAppeal = "IN_APPEAL",
        /// Paused by Meta for its low quality.
        Paused = "PAUSED",
        /// Disabled by Meta for its low quality.
        Disabled = "DISABLED",
        /// Being deleted.
        PendingDeletion = "PENDING_DELETION",
        /// Deleted.
        Deleted = "DELETED",
        /// Archived.
        Archived = "ARCHIVED",
        /// The account has more templates than its limit.
        LimitExceeded = "LIMIT_EXCEEDED",
    }
}

/// A template the tenant knows: its name, its language and the parameters
/// each component takes (what sending it is checked against); what Meta
/// says of it besides — category, review status and components — when it
/// came from Meta's list. Components not listed in `parameters` take none.
///
/// The fields after `parameters` are optional: left out of a settings
/// document they are `None` or empty, and written only when set, so a
/// document that does not use them reads and writes as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDefinition {
    /// The template's name.
    pub name: String,
    /// Its language code (`en_US`).
    pub language: String,
    /// The components that take parameters.
    pub parameters: Vec<ComponentParameters>,
    /// Its category (`MARKETING`, `UTILITY`, `AUTHENTICATION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<TemplateCategory>,
    /// Its review status (`APPROVED`, `PENDING`, `REJECTED` ...). Only an
    /// approved template (or one with no status: declared by hand) can be
    /// sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TemplateStatus>,
    /// Its components (header, body, footer, buttons) as Meta lists them,
    /// for an inbox to show the template's text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Value>,
}

impl TemplateDefinition {
    /// A definition whose components take no parameters, with no category,
    /// status or components.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            parameters: Vec::new(),
            category: None,
            status: None,
            components: Vec::new(),
        }
    }

    /// The definition with `component` taking `count` parameters.
    pub fn with(mut self, component: TemplateComponent, count: usize) -> Self {
        self.parameters.retain(|p| p.component != component);
        self.parameters
            .push(ComponentParameters { component, count });
        self
    }

    /// The parameters `component` takes.
    pub fn expected(&self, component: TemplateComponent) -> usize {
        self.parameters
            .iter()
            .find(|p| p.component == component)
            .map_or(0, |p| p.count)
    }

    /// Checks that `content` is this template (name and language) and gives
    /// each component exactly the parameters it takes: an
    /// [`Error::InvalidContent`] with [`ContentProblem::ParameterCount`]
    /// naming the component otherwise.
    pub fn check(&self, content: &Content) -> Result<()> {
        let Content::Template {
            name,
            language,
            components,
        } = content
        else {
            return Err(invalid(
                "type",
                format!("{} is not a template", content.kind()),
            ));
        };
        self.check_names(name, language)?;
        let given = given_parameters(components)?;
        for p in &self.parameters {
            let found = given.iter().find(|g| g.component == p.component);
            let actual = found.map_or(0, |g| g.count);
            if actual != p.count {
                let field = found.map_or("template.components".into(), |g| g.field.clone());
                return Err(count_error(field, p.component, p.count, actual));
            }
        }
        for g in &given {
            let expected = self.expected(g.component);
            if g.count != expected {
                return Err(count_error(g.field.clone(), g.component, expected, g.count));
            }
        }
        Ok(())
    }

    /// Checks that a template message names this template in its
    /// language: `template.name` or `template.language.code` otherwise.
    pub(super) fn check_names(&self, name: &str, language: &str) -> Result<()> {
        if name != self.name {
            return Err(invalid(
                "template.name",
                format!("is {name:?}, the definition is of {:?}", self.name),
            ));
        }
        if language != self.language {
            return Err(invalid(
                "template.language.code",
                format!("is {language:?}, the definition is in {:?}", self.language),
            ));
        }
        Ok(())
    }
}

/// A component of a template message and the parameters it gives.
struct Given {
    component: TemplateComponent,
    count: usize,
    field: String,
}

pub(super) fn invalid(field: impl Into<String>, reason: String) -> Error {
    Error::content(field, ContentProblem::Invalid { reason })
}

pub(super) fn count_error(
    field: String,
    component: TemplateComponent,
    expected: usize,
    actual: usize,
) -> Error {
    Error::content(
        field,
        ContentProblem::ParameterCount {
            component: component.to_string(),
            expected,
            actual,
        },
    )
}

/// The components of a template message's `components` JSON, each once.
fn given_parameters(components: &Value) -> Result<Vec<Given>> {
    let list = match components {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => {
            return Err(invalid(
                "template.components",
                "must be a list of components".into(),
            ))
        }
    };
    let mut given: Vec<Given> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let base = format!("template.components[{i}]");
        let component = component_of(&base, c)?;
        if let Some(earlier) = given.iter().find(|g| g.component == component) {
            return Err(Error::content(
                format!("{base}.type"),
                ContentProblem::Duplicate {
                    of: earlier.field.trim_end_matches(".parameters").to_string() + ".type",
                },
            ));
        }
        let count = c
            .get("parameters")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        given.push(Given {
            component,
            count,
            field: format!("{base}.parameters"),
        });
    }
    Ok(given)
}

/// Which component a component object of a template message is.
fn component_of(base: &str, c: &Value) -> Result<TemplateComponent> {
    let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
    match kind.to_ascii_lowercase().as_str() {
        "header" => Ok(TemplateComponent::Header),
        "body" => Ok(TemplateComponent::Body),
        "button" => {
            let index = match c.get("index") {
                Some(Value::String(s)) => s.parse().ok(),
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                _ => None,
            };
            index
                .map(|index| TemplateComponent::Button { index })
                .ok_or_else(|| {
                    invalid(
                        format!("{base}.index"),
                        "a button component needs its position (\"0\", \"1\" ...)".into(),
                    )
                })
        }
        _ => Err(invalid(
            format!("{base}.type"),
            format!("is {kind:?}; a component is a header, a body or a button"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition() -> TemplateDefinition {
        TemplateDefinition::new("order_update", "en_US")
            .with(TemplateComponent::Header, 1)
            .with(TemplateComponent::Body, 2)
            .with(TemplateComponent::Button { index: 0 }, 1)
    }

    fn message(components: Value) -> Content {
        Content::Template {
            name: "order_update".into(),
            language: "en_US".into(),
            components,
        }
    }

    fn params(n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({"type": "text", "text": format!("p{i}")}))
                .collect(),
        )
    }

    fn refused(def: &TemplateDefinition, content: &Content) -> (String, ContentProblem) {
        match def.check(content) {
            Err(Error::InvalidContent(v)) => (v.field, v.problem),
            other => panic!("expected a content refusal, got {other:?}"),
        }
    }

    fn count(component: &str, expected: usize, actual: usize) -> ContentProblem {
        ContentProblem::ParameterCount {
            component: component.into(),
            expected,
            actual,
        }
    }

    fn full() -> Value {
        json!([
            {"type": "header", "parameters": params(1)},
            {"type": "body", "parameters": params(2)},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": params(1)},
        ])
    }

    #[test]
    fn the_parameters_of_the_definition_pass() {
        assert!(definition().check(&message(full())).is_ok());
        let plain = TemplateDefinition::new("hello_world", "en_US");
        let hello = Content::Template {
            name: "hello_world".into(),
            language: "en_US".into(),
            components: Value::Null,
        };
        assert!(plain.check(&hello).is_ok());
        assert_eq!(definition().expected(TemplateComponent::Body), 2);
    }

    #[test]
    fn a_component_with_too_few_or_too_many_parameters_is_refused() {
        // (component index, parameters given, its name, parameters expected)
        for (i, given, name, expected) in [(1, 3, "body", 2), (0, 0, "header", 1)] {
            let mut c = full();
            c[i]["parameters"] = params(given);
            assert_eq!(
                refused(&definition(), &message(c)),
                (
                    format!("template.components[{i}].parameters"),
                    count(name, expected, given)
                )
            );
        }
        // The body left out altogether.
        let c = json!([{"type": "header", "parameters": params(1)}]);
        assert_eq!(
            refused(&definition(), &message(c)),
            ("template.components".into(), count("body", 2, 0))
        );
        // A button the definition gives no parameter.
        let mut c = full();
        c.as_array_mut().unwrap().push(json!({"type": "button", "sub_type": "quick_reply", "index": 1, "parameters": [{"type": "payload", "payload": "x"}]}));
        assert_eq!(
            refused(&definition(), &message(c)),
            (
                "template.components[3].parameters".into(),
                count("button 1", 0, 1)
            )
        );
    }

    #[test]
    fn another_template_or_a_malformed_component_is_refused() {
        let other = Content::Template {
            name: "promo".into(),
            language: "en_US".into(),
            components: full(),
        };
        assert_eq!(refused(&definition(), &other).0, "template.name");
        let spanish = Content::Template {
            name: "order_update".into(),
            language: "es".into(),
            components: full(),
        };
        assert_eq!(refused(&definition(), &spanish).0, "template.language.code");
        assert_eq!(refused(&definition(), &Content::text("hi")).0, "type");
        let c = json!([{"type": "button", "parameters": params(1)}]);
        assert_eq!(
            refused(&definition(), &message(c)).0,
            "template.components[0].index"
        );
        let c = json!([{"type": "footer"}]);
        assert_eq!(
            refused(&definition(), &message(c)).0,
            "template.components[0].type"
        );
        let c = json!([{"type": "body", "parameters": params(2)}, {"type": "BODY", "parameters": params(2)}]);
        assert_eq!(
            refused(&definition(), &message(c)),
            (
                "template.components[1].type".into(),
                ContentProblem::Duplicate {
                    of: "template.components[0].type".into()
                }
            )
        );
    }

    #[test]
    fn category_status_and_components_are_optional_and_round_trip() {
        use crate::settings::TenantSettings;
        let yaml = "templates:\n  - {name: hello, language: en_US, parameters: []}\n";
        let plain = TenantSettings::from_yaml(yaml).unwrap();
        assert_eq!(
            plain.templates[0],
            TemplateDefinition::new("hello", "en_US")
        );
        // Nothing new is written for a definition that does not use them.
        let written = serde_json::to_value(&plain.templates[0]).unwrap();
        assert_eq!(
            written,
            json!({"name": "hello", "language": "en_US", "parameters": []})
        );
        assert_eq!(
            TenantSettings::from_yaml(&plain.to_yaml().unwrap()).unwrap(),
            plain
        );

        let yaml = r#"
templates:
  - name: order_update
    language: en_US
    parameters: [{component: {type: body}, count: 1}]
    category: utility
    status: APPROVED
    components: [{type: BODY, text: "Hi {{1}}"}]
  - {name: promo, language: es, parameters: [], category: SOMETHING_NEW, status: IN_APPEAL}
"#;
        let full = TenantSettings::from_yaml(yaml).unwrap();
        let t = &full.templates;
        assert_eq!(t[0].category, Some(TemplateCategory::Utility));
        assert_eq!(t[0].status, Some(TemplateStatus::Approved));
        assert_eq!(t[0].components[0]["text"], "Hi {{1}}");
        assert_eq!(t[0].expected(TemplateComponent::Body), 1);
        assert_eq!(
            t[1].category,
            Some(TemplateCategory::Other("SOMETHING_NEW".into()))
        );
        assert_eq!(t[1].status, Some(TemplateStatus::InAppeal));
        assert_eq!(
            TenantSettings::from_yaml(&full.to_yaml().unwrap()).unwrap(),
            full
        );
        assert_eq!(serde_json::to_value(&t[0]).unwrap()["category"], "UTILITY");
        assert_eq!(TemplateStatus::from("paused").to_string(), "PAUSED");
    }
}
