//! The database repair console's service side: settings ([`settings`]), who calls
//! ([`principal`]), the shared operations ([`service`]) behind the JSON API ([`api`]), the HTML
//! page ([`page`]) and the `brokerdb repair` / `brokerdb doctor` commands, their bodies ([`wire`]) and
//! errors ([`error`]). The core (playbooks, guards, doctor, runner) is the `brokerdb-repair`
//! crate.

pub mod api;
pub mod error;
pub mod page;
pub mod principal;
pub mod service;
pub mod settings;
pub mod state;
pub mod wire;

pub use error::OpsError;
pub use principal::{ConsolePrincipal, principal_from_headers, principal_from_token};
pub use settings::ConsoleSettings;
pub use state::OpsState;
