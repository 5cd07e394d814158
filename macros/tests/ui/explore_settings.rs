// Each problem in `explore: {..}` at its token: an unknown setting, a count of 0, a seed twice.
user_engine::conformance_suite! {
    factory: user_engine::InMemoryUserEngineStore::new,
    explore: {case: 5, cases: 0, seed: 1, seed: 2},
}

fn main() {}
