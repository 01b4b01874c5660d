//! The latency budgets the report draws and checks: seed 001's (the performance budgets of the
//! specification brokerdb was built from) and the at-scale goals for the users list, each on the
//! operations it budgets.

use std::time::Duration;

use super::stats::Measurement;

/// Which latency statistic a budget bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// The median (p50).
    Median,
    /// The 95th percentile.
    P95,
}

impl Statistic {
    /// As the budget says it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Median => "median",
            Self::P95 => "p95",
        }
    }

    /// The statistic of a measurement.
    pub fn of(self, m: &Measurement) -> Duration {
        match self {
            Self::Median => m.p50,
            Self::P95 => m.p95,
        }
    }
}

/// One budget line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Where it comes from and what it budgets, e.g. `seed 001 Get User by ID`.
    pub source: &'static str,
    /// The bounded statistic.
    pub statistic: Statistic,
    /// The bound in milliseconds.
    pub ms: f64,
}

impl Budget {
    const fn new(source: &'static str, statistic: Statistic, ms: f64) -> Self {
        Self {
            source,
            statistic,
            ms,
        }
    }

    /// `<source>: <statistic> ≤ <ms> ms`, the label drawn next to the line.
    pub fn label(&self) -> String {
        format!(
            "{}: {} ≤ {} ms",
            self.source,
            self.statistic.name(),
            self.ms
        )
    }

    /// Whether `m` meets it.
    pub fn met_by(&self, m: &Measurement) -> bool {
        self.statistic.of(m).as_secs_f64() * 1000.0 <= self.ms
    }
}

const LIST_20: [Budget; 2] = [
    Budget::new("seed 001 List Users (20 rows)", Statistic::Median, 200.0),
    Budget::new("seed 001 List Users (20 rows)", Statistic::P95, 500.0),
];
const LIST_50: [Budget; 2] = [
    Budget::new("seed 001 List Users (50 rows)", Statistic::Median, 300.0),
    Budget::new("seed 001 List Users (50 rows)", Statistic::P95, 800.0),
];
/// The project's own goal (10× better than seed 001's) for page 1 of the users list at a million users.
pub const LIST_PAGE_GOAL: [Budget; 2] = [
    Budget::new("at-scale goal: users list page 1", Statistic::Median, 20.0),
    Budget::new("at-scale goal: users list page 1", Statistic::P95, 50.0),
];
const KEYSET_GOAL: [Budget; 1] = [Budget::new(
    "at-scale goal: keyset page, any depth",
    Statistic::Median,
    5.0,
)];
const GET_USER: [Budget; 2] = [
    Budget::new("seed 001 Get User by ID", Statistic::Median, 50.0),
    Budget::new("seed 001 Get User by ID", Statistic::P95, 100.0),
];
const AUDIT_WRITE: [Budget; 2] = [
    Budget::new("seed 001 Audit Write", Statistic::Median, 30.0),
    Budget::new("seed 001 Audit Write", Statistic::P95, 100.0),
];

/// The budgets of the operation named `operation` (none for most).
pub fn for_operation(operation: &str) -> Vec<Budget> {
    let mut out = Vec::new();
    if operation.starts_with("users::list page 1 of 20") {
        out.extend(LIST_20);
        out.extend(LIST_PAGE_GOAL);
    } else if operation.starts_with("users::list page 1 of 50") {
        out.extend(LIST_50);
        out.extend(LIST_PAGE_GOAL);
    } else if operation.starts_with("users::list_after") {
        out.extend(KEYSET_GOAL);
    } else if operation.starts_with("20-row page") {
        out.extend(LIST_20);
    } else if operation.starts_with("point read (user by id)") {
        out.extend(GET_USER);
    } else if operation.starts_with("audit append") {
        out.extend(AUDIT_WRITE);
    }
    out
}

/// Every budget, for the report's list.
pub fn all() -> Vec<(&'static str, Budget)> {
    let mut out = Vec::new();
    for (applies, budgets) in [
        ("users::list page 1 of 20, 20-row page", &LIST_20[..]),
        ("users::list page 1 of 50", &LIST_50[..]),
        (
            "users::list page 1 (20 and 50 rows, matrix)",
            &LIST_PAGE_GOAL[..],
        ),
        ("users::list_after", &KEYSET_GOAL[..]),
        ("point read (user by id)", &GET_USER[..]),
        ("audit append (every variant)", &AUDIT_WRITE[..]),
    ] {
        out.extend(budgets.iter().map(|b| (applies, *b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_budget_lands_on_the_operations_it_budgets() {
        assert_eq!(
            for_operation("point read (user by id)")[0].label(),
            "seed 001 Get User by ID: median ≤ 50 ms"
        );
        assert_eq!(
            for_operation("users::list page 1 of 20 (no filter, newest first)").len(),
            4
        );
        assert_eq!(
            for_operation("audit append × 16 tenants (same INSERT, unchained copy)").len(),
            2
        );
        assert!(for_operation("execute lookup (workload + integration + template)").is_empty());
    }
}
