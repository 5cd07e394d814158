//! Integration tests of the spec loader and validator, through the public API.

mod flow;
mod load;
mod model;
mod packaged_copies;
mod validate;
