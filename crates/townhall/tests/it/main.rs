#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test
//! Integration tests of the `townhall` binary and its HTTP server: one test binary,
//! modules by area, each test with its own fresh database.

mod cli;
mod import;
mod listen;
mod pages;
mod support;
mod understand;
mod webhooks;
