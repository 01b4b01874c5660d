//! The HTTP rows: `GET /v1/users/{id}` and `GET /v1/users?pageSize=20` through the service
//! (served in this process on a loopback port, default settings: token cache, per-token rate
//! limit in Redis — set out of reach —, the read cache (the user read goes through it), request
//! wrapper; the access log is off unless RUST_LOG asks for it) against the same (uncached)
//! library call, alternating second by second.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use brokerdb::db::Db;
use brokerdb::db::paging::{Direction, PageRequest, Sort};
use brokerdb::model::{NonEmptyString, TenantId, UserId};
use brokerdb::repo::api_tokens::{self, Actor, ApiTokenRole, NewApiToken};
use brokerdb::repo::users::{self, UserFilter, UserSort};
use brokerdb_redis::RedisConn;
use http_body_util::{BodyExt, Full};
use tokio::sync::oneshot;

use super::BenchConfig;
use super::stats::Measurement;
use super::timed::{self, Call};
use super::workload::TENANT;
use crate::api::ApiSettings;
use crate::app::{AppState, Application};
use crate::config::RedisTarget;

/// Row: one user by id.
pub const GET_USER: &str = "http GET /v1/users/{id} (one user of 100k)";
/// Row: the first page of 20.
pub const LIST_USERS: &str = "http GET /v1/users?pageSize=20 (page 1, total)";
/// Implementation label of the HTTP side.
pub const HTTP: &str = "brokerdb serve, HTTP/1.1 keep-alive (one hyper connection per caller)";
/// Implementation label of the library side (the rows' reference).
pub const LIBRARY: &str = "brokerdb (library call, same process)";

/// Every HTTP row name.
pub fn names() -> impl Iterator<Item = &'static str> {
    [GET_USER, LIST_USERS].into_iter()
}

/// Whether `--only` selects an HTTP row.
pub fn selected(config: &BenchConfig) -> bool {
    names().any(|name| config.selects("postgres", name))
}

/// Measures the selected HTTP rows against `db` (seeded with `users` users in the bench
/// tenant), with Redis at `redis`.
pub async fn measure(
    config: &BenchConfig,
    db: &Db,
    redis: &RedisTarget,
) -> anyhow::Result<Vec<Measurement>> {
    let (_server, conn) = super::redis::adapters(redis).await?;
    let tenant = TenantId::parse(TENANT)?;
    let by = Actor {
        actor: NonEmptyString::new("actor", "bench")?,
        correlation_id: NonEmptyString::new("correlation_id", "bench")?,
    };
    let issued = api_tokens::create(
        &mut db.system(),
        &NewApiToken {
            tenant_id: Some(tenant.clone()),
            role: ApiTokenRole::Auditor,
            subject: NonEmptyString::new("subject", "bench")?,
            expires_at: None,
        },
        &by,
    )
    .await
    .context("cannot create the bench's API token")?;
    let token = issued.secret.expose().to_owned();
    let max_callers = usize::from(config.concurrency.iter().copied().max().unwrap_or(1));
    // The user read goes through the read cache.
    let api = LocalApi::start(db, conn).await?;
    let client = Connections::new(api.addr.clone(), max_callers);
    let users = config.users.max(1);
    let mut rows = Vec::new();
    for name in names().filter(|n| config.selects("postgres", n)) {
        let (library, http) = calls(name, db, &tenant, &client, &token, users);
        for callers in config.concurrency.iter().copied().map(usize::from) {
            eprintln!("{name} × {callers} …");
            let [(lib, lib_time), (web, web_time)] =
                timed::run_interleaved(&library, &http, callers, config.seconds).await?;
            rows.push(
                Measurement::from_latencies(name, LIBRARY, callers, lib, lib_time)
                    .baseline_of("http"),
            );
            rows.push(
                Measurement::from_latencies(name, HTTP, callers, web, web_time).in_group("http"),
            );
        }
    }
    api.stop().await?;
    api_tokens::revoke(&mut db.system(), &issued.token.token_id, &by).await?;
    Ok(rows)
}

/// The `/v1` API served in this process on a loopback port with the defaults a deployment runs,
/// but a per-token rate limit no bench reaches (the limit's Redis round trip is still on every
/// request's path) and the read cache under a key prefix of the run's own, listening as in
/// `serve`. What the HTTP rows and the soak send their requests to.
pub struct LocalApi {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl LocalApi {
    /// Builds the service over `db` and `redis`, subscribes its cache and starts serving.
    pub async fn start(db: &Db, redis: RedisConn) -> anyhow::Result<Self> {
        let state = AppState::with_api(
            db.clone(),
            redis,
            &ApiSettings {
                rate_limit_requests: u32::MAX,
                cache: brokerdb_cache::CacheSettings {
                    key_prefix: format!("{}cache:", super::redis::run_prefix()),
                    ..brokerdb_cache::CacheSettings::default()
                },
                ..ApiSettings::default()
            },
        )?;
        state
            .api
            .cache
            .listen()
            .await
            .context("the bench's read cache cannot subscribe to invalidations")?;
        let app = Application::bind("127.0.0.1:0".parse()?, state).await?;
        let addr = app.local_addr()?.to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(Self { addr, stop, served })
    }

