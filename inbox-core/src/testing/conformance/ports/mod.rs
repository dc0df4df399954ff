//! Contract tests, one suite per port: each checks what the port's
//! `# Contract` promises by calling the store directly (some seed their
//! data through the inbox first).

pub(crate) mod access;
pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod dead_letters;
pub(crate) mod directory;
pub(crate) mod media;
pub(crate) mod messages;
pub(crate) mod outreach;
pub(crate) mod read_markers;
pub(crate) mod reports;
pub(crate) mod scheduling;
pub(crate) mod secrets;
pub(crate) mod settings;
