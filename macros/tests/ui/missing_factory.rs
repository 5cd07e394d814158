// Options without a factory.
user_engine::conformance_suite! {
    capabilities: [commit_time_conflicts],
}

fn main() {}
