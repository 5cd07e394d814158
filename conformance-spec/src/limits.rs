//! The limits every scenario file is held to. A scenario in a pull request is untrusted input to
//! every adapter's build, the runner and the command, so each limit bounds time or memory; going
//! over one is a located error that names it.

/// The largest scenario or snapshot file read, in bytes (1 MiB); larger files are refused before
/// they are parsed.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// The deepest nesting of YAML collections in a scenario file. It is checked while the parser's
/// events stream past, before anything walks the document recursively.
pub const MAX_NESTING_DEPTH: usize = 64;

/// The most steps one scenario holds.
pub const MAX_STEPS: usize = 1_000;

/// The most copies one `concurrently` step runs (each is a thread).
pub const MAX_CONCURRENT_TIMES: usize = 64;
