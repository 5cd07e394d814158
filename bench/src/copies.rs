//! The statements the raw baselines copy from the adapters, to price an adapter's own statement
//! in place, checked against the adapters' sources: a copy that went stale would price a
//! statement no adapter runs.

#[cfg(test)]
mod tests {
    /// `text` with every run of whitespace made one space.
    fn squeezed(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn the_copied_statements_are_the_adapters() {
        let copies = [
            (
                "adapters/sqlite/src/transaction.rs",
                include_str!("../../adapters/sqlite/src/transaction.rs"),
                crate::raw_sqlite::TAKE_WRITE_LOCK,
            ),
            (
                "adapters/postgres/src/store.rs",
                include_str!("../../adapters/postgres/src/store.rs"),
                crate::raw_postgres::CHECKED_ACKNOWLEDGE,
            ),
            (
                "adapters/mysql/src/store.rs",
                include_str!("../../adapters/mysql/src/store.rs"),
                crate::raw_mysql::CHECKED_ACKNOWLEDGE,
            ),
        ];
        for (file, source, copy) in copies {
            assert!(
                squeezed(source).contains(&format!("\"{}\"", squeezed(copy))),
                "{file} no longer has the statement the benchmark copies: {copy}"
            );
        }
    }
}
