// Two files declare one id: both are named, and the copy's id is reported as not matching its path.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    spec: "specs/duplicate_id",
}

fn main() {}
