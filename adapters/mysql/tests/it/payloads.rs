//! payloads
