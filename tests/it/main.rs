//! End-to-end tests of the workspace, written as an outside user would: public paths only.

mod codemap;
mod gallery;
mod reference;
