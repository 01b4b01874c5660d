//! The log filter: `RUST_LOG` as given, except for the targets that would log secrets.

use tracing_subscriber::EnvFilter;

/// Targets pinned to `warn` whatever `RUST_LOG` says: at `debug` the PostgreSQL driver logs every
/// statement with its bind parameters (token hashes, ciphertext, e-mail addresses), and at `info`
/// every server NOTICE (`relation … already exists, skipping`), which says nothing to an operator.
pub const PINNED: &[&str] = &["tokio_postgres=warn"];

/// The filter when `RUST_LOG` is not set: `info`.
pub const DEFAULT: &str = "info";

/// The filter of `brokerdb bench` when `RUST_LOG` is not set: `info` without the access log,
/// which would print a line per request of the HTTP rows.
pub const BENCH_DEFAULT: &str = "info,brokerdb::access=warn";

/// `rust_log` (`default` when unset; an unparsable value also falls back to it) with [`PINNED`]
/// added last, so it overrides any directive for the same target.
pub fn filter(rust_log: Option<&str>, default: &str) -> EnvFilter {
    let mut filter = rust_log
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    for directive in PINNED {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_stays_at_warn_whatever_rust_log_says() {
        for given in [
            None,
            Some("debug"),
            Some("trace"),
            Some("tokio_postgres=trace,debug"),
        ] {
            let shown = filter(given, DEFAULT).to_string();
            assert!(shown.contains("tokio_postgres=warn"), "{given:?}: {shown}");
            assert!(
                !shown.contains("tokio_postgres=trace"),
                "{given:?}: {shown}"
            );
        }
    }
}