    /// Shuts the service down and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.served.await??;
        Ok(())
    }
}

/// The library call and the HTTP call of row `name`.
fn calls(
    name: &str,
    db: &Db,
    tenant: &TenantId,
    client: &Connections,
    token: &str,
    users: u32,
) -> (Call, Call) {
    let (db, tenant) = (db.clone(), tenant.clone());
    let (client, token) = (client.clone(), token.to_owned());
    // A different user each call, spread over the tenant.
    let user = move |caller: usize, i: u64| {
        let n = (i.wrapping_mul(7919).wrapping_add(caller as u64 * 104_729)) % u64::from(users);
        format!("u_bench_{}", n + 1)
    };
    if name == GET_USER {
        let library: Call = Arc::new(move |caller, i| {
            let (db, tenant, id) = (db.clone(), tenant.clone(), user(caller, i));
            Box::pin(async move {
                let id = UserId::parse(&id)?;
                users::get_by_id(&mut db.tenant(&tenant), &id)
                    .await?
                    .context("a bench user is missing")?;
                Ok(())
            })
        });
        let http: Call = Arc::new(move |caller, i| {
            let path = format!("/v1/users/{}", user(caller, i));
            let (client, token) = (client.clone(), token.clone());
            Box::pin(async move { client.get(caller, &path, &token).await })
        });
        (library, http)
    } else {
        let library: Call = Arc::new(move |_, _| {
            let (db, tenant) = (db.clone(), tenant.clone());
            Box::pin(async move {
                users::list(
                    &mut db.tenant(&tenant),
                    &UserFilter::default(),
                    Sort {
                        field: UserSort::CreatedAt,
                        direction: Direction::Desc,
                    },
                    PageRequest::new(1, 20)?,
                )
                .await?;
                Ok(())
            })
        });
        let http: Call = Arc::new(move |caller, _| {
            let (client, token) = (client.clone(), token.clone());
            Box::pin(async move { client.get(caller, "/v1/users?pageSize=20", &token).await })
        });
        (library, http)
    }
}

/// One line per HTTP row at 1 caller: the p50 the service adds to the library call.
pub fn notes(rows: &[Measurement]) -> Vec<String> {
    names()
        .filter_map(|name| {
            let at = |implementation: &str| {
                rows.iter().find(|r| {
                    r.operation == name && r.callers == 1 && r.implementation == implementation
                })
            };
            let (lib, web) = (at(LIBRARY)?, at(HTTP)?);
            let added = web.p50.as_micros() as i128 - lib.p50.as_micros() as i128;
            Some(format!(
                "{name}: HTTP adds {added} µs to the library's p50 at 1 caller"
            ))
        })
        .collect()
}

/// One HTTP/1.1 keep-alive connection per caller, opened on first use (and again when it
/// closed): the leanest client, so the rows and the soak measure the service rather than a client
/// library's pool.
#[derive(Clone)]
pub struct Connections {
    addr: String,
    slots: Arc<Vec<tokio::sync::Mutex<Option<Sender>>>>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

impl Connections {
    /// `callers` connection slots to the service at `addr` (`host:port`).
    pub fn new(addr: String, callers: usize) -> Self {
        Self {
            addr,
            slots: Arc::new(
                (0..callers)
                    .map(|_| tokio::sync::Mutex::new(None))
                    .collect(),
            ),
        }
    }

    /// `GET path` with the bearer `token` on `caller`'s connection; fails unless 200.
    async fn get(&self, caller: usize, path: &str, token: &str) -> anyhow::Result<()> {
        self.send(caller, hyper::Method::GET, path, token, None, 200)
            .await
    }

    /// `method path` with the bearer `token` and, when given, a JSON `body` on `caller`'s
    /// connection; reads the whole response and fails unless its status is `expect`.
    pub async fn send(
        &self,
        caller: usize,
        method: hyper::Method,
        path: &str,
        token: &str,
        body: Option<&str>,
        expect: u16,
    ) -> anyhow::Result<()> {
        let slot = self
            .slots
            .get(caller)
            .context("caller without a connection slot")?;
        let mut slot = slot.lock().await;
        if slot.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            *slot = Some(sender);
        }
        let sender = slot.as_mut().context("no connection")?;
        sender.ready().await?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.addr)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let body = match body {
            Some(text) => Full::new(Bytes::copy_from_slice(text.as_bytes())),
            None => Full::default(),
        };
        let response = sender.send_request(request.body(body)?).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        anyhow::ensure!(status == expect, "HTTP {status}, expected {expect}");
        Ok(())
    }
}
