//! [`Db::connect`] / [`Db::from_pools`]: building the handle only from pools whose roles keep
//! isolation on.
//!
//! Row-level security binds neither superusers nor roles with `BYPASSRLS`, and a table owner can
//! switch it off. A runtime pool built from such a URL would silently show every tenant's rows
//! to every tenant, so the handle refuses to exist: each pool is asked once who it connects as
//! and what that role may do, before any repository can use it.

use deadpool_postgres::Pool;

use super::{CursorKey, Db, DbError, DbSettings};
use crate::conninfo::ConnInfo;
use crate::roles;

/// What the connecting role is and may do, asked of each pool once.
const ROLE_FACTS: &str = "SELECT current_user::text, current_database()::text,
        r.rolsuper, r.rolbypassrls,
        COALESCE((SELECT pg_has_role(current_user, o.oid, 'MEMBER')
                  FROM pg_roles o WHERE o.rolname = 'brokerdb_owner'), false),
        EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid
                AND c.relnamespace = 'public'::regnamespace),
        has_database_privilege(current_database(), 'TEMPORARY'),
        has_schema_privilege('public', 'CREATE')
     FROM pg_roles r WHERE r.rolname = current_user";

/// Which of the two pools a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRole {
    /// The tenant scope's pool: must connect as the runtime role (RLS applies).
    Runtime,
    /// The system scope's pool: must connect as the system role (BYPASSRLS, nothing more).
    System,
}

impl PoolRole {
    fn expected(self) -> &'static str {
        match self {
            Self::Runtime => roles::RUNTIME,
            Self::System => roles::SYSTEM,
        }
    }
}

impl std::fmt::Display for PoolRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Runtime => "runtime",
            Self::System => "system",
        })
    }
}

/// Why [`Db::connect`] refused to build a handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The pool's role would turn isolation off or could change the schema.
    #[error(
        "the {pool} pool connects to database {database} as {user}, {problem}; connect it as \
         {expected} (created by `brokerdb migrate`)"
    )]
    UnsafeRole {
        /// Which pool.
        pool: PoolRole,
        /// The role it connects as.
        user: String,
        /// The database it reaches.
        database: String,
        /// What is wrong with that role.
        problem: &'static str,
        /// The role it should connect as.
        expected: &'static str,
    },
    /// A connection string could not be used (never quoted: it may hold a password).
    #[error("the {pool} pool's connection string cannot be used")]
    Settings {
        /// Which pool.
        pool: PoolRole,
        /// Why.
        #[source]
        source: crate::conninfo::ConnInfoError,
    },
    /// A pool could not be built (TLS settings, no runtime).
    #[error("cannot build the {pool} pool")]
    Pool {
        /// Which pool.
        pool: PoolRole,
        /// Why.
        #[source]
        source: super::pool::BuildError,
    },
    /// The pool gave no connection: the driver's reason (refused, authentication failed,
    /// unknown database, TLS) is the source.
    #[error("cannot connect the {pool} pool")]
    Connect {
        /// Which pool.
        pool: PoolRole,
        /// Why.
        #[source]
        source: deadpool_postgres::PoolError,
    },
    /// The pool's check query failed.
    #[error("cannot check the {pool} pool")]
    Check {
        /// Which pool.
        pool: PoolRole,
        /// Why.
        #[source]
        source: DbError,
    },
}

impl ConnectError {
    /// The library error code: `dependency_missing` for a misconfigured pool, else the check's.
    pub fn code(&self) -> super::ErrorCode {
        match self {
            Self::UnsafeRole { .. } | Self::Settings { .. } | Self::Pool { .. } => {
                super::ErrorCode::DependencyMissing
            }
            Self::Connect { .. } => super::ErrorCode::Unavailable,
            Self::Check { source, .. } => source.code(),
        }
    }
}

struct RoleFacts {
    user: String,
    database: String,
    superuser: bool,
    bypass_rls: bool,
    owner_member: bool,
    owns_tables: bool,
    temporary: bool,
    create_in_public: bool,
}

async fn role_facts(db: &Db, pool: PoolRole) -> Result<RoleFacts, ConnectError> {
    let check = |source: DbError| ConnectError::Check { pool, source };
    let client = db
        .pool(pool == PoolRole::System)
        .get()
        .await
        .map_err(|source| ConnectError::Connect { pool, source })?;
    // Unnamed (one round trip, nothing left on the server): safe through a transaction pooler.
    let row = client
        .query_typed_one(ROLE_FACTS, &[])
        .await
        .map_err(|e| check(e.into()))?;
    let get = |i| row.try_get::<_, bool>(i).map_err(|e| check(e.into()));
    Ok(RoleFacts {
        user: row.try_get(0).map_err(|e| check(e.into()))?,
        database: row.try_get(1).map_err(|e| check(e.into()))?,
        superuser: get(2)?,
        bypass_rls: get(3)?,
        owner_member: get(4)?,
        owns_tables: get(5)?,
        temporary: get(6)?,
        create_in_public: get(7)?,
    })
}

