//! The core's store and event bus conformance suites on PostgreSQL, run on
//! the concrete store and through `Arc<dyn Store>`; each test on a fresh
//! database.

mod common;

use std::sync::Arc;

use inbox_core::ports::{EventBus, Store};
use inbox_store_postgres::PgEventBus;

mod direct {
    use super::*;
    inbox_core::store_conformance_tests!(optional: common::fresh_store());
}

mod dynamic {
    use super::*;
    inbox_core::store_conformance_tests!(optional: async { common::fresh_store().await.map(|s| s as Arc<dyn Store>) });
}

mod bus {
    use super::*;
    inbox_core::event_bus_conformance_tests!(optional: async {
        let store = common::fresh_store().await?;
        let bus = PgEventBus::connect((*store).clone()).await.ok()?;
        Some((Arc::new(bus) as Arc<dyn EventBus>, store as Arc<dyn Store>))
    });
}

mod subscriptions {
    use super::*;
    use inbox_core::ports::SubscriptionLog;
    inbox_core::subscription_log_conformance_tests!(optional: async {
        common::fresh_store().await.map(|s| s as Arc<dyn SubscriptionLog>)
    });
}
