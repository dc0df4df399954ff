//! WhatsApp's limits on outbound content, and the checks that refuse what
//! Meta would refuse before anything is stored or queued.
//!
//! The limits are those of the Cloud API's message object (Meta's
//! reference and its OpenAPI description, v23.0). Every failed check is an
//! [`Error::InvalidContent`] naming the field as a path in that message
//! object (`interactive.action.sections[1].rows[3].title`), the limit and
//! the value's size.
//!
//! **Counting.** Meta states its limits in "characters" without saying
//! how it counts them. The core counts Unicode scalar values (Rust
//! `char`s): never bytes, so `é` or `ñ` count once. For text in the Basic
//! Multilingual Plane this is also the count in UTF-16 code units; an
//! emoji outside it (😀) counts once here.
//!
//! **Control characters.** Every text field of outbound content, and notes,
//! refuse the Unicode control characters (general category `Cc`: U+0000 to
//! U+001F, U+007F to U+009F) except tab, line feed and carriage return.
//! NUL in particular cannot be stored by PostgreSQL (`text` refuses it with
//! SQLSTATE 22021, `jsonb` with 22P05), so it is refused here, as the
//! caller's mistake, before a store turns it into a backend failure.
//!
//! ```
//! use inbox_core::model::{Content, OutboundButton};
//! use inbox_core::{ContentProblem, Error};
//!
//! let title = |t: &str| OutboundButton { id: t.to_lowercase(), title: t.into() };
//! let content = Content::Buttons {
//!     header: None,
//!     body: "Shall we ship it today?".into(),
//!     footer: None,
//!     buttons: vec![title("Yes"), title("Ship it tomorrow please")],
//! };
//! let Err(Error::InvalidContent(v)) = content.validate_outbound() else { panic!() };
//! assert_eq!(v.field, "interactive.action.buttons[1].reply.title");
//! assert_eq!(v.problem, ContentProblem::TooLong { limit: 20, actual: 23 });
//! ```

use unicode_segmentation::UnicodeSegmentation;

use super::{ContactCard, Content, MediaKind, MediaRef, OutboundButton, OutboundSection};
use crate::error::{ContentProblem, Error, Result};

/// Characters in a text message's body.
pub const TEXT_BODY: usize = 4096;
/// Characters in a media caption (image, video, document).
pub const MEDIA_CAPTION: usize = 1024;
/// Characters in an interactive message's body.
pub const INTERACTIVE_BODY: usize = 1024;
/// Characters in an interactive message's text header.
pub const INTERACTIVE_HEADER: usize = 60;
/// Characters in an interactive message's footer.
pub const INTERACTIVE_FOOTER: usize = 60;
/// Reply buttons in one message.
pub const REPLY_BUTTONS: usize = 3;
/// Characters in a reply button's title.
pub const BUTTON_TITLE: usize = 20;
/// Characters in a reply button's id.
pub const BUTTON_ID: usize = 256;
/// Characters in the label of the button that opens a list.
pub const LIST_BUTTON: usize = 20;
/// Sections in a list.
pub const LIST_SECTIONS: usize = 10;
/// Rows in a list, all sections together.
pub const LIST_ROWS: usize = 10;
/// Characters in a list section's title.
pub const SECTION_TITLE: usize = 24;
/// Characters in a list row's id.
pub const ROW_ID: usize = 200;
/// Characters in a list row's title.
pub const ROW_TITLE: usize = 24;
/// Characters in a list row's description.
pub const ROW_DESCRIPTION: usize = 72;
/// Characters in a template's name.
pub const TEMPLATE_NAME: usize = 512;
/// Consecutive spaces a template's text parameter may have.
pub const TEMPLATE_PARAMETER_SPACES: usize = 4;
/// Characters in the text parameter of a template's header.
pub const TEMPLATE_HEADER_PARAMETER: usize = 60;
/// Characters in a text parameter of a template's body when the message
/// has other components with parameters (a header, a button).
pub const TEMPLATE_BODY_PARAMETER: usize = 1024;
/// Characters in a text parameter of a template's body when the body is
/// the message's only component with parameters.
pub const TEMPLATE_BODY_ONLY_PARAMETER: usize = 32_768;
/// Characters in the coupon code of a template's copy-code button.
pub const COUPON_CODE: usize = 15;
/// Characters in an internal note (the inbox's own limit).
pub const NOTE: usize = 20_000;

