//! connecting
