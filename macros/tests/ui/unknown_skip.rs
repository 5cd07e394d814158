// A skip that names no scenario of the spec.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    skip: { "smoke/migrate_then_redy": "typo in the id" },
    spec: "specs/valid",
}

fn main() {}
