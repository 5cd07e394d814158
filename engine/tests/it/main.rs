//! Integration tests of the engine's public API, as a user of the crate sees it.

mod redaction;
