//! The process-wide Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Buckets (seconds) of the operation-duration histogram: 100 µs … 5 s.
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets (seconds) of the job-run histogram: 10 ms … 10 min.
const JOB_DURATION_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The handle of the global recorder, installed on first use. When another recorder is already
/// installed (an embedding application's), metrics go there and this handle renders nothing.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(DURATION_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(
                            "brokerdb_job_duration_seconds".into(),
                        ),
                        JOB_DURATION_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder is already installed; /metrics will be empty");
            }
            metrics::describe_histogram!(
                "brokerdb_repo_op_duration_seconds",
                metrics::Unit::Seconds,
                "Repository operation duration"
            );
            metrics::describe_counter!(
                "brokerdb_slow_ops_total",
                "Repository operations slower than SLOW_QUERY_MS"
            );
            metrics::describe_counter!(
                "brokerdb_repo_errors_total",
                "Repository operations that failed, by error code"
            );
            metrics::describe_counter!(
                "brokerdb_tx_retries_total",
                "Transactions retried after a serialization failure or deadlock"
            );
            metrics::describe_gauge!(
                "brokerdb_pool_connections",
                "PostgreSQL pool connections by pool and state"
            );
            metrics::describe_counter!(
                "brokerdb_http_requests_total",
                "HTTP requests by route template, method and status"
            );
            metrics::describe_histogram!(
                "brokerdb_http_request_duration_seconds",
                metrics::Unit::Seconds,
                "HTTP request duration by route template and method"
            );
            metrics::describe_gauge!(
                "brokerdb_jobs_queue_depth",
                "Background jobs by queue and status (queued, running, dead)"
            );
            metrics::describe_histogram!(
                "brokerdb_job_duration_seconds",
                metrics::Unit::Seconds,
                "Background job runs by queue and outcome"
            );
            metrics::describe_counter!(
                "brokerdb_jobs_total",
                "Background job runs by queue and outcome (succeeded, retried, dead, lost, unsettled)"
            );
            metrics::describe_counter!(
                "brokerdb_jobs_worker_errors_total",
                "Failures of the job worker itself by queue and stage (claim, settle, heartbeat, depth, schedule)"
            );
            metrics::describe_counter!(
                "brokerdb_sweep_rows_total",
                "Rows removed (or approvals expired) by each sweep"
            );
            metrics::counter!("brokerdb_tx_retries_total").absolute(0);
            spawn_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// How often the recorder folds recorded histogram samples into its buckets.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the recorder's upkeep every [`UPKEEP_INTERVAL`] on a thread of its own for the life of
/// the process. A recorder built with `build_recorder` keeps every histogram sample until it is
/// rendered or upkept: without this, a service nobody scrapes grew by every sample it recorded
/// (about 80 bytes a request in the soak).
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread; histogram samples are \
            kept until /metrics is scraped");
    }
}

/// Records one HTTP request: `route` is the route template (`/v1/users/{id}`), never the path
/// with its values.
pub fn http_request(route: &str, method: &str, status: u16, elapsed: std::time::Duration) {
    metrics::counter!(
        "brokerdb_http_requests_total",
        "route" => route.to_owned(),
        "method" => method.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "brokerdb_http_request_duration_seconds",
        "route" => route.to_owned(),
        "method" => method.to_owned()
    )
    .record(elapsed.as_secs_f64());
}
