// A scenario file that is not valid YAML: the error names its file, line and column.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    spec: "specs/malformed",
}

fn main() {}
