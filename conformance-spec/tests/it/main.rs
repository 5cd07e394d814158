//! Integration tests of the spec loader and validator, through the public API.

mod flow;
mod limits;
mod load;
mod model;
mod mutations;
mod packaged_copies;
mod reference;
mod seeds;
mod validate;
