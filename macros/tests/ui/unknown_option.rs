// An unknown option key and an unknown capability, each reported at its token.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    capabilities: [commit_time_conflicts, teleportation],
    skips: { "outbox/late_commit": "needs two connections" },
}

fn main() {}
