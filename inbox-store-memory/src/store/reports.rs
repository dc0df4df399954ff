//! [`Reports`] on the memory store.

use async_trait::async_trait;
use std::collections::BTreeMap;

use inbox_core::error::Result;
use inbox_core::ids::{AgentId, ContactId, TenantId};
use inbox_core::model::Message;
use inbox_core::ports::{LoadScope, Reports};
use inbox_core::query::{Page, SearchHit, SearchQuery, SortKey, SortOrder};
use inbox_core::routing::RoutingCursor;

use super::MemoryStore;

#[async_trait]
impl Reports for MemoryStore {
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>> {
        let search = query.validate()?;
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let hits: Vec<(SortKey, SearchHit)> = d
            .conversations
            .values()
            .filter(|c| query.filter.matches(c))
            .map(|c| (SortOrder::LatestActivity.key(c), c))
            .filter(|(k, _)| search.after.as_ref().is_none_or(|a| k > a))
            .filter_map(|(k, c)| {
                let messages: Vec<&Message> = d
                    .messages_of
                    .get(&c.id)
                    .map(|ids| ids.iter().filter_map(|id| d.message(id)).collect())
                    .unwrap_or_default();
                search
                    .hit(c, d.contacts.get(&c.contact), &messages)
                    .map(|h| (k, h))
            })
            .collect();
        Ok(Page::from_keyed(
            hits,
            query.limit,
            SortOrder::LatestActivity,
        ))
    }

    async fn metrics(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::MetricsQuery,
    ) -> Result<inbox_core::metrics::MetricsReport> {
        query.validate()?;
        let s = self.read();
        Ok(match s.data(tenant) {
            Some(d) => inbox_core::metrics::MetricsReport::compute(
                query,
                d.conversations.values(),
                d.messages.values().map(Box::as_ref),
            ),
            None => inbox_core::metrics::MetricsReport::default(),
        })
    }

    async fn message_tallies(
        &self,
        tenant: &TenantId,
        query: &inbox_core::pricing::CostQuery,
    ) -> Result<Vec<inbox_core::pricing::MessageTally>> {
        query.validate()?;
        Ok(self.with_tenant(tenant, |d| {
            inbox_core::pricing::MessageTally::count(
                query,
                d.messages.values().map(Box::as_ref),
                |c| d.conversations.get(c),
                |k| d.contacts.get(k),
            )
        }))
    }

    async fn surveys(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::CsatQuery,
    ) -> Result<Vec<inbox_core::metrics::SurveyRow>> {
        Ok(self.with_tenant(tenant, |d| {
            d.conversations
                .values()
                .flat_map(|c| inbox_core::metrics::SurveyRow::of(c, query))
                .collect()
        }))
    }

    async fn bot_rows(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::BotQuery,
    ) -> Result<Vec<inbox_core::metrics::BotRow>> {
        Ok(self.with_tenant(tenant, |d| {
            d.conversations
                .values()
                .filter_map(|c| inbox_core::metrics::BotRow::of(c, query))
                .collect()
        }))
    }

    async fn live_snapshot(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::LiveQuery,
    ) -> Result<inbox_core::metrics::LiveSnapshot> {
        let s = self.read();
        let agents = s
            .agents
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a);
        use inbox_core::metrics::LiveSnapshot;
        Ok(match s.data(tenant) {
            Some(d) => {
                let mut snapshot = LiveSnapshot::compute(query, d.conversations.values(), agents);
                let messages = d
                    .messages
                    .values()
                    .map(Box::as_ref)
                    .filter_map(|m| d.conversations.get(&m.conversation).map(|c| (m, c)));
                snapshot.in_doubt = LiveSnapshot::count_in_doubt(query, messages);
                snapshot
            }
            None => LiveSnapshot::compute(query, [], agents),
        })
    }

    async fn agent_loads(
        &self,
        tenant: &TenantId,
        scope: &LoadScope,
    ) -> Result<BTreeMap<AgentId, u32>> {
        Ok(self.with_tenant(tenant, |d| {
            let mut out = BTreeMap::new();
            for c in d.conversations.values() {
                let Some(a) = c.assignee.as_ref().filter(|_| c.status.is_active()) else {
                    continue;
                };
                if let LoadScope::Agents(only) = scope {
                    if !only.contains(a) {
                        continue;
                    }
                }
                *out.entry(a.clone()).or_insert(0) += 1;
            }
            out
        }))
    }

    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>> {
        Ok(self.with_tenant(tenant, |d| {
            d.conversations
                .values()
                .filter(|c| &c.contact == contact && c.assignee.is_some())
                .max_by(|a, b| {
                    a.last_activity_at
                        .cmp(&b.last_activity_at)
                        .then_with(|| a.id.cmp(&b.id))
                })
                .and_then(|c| c.assignee.clone())
        }))
    }

    async fn routing_cursors(&self, tenant: &TenantId) -> Result<Vec<RoutingCursor>> {
        let s = self.read();
        Ok(s.cursors
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, c)| c.clone())
            .collect())
    }
}
