// A factory that does not make a store: one error, at the factory, even in a non-test build.
user_engine::conformance_suite! {
    factory: || 42_u8,
    spec: "specs/valid",
}

fn main() {}
