//! What the brokerdb examples share: a throwaway database per run, a Redis key prefix that is
//! cleaned up, and error reporting. The examples themselves are the `*.rs` files next to this
//! crate's `Cargo.toml`; `examples/README.md` says how to run them.

use std::future::Future;
use std::process::ExitCode;

use brokerdb::conninfo::ConnInfo;

/// Any error an example can end with.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The value of environment variable `name`, or an error saying it is missing.
pub fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set (see examples/README.md)").into())
}

/// Runs `body` against a fresh, empty database `brokerdb_example_<example>` on the server of
/// `DATABASE_URL` (a superuser URL), then drops the database, whatever `body` returned. `body`
/// gets the superuser URL of that database. Prints the first error with its causes and returns
/// a failing exit code when anything failed.
pub async fn run<F, Fut>(example: &str, body: F) -> ExitCode
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let scratch = match Scratch::create(example).await {
        Ok(scratch) => scratch,
        Err(e) => return report(e.as_ref()),
    };
    println!("created database {}", scratch.name);
    let outcome = body(scratch.url.clone()).await;
    let dropped = scratch.drop().await;
    match outcome.and(dropped) {
        Ok(()) => {
            println!("dropped database brokerdb_example_{example}; done");
            ExitCode::SUCCESS
        }
        Err(e) => report(e.as_ref()),
    }
}

/// Applies every pending migration to the database at `url` (what `brokerdb migrate` does) and
/// returns how many ran. The URL's user must be a superuser or a member of `brokerdb_owner`.
pub async fn migrate(url: &str) -> Result<usize, Error> {
    let mut client = ConnInfo::parse(url)?.connect().await?;
    let applied = brokerdb::migrate::apply_pending(&mut client).await?;
    Ok(applied.len())
}

fn report(error: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// A database of one example run.
struct Scratch {
    /// The server's admin connection (the database of `DATABASE_URL`).
    admin: ConnInfo,
    name: String,
    /// `DATABASE_URL` with the scratch database instead.
    url: String,
}

impl Scratch {
    /// Creates `brokerdb_example_<example>`, dropping a leftover of an interrupted run first.
    async fn create(example: &str) -> Result<Self, Error> {
        let admin_url = env("DATABASE_URL")?;
        let admin = ConnInfo::parse(&admin_url)?;
        let name = format!("brokerdb_example_{example}");
        let mut url = url::Url::parse(&admin_url).map_err(
            |_| "DATABASE_URL must be a postgres:// URL (the examples replace its path)",
        )?;
        url.set_path(&name);
        let client = admin.connect().await?;
        // Two calls: several statements in one would run as one transaction, which neither
        // statement allows.
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        Ok(Self {
            admin,
            name,
            url: url.into(),
        })
    }

    /// Drops the database, closing whatever connections are still open to it.
    async fn drop(self) -> Result<(), Error> {
        let client = self.admin.connect().await?;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

/// A key prefix of one example run on the Redis of `REDIS_URL` (standalone Redis), whose keys
/// [`RedisScratch::cleanup`] deletes.
pub struct RedisScratch {
    client: redis::Client,
    /// `brokerdb-example:<example>:<pid>:`; give it to every adapter as its key prefix.
    pub prefix: String,
}

impl RedisScratch {
    /// Opens `REDIS_URL` (`redis://`, `rediss://` or `redis+unix://`).
    pub fn open(example: &str) -> Result<Self, Error> {
        let client = brokerdb_redis::open_client(&env("REDIS_URL")?, None)?;
        Ok(Self {
            client,
            prefix: format!("brokerdb-example:{example}:{}:", std::process::id()),
        })
    }

    /// The client, to build a `brokerdb_redis::RedisConn` from.
    pub fn client(&self) -> redis::Client {
        self.client.clone()
    }

    /// Deletes every key under the prefix (SCAN + DEL: fine for an example, not for production).
    pub async fn cleanup(&self) -> Result<usize, Error> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        let pattern = format!("{}*", self.prefix);
        let mut cursor = 0_u64;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let n: usize = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}
