//! [`DeadLetters`] in memory.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::PoisonError;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::DeadLetterId;
use inbox_core::ports::{DeadLetter, DeadLetterPut, DeadLetterQuery, DeadLetterScope, DeadLetters};
use inbox_core::query::{Page, SortKey};

use crate::MemoryStore;

/// What a letter is deduplicated by: source, phone number id, the reason
/// code it was first kept for, and the item.
type ItemKey = (String, Option<String>, &'static str, String);

/// The dead letters: by id, and by the item they keep.
#[derive(Debug, Default)]
pub(crate) struct DeadLetterState {
    letters: HashMap<DeadLetterId, DeadLetter>,
    by_item: HashMap<ItemKey, DeadLetterId>,
    /// Listing order: [`DeadLetter::sort_key`] ascending.
    order: BTreeMap<SortKey, DeadLetterId>,
}

fn item_key(l: &DeadLetter) -> ItemKey {
    (
        l.source.clone(),
        l.phone_number_id.clone(),
        l.reason.code(),
        l.raw.clone(),
    )
}

impl MemoryStore {
    fn letters_read(&self) -> std::sync::RwLockReadGuard<'_, DeadLetterState> {
        self.dead_letters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn letters_write(&self) -> std::sync::RwLockWriteGuard<'_, DeadLetterState> {
        self.dead_letters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DeadLetters for MemoryStore {
    async fn put_dead_letter(&self, letter: DeadLetter) -> Result<DeadLetterPut> {
        let mut s = self.letters_write();
        let key = item_key(&letter);
        if let Some(existing) = s.by_item.get(&key).and_then(|id| s.letters.get(id)) {
            return Ok(DeadLetterPut {
                letter: existing.clone(),
                created: false,
            });
        }
        if s.letters.contains_key(&letter.id) {
            return Err(Error::Duplicate {
                what: Unique::DeadLetter,
                existing: letter.id.to_string(),
            });
        }
        s.by_item.insert(key, letter.id.clone());
        s.order.insert(letter.sort_key(), letter.id.clone());
        s.letters.insert(letter.id.clone(), letter.clone());
        Ok(DeadLetterPut {
            letter,
            created: true,
        })
    }

    async fn dead_letters(
        &self,
        scope: &DeadLetterScope,
        query: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>> {
        let start = match query.validate()? {
            Some(k) => std::ops::Bound::Excluded(k),
            None => std::ops::Bound::Unbounded,
        };
        let s = self.letters_read();
        let items: Vec<DeadLetter> = s
            .order
            .range((start, std::ops::Bound::Unbounded))
            .filter_map(|(_, id)| s.letters.get(id))
            .filter(|l| scope.contains(l) && (!query.pending_only || l.is_pending()))
            .take(query.limit as usize + 1)
            .cloned()
            .collect();
        Ok(Page::first(
            items,
            query.limit,
            DeadLetterQuery::cursor_after,
        ))
    }

    async fn dead_letter(&self, scope: &DeadLetterScope, id: &DeadLetterId) -> Result<DeadLetter> {
        self.letters_read()
            .letters
            .get(id)
            .filter(|l| scope.contains(l))
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::DeadLetter, id))
    }

    async fn update_dead_letter(&self, letter: &DeadLetter) -> Result<()> {
        let mut s = self.letters_write();
        let stored = s
            .letters
            .get_mut(&letter.id)
            .ok_or_else(|| Error::not_found(Entity::DeadLetter, &letter.id))?;
        stored.tenant = letter.tenant.clone();
        stored.channel = letter.channel.clone();
        stored.reason = letter.reason.clone();
        stored.replayed_at = letter.replayed_at;
        stored.last_replay = letter.last_replay.clone();
        Ok(())
    }
}