/// The first thing wrong with `facts` for `pool`.
fn problem(pool: PoolRole, facts: &RoleFacts) -> Option<&'static str> {
    if facts.superuser {
        return Some("a superuser, which ignores row-level security and may change anything");
    }
    if facts.owner_member || facts.owns_tables {
        return Some(
            "the owner of the schema's tables (or a member of brokerdb_owner), who may switch \
             row-level security off",
        );
    }
    if pool == PoolRole::Runtime && facts.bypass_rls {
        return Some("a role with BYPASSRLS, which ignores row-level security");
    }
    if pool == PoolRole::System && !facts.bypass_rls {
        return Some("a role without BYPASSRLS, for which pre-tenant lookups would find nothing");
    }
    None
}

/// Privileges `brokerdb migrate` revokes; still present, they are worth a warning, not a refusal
/// (an unmigrated database has them, and readiness is what reports an unmigrated database).
fn warn_about_leftovers(pool: PoolRole, facts: &RoleFacts) {
    if facts.temporary || facts.create_in_public {
        tracing::warn!(
            %pool,
            user = %facts.user,
            database = %facts.database,
            temporary = facts.temporary,
            create_in_public = facts.create_in_public,
            "the pool's role may create temporary tables or objects in schema public; \
             run `brokerdb migrate` (as the database owner) to revoke that"
        );
    }
}

/// Where the two pools connect and how the handle behaves: what [`Db::connect`] takes.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The runtime role's connection (`brokerdb_app`).
    pub runtime: ConnInfo,
    /// The system role's connection (`brokerdb_system`).
    pub system: ConnInfo,
    /// Connections per pool (at least 1).
    pub pool_size: usize,
    /// Tunables of the data layer.
    pub settings: DbSettings,
    /// Signs keyset cursors; give every instance of a deployment the same key.
    pub cursor_key: CursorKey,
}

impl ConnectOptions {
    /// Both roles on the server and database of one admin URL (owner or superuser): the user is
    /// replaced by `brokerdb_app` / `brokerdb_system` and the password dropped (the roles
    /// authenticate on their own, e.g. trust or peer on a private socket; with passwords use
    /// [`ConnectOptions::from_role_urls`]). Pools of 16, default settings, a random cursor key.
    pub fn from_admin_url(url: &str) -> Result<Self, ConnectError> {
        let admin = ConnInfo::parse(url).map_err(|source| ConnectError::Settings {
            pool: PoolRole::Runtime,
            source,
        })?;
        Ok(Self::with(
            crate::conninfo::for_role(&admin, roles::RUNTIME),
            crate::conninfo::for_role(&admin, roles::SYSTEM),
        ))
    }

    /// Each role from its own URL (with its password). Pools of 16, default settings, a random
    /// cursor key.
    pub fn from_role_urls(runtime: &str, system: &str) -> Result<Self, ConnectError> {
        let parse = |url: &str, pool| {
            ConnInfo::parse(url).map_err(|source| ConnectError::Settings { pool, source })
        };
        Ok(Self::with(
            parse(runtime, PoolRole::Runtime)?,
            parse(system, PoolRole::System)?,
        ))
    }

    fn with(runtime: ConnInfo, system: ConnInfo) -> Self {
        Self {
            runtime,
            system,
            pool_size: 16,
            settings: DbSettings::default(),
            cursor_key: CursorKey::random(),
        }
    }
}

impl Db {
    /// Builds both pools from `options` and the handle over them, checked as
    /// [`Db::from_pools`] checks: the one call a program needs.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), brokerdb_core::db::ConnectError> {
    /// use brokerdb_core::db::{ConnectOptions, Db};
    /// let db = Db::connect(ConnectOptions::from_admin_url(
    ///     "postgres://postgres@127.0.0.1:5432/brokerdb",
    /// )?)
    /// .await?;
    /// # drop(db); Ok(()) }
    /// ```
    pub async fn connect(options: ConnectOptions) -> Result<Self, ConnectError> {
        let build = |info: &ConnInfo, pool| {
            super::pool::build_for(info, options.pool_size, options.settings.statement_mode)
                .map_err(|source| ConnectError::Pool { pool, source })
        };
        let runtime = build(&options.runtime, PoolRole::Runtime)?;
        let system = build(&options.system, PoolRole::System)?;
        Self::from_pools(runtime, system, options.settings, options.cursor_key).await
    }

    /// Builds the handle after checking, once per pool, that `runtime` connects as a role that
    /// row-level security binds (not a superuser, not `BYPASSRLS`, neither the tables' owner nor
    /// a member of `brokerdb_owner`) and `system` as a `BYPASSRLS` role that is otherwise as
    /// limited. A role that may still create temporary tables or objects in `public` (an
    /// unmigrated database) is logged as a warning. Either pool failing to connect is [`ConnectError::Connect`] (`unavailable`,
    /// the driver's reason as its source).
    /// `cursor_key` signs keyset cursors; give every instance of a deployment the same key.
    pub async fn from_pools(
        runtime: Pool,
        system: Pool,
        settings: DbSettings,
        cursor_key: CursorKey,
    ) -> Result<Self, ConnectError> {
        let db = Self::assemble(runtime, system, settings, cursor_key);
        for pool in [PoolRole::Runtime, PoolRole::System] {
            let facts = role_facts(&db, pool).await?;
            if let Some(problem) = problem(pool, &facts) {
                return Err(ConnectError::UnsafeRole {
                    pool,
                    user: facts.user,
                    database: facts.database,
                    problem,
                    expected: pool.expected(),
                });
            }
            warn_about_leftovers(pool, &facts);
        }
        Ok(db)
    }
}
