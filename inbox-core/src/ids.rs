//! Typed identifiers.
//!
//! Every entity is named by a newtype over a string so that a conversation id
//! can never be passed where an agent id is expected. Embedders choose the ids
//! of the things they provision (tenants, channels, agents, teams); the core
//! asks its [`IdGenerator`](crate::ports::IdGenerator) for the ids of the things
//! it creates (contacts, conversations, messages).

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $entity:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        pub struct $name(String);

        /// Serialised as the plain string, borrowed (no copy is made).
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl $name {
            /// What kind of entity this id names, as used in error messages.
            pub const ENTITY: &'static str = $entity;

            /// Creates an id, checking that it is usable: 1 to 200 characters,
            /// no control characters and no surrounding whitespace.
            ///
            /// ```
            #[doc = concat!("use inbox_core::", stringify!($name), ";")]
            #[doc = concat!("assert!(", stringify!($name), "::new(\"abc-1\").is_ok());")]
            #[doc = concat!("assert!(", stringify!($name), "::new(\"\").is_err());")]
            /// ```
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                validate_id($entity, &value)?;
                Ok(Self(value))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(value: &str) -> Result<Self, Error> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self, Error> {
                Self::new(value)
            }
        }
    };
}

fn validate_id(entity: &'static str, value: &str) -> Result<(), Error> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if value.len() > 200 {
        Some("must be at most 200 bytes")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if value.trim() != value {
        Some("must not start or end with whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::invalid(entity, reason)),
        None => Ok(()),
    }
}

id_type!(
    /// Identifies a tenant: one business served by the deployment.
    TenantId,
    "tenant"
);
id_type!(
    /// Identifies a channel: one WhatsApp number of a tenant.
    ChannelId,
    "channel"
);
id_type!(
    /// Identifies an agent (a member of a tenant's team).
    AgentId,
    "agent"
);
id_type!(
    /// Identifies a team (a queue of agents).
    TeamId,
    "team"
);
id_type!(
    /// Identifies a contact (a customer).
    ContactId,
    "contact"
);
id_type!(
    /// Identifies a conversation between a contact and a channel.
    ConversationId,
    "conversation"
);
id_type!(
    /// Identifies a message or internal note.
    MessageId,
    "message"
);
id_type!(
    /// Identifies a broadcast: a template sent to a segment of contacts.
    BroadcastId,
    "broadcast"
);
id_type!(
    /// Identifies a dead letter: an inbound item the inbox refused, kept for
    /// an operator to replay.
    DeadLetterId,
    "dead letter"
);
id_type!(
    /// Identifies an API key: its public part (`key_` and 12 hex digits),
    /// also the id of the service agent the key acts as (see
    /// [`Inbox::create_api_key`](crate::Inbox::create_api_key)).
    ApiKeyId,
    "api key"
);

impl ApiKeyId {
    /// The service agent this key acts as: the agent with the same id.
    ///
    /// ```
    /// use inbox_core::ApiKeyId;
    /// let id = ApiKeyId::new("key_0123456789ab").unwrap();
    /// assert_eq!(id.agent().as_str(), "key_0123456789ab");
    /// ```
    pub fn agent(&self) -> AgentId {
        AgentId(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_unusable_values() {
        assert!(AgentId::new("ana").is_ok());
        for bad in ["", " ana", "ana ", "a\nb", &"x".repeat(201)] {
            let err = AgentId::new(bad).unwrap_err();
            assert!(err.to_string().contains("agent"), "{err}");
        }
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = ConversationId::new("c-1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"c-1\"");
        assert_eq!(format!("{id:?}"), "ConversationId(\"c-1\")");
    }
}
