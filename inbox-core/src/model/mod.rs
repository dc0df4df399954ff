//! The domain model: tenants, channels, agents, teams, contacts,
//! conversations, messages and their delivery states.

mod agent;
mod bot;
mod broadcast;
mod channel;
mod contact;
mod content;
mod conversation;
mod delivery;
mod history;
pub mod limits;
mod message;
mod signal;
mod survey;
mod template;
mod template_fill;
mod tenant;
mod thread;

pub use agent::{Agent, Presence, Role, Team};
pub use bot::{BotSeat, Handoff, HandoffReason, PlannedHandoff};
pub use broadcast::{
    Broadcast, BroadcastState, Recipient, RecipientCounts, RecipientState, Segment,
};
pub use channel::Channel;
pub use contact::{ConsentSource, Contact, ContactIdentity, MarketingChoice};
pub use content::{
    CallOutcome, ContactCard, Content, InteractiveReply, MediaKind, MediaRef, OrderItem,
    OutboundButton, OutboundSection, ReplyContext, SystemChange,
};
pub use conversation::{Conversation, ConversationStatus, Priority, Started, StartedBy};
pub use delivery::{DeliveryState, DeliveryStatus, DeliveryUpdate, Pricing, ProviderError};
pub use history::HistoryImport;
pub use message::{Author, Direction, Message, Origin, ResponseTime};
pub use signal::{AccountSignal, SignalSeen};
pub use survey::{CsatAnswer, CsatScale, SurveySent, SurveySkip, SurveyState, MAX_SURVEYS_KEPT};
pub use template::{
    ComponentParameters, TemplateCategory, TemplateComponent, TemplateDefinition, TemplateStatus,
};
pub use template_fill::{HeaderFill, SlotKind, TemplateFill, TemplateSlot};
pub use tenant::Tenant;
pub use thread::ThreadControl;
