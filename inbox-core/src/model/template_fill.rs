//! Template messages built from values: a [`TemplateFill`] names a template
//! and gives the value of each of its parameters (the header's text, media
//! or place, the body's texts, each button's value), and
//! [`TemplateDefinition::fill`] builds from it the `components` of the
//! Cloud API's template message, then checks the result with
//! [`TemplateDefinition::check`]. Callers (the HTTP API, the agents' form,
//! broadcasts) send values, never Meta's JSON.
//!
//! How each value is read and checked is told at
//! [`TemplateDefinition::fill`].
//!
//! ```
//! use inbox_core::model::{Content, HeaderFill, TemplateComponent, TemplateDefinition, TemplateFill};
//! use serde_json::json;
//!
//! let mut order_update = TemplateDefinition::new("order_update", "en_US")
//!     .with(TemplateComponent::Header, 1)
//!     .with(TemplateComponent::Body, 2)
//!     .with(TemplateComponent::Button { index: 1 }, 1);
//! order_update.components = vec![
//!     json!({ "type": "HEADER", "format": "IMAGE" }),
//!     json!({ "type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way" }),
//!     json!({ "type": "BUTTONS", "buttons": [
//!         { "type": "QUICK_REPLY", "text": "Stop" },
//!         { "type": "URL", "text": "Track", "url": "https://example.com/t/{{1}}" }
//!     ]}),
//! ];
//! let mut fill = TemplateFill::new("order_update", "en_US");
//! fill.header = Some(HeaderFill::Image { link: Some("https://example.com/box.jpg".into()), id: None });
//! fill.body = vec!["Ana".into(), "A-17".into()];
//! fill.buttons.insert(1, vec!["A-17".into()]);
//!
//! let Content::Template { components, .. } = order_update.fill(&fill).unwrap() else { panic!() };
//! assert_eq!(components, json!([
//!     { "type": "header", "parameters": [{ "type": "image", "image": { "link": "https://example.com/box.jpg" } }] },
//!     { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "A-17" }] },
//!     { "type": "button", "sub_type": "url", "index": "1", "parameters": [{ "type": "text", "text": "A-17" }] },
//! ]));
//!
//! // One input per value, for a form.
//! let fields: Vec<String> = order_update.slots().into_iter().map(|s| s.field).collect();
//! assert_eq!(fields, ["header", "body[0]", "body[1]", "buttons.1[0]"]);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use super::limits;
use super::template::{count_error, invalid};
use super::{Content, TemplateComponent, TemplateDefinition};
use crate::error::{ContentProblem, Error, Result};

/// What a sender gives to send a template: its name and language and the
/// value of each parameter, not Meta's JSON. Built into a template message
/// by [`TemplateDefinition::fill`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateFill {
    /// The template's name.
    pub name: String,
    /// Its language code (`en_US`).
    pub language: String,
    /// The header's value, for a template whose header takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderFill>,
    /// The body's values, in order (`{{1}}` first, or the first name the
    /// body's text shows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<String>,
    /// Button position (0 first) -> its values: a URL button's end of
    /// link, a quick-reply's payload, a copy-code's code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buttons: BTreeMap<u32, Vec<String>>,
}

/// The value of a template's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeaderFill {
    /// The text of a `TEXT` header's placeholder.
    Text {
        /// The text.
        text: String,
    },
    /// The image of an `IMAGE` header: exactly one of `link` and `id`.
    Image {
        /// A public `https://` link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        /// A media id uploaded to Meta.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The video of a `VIDEO` header: exactly one of `link` and `id`.
    Video {
        /// A public `https://` link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        /// A media id uploaded to Meta.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The document of a `DOCUMENT` header: exactly one of `link` and `id`.
    Document {
        /// A public `https://` link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        /// A media id uploaded to Meta.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The file name the customer sees.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    /// The place of a `LOCATION` header. The coordinates are decimal
    /// degrees kept as text (so the fill compares exactly), read from a
    /// number or a string.
    Location {
        /// Latitude, -90 to 90.
        #[serde(deserialize_with = "number_or_text")]
        latitude: String,
        /// Longitude, -180 to 180.
        #[serde(deserialize_with = "number_or_text")]
        longitude: String,
        /// The place's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The place's address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
}

/// One value a template takes when sent, for a form to offer one input
/// each; listed by [`TemplateDefinition::slots`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateSlot {
    /// Where the value goes in a [`TemplateFill`], as the fill's errors
    /// name it: `header`, `body[0]`, `buttons.1[0]`.
    pub field: String,
    /// The component.
    pub component: TemplateComponent,
    /// The value's position in the component (0 first).
    pub position: usize,
    /// What kind of value.
    pub kind: SlotKind,
    /// The parameter's name, for a named parameter (`first_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The example value the template was approved with, when Meta's
    /// components give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// The text around the value, when Meta's components give it: the
    /// component's text with its placeholders, a URL button's link, a
    /// button's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The most characters the value may have, where there is a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
}

/// The kind of value a [`TemplateSlot`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// A text ([`HeaderFill::Text`] for a header, a body value, an OTP
    /// button's passcode).
    Text,
    /// An image ([`HeaderFill::Image`]).
    Image,
    /// A video ([`HeaderFill::Video`]).
    Video,
    /// A document ([`HeaderFill::Document`]).
    Document,
    /// A place ([`HeaderFill::Location`]).
    Location,
    /// The end of a URL button's link (the `{{1}}` of its URL).
    UrlSuffix,
    /// A quick-reply button's payload, returned when the customer taps it.
    Payload,
    /// A copy-code button's coupon code.
    CouponCode,
    /// A flow button's flow token.
    FlowToken,
    /// A catalog button's thumbnail product, by its retailer id.
    ProductId,
    /// A value a fill cannot give (a multi-product button, a header format
    /// not known here): such a template is sent with Meta's JSON.
    Unsupported,
}

impl TemplateFill {
    /// A fill of template `name` in `language` with no values.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            header: None,
            body: Vec::new(),
            buttons: BTreeMap::new(),
        }
    }

    /// Every value of the fill (not its name or language), mutable, so a
    /// caller can render variables in them per recipient: the header's
    /// text, link, id, file name or place, then the body's values, then
    /// the buttons' in position order.
    ///
    /// ```
    /// use inbox_core::model::TemplateFill;
    /// let mut fill = TemplateFill::new("welcome", "en");
    /// fill.body = vec!["{{contact.name}}".into(), "10%".into()];
    /// for text in fill.texts_mut() {
    ///     *text = text.replace("{{contact.name}}", "Ana");
    /// }
    /// assert_eq!(fill.body, ["Ana", "10%"]);
    /// ```
    pub fn texts_mut(&mut self) -> impl Iterator<Item = &mut String> + '_ {
        let header = self.header.iter_mut().flat_map(HeaderFill::texts_mut);
        header
            .chain(self.body.iter_mut())
            .chain(self.buttons.values_mut().flatten())
    }
}

impl HeaderFill {
    /// Every string of the header, in declaration order.
    fn texts_mut(&mut self) -> Vec<&mut String> {
        match self {
            HeaderFill::Text { text } => vec![text],
            HeaderFill::Image { link, id } | HeaderFill::Video { link, id } => {
                link.iter_mut().chain(id.iter_mut()).collect()
            }
            HeaderFill::Document { link, id, filename } => link
                .iter_mut()
                .chain(id.iter_mut())
                .chain(filename.iter_mut())
                .collect(),
            HeaderFill::Location {
                latitude,
                longitude,
                name,
                address,
            } => [latitude, longitude]
                .into_iter()
                .chain(name.iter_mut())
                .chain(address.iter_mut())
                .collect(),
        }
    }

