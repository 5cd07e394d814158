// A spec root that does not exist.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    spec: "specs/nowhere",
}

fn main() {}
