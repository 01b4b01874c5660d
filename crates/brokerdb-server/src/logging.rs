//! The log filter: `RUST_LOG` as given, except for the targets that would log secrets.

use tracing_subscriber::EnvFilter;

/// Targets pinned to `info` whatever `RUST_LOG` says: at `debug` the PostgreSQL driver logs every
/// statement with its bind parameters (token hashes, ciphertext, e-mail addresses).
pub const PINNED: &[&str] = &["tokio_postgres=info"];

/// `rust_log` (default `info`; an unparsable value also falls back to `info`) with [`PINNED`]
/// added last, so it overrides any directive for the same target.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    let mut filter = rust_log
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
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
    fn the_driver_stays_at_info_whatever_rust_log_says() {
        for given in [
            None,
            Some("debug"),
            Some("trace"),
            Some("tokio_postgres=trace,debug"),
        ] {
            let shown = filter(given).to_string();
            assert!(shown.contains("tokio_postgres=info"), "{given:?}: {shown}");
            assert!(
                !shown.contains("tokio_postgres=trace"),
                "{given:?}: {shown}"
            );
        }
    }
}