    /// What the value is, for messages.
    fn describe(&self) -> &'static str {
        match self {
            HeaderFill::Text { .. } => "a text",
            HeaderFill::Image { .. } => "an image",
            HeaderFill::Video { .. } => "a video",
            HeaderFill::Document { .. } => "a document",
            HeaderFill::Location { .. } => "a location",
        }
    }
}

/// Reads a coordinate given as a number (`37.48`) or a string (`"37.48"`).
fn number_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Text(String),
        Number(f64),
    }
    Ok(match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Text(text) => text,
        NumberOrText::Number(n) => n.to_string(),
    })
}

impl TemplateDefinition {
    /// Builds the template message `fill` gives values for: Meta's
    /// `components` with a `header`, a `body` and one `button` per button
    /// that takes values (components without values are left out; none
    /// at all is an empty list), each value in the shape the definition's
    /// components ask; then runs [`TemplateDefinition::check`] on it.
    ///
    /// **What the definition says.** How many values each component takes is
    /// the definition's [`parameters`](TemplateDefinition::parameters); what
    /// kind of value is read from its [`components`](TemplateDefinition::components)
    /// as Meta lists them: the header's `format` (`TEXT`, `IMAGE`, `VIDEO`,
    /// `DOCUMENT`, `LOCATION`) and each button's `type` at its position in
    /// `BUTTONS` (`URL` and `OTP` take a text, `QUICK_REPLY` a payload,
    /// `COPY_CODE` a coupon code, `FLOW` a flow token, `CATALOG` the retailer
    /// id of its thumbnail product). What the components do not describe — all
    /// of it for a template declared by hand in the settings, with no
    /// components — takes a **default**: a text header, and a `url` button
    /// (the end of its link). A quick-reply or flow button takes a value
    /// only where the definition counts one: the WhatsApp sync counts
    /// none (Meta lets their payload be left out), and `check` refuses a
    /// value a component does not take.
    ///
    /// **Named parameters.** A template whose text names its placeholders
    /// (`Hi {{first_name}}`, Meta's `parameter_format: NAMED`) is sent with the
    /// name of each text parameter of the header and the body
    /// (`"parameter_name": "first_name"`). The fill still gives the values as
    /// a list: the n-th value fills the n-th distinct name in the order the
    /// names first appear in the component's text. A component that says
    /// `"parameter_format": "NAMED"` marks every text as named; otherwise
    /// placeholders that are not numbers do (Meta gives the format beside
    /// a template's components, not in them, and the WhatsApp sync keeps
    /// only the components: the placeholders decide).
    /// Positional templates (`{{1}}`, `{{2}}`) take their values in number
    /// order: `body[0]` fills `{{1}}`.
    ///
    /// **Values.** Refused, each naming its place in the fill (`body[1]`,
    /// `header.link`, `buttons.1[0]`): an empty or blank value; a text
    /// parameter (header, body, a URL button's end) with a line break, a tab
    /// or more than [`limits::TEMPLATE_PARAMETER_SPACES`] spaces in a row
    /// (Meta's error 132018); a header text over
    /// [`limits::TEMPLATE_HEADER_PARAMETER`] characters, a body text over
    /// [`limits::TEMPLATE_BODY_PARAMETER`] (or
    /// [`limits::TEMPLATE_BODY_ONLY_PARAMETER`] when the body is the message's
    /// only component with parameters), a coupon code over
    /// [`limits::COUPON_CODE`]; a control character; a media header with
    /// both or neither of `link` and `id`, or a link that is not `https://`;
    /// a location out of range. Counts that differ from the definition are
    /// [`ContentProblem::ParameterCount`] on `header`, `body` or `buttons.N`;
    /// a value of the wrong kind (an image for a text header, a value for a
    /// multi-product button) is [`ContentProblem::Invalid`].
    ///
    /// Errors are [`Error::InvalidContent`] naming the place in the fill
    /// (`header`, `body[1]`, `buttons.1`), or, for another template or
    /// language, the same errors as `check` (`template.name`,
    /// `template.language.code`).
    pub fn fill(&self, fill: &TemplateFill) -> Result<Content> {
        self.check_names(&fill.name, &fill.language)?;
        let shape = Shape::read(&self.components);
        let mut components = Vec::new();
        components.extend(self.fill_header(&shape.header, fill.header.as_ref())?);
        components.extend(self.fill_body(&shape.body, &fill.body)?);
        components.extend(self.fill_buttons(&shape, &fill.buttons)?);
        let content = Content::Template {
            name: fill.name.clone(),
            language: fill.language.clone(),
            components: Value::Array(components),
        };
        self.check(&content)?;
        Ok(content)
    }

    /// The values this template takes, one [`TemplateSlot`] each, for a
    /// form to render one input per slot: the header's, the body's in
    /// order, then each button's by position. Empty for a template that
    /// takes none.
    pub fn slots(&self) -> Vec<TemplateSlot> {
        let shape = Shape::read(&self.components);
        let mut slots = Vec::new();
        for position in 0..self.expected(TemplateComponent::Header) {
            slots.push(shape.header.slot(position));
        }
        let body_limit = self.body_limit();
        for position in 0..self.expected(TemplateComponent::Body) {
            let field = format!("body[{position}]");
            let body = TemplateComponent::Body;
            slots.push(shape.body.slot(body, field, position, body_limit));
        }
        for (index, count) in self.button_counts() {
            let button = shape.button(index);
            slots.extend((0..count).map(|position| button.slot(index, position)));
        }
        slots
    }

    /// The header component of the message, when the template's header
    /// takes a value.
    fn fill_header(
        &self,
        shape: &HeaderShape,
        given: Option<&HeaderFill>,
    ) -> Result<Option<Value>> {
        let component = TemplateComponent::Header;
        let expected = self.expected(component);
        let actual = usize::from(given.is_some());
        if actual != expected {
            return Err(count_error("header".into(), component, expected, actual));
        }
        let Some(given) = given else {
            return Ok(None);
        };
        let parameter = shape.parameter(given)?;
        Ok(Some(json!({ "type": "header", "parameters": [parameter] })))
    }

    /// The body component of the message, when the body takes values.
    fn fill_body(&self, shape: &TextShape, values: &[String]) -> Result<Option<Value>> {
        let component = TemplateComponent::Body;
        let expected = self.expected(component);
        if values.len() != expected {
            return Err(count_error(
                "body".into(),
                component,
                expected,
                values.len(),
            ));
        }
        if values.is_empty() {
            return Ok(None);
        }
        let names = shape.names_for("body", expected)?;
        let limit = self.body_limit();
        let mut parameters = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            check_text(&format!("body[{i}]"), value, limit)?;
            let name = names.and_then(|n| n.get(i)).map(String::as_str);
            parameters.push(text_parameter(value, name));
        }
        Ok(Some(json!({ "type": "body", "parameters": parameters })))
    }

    /// The button components of the message: one per button given values
    /// or taking some, by position.
    fn fill_buttons(
        &self,
        shape: &Shape,
        given: &BTreeMap<u32, Vec<String>>,
    ) -> Result<Vec<Value>> {
        let mut indexes: BTreeSet<u32> = given.keys().copied().collect();
        indexes.extend(self.button_counts().into_keys());
        let mut buttons = Vec::new();
        for index in indexes {
            let values = given.get(&index).map_or(&[][..], Vec::as_slice);
            buttons.extend(self.fill_button(&shape.button(index), index, values)?);
        }
        Ok(buttons)
    }

    /// The component of the button at `index`, when it takes values.
    fn fill_button(
        &self,
        shape: &ButtonShape,
        index: u32,
        values: &[String],
    ) -> Result<Option<Value>> {
        let component = TemplateComponent::Button { index };
        let field = format!("buttons.{index}");
        let expected = self.expected(component);
        if values.len() != expected {
            return Err(count_error(field, component, expected, values.len()));
        }
        if values.is_empty() {
            return Ok(None);
        }
        let Some(sub_type) = shape.kind.sub_type() else {
            return Err(invalid(field, shape.kind.unsupported()));
        };
        let mut parameters = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            parameters.push(shape.kind.parameter(&format!("{field}[{i}]"), value)?);
        }
        Ok(Some(json!({
            "type": "button",
            "sub_type": sub_type,
            "index": index.to_string(),
            "parameters": parameters,
        })))
    }

    /// The buttons that take values, by position, with how many.
    fn button_counts(&self) -> BTreeMap<u32, usize> {
        self.parameters
            .iter()
            .filter_map(|p| match p.component {
                TemplateComponent::Button { index } if p.count > 0 => Some((index, p.count)),
                _ => None,
            })
            .collect()
    }

    /// The most characters of a body value: Meta allows more when the
    /// body is the message's only component with parameters.
    fn body_limit(&self) -> usize {
        let alone = self
            .parameters
            .iter()
            .all(|p| p.component == TemplateComponent::Body || p.count == 0);
        if alone {
            limits::TEMPLATE_BODY_ONLY_PARAMETER
        } else {
            limits::TEMPLATE_BODY_PARAMETER
        }
    }
}

