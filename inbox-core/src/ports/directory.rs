//! Tenants, channels, agents and teams: the [`Directory`] port.

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{AgentId, ChannelId, TeamId, TenantId};
use crate::model::{Agent, Channel, Team, Tenant};

/// A change of what the inbox learned about a channel, for
/// [`Directory::update_channel_news`]: whether it changed anything.
pub type ChannelNews<'a> = dyn Fn(&mut Channel) -> bool + Send + Sync + 'a;

/// Who works in the inbox and on which numbers: tenants, their channels
/// (WhatsApp numbers), agents and teams.
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Tenancy.** Every read is scoped by tenant: an id of another tenant is
/// [`Error::NotFound`](crate::Error::NotFound), and lists hold only the
/// tenant's own. The only cross-tenant reads are
/// [`Directory::channel_by_phone_number_id`], which is how an inbound
/// webhook finds its tenant, [`Directory::channels_of_account`], how a
/// webhook about a WhatsApp Business Account finds its numbers, and
/// [`Directory::tenants`], the platform operator's list.
///
/// **Uniqueness.** Phone number ids are unique across the deployment: a
/// channel that would take another channel's number is refused with
/// [`Error::Duplicate`](crate::Error::Duplicate)
/// ([`Unique::PhoneNumberId`](crate::Unique::PhoneNumberId)).
///
/// **Parents.** A channel, agent or team of a tenant that does not exist is
/// refused with [`Error::NotFound`](crate::Error::NotFound).
#[async_trait]
pub trait Directory: Send + Sync {
    /// Inserts or replaces a tenant.
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// A tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Tenant>;
    /// Every tenant, by id (for the platform operator: the one listing
    /// across tenants).
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// Inserts or replaces a channel. The tenant must exist; the phone number
    /// id must not belong to another channel
    /// ([`Error::Duplicate`](crate::Error::Duplicate)). What the inbox
    /// learned about a stored channel ([`Channel::signals`],
    /// [`Channel::history`]) stays as stored, whatever `channel` says:
    /// only [`Directory::update_channel_news`] changes it.
    async fn upsert_channel(&self, channel: &Channel) -> Result<()>;
    /// Applies `change` to what the inbox learned about a stored channel
    /// ([`Channel::signals`], [`Channel::history`]; the rest of what
    /// `change` does is ignored) and stores it when `change` says it
    /// changed something, atomically with every other write of the channel
    /// (two changes at once both land). The channel as stored after;
    /// [`Error::NotFound`](crate::Error::NotFound) when there is none.
    async fn update_channel_news(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
        change: &ChannelNews<'_>,
    ) -> Result<Channel>;
    /// A channel of a tenant.
    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel>;
    /// The tenant's channels, by id.
    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>>;
    /// The channel with this WhatsApp phone number id, whatever its tenant.
    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>>;
    /// The channels of the WhatsApp Business Account `waba_id`
    /// ([`Channel::waba_id`]), whatever their tenants, by tenant and id.
    /// Account-level webhooks are rare: implementations need not override
    /// it (by default it reads every tenant's channels).
    async fn channels_of_account(&self, waba_id: &str) -> Result<Vec<Channel>> {
        let mut found = Vec::new();
        for tenant in self.tenants().await? {
            let channels = self.channels(&tenant.id).await?;
            found.extend(
                channels
                    .into_iter()
                    .filter(|c| c.waba_id.as_deref() == Some(waba_id)),
            );
        }
        Ok(found)
    }
    /// Inserts or replaces an agent. The tenant must exist.
    async fn upsert_agent(&self, agent: &Agent) -> Result<()>;
    /// An agent.
    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent>;
    /// The tenant's agents, by id.
    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>>;
    /// Inserts or replaces a team. The tenant must exist.
    async fn upsert_team(&self, team: &Team) -> Result<()>;
    /// A team.
    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team>;
    /// The tenant's teams, by id.
    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>>;
}
