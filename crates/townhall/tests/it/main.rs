#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test
//! Integration tests of the `townhall` binary and its HTTP server: one test binary,
//! modules by area, each test with its own fresh database.

mod access;
mod admin_pages;
mod cli;
mod deliver;
mod import;
mod inbox;
mod listen;
mod openapi;
mod pages;
mod public_pages;
mod staff_pages;
mod support;
mod understand;
mod webhooks;