/// A text parameter, with its name when the template names them.
fn text_parameter(text: &str, name: Option<&str>) -> Value {
    let mut parameter = json!({ "type": "text", "text": text });
    if let (Some(name), Some(object)) = (name, parameter.as_object_mut()) {
        object.insert("parameter_name".into(), name.into());
    }
    parameter
}

/// A text parameter's value: not blank, no line break, tab or more than
/// four spaces in a row (Meta's 132018), no control character, at most
/// `limit` characters.
fn check_text(field: &str, text: &str, limit: usize) -> Result<()> {
    limits::template_text(field, text)?;
    check_value(field, text, limit)
}

/// Any other value: not blank, no control character, at most `limit`
/// characters.
fn check_value(field: &str, text: &str, limit: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::content(field, ContentProblem::Empty));
    }
    limits::check_control(field, text)?;
    let actual = limits::length(text);
    if actual > limit {
        return Err(Error::content(
            field,
            ContentProblem::TooLong { limit, actual },
        ));
    }
    Ok(())
}

/// A media header's parameter: exactly one of an `https://` link and an id.
fn media_parameter(
    kind: &str,
    link: Option<&String>,
    id: Option<&String>,
    filename: Option<&String>,
) -> Result<Value> {
    let mut media = Map::new();
    match (link, id) {
        (Some(link), None) => {
            check_value("header.link", link, usize::MAX)?;
            let https = link
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
            if !https || link.len() == 8 {
                return Err(invalid("header.link", "must be an https:// link".into()));
            }
            media.insert("link".into(), link.as_str().into());
        }
        (None, Some(id)) => {
            check_value("header.id", id, usize::MAX)?;
            media.insert("id".into(), id.as_str().into());
        }
        _ => {
            return Err(invalid(
                "header",
                format!("the {kind} takes exactly one of link and id"),
            ))
        }
    }
    if let Some(filename) = filename {
        check_value("header.filename", filename, usize::MAX)?;
        media.insert("filename".into(), filename.as_str().into());
    }
    Ok(json!({ "type": kind, kind: media }))
}

/// A location header's parameter; coordinates sent as decimal text.
fn location_parameter(
    latitude: &str,
    longitude: &str,
    name: Option<&String>,
    address: Option<&String>,
) -> Result<Value> {
    let mut location = Map::new();
    let latitude = coordinate("header.latitude", latitude, 90.0)?;
    let longitude = coordinate("header.longitude", longitude, 180.0)?;
    location.insert("latitude".into(), latitude.to_string().into());
    location.insert("longitude".into(), longitude.to_string().into());
    for (key, text) in [("name", name), ("address", address)] {
        if let Some(text) = text {
            check_value(&format!("header.{key}"), text, usize::MAX)?;
            location.insert(key.into(), text.as_str().into());
        }
    }
    Ok(json!({ "type": "location", "location": location }))
}

/// A coordinate in decimal degrees, within `-bound..=bound`.
fn coordinate(field: &str, text: &str, bound: f64) -> Result<f64> {
    let Ok(value) = text.trim().parse::<f64>() else {
        return Err(invalid(field, "must be a number of degrees".into()));
    };
    limits::coordinate(field, value, bound)?;
    Ok(value)
}

/// What a template's components (as Meta lists them) say of the values it
/// takes; the defaults where they say nothing.
struct Shape {
    header: HeaderShape,
    body: TextShape,
    /// The buttons of `BUTTONS`, by position.
    buttons: Vec<ButtonShape>,
}

impl Shape {
    fn read(components: &[Value]) -> Self {
        let named = components
            .iter()
            .any(|c| upper(c, "parameter_format") == "NAMED");
        let find = |kind: &str| components.iter().find(|c| upper(c, "type") == kind);
        let buttons = find("BUTTONS")
            .and_then(|c| c.get("buttons"))
            .and_then(Value::as_array);
        Shape {
            header: HeaderShape::read(find("HEADER"), named),
            body: TextShape::read(find("BODY"), "body_text", named),
            buttons: buttons
                .into_iter()
                .flatten()
                .map(ButtonShape::read)
                .collect(),
        }
    }

    /// The button at `index`; a URL button when the components list none
    /// there.
    fn button(&self, index: u32) -> ButtonShape {
        let listed = usize::try_from(index)
            .ok()
            .and_then(|i| self.buttons.get(i));
        listed.cloned().unwrap_or(ButtonShape {
            kind: ButtonKind::Url,
            label: None,
            url: None,
            example: None,
        })
    }
}

/// A string field of a component, in capitals (`""` when absent).
fn upper(value: &Value, field: &str) -> String {
    field_str(value, field).unwrap_or("").to_ascii_uppercase()
}

/// A string field of a component.
fn field_str<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

/// The placeholders of a text (`{{1}}`, `{{first_name}}`: letters, digits
/// and underscores), each once, in the order they first appear.
fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        let name = &rest[..end];
        let word = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name.is_empty() && word {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
            rest = &rest[end + 2..];
        }
    }
    names
}

/// The text of a header or body: its placeholders and examples.
struct TextShape {
    text: Option<String>,
    /// The placeholders, in the order they first appear.
    names: Vec<String>,
    /// Whether the template names its parameters.
    named: bool,
    /// Example values of positional parameters, in order.
    examples: Vec<String>,
    /// Example values of named parameters, by name.
    named_examples: Vec<(String, String)>,
}

impl TextShape {
    /// Reads a component's text and its examples (`example.{key}` and
    /// `example.{key}_named_params`).
    fn read(component: Option<&Value>, key: &str, named: bool) -> Self {
        let text = component.and_then(|c| field_str(c, "text"));
        let names = placeholders(text.unwrap_or(""));
        let named = named || names.iter().any(|n| !n.bytes().all(|b| b.is_ascii_digit()));
        let example = component.and_then(|c| c.get("example"));
        let positional = example.and_then(|e| e.get(key)).and_then(Value::as_array);
        // The body's examples are a list in a list, the header's a list.
        let positional = match positional.and_then(|l| l.first()) {
            Some(Value::Array(inner)) => Some(inner),
            _ => positional,
        };
        let named_examples = example
            .and_then(|e| e.get(format!("{key}_named_params")))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    field_str(p, "param_name")?.into(),
                    field_str(p, "example")?.into(),
                ))
            })
            .collect();
        TextShape {
            text: text.map(str::to_string),
            names,
            named,
            examples: strings(positional),
            named_examples,
        }
    }

    /// The names to send with `expected` values: `None` for a positional
    /// template; refused when the text names another number of
    /// parameters than the definition counts.
    fn names_for(&self, field: &str, expected: usize) -> Result<Option<&[String]>> {
        if !self.named || self.text.is_none() {
            return Ok(None);
        }
        if self.names.len() != expected {
            return Err(invalid(
                field,
                format!(
                    "the template's text names {} parameters, its definition counts {expected}",
                    self.names.len()
                ),
            ));
        }
        Ok(Some(&self.names))
    }

    /// The name of the value at `position`, for a named template.
    fn name(&self, position: usize) -> Option<String> {
        self.named
            .then(|| self.names.get(position).cloned())
            .flatten()
    }

    /// The example of the value at `position`.
    fn example(&self, position: usize) -> Option<String> {
        match self.name(position) {
            Some(name) => self
                .named_examples
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, e)| e.clone()),
            None => self.examples.get(position).cloned(),
        }
    }

    /// The slot of the text value at `position`.
    fn slot(
        &self,
        component: TemplateComponent,
        field: String,
        position: usize,
        limit: usize,
    ) -> TemplateSlot {
        TemplateSlot {
            field,
            component,
            position,
            kind: SlotKind::Text,
            name: self.name(position),
            example: self.example(position),
            context: self.text.clone(),
            max_chars: Some(limit),
        }
    }
}

