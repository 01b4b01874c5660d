//! The `brokerdb` binary's library: command-line interface ([`cli`], [`commands`]), configuration
//! ([`config`], [`logging`]), connecting or starting the servers ([`services`]), and the HTTP
//! service ([`app`], [`routes`], [`metrics`], [`checkpoints`]) with its background work
//! ([`outbox_relay`]), and the database repair console's service side ([`ops`]).
//!
//! This is the only crate that reads configuration (flags and environment variables); it builds
//! the pools and clients and hands them to the library crates.

pub mod api;
pub mod app;
pub mod checkpoints;
pub mod cli;
pub mod commands;
pub mod config;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod outbox_relay;
pub mod routes;
pub mod schema;
pub mod services;
