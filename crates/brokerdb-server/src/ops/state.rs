//! What the console's operations share: the checked settings and, when the admin connection is
//! known, the console that repairs through it.

use std::sync::Arc;

use axum::http::HeaderName;
use brokerdb::conninfo::ConnInfo;
use brokerdb_repair::{Guards, RepairConsole, RepairError};

use super::page::same_origin::PublicOrigins;
use super::settings::ConsoleSettings;

/// The repair console as the service and the CLI hold it (cheap to clone).
#[derive(Debug, Clone)]
pub struct OpsState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    guards: Guards,
    proxy_header: Option<HeaderName>,
    public_origins: PublicOrigins,
    console: Option<RepairConsole>,
}

impl OpsState {
    /// The console over `settings`, repairing through `admin` (the owner or superuser
    /// connection). Without it every operation that passed the guards answers `unavailable`.
    /// No I/O; a malformed builtin playbook registry is an error.
    pub fn new(settings: ConsoleSettings, admin: Option<ConnInfo>) -> Result<Self, RepairError> {
        let console = admin
            .map(|admin| RepairConsole::new(admin, settings.repair.clone()))
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                guards: settings.guards,
                proxy_header: settings.proxy_header,
                public_origins: settings.public_origins,
                console,
            }),
        })
    }

    /// A console that refuses everything (no environment, no admins, no admin connection):
    /// the state a service has until it is configured.
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(Inner {
                guards: ConsoleSettings::disabled().guards,
                proxy_header: None,
                public_origins: PublicOrigins::default(),
                console: None,
            }),
        }
    }

    /// Guards 1–3's environment and allowlist.
    pub fn guards(&self) -> &Guards {
        &self.inner.guards
    }

    /// The trusted proxy header, if any.
    pub fn proxy_header(&self) -> Option<&HeaderName> {
        self.inner.proxy_header.as_ref()
    }

    /// Origins the page's forms are accepted from besides the request's own host.
    pub fn public_origins(&self) -> &PublicOrigins {
        &self.inner.public_origins
    }

    /// The console, when the admin connection is known.
    pub fn console(&self) -> Option<&RepairConsole> {
        self.inner.console.as_ref()
    }
}

impl Default for OpsState {
    fn default() -> Self {
        Self::disabled()
    }
}