/// The strings of a JSON list.
fn strings(list: Option<&Vec<Value>>) -> Vec<String> {
    list.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A header's format, as its component says (text when none is listed).
#[derive(Debug, Clone, PartialEq, Eq)]
enum HeaderKind {
    Text,
    Image,
    Video,
    Document,
    Location,
    /// A format a fill cannot give, as Meta wrote it.
    Other(String),
}

impl HeaderKind {
    /// What the header takes, for messages.
    fn describe(&self) -> String {
        match self {
            HeaderKind::Text => "a text".into(),
            HeaderKind::Image => "an image".into(),
            HeaderKind::Video => "a video".into(),
            HeaderKind::Document => "a document".into(),
            HeaderKind::Location => "a location".into(),
            HeaderKind::Other(format) => format!("a {format} that a fill cannot give"),
        }
    }
}

/// The header: its format and, for a text header, its text.
struct HeaderShape {
    kind: HeaderKind,
    text: TextShape,
}

impl HeaderShape {
    fn read(component: Option<&Value>, named: bool) -> Self {
        let format = component.map(|c| upper(c, "format")).unwrap_or_default();
        let kind = match format.as_str() {
            "" | "TEXT" => HeaderKind::Text,
            "IMAGE" => HeaderKind::Image,
            "VIDEO" => HeaderKind::Video,
            "DOCUMENT" => HeaderKind::Document,
            "LOCATION" => HeaderKind::Location,
            _ => HeaderKind::Other(format),
        };
        HeaderShape {
            kind,
            text: TextShape::read(component, "header_text", named),
        }
    }

    /// The header's parameter holding `given`, when it is of the header's
    /// kind.
    fn parameter(&self, given: &HeaderFill) -> Result<Value> {
        match (&self.kind, given) {
            (HeaderKind::Text, HeaderFill::Text { text }) => {
                check_text("header.text", text, limits::TEMPLATE_HEADER_PARAMETER)?;
                let names = self.text.names_for("header", 1)?;
                let name = names.and_then(|n| n.first()).map(String::as_str);
                Ok(text_parameter(text, name))
            }
            (HeaderKind::Image, HeaderFill::Image { link, id }) => {
                media_parameter("image", link.as_ref(), id.as_ref(), None)
            }
            (HeaderKind::Video, HeaderFill::Video { link, id }) => {
                media_parameter("video", link.as_ref(), id.as_ref(), None)
            }
            (HeaderKind::Document, HeaderFill::Document { link, id, filename }) => {
                media_parameter("document", link.as_ref(), id.as_ref(), filename.as_ref())
            }
            (
                HeaderKind::Location,
                HeaderFill::Location {
                    latitude,
                    longitude,
                    name,
                    address,
                },
            ) => location_parameter(latitude, longitude, name.as_ref(), address.as_ref()),
            (kind, given) => Err(invalid(
                "header",
                format!(
                    "the template's header takes {}, not {}",
                    kind.describe(),
                    given.describe()
                ),
            )),
        }
    }

    /// The slot of the header's value.
    fn slot(&self, position: usize) -> TemplateSlot {
        let limit = limits::TEMPLATE_HEADER_PARAMETER;
        let header = TemplateComponent::Header;
        let text = self.text.slot(header, "header".into(), position, limit);
        let kind = match &self.kind {
            HeaderKind::Text => return text,
            HeaderKind::Image => SlotKind::Image,
            HeaderKind::Video => SlotKind::Video,
            HeaderKind::Document => SlotKind::Document,
            HeaderKind::Location => SlotKind::Location,
            HeaderKind::Other(_) => SlotKind::Unsupported,
        };
        // A media or place header has no text, name or example to show.
        TemplateSlot {
            kind,
            name: None,
            example: None,
            context: None,
            max_chars: None,
            ..text
        }
    }
}

/// A button's type, as its entry in `BUTTONS` says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ButtonKind {
    /// `URL`: the end of its link.
    Url,
    /// `OTP` (copy code, one tap, zero tap): the passcode, sent as a URL
    /// button's text.
    Otp,
    /// `QUICK_REPLY`: a payload.
    QuickReply,
    /// `COPY_CODE`: a coupon code.
    CopyCode,
    /// `FLOW`: a flow token.
    Flow,
    /// `CATALOG`: the thumbnail product's retailer id.
    Catalog,
    /// A type a fill cannot give (`MPM`, `PHONE_NUMBER` ...), as Meta
    /// wrote it.
    Other(String),
}

impl ButtonKind {
    /// The `sub_type` of its component in a message.
    fn sub_type(&self) -> Option<&'static str> {
        Some(match self {
            ButtonKind::Url | ButtonKind::Otp => "url",
            ButtonKind::QuickReply => "quick_reply",
            ButtonKind::CopyCode => "copy_code",
            ButtonKind::Flow => "flow",
            ButtonKind::Catalog => "catalog",
            ButtonKind::Other(_) => return None,
        })
    }

    /// Why a button of this type cannot be filled.
    fn unsupported(&self) -> String {
        let name = match self {
            ButtonKind::Other(name) => name.as_str(),
            _ => "this",
        };
        format!(
            "a {name} button cannot be filled with values; send the template's components instead"
        )
    }

    /// The parameter holding `value`.
    fn parameter(&self, field: &str, value: &str) -> Result<Value> {
        match self {
            ButtonKind::Url | ButtonKind::Otp => {
                check_text(field, value, usize::MAX)?;
                Ok(json!({ "type": "text", "text": value }))
            }
            ButtonKind::QuickReply => {
                check_value(field, value, usize::MAX)?;
                Ok(json!({ "type": "payload", "payload": value }))
            }
            ButtonKind::CopyCode => {
                check_value(field, value, limits::COUPON_CODE)?;
                Ok(json!({ "type": "coupon_code", "coupon_code": value }))
            }
            ButtonKind::Flow => {
                check_value(field, value, usize::MAX)?;
                Ok(json!({ "type": "action", "action": { "flow_token": value } }))
            }
            ButtonKind::Catalog => {
                check_value(field, value, usize::MAX)?;
                Ok(
                    json!({ "type": "action", "action": { "thumbnail_product_retailer_id": value } }),
                )
            }
            ButtonKind::Other(_) => Err(invalid(field, self.unsupported())),
        }
    }

    fn slot_kind(&self) -> SlotKind {
        match self {
            ButtonKind::Url => SlotKind::UrlSuffix,
            ButtonKind::Otp => SlotKind::Text,
            ButtonKind::QuickReply => SlotKind::Payload,
            ButtonKind::CopyCode => SlotKind::CouponCode,
            ButtonKind::Flow => SlotKind::FlowToken,
            ButtonKind::Catalog => SlotKind::ProductId,
            ButtonKind::Other(_) => SlotKind::Unsupported,
        }
    }
}