/// The length of `text` as the limits count it: Unicode scalar values.
pub fn length(text: &str) -> usize {
    text.chars().count()
}

/// Refuses a control character in `text` (all of category `Cc` but tab,
/// line feed and carriage return), naming `field` and its position.
pub fn check_control(field: &str, text: &str) -> Result<()> {
    let found = text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
    match found {
        Some((position, c)) => Err(Error::content(
            field,
            ContentProblem::ControlCharacter {
                code_point: u32::from(c),
                position,
            },
        )),
        None => Ok(()),
    }
}

/// Checks the text of an internal note (already trimmed): not empty, no
/// control characters, at most [`NOTE`] characters.
pub fn check_note(field: &str, text: &str) -> Result<()> {
    required(field, text, NOTE)
}

/// Checks outbound content against WhatsApp's rules; see
/// [`Content::validate_outbound`].
pub fn check_outbound(content: &Content) -> Result<()> {
    match content {
        Content::Text { body, .. } => required("text.body", body, TEXT_BODY),
        Content::Media {
            kind,
            media,
            caption,
        } => check_media(*kind, media, caption.as_deref()),
        Content::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            coordinate("location.latitude", *latitude, 90.0)?;
            coordinate("location.longitude", *longitude, 180.0)?;
            control_opt("location.name", name.as_deref())?;
            control_opt("location.address", address.as_deref())
        }
        Content::Contacts { cards } => check_contacts(cards),
        Content::Reaction { target, emoji } => check_reaction(target, emoji.as_deref()),
        Content::Template {
            name,
            language,
            components,
        } => check_template(name, language, components),
        Content::Buttons {
            header,
            body,
            footer,
            buttons,
        } => {
            check_frame(header.as_deref(), body, footer.as_deref())?;
            check_buttons(buttons)
        }
        Content::List {
            header,
            body,
            footer,
            button,
            sections,
        } => {
            check_frame(header.as_deref(), body, footer.as_deref())?;
            required("interactive.action.button", button, LIST_BUTTON)?;
            check_sections(sections)
        }
        other => Err(Error::content(
            "type",
            ContentProblem::Invalid {
                reason: format!("{} cannot be sent to a customer", other.kind()),
            },
        )),
    }
}

/// A text that must not be empty: no control characters, at most `limit`.
fn required(field: &str, text: &str, limit: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::content(field, ContentProblem::Empty));
    }
    bounded(field, text, limit)
}

/// A text that may be empty: no control characters, at most `limit`.
fn bounded(field: &str, text: &str, limit: usize) -> Result<()> {
    check_control(field, text)?;
    let actual = length(text);
    if actual > limit {
        return Err(Error::content(
            field,
            ContentProblem::TooLong { limit, actual },
        ));
    }
    Ok(())
}

fn control_opt(field: &str, text: Option<&str>) -> Result<()> {
    text.map_or(Ok(()), |t| check_control(field, t))
}

fn invalid(field: impl Into<String>, reason: &str) -> Error {
    Error::content(
        field,
        ContentProblem::Invalid {
            reason: reason.into(),
        },
    )
}

fn count(field: &str, actual: usize, min: usize, limit: usize) -> Result<()> {
    if actual < min {
        return Err(Error::content(
            field,
            ContentProblem::TooFew { min, actual },
        ));
    }
    if actual > limit {
        return Err(Error::content(
            field,
            ContentProblem::TooMany { limit, actual },
        ));
    }
    Ok(())
}

/// A coordinate in decimal degrees, finite and within `-bound..=bound`.
pub(super) fn coordinate(field: &str, value: f64, bound: f64) -> Result<()> {
    if value.is_finite() && (-bound..=bound).contains(&value) {
        return Ok(());
    }
    Err(Error::content(
        field,
        ContentProblem::OutOfRange {
            min: -bound,
            max: bound,
            actual: value,
        },
    ))
}

