//! Canned responses: texts agents insert by shortcut, with variables filled
//! from the conversation's contact and the agent.

use serde::{Deserialize, Serialize};

/// A text agents insert by typing its shortcut (`/hours`), with variables
/// such as `{{contact.name}}` filled when it is inserted (see
/// [`CannedResponse::render`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    /// What the agent types, without the slash: letters, digits, `-` and
    /// `_`, at most 32 characters, unique per owner.
    pub shortcut: String,
    /// The text, with variables (see [`VARIABLES`]).
    pub text: String,
    /// Who may use it.
    #[serde(default)]
    pub owner: CannedOwner,
}

/// Who a canned response belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CannedOwner {
    /// Every agent of the tenant.
    #[default]
    Tenant,
    /// The agents of this team.
    Team(String),
    /// This agent alone.
    Agent(String),
}

/// The variables a canned response may use.
pub const VARIABLES: [&str; 4] = [
    "contact.name",
    "contact.phone",
    "agent.name",
    "conversation.id",
];

/// Values for the variables of [`VARIABLES`], in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CannedValues {
    /// The contact's profile name.
    pub contact_name: String,
    /// The contact's WhatsApp number.
    pub contact_phone: String,
    /// The agent's display name.
    pub agent_name: String,
    /// The conversation's id.
    pub conversation_id: String,
}

impl CannedValues {
    fn get(&self, variable: &str) -> Option<&str> {
        Some(match variable {
            "contact.name" => &self.contact_name,
            "contact.phone" => &self.contact_phone,
            "agent.name" => &self.agent_name,
            "conversation.id" => &self.conversation_id,
            _ => return None,
        })
    }
}

impl CannedResponse {
    /// The text with its variables filled in.
    ///
    /// ```
    /// use inbox_core::settings::{CannedResponse, CannedValues, CannedOwner};
    /// let c = CannedResponse { shortcut: "hi".into(), text: "Hello {{ contact.name }}, {{agent.name}} here.".into(), owner: CannedOwner::Tenant };
    /// let v = CannedValues { contact_name: "Ana".into(), agent_name: "Bo".into(), ..Default::default() };
    /// assert_eq!(c.render(&v), "Hello Ana, Bo here.");
    /// ```
    pub fn render(&self, values: &CannedValues) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text.as_str();
        while let Some((before, after)) = rest.split_once("{{") {
            out.push_str(before);
            match after.split_once("}}") {
                Some((name, tail)) => {
                    out.push_str(values.get(name.trim()).unwrap_or_default());
                    rest = tail;
                }
                None => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The variables the text names that are not in [`VARIABLES`].
    pub fn unknown_variables(&self) -> Vec<String> {
        let mut unknown = Vec::new();
        let mut rest = self.text.as_str();
        while let Some((_, after)) = rest.split_once("{{") {
            let Some((name, tail)) = after.split_once("}}") else {
                break;
            };
            let name = name.trim();
            if !VARIABLES.contains(&name) {
                unknown.push(name.to_string());
            }
            rest = tail;
        }
        unknown
    }
}