/// A button as `BUTTONS` lists it.
#[derive(Debug, Clone)]
struct ButtonShape {
    kind: ButtonKind,
    /// Its label (`text`).
    label: Option<String>,
    /// A URL button's link, with its placeholder.
    url: Option<String>,
    /// Its example value (a URL button's whole example link, a copy
    /// code's example code).
    example: Option<String>,
}

impl ButtonShape {
    fn read(button: &Value) -> Self {
        let kind = match upper(button, "type").as_str() {
            "URL" => ButtonKind::Url,
            "OTP" => ButtonKind::Otp,
            "QUICK_REPLY" => ButtonKind::QuickReply,
            "COPY_CODE" => ButtonKind::CopyCode,
            "FLOW" => ButtonKind::Flow,
            "CATALOG" => ButtonKind::Catalog,
            other => ButtonKind::Other(other.to_string()),
        };
        let example = match button.get("example") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(list)) => strings(Some(list)).into_iter().next(),
            _ => None,
        };
        ButtonShape {
            kind,
            label: field_str(button, "text").map(str::to_string),
            url: field_str(button, "url").map(str::to_string),
            example,
        }
    }

    /// The slot of the value at `position` of the button at `index`.
    fn slot(&self, index: u32, position: usize) -> TemplateSlot {
        let limit = (self.kind == ButtonKind::CopyCode).then_some(limits::COUPON_CODE);
        TemplateSlot {
            field: format!("buttons.{index}[{position}]"),
            component: TemplateComponent::Button { index },
            position,
            kind: self.kind.slot_kind(),
            name: None,
            example: self.example.clone(),
            context: self.url.clone().or_else(|| self.label.clone()),
            max_chars: limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    fn components() -> Vec<Value> {
        vec![
            json!({ "type": "HEADER", "format": "IMAGE", "example": { "header_handle": ["4::aW"] } }),
            json!({ "type": "BODY", "text": "Hi {{1}}, order {{2}} ships today",
                    "example": { "body_text": [["Ana", "A-17"]] } }),
            json!({ "type": "FOOTER", "text": "Reply STOP to opt out" }),
            json!({ "type": "BUTTONS", "buttons": [
                { "type": "URL", "text": "Track", "url": "https://example.com/t/{{1}}",
                  "example": ["https://example.com/t/A-17"] },
                { "type": "QUICK_REPLY", "text": "Stop" },
                { "type": "COPY_CODE", "example": "SAVE10" },
                { "type": "PHONE_NUMBER", "text": "Call", "phone_number": "15550001111" },
            ]}),
        ]
    }

    /// `order_update` as the sync stores it: image header, two body
    /// values, a URL button at 0 and a copy code at 2.
    fn definition() -> TemplateDefinition {
        let mut d = TemplateDefinition::new("order_update", "en_US")
            .with(TemplateComponent::Header, 1)
            .with(TemplateComponent::Body, 2)
            .with(TemplateComponent::Button { index: 0 }, 1)
            .with(TemplateComponent::Button { index: 2 }, 1);
        d.components = components();
        d
    }

    fn image(link: &str) -> HeaderFill {
        HeaderFill::Image {
            link: Some(link.into()),
            id: None,
        }
    }

    fn full() -> TemplateFill {
        let mut fill = TemplateFill::new("order_update", "en_US");
        fill.header = Some(image("https://example.com/box.jpg"));
        fill.body = vec!["Ana".into(), "A-17".into()];
        fill.buttons.insert(0, vec!["A-17".into()]);
        fill.buttons.insert(2, vec!["SAVE10".into()]);
        fill
    }

    fn components_of(content: &Content) -> &Value {
        match content {
            Content::Template { components, .. } => components,
            other => panic!("not a template: {other:?}"),
        }
    }

    fn refused(def: &TemplateDefinition, fill: &TemplateFill) -> (String, ContentProblem) {
        match def.fill(fill) {
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

    fn is_invalid(problem: &ContentProblem, words: &str) -> bool {
        matches!(problem, ContentProblem::Invalid { reason } if reason.contains(words))
    }

    #[test]
    fn a_full_fill_gives_exactly_metas_components_and_passes_the_check() {
        let def = definition();
        let content = def.fill(&full()).unwrap();
        let expected = json!([
            { "type": "header", "parameters": [
                { "type": "image", "image": { "link": "https://example.com/box.jpg" } } ] },
            { "type": "body", "parameters": [
                { "type": "text", "text": "Ana" }, { "type": "text", "text": "A-17" } ] },
            { "type": "button", "sub_type": "url", "index": "0", "parameters": [
                { "type": "text", "text": "A-17" } ] },
            { "type": "button", "sub_type": "copy_code", "index": "2", "parameters": [
                { "type": "coupon_code", "coupon_code": "SAVE10" } ] },
        ]);
        assert_eq!(components_of(&content), &expected);
        let Content::Template { name, language, .. } = &content else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), language.as_str()),
            ("order_update", "en_US")
        );
        def.check(&content).unwrap();
        content.validate_outbound().unwrap();
    }

    #[test]
    fn media_and_location_headers_take_their_shape() {
        let mut def = TemplateDefinition::new("doc", "en").with(TemplateComponent::Header, 1);
        def.components = vec![json!({ "type": "HEADER", "format": "DOCUMENT" })];
        let mut fill = TemplateFill::new("doc", "en");
        fill.header = Some(HeaderFill::Document {
            link: None,
            id: Some("98765".into()),
            filename: Some("invoice.pdf".into()),
        });
        let content = def.fill(&fill).unwrap();
        assert_eq!(
            components_of(&content),
            &json!([{ "type": "header", "parameters": [
                { "type": "document", "document": { "id": "98765", "filename": "invoice.pdf" } } ] }])
        );

        def.components = vec![json!({ "type": "HEADER", "format": "location" })];
        fill.header = Some(HeaderFill::Location {
            latitude: "37.4830".into(),
            longitude: " -122.148 ".into(),
            name: Some("Depot".into()),
            address: None,
        });
        let content = def.fill(&fill).unwrap();
        assert_eq!(
            components_of(&content),
            &json!([{ "type": "header", "parameters": [{ "type": "location", "location":
                { "latitude": "37.483", "longitude": "-122.148", "name": "Depot" } }] }])
        );

        def.components = vec![json!({ "type": "HEADER", "format": "VIDEO" })];
        fill.header = Some(HeaderFill::Video {
            link: None,
            id: Some("v1".into()),
        });
        assert!(def.fill(&fill).is_ok());
    }

    #[test]
    fn quick_reply_flow_and_catalog_buttons_take_their_parameters() {
        let mut def = TemplateDefinition::new("t", "en")
            .with(TemplateComponent::Button { index: 0 }, 1)
            .with(TemplateComponent::Button { index: 1 }, 1)
            .with(TemplateComponent::Button { index: 2 }, 1)
            .with(TemplateComponent::Button { index: 3 }, 1);
        def.components = vec![json!({ "type": "BUTTONS", "buttons": [
            { "type": "QUICK_REPLY", "text": "Stop" },
            { "type": "FLOW", "text": "Book" },
            { "type": "CATALOG", "text": "View" },
            { "type": "OTP", "otp_type": "COPY_CODE" },
        ]})];
        let mut fill = TemplateFill::new("t", "en");
        for (i, v) in ["STOP_PROMOS", "tok-1", "sku-9", "123456"]
            .into_iter()
            .enumerate()
        {
            fill.buttons.insert(i as u32, vec![v.into()]);
        }
        let content = def.fill(&fill).unwrap();
        let button = |i: u32, sub: &str, p: Value| json!({ "type": "button", "sub_type": sub, "index": i.to_string(), "parameters": [p] });
        assert_eq!(
            components_of(&content),
            &json!([
                button(
                    0,
                    "quick_reply",
                    json!({ "type": "payload", "payload": "STOP_PROMOS" })
                ),
                button(
                    1,
                    "flow",
                    json!({ "type": "action", "action": { "flow_token": "tok-1" } })
                ),
                button(
                    2,
                    "catalog",
                    json!({ "type": "action",
                    "action": { "thumbnail_product_retailer_id": "sku-9" } })
                ),
                button(3, "url", json!({ "type": "text", "text": "123456" })),
            ])
        );
    }

    #[test]
    fn another_template_or_language_is_refused_as_the_check_refuses_it() {
        let mut fill = full();
        fill.name = "promo".into();
        assert_eq!(refused(&definition(), &fill).0, "template.name");
        let mut fill = full();
        fill.language = "es".into();
        assert_eq!(refused(&definition(), &fill).0, "template.language.code");
    }

    #[test]
    fn wrong_counts_are_refused_by_their_place_in_the_fill() {
        let def = definition();
        let mut fill = full();
        fill.body.push("extra".into());
        assert_eq!(refused(&def, &fill), ("body".into(), count("body", 2, 3)));

        let mut fill = full();
        fill.header = None;
        assert_eq!(
            refused(&def, &fill),
            ("header".into(), count("header", 1, 0))
        );

        // A header for a template whose header takes none.
        let plain =
            TemplateDefinition::new("order_update", "en_US").with(TemplateComponent::Body, 2);
        let mut fill = full();
        fill.buttons.clear();
        assert_eq!(
            refused(&plain, &fill),
            ("header".into(), count("header", 0, 1))
        );

        // A value for the quick reply (which takes none), none for the URL.
        let mut fill = full();
        fill.buttons.insert(1, vec!["STOP".into()]);
        assert_eq!(
            refused(&def, &fill),
            ("buttons.1".into(), count("button 1", 0, 1))
        );
        let mut fill = full();
        fill.buttons.remove(&0);
        assert_eq!(
            refused(&def, &fill),
            ("buttons.0".into(), count("button 0", 1, 0))
        );
        // An empty list for a button that takes none is no value.
        let mut fill = full();
        fill.buttons.insert(3, Vec::new());
        assert!(def.fill(&fill).is_ok());
    }

    #[test]
    fn a_header_of_the_wrong_kind_is_refused() {
        let def = definition();
        let mut fill = full();
        fill.header = Some(HeaderFill::Text { text: "Hi".into() });
        let (field, problem) = refused(&def, &fill);
        assert_eq!(field, "header");
        assert!(
            is_invalid(&problem, "takes an image, not a text"),
            "{problem:?}"
        );

        fill.header = Some(HeaderFill::Video {
            link: Some("https://example.com/v.mp4".into()),
            id: None,
        });
        assert!(is_invalid(&refused(&def, &fill).1, "not a video"));

        let mut text = definition();
        text.components[0] = json!({ "type": "HEADER", "format": "TEXT", "text": "Order {{1}}" });
        let (field, problem) = refused(&text, &full());
        assert_eq!(field, "header");
        assert!(is_invalid(&problem, "takes a text, not an image"));

        text.components[0] = json!({ "type": "HEADER", "format": "GIF" });
        assert!(is_invalid(&refused(&text, &full()).1, "GIF"));
    }

    #[test]
    fn bad_values_are_refused_by_their_place_in_the_fill() {
        let def = definition();
        let with_body = |second: &str| {
            let mut fill = full();
            fill.body[1] = second.into();
            fill
        };
        assert_eq!(
            refused(&def, &with_body("  ")),
            ("body[1]".into(), ContentProblem::Empty)
        );
        for bad in ["two\nlines", "a\ttab", "five     spaces"] {
            let (field, problem) = refused(&def, &with_body(bad));
            assert_eq!(field, "body[1]");
            assert!(matches!(problem, ContentProblem::Invalid { .. }), "{bad:?}");
        }
        assert!(def.fill(&with_body("four    spaces")).is_ok());
        assert_eq!(
            refused(&def, &with_body("nul\0")),
            (
                "body[1]".into(),
                ContentProblem::ControlCharacter {
                    code_point: 0,
                    position: 3
                }
            )
        );
        let long = "x".repeat(limits::TEMPLATE_BODY_PARAMETER + 1);
        assert_eq!(
            refused(&def, &with_body(&long)).1,
            ContentProblem::TooLong {
                limit: 1024,
                actual: 1025
            }
        );

        let mut fill = full();
        fill.buttons.insert(0, vec![String::new()]);
        assert_eq!(
            refused(&def, &fill),
            ("buttons.0[0]".into(), ContentProblem::Empty)
        );
        let mut fill = full();
        fill.buttons.insert(2, vec!["SIXTEEN-CHARS-XX".into()]);
        assert_eq!(
            refused(&def, &fill),
            (
                "buttons.2[0]".into(),
                ContentProblem::TooLong {
                    limit: 15,
                    actual: 16
                }
            )
        );
    }

    #[test]
    fn a_media_header_takes_one_https_link_or_one_id() {
        let def = definition();
        let with_header = |link: Option<&str>, id: Option<&str>| {
            let mut fill = full();
            fill.header = Some(HeaderFill::Image {
                link: link.map(Into::into),
                id: id.map(Into::into),
            });
            refused(&def, &fill)
        };
        let (field, problem) = with_header(Some("https://x/a.jpg"), Some("1"));
        assert_eq!(field, "header");
        assert!(is_invalid(&problem, "exactly one of link and id"));
        assert_eq!(with_header(None, None).0, "header");
        for link in [
            "http://example.com/a.jpg",
            "ftp://x",
            "https://",
            "example.com/a.jpg",
        ] {
            let (field, problem) = with_header(Some(link), None);
            assert_eq!(field, "header.link", "{link}");
            assert!(is_invalid(&problem, "https://"));
        }
        assert_eq!(
            with_header(None, Some(" ")),
            ("header.id".into(), ContentProblem::Empty)
        );
    }

    #[test]
    fn a_location_is_within_range() {
        let mut def = TemplateDefinition::new("t", "en").with(TemplateComponent::Header, 1);
        def.components = vec![json!({ "type": "HEADER", "format": "LOCATION" })];
        let with = |latitude: &str, longitude: &str| {
            let mut fill = TemplateFill::new("t", "en");
            fill.header = Some(HeaderFill::Location {
                latitude: latitude.into(),
                longitude: longitude.into(),
                name: None,
                address: Some(String::new()),
            });
            refused(&def, &fill)
        };
        assert_eq!(
            with("91", "0"),
            (
                "header.latitude".into(),
                ContentProblem::OutOfRange {
                    min: -90.0,
                    max: 90.0,
                    actual: 91.0
                }
            )
        );
        assert_eq!(with("0", "east").0, "header.longitude");
        assert_eq!(with("0", "inf").0, "header.longitude");
        assert_eq!(
            with("0", "0"),
            ("header.address".into(), ContentProblem::Empty)
        );
    }

    #[test]
    fn a_button_of_a_type_a_fill_cannot_give_is_refused() {
        let mut def =
            TemplateDefinition::new("t", "en").with(TemplateComponent::Button { index: 0 }, 1);
        def.components =
            vec![json!({ "type": "BUTTONS", "buttons": [{ "type": "MPM", "text": "View" }] })];
        let mut fill = TemplateFill::new("t", "en");
        fill.buttons.insert(0, vec!["x".into()]);
        let (field, problem) = refused(&def, &fill);
        assert_eq!(field, "buttons.0");
        assert!(is_invalid(&problem, "a MPM button cannot be filled"));
        assert_eq!(def.slots()[0].kind, SlotKind::Unsupported);
    }

    #[test]
    fn a_definition_declared_by_hand_takes_a_text_header_and_url_buttons() {
        let def = TemplateDefinition::new("order_update", "en_US")
            .with(TemplateComponent::Header, 1)
            .with(TemplateComponent::Body, 1)
            .with(TemplateComponent::Button { index: 1 }, 1);
        let mut fill = TemplateFill::new("order_update", "en_US");
        fill.header = Some(HeaderFill::Text {
            text: "Your order".into(),
        });
        fill.body = vec!["Ana".into()];
        fill.buttons.insert(1, vec!["A-17".into()]);
        let content = def.fill(&fill).unwrap();
        assert_eq!(
            components_of(&content),
            &json!([
                { "type": "header", "parameters": [{ "type": "text", "text": "Your order" }] },
                { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] },
                { "type": "button", "sub_type": "url", "index": "1", "parameters": [
                    { "type": "text", "text": "A-17" }] },
            ])
        );
        def.check(&content).unwrap();
        // No values at all: an empty component list that passes the check.
        let hello = TemplateDefinition::new("hello_world", "en_US");
        let content = hello
            .fill(&TemplateFill::new("hello_world", "en_US"))
            .unwrap();
        assert_eq!(components_of(&content), &json!([]));
        assert!(hello.slots().is_empty());
    }

    fn named() -> TemplateDefinition {
        let mut def = TemplateDefinition::new("welcome", "es")
            .with(TemplateComponent::Header, 1)
            .with(TemplateComponent::Body, 2);
        def.components = vec![
            json!({ "type": "HEADER", "format": "TEXT", "text": "Hola {{first_name}}",
                    "example": { "header_text_named_params": [{ "param_name": "first_name", "example": "Ana" }] } }),
            json!({ "type": "BODY", "text": "{{first_name}}, tu código es {{code}}. Gracias {{first_name}}",
                    "example": { "body_text_named_params": [
                        { "param_name": "code", "example": "SAVE10" },
                        { "param_name": "first_name", "example": "Ana" } ] } }),
        ];
        def
    }

    #[test]
    fn named_parameters_are_sent_with_their_names_in_text_order() {
        let def = named();
        let mut fill = TemplateFill::new("welcome", "es");
        fill.header = Some(HeaderFill::Text {
            text: "Luis".into(),
        });
        fill.body = vec!["Luis".into(), "HOLA5".into()];
        let content = def.fill(&fill).unwrap();
        assert_eq!(
            components_of(&content),
            &json!([
                { "type": "header", "parameters": [
                    { "type": "text", "parameter_name": "first_name", "text": "Luis" }] },
                { "type": "body", "parameters": [
                    { "type": "text", "parameter_name": "first_name", "text": "Luis" },
                    { "type": "text", "parameter_name": "code", "text": "HOLA5" }] },
            ])
        );
        def.check(&content).unwrap();

        // Marked NAMED: even a text of numbers is sent with names.
        let mut marked = TemplateDefinition::new("t", "en").with(TemplateComponent::Body, 1);
        marked.components =
            vec![json!({ "type": "BODY", "text": "Code {{1}}", "parameter_format": "NAMED" })];
        let mut fill = TemplateFill::new("t", "en");
        fill.body = vec!["9".into()];
        let content = marked.fill(&fill).unwrap();
        assert_eq!(
            components_of(&content)[0]["parameters"][0]["parameter_name"],
            "1"
        );

        // A text naming another count than the definition cannot be sent.
        let mut broken = named().with(TemplateComponent::Body, 3);
        broken.components.truncate(2);
        let mut fill = TemplateFill::new("welcome", "es");
        fill.header = Some(HeaderFill::Text {
            text: "Luis".into(),
        });
        fill.body = vec!["a".into(), "b".into(), "c".into()];
        let (field, problem) = refused(&broken, &fill);
        assert_eq!(field, "body");
        assert!(is_invalid(
            &problem,
            "names 2 parameters, its definition counts 3"
        ));
    }

    #[test]
    fn slots_offer_one_input_per_value_with_its_example_and_context() {
        let slots = definition().slots();
        let fields: Vec<&str> = slots.iter().map(|s| s.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "header",
                "body[0]",
                "body[1]",
                "buttons.0[0]",
                "buttons.2[0]"
            ]
        );
        let kinds: Vec<SlotKind> = slots.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SlotKind::Image,
                SlotKind::Text,
                SlotKind::Text,
                SlotKind::UrlSuffix,
                SlotKind::CouponCode
            ]
        );
        assert_eq!(slots[0].example, None);
        assert_eq!(slots[1].example.as_deref(), Some("Ana"));
        assert_eq!(slots[2].example.as_deref(), Some("A-17"));
        assert_eq!(
            slots[2].context.as_deref(),
            Some("Hi {{1}}, order {{2}} ships today")
        );
        assert_eq!(slots[2].max_chars, Some(limits::TEMPLATE_BODY_PARAMETER));
        assert_eq!(
            slots[3].context.as_deref(),
            Some("https://example.com/t/{{1}}")
        );
        assert_eq!(
            slots[3].example.as_deref(),
            Some("https://example.com/t/A-17")
        );
        assert_eq!(slots[3].component, TemplateComponent::Button { index: 0 });
        assert_eq!(slots[4].example.as_deref(), Some("SAVE10"));
        assert_eq!(slots[4].max_chars, Some(limits::COUPON_CODE));

        let named = named().slots();
        assert_eq!(named[0].field, "header");
        assert_eq!(named[0].kind, SlotKind::Text);
        assert_eq!(named[0].name.as_deref(), Some("first_name"));
        assert_eq!(named[0].example.as_deref(), Some("Ana"));
        assert_eq!(named[0].max_chars, Some(limits::TEMPLATE_HEADER_PARAMETER));
        assert_eq!(named[2].name.as_deref(), Some("code"));
        assert_eq!(named[2].example.as_deref(), Some("SAVE10"));
        assert_eq!(named[2].position, 1);

        // A body alone takes longer values.
        let alone = TemplateDefinition::new("t", "en").with(TemplateComponent::Body, 1);
        assert_eq!(
            alone.slots()[0].max_chars,
            Some(limits::TEMPLATE_BODY_ONLY_PARAMETER)
        );
        let json = serde_json::to_value(&slots[3]).unwrap();
        assert_eq!(json["component"], json!({ "type": "button", "index": 0 }));
        assert_eq!(json["kind"], "url_suffix");
    }

    #[test]
    fn texts_mut_reaches_every_value() {
        let mut fill = full();
        fill.buttons.insert(1, vec!["b".into(), "c".into()]);
        let before = fill.texts_mut().count();
        assert_eq!(before, 1 + 2 + 1 + 2 + 1);
        for text in fill.texts_mut() {
            text.insert(0, '<');
        }
        assert_eq!(fill.header, Some(image("<https://example.com/box.jpg")));
        assert_eq!(fill.body, ["<Ana", "<A-17"]);
        assert_eq!(fill.buttons[&1], ["<b", "<c"]);
        assert_eq!(fill.name, "order_update");

        let mut place = TemplateFill::new("t", "en");
        place.header = Some(HeaderFill::Location {
            latitude: "1".into(),
            longitude: "2".into(),
            name: Some("n".into()),
            address: None,
        });
        assert_eq!(place.texts_mut().count(), 3);
        place.header = Some(HeaderFill::Document {
            link: None,
            id: Some("i".into()),
            filename: Some("f".into()),
        });
        assert_eq!(place.texts_mut().count(), 2);
    }

    #[test]
    fn a_fill_round_trips_through_json_and_yaml() {
        let mut fill = full();
        fill.header = Some(HeaderFill::Document {
            link: Some("https://example.com/a.pdf".into()),
            id: None,
            filename: Some("a.pdf".into()),
        });
        let json = serde_json::to_value(&fill).unwrap();
        assert_eq!(
            json,
            json!({
                "name": "order_update", "language": "en_US",
                "header": { "type": "document", "link": "https://example.com/a.pdf", "filename": "a.pdf" },
                "body": ["Ana", "A-17"],
                "buttons": { "0": ["A-17"], "2": ["SAVE10"] },
            })
        );
        assert_eq!(serde_json::from_value::<TemplateFill>(json).unwrap(), fill);
        let yaml = serde_norway::to_string(&fill).unwrap();
        assert_eq!(serde_norway::from_str::<TemplateFill>(&yaml).unwrap(), fill);

        // Only name and language are needed; a place reads numbers too.
        let bare: TemplateFill =
            serde_json::from_value(json!({ "name": "hello", "language": "en" })).unwrap();
        assert_eq!(bare, TemplateFill::new("hello", "en"));
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({ "name": "hello", "language": "en" })
        );
        let place: HeaderFill = serde_json::from_value(
            json!({ "type": "location", "latitude": 37.48, "longitude": "-122.1" }),
        )
        .unwrap();
        let yaml = serde_norway::to_string(&place).unwrap();
        assert_eq!(serde_norway::from_str::<HeaderFill>(&yaml).unwrap(), place);
        assert_eq!(
            place,
            HeaderFill::Location {
                latitude: "37.48".into(),
                longitude: "-122.1".into(),
                name: None,
                address: None
            }
        );
        let from_yaml: HeaderFill =
            serde_norway::from_str("{type: location, latitude: -3.5, longitude: 12}").unwrap();
        assert!(
            matches!(from_yaml, HeaderFill::Location { latitude, longitude, .. }
            if latitude == "-3.5" && longitude == "12")
        );
    }

    /// A button of a generated definition: its Meta entry and the values
    /// it takes (as the WhatsApp sync counts them).
    fn button_entry() -> impl Strategy<Value = (Value, usize)> {
        prop_oneof![
            Just((
                json!({ "type": "URL", "text": "Go", "url": "https://x/{{1}}" }),
                1
            )),
            Just((
                json!({ "type": "URL", "text": "Site", "url": "https://x/" }),
                0
            )),
            Just((json!({ "type": "QUICK_REPLY", "text": "Stop" }), 0)),
            Just((json!({ "type": "COPY_CODE", "example": "X" }), 1)),
            Just((json!({ "type": "OTP", "otp_type": "COPY_CODE" }), 1)),
        ]
    }

    /// A header of a generated definition: its Meta entry (if any), and
    /// a value of its kind (`None`: takes none).
    fn header_entry() -> impl Strategy<Value = (Option<Value>, Option<HeaderFill>)> {
        let text = HeaderFill::Text { text: "T".into() };
        prop_oneof![
            Just((None, None)),
            Just((
                Some(json!({ "type": "HEADER", "format": "TEXT", "text": "Static" })),
                None
            )),
            Just((
                Some(json!({ "type": "HEADER", "format": "TEXT", "text": "Hi {{1}}" })),
                Some(text.clone())
            )),
            Just((None, Some(text))),
            Just((
                Some(json!({ "type": "HEADER", "format": "IMAGE" })),
                Some(image("https://example.com/a.png"))
            )),
            Just((
                Some(json!({ "type": "HEADER", "format": "LOCATION" })),
                Some(HeaderFill::Location {
                    latitude: "-33.9".into(),
                    longitude: "151.2".into(),
                    name: None,
                    address: None
                })
            )),
        ]
    }

    /// A generated definition (with or without Meta's components) and a
    /// fill shape for it: header value, body count, button counts.
    #[allow(clippy::type_complexity)]
    fn generated(
    ) -> impl Strategy<Value = (TemplateDefinition, Option<HeaderFill>, usize, Vec<usize>)> {
        (
            header_entry(),
            0..5usize,
            prop::collection::vec(button_entry(), 0..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|((header, header_value), body, buttons, by_hand, named)| {
                let mut def = TemplateDefinition::new("t", "en_US");
                let mut components: Vec<Value> = header.into_iter().collect();
                def = def.with(
                    TemplateComponent::Header,
                    usize::from(header_value.is_some()),
                );
                let names: Vec<String> = (0..body)
                    .map(|i| {
                        if named {
                            format!("{{{{v_{i}}}}}")
                        } else {
                            format!("{{{{{}}}}}", i + 1)
                        }
                    })
                    .collect();
                components
                    .push(json!({ "type": "BODY", "text": format!("Hi {}", names.join(" ")) }));
                def = def.with(TemplateComponent::Body, body);
                let counts: Vec<usize> = buttons.iter().map(|(_, n)| *n).collect();
                for (index, n) in counts.iter().enumerate() {
                    def = def.with(
                        TemplateComponent::Button {
                            index: index as u32,
                        },
                        *n,
                    );
                }
                let entries: Vec<Value> = buttons.into_iter().map(|(b, _)| b).collect();
                components.push(json!({ "type": "BUTTONS", "buttons": entries }));
                // Declared by hand, a template's header is text.
                let media = !matches!(header_value, None | Some(HeaderFill::Text { .. }));
                if media || !by_hand {
                    def.components = components;
                }
                (def, header_value, body, counts)
            })
    }

    /// A value a template accepts: not blank, on one line, short.
    fn value() -> impl Strategy<Value = String> {
        "\\PC{0,6}[^\\s\\p{C}]\\PC{0,6}".prop_filter("no five spaces", |s| !s.contains("     "))
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            rng_seed: RngSeed::Fixed(27),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// Any fill with the counts the definition takes, of good values,
        /// gives content the check and WhatsApp's limits accept.
        #[test]
        fn a_fill_with_the_right_counts_is_sent(
            (def, header, body, buttons) in generated(),
            values in prop::collection::vec(value(), 16),
        ) {
            let mut values = values.into_iter().cycle();
            let mut fill = TemplateFill::new("t", "en_US");
            fill.header = header.map(|h| match h {
                HeaderFill::Text { .. } => HeaderFill::Text { text: values.next().unwrap_or_default() },
                other => other,
            });
            fill.body = values.by_ref().take(body).collect();
            for (index, n) in buttons.iter().enumerate() {
                fill.buttons.insert(index as u32, values.by_ref().take(*n).collect());
            }
            let content = def.fill(&fill);
            prop_assert!(content.is_ok(), "{:?} for {:?}", content, fill);
            let content = content.unwrap_or_else(|_| Content::text(""));
            prop_assert!(def.check(&content).is_ok());
            prop_assert!(content.validate_outbound().is_ok(), "{:?}", content.validate_outbound());
        }

        /// Arbitrary values and counts never panic; whatever is built
        /// passes the check.
        #[test]
        fn arbitrary_fills_never_panic(
            (def, _, _, _) in generated(),
            header in prop::option::of(("[a-z]{0,3}", "\\PC{0,8}", "\\PC{0,8}")),
            body in prop::collection::vec(".{0,12}", 0..5),
            buttons in prop::collection::btree_map(0..5u32, prop::collection::vec(".{0,20}", 0..3), 0..4),
        ) {
            let mut fill = TemplateFill::new("t", "en_US");
            fill.header = header.map(|(kind, a, b)| match kind.len() {
                0 => HeaderFill::Text { text: a },
                1 => HeaderFill::Image { link: Some(a), id: Some(b).filter(|b| !b.is_empty()) },
                2 => HeaderFill::Location { latitude: a, longitude: b, name: None, address: None },
                _ => HeaderFill::Document { link: None, id: Some(a), filename: Some(b) },
            });
            fill.body = body;
            fill.buttons = buttons;
            if let Ok(content) = def.fill(&fill) {
                prop_assert!(def.check(&content).is_ok());
            }
            let _ = def.slots();
        }
    }
}
