//! The core's store conformance suite, run on the memory store directly and
//! through `Arc<dyn Store>`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use inbox_core::ports::{EventBus, Store};
use inbox_store_memory::{MemoryEventBus, MemoryStore};

mod direct {
    use super::*;
    inbox_core::store_conformance_tests!(async { Arc::new(MemoryStore::new()) });
}

mod dynamic {
    use super::*;
    inbox_core::store_conformance_tests!(async { Arc::new(MemoryStore::new()) as Arc<dyn Store> });
}

mod bus {
    use super::*;
    inbox_core::event_bus_conformance_tests!(async {
        (
            Arc::new(MemoryEventBus::new(64)) as Arc<dyn EventBus>,
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
        )
    });
}

mod subscriptions {
    use super::*;
    use inbox_core::ports::SubscriptionLog;
    inbox_core::subscription_log_conformance_tests!(async {
        Arc::new(MemoryStore::new()) as Arc<dyn SubscriptionLog>
    });
}
