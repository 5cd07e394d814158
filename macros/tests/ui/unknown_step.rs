// A misspelled step keyword: the error points at it and lists the known steps.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    spec: "specs/unknown_step",
}

fn main() {}