fn check_media(kind: MediaKind, media: &MediaRef, caption: Option<&str>) -> Result<()> {
    let wa = kind.wa_type();
    if media.id.is_none() && media.link.is_none() {
        return Err(invalid(wa, "needs a media id or a link"));
    }
    if let Some(id) = &media.id {
        required(&format!("{wa}.id"), id, usize::MAX)?;
    }
    if let Some(link) = &media.link {
        required(&format!("{wa}.link"), link, usize::MAX)?;
    }
    control_opt(&format!("{wa}.filename"), media.filename.as_deref())?;
    let Some(caption) = caption else {
        return Ok(());
    };
    let field = format!("{wa}.caption");
    if !matches!(
        kind,
        MediaKind::Image | MediaKind::Video | MediaKind::Document
    ) {
        return Err(invalid(
            field,
            "WhatsApp takes no caption on audio, voice notes or stickers",
        ));
    }
    bounded(&field, caption, MEDIA_CAPTION)
}

fn check_contacts(cards: &[ContactCard]) -> Result<()> {
    count("contacts", cards.len(), 1, usize::MAX)?;
    for (i, card) in cards.iter().enumerate() {
        let base = format!("contacts[{i}]");
        let name_field = format!("{base}.name.formatted_name");
        if card.raw.is_object() {
            // Sent as given: check what is sent.
            json_strings(&base, &card.raw)?;
            let name = card.raw.pointer("/name/formatted_name");
            required(
                &name_field,
                name.and_then(|n| n.as_str()).unwrap_or(""),
                usize::MAX,
            )?;
            continue;
        }
        required(&name_field, &card.name, usize::MAX)?;
        for (j, phone) in card.phones.iter().enumerate() {
            check_control(&format!("{base}.phones[{j}].phone"), phone)?;
        }
        for (j, email) in card.emails.iter().enumerate() {
            check_control(&format!("{base}.emails[{j}].email"), email)?;
        }
    }
    Ok(())
}

/// A reaction's emoji: one grapheme cluster (an emoji with its skin tone,
/// a flag or a joined family is one) that is not a letter, digit or space.
/// The core does not carry Unicode's emoji list: a symbol such as `€`
/// passes and is left to WhatsApp. Empty or `None` removes a reaction.
fn check_reaction(target: &str, emoji: Option<&str>) -> Result<()> {
    required("reaction.message_id", target, usize::MAX)?;
    let Some(emoji) = emoji.filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    check_control("reaction.emoji", emoji)?;
    let mut clusters = emoji.graphemes(true);
    let single = match (clusters.next(), clusters.next()) {
        (Some(one), None) => one
            .chars()
            .any(|c| !c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace()),
        _ => false,
    };
    if single {
        Ok(())
    } else {
        Err(invalid(
            "reaction.emoji",
            "must be a single emoji (or empty to remove the reaction)",
        ))
    }
}

fn check_template(name: &str, language: &str, components: &serde_json::Value) -> Result<()> {
    required("template.name", name, TEMPLATE_NAME)?;
    required("template.language.code", language, usize::MAX)?;
    let list = match components {
        serde_json::Value::Null => return Ok(()),
        serde_json::Value::Array(list) => list,
        _ => {
            return Err(invalid(
                "template.components",
                "must be a list of components",
            ))
        }
    };
    for (i, component) in list.iter().enumerate() {
        let base = format!("template.components[{i}]");
        if !component.is_object() {
            return Err(invalid(base, "must be an object"));
        }
        json_strings(&base, component)?;
        let Some(parameters) = component.get("parameters") else {
            continue;
        };
        let Some(parameters) = parameters.as_array() else {
            return Err(invalid(format!("{base}.parameters"), "must be a list"));
        };
        for (j, p) in parameters.iter().enumerate() {
            if p.get("type").and_then(|t| t.as_str()) == Some("text") {
                let text = p.get("text").and_then(|t| t.as_str()).unwrap_or("");
                template_text(&format!("{base}.parameters[{j}].text"), text)?;
            }
        }
    }
    Ok(())
}

