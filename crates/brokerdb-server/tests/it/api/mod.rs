//! The `/v1` API over real HTTP: a service bound to a free loopback port in this process, on
//! a fresh database and the test Redis, called with `reqwest`.

mod approvals;
mod audit;
mod auth;
mod cache;
mod errors;
mod integrations;
mod keys;
mod policy_rules;
mod projects;
mod props;
mod secrets;
mod system;
mod templates;
mod users;
mod workloads;

use std::time::Duration;

use brokerdb::db::Db;
use brokerdb::model::{NonEmptyString, TenantId};
use brokerdb::repo::api_tokens::{self, Actor, ApiTokenRole, NewApiToken};
use brokerdb_cache::CachedReads;
use brokerdb_redis::ConnSettings;
use brokerdb_server::api::ApiSettings;
use brokerdb_server::app::{AppState, Application};
use brokerdb_server::config::RedisEndpoint;
use brokerdb_server::services::Redis;
use brokerdb_testkit::{TestDatabase, TestRedis, database, redis};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

/// Any error, boxed.
pub type Error = Box<dyn std::error::Error>;

/// Two tenants, `t_a` and `t_b`.
const SEED: &str =
    "INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'Tenant A'), ('t_b', 'Tenant B');";

/// A served API on its own database; stopped when dropped.
pub struct Api {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
    /// The database (superuser access for assertions).
    pub db: TestDatabase,
    /// The data layer the service uses.
    pub handle: Db,
    /// The service's read cache (tests that write around the API bust it, as a writer must).
    pub cache: CachedReads,
    /// This service's Redis key prefix (its cache keys are deleted when it is dropped).
    _redis: TestRedis,
    stop: Option<oneshot::Sender<()>>,
}

/// An answer: status, headers and the JSON body (`Null` when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The error envelope's `code`, or "" when this is not one.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The error envelope's `field`, or "".
    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or_default()
    }
}

impl Api {
    /// A service with the default settings.
    pub async fn start() -> Result<Self, Error> {
        Self::with(ApiSettings::default()).await
    }

    /// A service with `settings`.
    pub async fn with(settings: ApiSettings) -> Result<Self, Error> {
        Self::configured(settings, |state, _| Ok(state)).await
    }

    /// A service with `settings` whose state `configure` adjusts (given the test database).
    pub async fn configured(
        mut settings: ApiSettings,
        configure: impl FnOnce(AppState, &TestDatabase) -> Result<AppState, Error>,
    ) -> Result<Self, Error> {
        let db = database().await;
        db.admin().await.batch_execute(SEED).await?;
        let handle = db.db().await;
        let r = redis().await;
        let conn = Redis {
            endpoint: RedisEndpoint::parse(r.url(), None)?,
            embedded: None,
        }
        .connect(ConnSettings::default())
        .await?;
        // Its own cache keys and channel: tests on other databases share this Redis.
        settings.cache.key_prefix = r.prefix().to_owned();
        let state = configure(AppState::with_api(handle.clone(), conn, &settings)?, &db)?;
        let cache = state.api.cache.clone();
        cache.listen().await?;
        let app = Application::bind("127.0.0.1:0".parse()?, state).await?;
        let base = format!("http://{}", app.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            db,
            handle,
            cache,
            _redis: r,
            stop: Some(stop),
        })
    }

    /// A fresh token of `tenant` (`None`: a system token) with `role`.
    pub async fn token(&self, tenant: Option<&str>, role: ApiTokenRole) -> Result<String, Error> {
        let new = NewApiToken {
            tenant_id: tenant.map(TenantId::parse).transpose()?,
            role,
            subject: NonEmptyString::new(
                "subject",
                &format!("{role}@{}", tenant.unwrap_or("system")),
            )?,
            expires_at: None,
        };
        let by = Actor {
            actor: NonEmptyString::new("actor", "test")?,
            correlation_id: NonEmptyString::new("correlation_id", "test")?,
        };
        Ok(api_tokens::create(&mut self.handle.system(), &new, &by)
            .await?
            .secret
            .expose()
            .to_owned())
    }

    /// Sends `method path` with `token` (if any) and a JSON `body` (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await?).await
    }

    /// `GET path` with `token`.
    pub async fn get(&self, path: &str, token: &str) -> Result<Answer, Error> {
        self.call(Method::GET, path, Some(token), None).await
    }
}

/// The answer of a response.
pub async fn answer(response: reqwest::Response) -> Result<Answer, Error> {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        headers,
        body,
    })
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
