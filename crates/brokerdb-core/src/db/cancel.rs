//! Cancelling a statement whose caller went away.
//!
//! Dropping a call's future (an HTTP client that disconnected, a `tokio::time::timeout` that
//! expired, a `select!` that took another branch) does not stop the statement on the server: it
//! runs to its end or its `statement_timeout`, holding its connection, locks and a CPU. So the
//! data layer arms a guard around every statement in flight. Dropped armed, it sends PostgreSQL
//! a cancel request for that connection (over the same TLS settings as the connection, see
//! [`Db::set_cancel_tls`]), waits for the server's answer to the abandoned statement, and then
//! closes the connection instead of returning it to the pool: a cancel request cancels whatever
//! its backend runs when it arrives, which must never be another caller's statement. Metric: `brokerdb_statements_cancelled_total{pool}`.

use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::Object;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Db, DbError, StatementMode};

/// How long a cancelled connection may take to answer before it is closed anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The TLS connectors of cancel requests, per pool.
#[derive(Default)]
pub(crate) struct CancelTls {
    runtime: OnceLock<MakeRustlsConnect>,
    system: OnceLock<MakeRustlsConnect>,
}

impl Db {
    /// Sets the TLS connectors cancel requests use, one per pool (`runtime`, `system`): the
    /// connectors of the pools' own settings ([`TlsSettings::connector`](super::pool::TlsSettings::connector)).
    /// [`Db::connect`] sets them. A handle from [`Db::from_pools`] without them sends cancel
    /// requests in plain text when the connection's `sslmode` allows it (`disable`, `prefer`),
    /// and cannot cancel on a server that requires TLS (the statement then runs to its end or its
    /// `statement_timeout`). Only the first call has an effect.
    pub fn set_cancel_tls(&self, runtime: MakeRustlsConnect, system: MakeRustlsConnect) {
        let tls = self.cancel_tls();
        let _ = tls.runtime.set(runtime);
        let _ = tls.system.set(system);
    }
}

/// A pooled connection with a statement in flight: dropped before [`InFlight::finish`], it
/// cancels the statement and closes the connection (module docs). It borrows the handle: arming
/// costs nothing on the path of every statement.
pub(crate) struct InFlight<'a> {
    client: Option<Object>,
    db: &'a Db,
    system: bool,
}

impl<'a> InFlight<'a> {
    /// Arms the guard over `client` (of the system pool when `system`).
    pub(crate) fn arm(db: &'a Db, client: Object, system: bool) -> Self {
        Self {
            client: Some(client),
            db,
            system,
        }
    }

    /// The connection the statement runs on (present from `arm` until `finish` or drop, which
    /// both take the guard).
    pub(crate) fn client(&self) -> Result<&Object, DbError> {
        self.client.as_ref().ok_or(DbError::Unexpected {
            message: "the connection was already released".into(),
        })
    }

    /// The statement finished (well or not): disarms and hands the connection back.
    pub(crate) fn finish(mut self) -> Option<Object> {
        self.client.take()
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            cancel_and_close(self.db, client, self.system);
        }
    }
}

/// Sends a cancel request for `client`'s statement, then closes `client` (not back to the pool).
/// In [`StatementMode::Unnamed`] — the mode for PgBouncer in transaction mode — it only closes:
/// PgBouncer 1.18 loses tokio-postgres's cancel requests (the cancel socket is half-closed at
/// once) and can even abort on one whose client went away (`bad client state`, PgBouncer issue
/// 801), so there the statement runs to its end or its `statement_timeout`.
pub(crate) fn cancel_and_close(db: &Db, client: Object, system: bool) {
    let pool = Db::pool_label(system);
    let client = Object::take(client);
    if db.settings().statement_mode == StatementMode::Unnamed {
        drop(client);
        return;
    }
    metrics::counter!("brokerdb_statements_cancelled_total", "pool" => pool).increment(1);
    let token = client.cancel_token();
    let tls = {
        let tls = db.cancel_tls();
        if system { &tls.system } else { &tls.runtime }
    }
    .get()
    .cloned();
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return; // no runtime: the connection closes; the server notices when it next writes
    };
    handle.spawn(async move {
        let sent = match tls {
            Some(tls) => token.cancel_query(tls).await,
            None => token.cancel_query(NoTls).await,
        };
        if let Err(e) = sent {
            tracing::debug!(pool, error = %e, "could not cancel an abandoned statement");
        }
        // Keep the connection until the server has answered the abandoned statement (a pooler
        // such as PgBouncer forwards a cancel only while its client is still connected), then
        // close it. The ROLLBACK ends whatever transaction the statement was in.
        let _ = tokio::time::timeout(DRAIN_LIMIT, client.batch_execute("ROLLBACK")).await;
        drop(client);
    });
}
