//! The database repair console over HTTP and the command line: guards, inputs, and (with the
//! console's database work) drift found by `brokerdb doctor` and repaired through the API.

mod api_guards;
mod cli;
mod drift;

use axum::http::HeaderName;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_repair::{Guards, RepairSettings};
use brokerdb_server::api::ApiSettings;
use brokerdb_server::ops::page::same_origin::PublicOrigins;
use brokerdb_server::ops::{ConsoleSettings, OpsState};
use reqwest::Method;
use serde_json::Value;

use crate::api::{Answer, Api, Error, answer};

/// How a test's service runs its console.
pub struct Console<'a> {
    /// `BROKERDB_ENV`.
    pub env: Option<&'a str>,
    /// `BROKERDB_REPAIR_ADMINS`.
    pub admins: Option<&'a str>,
    /// The trusted proxy header.
    pub proxy: Option<&'a str>,
    /// Whether the admin connection is known (DATABASE_URL given).
    pub admin: bool,
    /// `REPAIR_PUBLIC_ORIGINS`.
    pub public_origins: &'a str,
}

impl Default for Console<'_> {
    fn default() -> Self {
        Self {
            env: Some("staging"),
            admins: Some(ADMIN),
            proxy: None,
            admin: true,
            public_origins: "",
        }
    }
}

/// The subject of [`Api::token`]'s tenant admin token of `t_a`.
pub const ADMIN: &str = "admin@t_a";

/// A service on its own database with this console.
pub async fn serve(console: Console<'_>) -> Result<Api, Error> {
    let settings = ConsoleSettings {
        guards: Guards::new(console.env, console.admins),
        proxy_header: console.proxy.map(HeaderName::try_from).transpose()?,
        repair: RepairSettings::default(),
        public_origins: PublicOrigins::parse(console.public_origins)?,
    };
    Api::configured(ApiSettings::default(), move |state, db| {
        let admin = console.admin.then(|| db.admin_config());
        Ok(state.with_ops(OpsState::new(settings, admin)?))
    })
    .await
}

/// The tenant admin token whose subject is [`ADMIN`].
pub async fn admin_token(api: &Api) -> Result<String, Error> {
    api.token(Some("t_a"), ApiTokenRole::Admin).await
}

/// Sends `method path` with `headers` and a JSON `body`.
pub async fn send(
    api: &Api,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Answer, Error> {
    let mut req = api.http.request(method, format!("{}{path}", api.base));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    answer(req.send().await?).await
}
