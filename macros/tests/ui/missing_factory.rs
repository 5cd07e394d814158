// Options without a factory.
user_engine::conformance_suite! {
    capabilities: [concurrent_transactions],
}

fn main() {}
