//! Integration tests of the repair console's core against a real PostgreSQL.

mod support;

mod console;
mod snapshot;
