//! The outbox under concurrency: two relays acknowledging the same events at once.

use user_engine::conformance::checks::racing_relays_count_each_event_once;

use crate::support::migrated;

#[user_engine::needs_env("USER_ENGINE_MYSQL_URL")]
#[test]
fn two_relays_acknowledging_the_same_events_at_once_count_each_event_once() {
    let db = migrated();
    racing_relays_count_each_event_once(&*db);
}
