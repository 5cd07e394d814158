//! locking
