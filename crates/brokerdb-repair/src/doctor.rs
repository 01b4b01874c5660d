//! The schema doctor: the live schema against the one the migrations promise.

use serde::Serialize;

/// One difference between the live schema and the expected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// What kind of object (`table`, `column`, `index`, `constraint`, `rls`, `policy`,
    /// `trigger`, `function`, `grant`, `type`).
    pub kind: &'static str,
    /// The object, e.g. `index:idx_jobs_finished`.
    pub object: String,
    /// What differs, e.g. `missing`, `disabled`, `unexpected`.
    pub detail: String,
    /// The playbook that repairs it, if one does.
    pub playbook: Option<String>,
}

/// Every drift found, sorted by kind and object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// The drifts.
    pub drifts: Vec<Drift>,
}

impl DoctorReport {
    /// No drift.
    pub fn is_clean(&self) -> bool {
        self.drifts.is_empty()
    }
}