/// A template's text parameter: not empty, no line break or tab, at most
/// [`TEMPLATE_PARAMETER_SPACES`] spaces in a row (Meta: "Param text cannot
/// have new-line/tab characters or more than 4 consecutive spaces").
pub(super) fn template_text(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::content(field, ContentProblem::Empty));
    }
    if text.contains(['\n', '\r', '\t']) {
        return Err(invalid(
            field,
            "a template parameter cannot contain line breaks or tabs",
        ));
    }
    let spaces = " ".repeat(TEMPLATE_PARAMETER_SPACES + 1);
    if text.contains(&spaces) {
        return Err(invalid(
            field,
            "a template parameter cannot have more than 4 spaces in a row",
        ));
    }
    Ok(())
}

/// Every string (and object key) of a JSON value sent as given, checked
/// for control characters.
fn json_strings(path: &str, value: &serde_json::Value) -> Result<()> {
    match value {
        serde_json::Value::String(s) => check_control(path, s),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| json_strings(&format!("{path}[{i}]"), v)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let field = format!("{path}.{k}");
            check_control(&field, k)?;
            json_strings(&field, v)
        }),
        _ => Ok(()),
    }
}

/// Header, body and footer of an interactive message.
fn check_frame(header: Option<&str>, body: &str, footer: Option<&str>) -> Result<()> {
    if let Some(h) = header {
        required("interactive.header.text", h, INTERACTIVE_HEADER)?;
    }
    required("interactive.body.text", body, INTERACTIVE_BODY)?;
    if let Some(f) = footer {
        required("interactive.footer.text", f, INTERACTIVE_FOOTER)?;
    }
    Ok(())
}

fn check_buttons(buttons: &[OutboundButton]) -> Result<()> {
    count(
        "interactive.action.buttons",
        buttons.len(),
        1,
        REPLY_BUTTONS,
    )?;
    for (i, b) in buttons.iter().enumerate() {
        let base = format!("interactive.action.buttons[{i}].reply");
        let id_field = format!("{base}.id");
        required(&id_field, &b.id, BUTTON_ID)?;
        if b.id.trim() != b.id {
            return Err(invalid(id_field, "must not start or end with spaces"));
        }
        required(&format!("{base}.title"), &b.title, BUTTON_TITLE)?;
        let earlier = &buttons[..i];
        if let Some(j) = earlier.iter().position(|e| e.id == b.id) {
            return Err(duplicate(
                id_field,
                format!("interactive.action.buttons[{j}].reply.id"),
            ));
        }
        if let Some(j) = earlier.iter().position(|e| e.title == b.title) {
            return Err(duplicate(
                format!("{base}.title"),
                format!("interactive.action.buttons[{j}].reply.title"),
            ));
        }
    }
    Ok(())
}

fn duplicate(field: String, of: String) -> Error {
    Error::content(field, ContentProblem::Duplicate { of })
}

fn check_sections(sections: &[OutboundSection]) -> Result<()> {
    count(
        "interactive.action.sections",
        sections.len(),
        1,
        LIST_SECTIONS,
    )?;
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    count("interactive.action.sections[*].rows", rows, 1, LIST_ROWS)?;
    let mut ids: Vec<(&str, String)> = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let base = format!("interactive.action.sections[{i}]");
        // A title is required once there is more than one section.
        if sections.len() > 1 {
            required(&format!("{base}.title"), &section.title, SECTION_TITLE)?;
        } else {
            bounded(&format!("{base}.title"), &section.title, SECTION_TITLE)?;
        }
        count(&format!("{base}.rows"), section.rows.len(), 1, LIST_ROWS)?;
        for (j, (id, title, description)) in section.rows.iter().enumerate() {
            let row = format!("{base}.rows[{j}]");
            required(&format!("{row}.id"), id, ROW_ID)?;
            required(&format!("{row}.title"), title, ROW_TITLE)?;
            if let Some(d) = description {
                bounded(&format!("{row}.description"), d, ROW_DESCRIPTION)?;
            }
            if let Some((_, of)) = ids.iter().find(|(seen, _)| *seen == id.as_str()) {
                return Err(duplicate(format!("{row}.id"), of.clone()));
            }
            ids.push((id, format!("{row}.id")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
