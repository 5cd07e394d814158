// A spec root that does not exist (absolute, so the message is the same wherever the target is).
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    spec: "/nonexistent/user-engine/specs/nowhere",
}

fn main() {}
