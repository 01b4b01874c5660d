//! The demo data set, as plain values: what `brokerdb seed` writes for tenant number `n`, with
//! deterministic ids (`t_demo_<n>`, `u_demo_<n>_<j>`, …) so a second run finds every row it
//! would write. Nothing here does I/O; every value passes the library's own validation (the
//! unit tests below check that).

use brokerdb::model::{
    ApprovalStatus, CanonicalRequestDescriptor, EnrollmentMode, RiskTier, TemplateId, TenantId,
    ValidationError,
};
use brokerdb::repo::policy_rules::{PolicyRule, PolicyRuleType, PolicyScope, RateLimit};
use brokerdb::repo::templates::{BodyPolicy, NetworkSafety, PathGroup, RedirectPolicy, Template};

/// Who the seed says did things, in audit events and `published_by`.
pub const ACTOR: &str = "brokerdb-seed";

const COMPANIES: &[(&str, &str)] = &[
    ("Acme Corp", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Health", "umbrella.example"),
    ("Stark Logistics", "stark.example"),
    ("Wayne Foods", "wayne.example"),
    ("Hooli", "hooli.example"),
    ("Soylent Labs", "soylent.example"),
];

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
    "Radia", "Linus", "Hedy", "Niklaus", "Karen", "Tony", "Sophie", "John", "Adele", "Leslie",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Torvalds", "Lamarr", "Wirth", "Jones", "Hoare", "Wilson", "Backus",
    "Goldberg", "Lamport",
];

/// Tenant number `n` (1-based).
#[derive(Debug, Clone)]
pub struct DemoTenant {
    /// 1-based.
    pub n: usize,
    /// `t_demo_<n>`.
    pub id: TenantId,
    /// A company name (`Demo tenant <n>` past the list).
    pub name: String,
    /// The e-mail domain of its users.
    pub domain: String,
}

impl DemoTenant {
    /// Tenant number `n` (1-based).
    pub fn new(n: usize) -> Result<Self, ValidationError> {
        let (name, domain) = match COMPANIES.get(n.wrapping_sub(1)) {
            Some((name, domain)) => ((*name).to_owned(), (*domain).to_owned()),
            None => (format!("Demo tenant {n}"), format!("tenant{n}.example")),
        };
        Ok(Self {
            n,
            id: TenantId::parse(&format!("t_demo_{n}"))?,
            name,
            domain,
        })
    }

    /// An audit event id of this tenant's demo data: `evt_demo_<n>_<what>`.
    pub fn event_id(&self, what: &str) -> String {
        format!("evt_demo_{}_{what}", self.n)
    }
}

/// One human user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    /// `u_demo_<tenant>_<j>`.
    pub id: String,
    /// `first.last.j@domain`, lower-case.
    pub email: String,
    /// `First Last`.
    pub display_name: String,
    /// Role labels.
    pub roles: Vec<&'static str>,
    /// Every ninth user (never the owner) is disabled.
    pub enabled: bool,
    /// Two users in three signed in through the tenant's OIDC provider: `(issuer, subject)`.
    pub oidc: Option<(String, String)>,
}

/// User number `j` (1-based) of `tenant`. User 1 is the owner (and an admin).
pub fn user(tenant: &DemoTenant, j: usize) -> DemoUser {
    let first = FIRST[j % FIRST.len()];
    let last = LAST[(j * 7 + tenant.n) % LAST.len()];
    let roles = match j {
        1 => vec!["owner", "admin"],
        _ if j % 25 == 2 => vec!["admin"],
        _ if j.is_multiple_of(15) => vec!["auditor", "operator"],
        _ if j % 10 == 5 => vec!["auditor"],
        _ => vec!["operator"],
    };
    DemoUser {
        id: format!("u_demo_{}_{j}", tenant.n),
        email: format!(
            "{}.{}.{j}@{}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            tenant.domain
        ),
        display_name: format!("{first} {last}"),
        roles,
        enabled: j == 1 || !j.is_multiple_of(9),
        oidc: (!j.is_multiple_of(3)).then(|| {
            (
                format!("https://login.{}", tenant.domain),
                format!("sub-{}-{j:05}", tenant.n),
            )
        }),
    }
}

/// One workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoWorkload {
    /// `w_demo_<tenant>_<slug>`.
    pub id: String,
    /// Its name (the slug).
    pub name: &'static str,
    /// How it gets its certificate.
    pub mode: EnrollmentMode,
    /// IPs / CIDRs it may call from (none: anywhere).
    pub ip_allowlist: Option<Vec<String>>,
    /// Disabled after creation when false.
    pub enabled: bool,
}

/// The tenant's workloads: an API, a mailer, a CRM sync and a disabled batch job.
pub fn workloads(tenant: &DemoTenant) -> Vec<DemoWorkload> {
    let w = |name: &'static str, mode, allow: &[&str], enabled| DemoWorkload {
        id: format!("w_demo_{}_{name}", tenant.n),
        name,
        mode,
        ip_allowlist: (!allow.is_empty()).then(|| allow.iter().map(|s| (*s).to_owned()).collect()),
        enabled,
    };
    vec![
        w(
            "billing-api",
            EnrollmentMode::BrokerCa,
            &["10.20.0.0/16"],
            true,
        ),
        w("mailer", EnrollmentMode::BrokerCa, &[], true),
        w(
            "crm-sync",
            EnrollmentMode::ExternalCa,
            &["192.0.2.10", "198.51.100.0/24"],
            true,
        ),
        w("nightly-reports", EnrollmentMode::BrokerCa, &[], false),
    ]
}

/// One path group of a demo template: `(group, risk, approval, methods, path)`.
type Group = (
    &'static str,
    RiskTier,
    &'static str,
    &'static [&'static str],
    &'static str,
);

/// One upstream API: a template, the integration that follows it, and its path groups.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// Short name, part of ids.
    pub slug: &'static str,
    /// `tpl_demo_<slug>`.
    pub template_id: &'static str,
    /// Template provider.
    pub provider: &'static str,
    /// The one upstream host.
    pub host: &'static str,
    /// The integration's display name.
    pub integration_name: &'static str,
    /// Published versions (1..=versions).
    pub versions: i32,
    /// Disabled integration when false.
    pub enabled: bool,
    groups: &'static [Group],
}

/// The three upstream APIs every demo tenant integrates with.
pub const APIS: &[Api] = &[
    Api {
        slug: "mail",
        template_id: "tpl_demo_mail",
        provider: "acme-mail",
        host: "api.acme-mail.example",
        integration_name: "Transactional mail",
        versions: 2,
        enabled: true,
        groups: &[
            ("read", RiskTier::Low, "none", &["GET"], "/v3/messages"),
            (
                "send",
                RiskTier::High,
                "required",
                &["POST"],
                "/v3/messages/send",
            ),
        ],
    },
    Api {
        slug: "crm",
        template_id: "tpl_demo_crm",
        provider: "pipeline-crm",
        host: "api.pipeline-crm.example",
        integration_name: "CRM contacts",
        versions: 1,
        enabled: true,
        groups: &[
            (
                "contacts_read",
                RiskTier::Low,
                "none",
                &["GET"],
                "/v2/contacts",
            ),
            (
                "contacts_write",
                RiskTier::Medium,
                "none",
                &["POST", "PATCH"],
                "/v2/contacts",
            ),
        ],
    },
    Api {
        slug: "payments",
        template_id: "tpl_demo_payments",
        provider: "paystream",
        host: "api.paystream.example",
        integration_name: "Payouts",
        versions: 1,
        enabled: false,
        groups: &[
            ("balance", RiskTier::Low, "none", &["GET"], "/v1/balance"),
            (
                "payouts",
                RiskTier::High,
                "required",
                &["POST"],
                "/v1/payouts",
            ),
        ],
    },
];

impl Api {
    /// `int_demo_<tenant>_<slug>`.
    pub fn integration_id(&self, tenant: &DemoTenant) -> String {
        format!("int_demo_{}_{}", tenant.n, self.slug)
    }

    /// Version `version` of the template (version 2 also forwards an idempotency header and
    /// accepts larger bodies).
    pub fn template(&self, version: i32) -> Result<Template, ValidationError> {
        let groups = self
            .groups
            .iter()
            .map(|(group, risk, approval, methods, path)| {
                Ok(PathGroup {
                    group_id: (*group).to_owned(),
                    risk_tier: risk.as_str().to_owned(),
                    approval_mode: (*approval).to_owned(),
                    methods: methods
                        .iter()
                        .map(|m| brokerdb::model::HttpMethod::parse(m))
                        .collect::<Result<_, _>>()?,
                    path_patterns: vec![(*path).to_owned()],
                    query_allowlist: vec!["limit".into(), "cursor".into()],
                    header_forward_allowlist: if version > 1 {
                        vec!["content-type".into(), "idempotency-key".into()]
                    } else {
                        vec!["content-type".into()]
                    },
                    body_policy: BodyPolicy {
                        max_bytes: if version > 1 { 262_144 } else { 65_536 },
                        content_types: vec!["application/json".into()],
                    },
                    constraints: None,
                })
            })
            .collect::<Result<Vec<_>, ValidationError>>()?;
        let template = Template {
            template_id: TemplateId::parse(self.template_id)?,
            version,
            provider: self.provider.to_owned(),
            description: Some(format!("{} API, version {version}", self.provider)),
            allowed_schemes: vec!["https".into()],
            allowed_ports: vec![443],
            allowed_hosts: vec![self.host.to_owned()],
            redirect_policy: RedirectPolicy {
                mode: "deny".into(),
                max_hops: Some(0),
            },
            path_groups: groups,
            network_safety: NetworkSafety {
                deny_private_ip_ranges: true,
                deny_link_local: true,
                deny_loopback: true,
                deny_metadata_ranges: true,
                dns_resolution_required: true,
            },
        };
        template.validate()?;
        Ok(template)
    }

    /// The policy rules on this API: every low-risk group allowed, every high-risk one behind
    /// an approval, medium-risk writes rate-limited; the disabled batch workload may not send
    /// mail (a deny narrowed to that workload).
    pub fn policy_rules(&self, tenant: &DemoTenant) -> Vec<PolicyRule> {
        let mut rules = Vec::new();
        for (group, risk, _, methods, _) in self.groups {
            for method in *methods {
                let (rule_type, rate_limit) = match risk {
                    RiskTier::Low => (PolicyRuleType::Allow, None),
                    RiskTier::Medium => (
                        PolicyRuleType::RateLimit,
                        Some(RateLimit {
                            max_requests: 120,
                            interval_seconds: 60,
                        }),
                    ),
                    RiskTier::High => (PolicyRuleType::ApprovalRequired, None),
                };
                rules.push(self.rule(tenant, group, method, rule_type, rate_limit, None));
            }
        }
        if self.slug == "mail" {
            let batch = format!("w_demo_{}_nightly-reports", tenant.n);
            rules.push(self.rule(
                tenant,
                "send",
                "POST",
                PolicyRuleType::Deny,
                None,
                Some(batch),
            ));
        }
        rules
    }

    fn rule(
        &self,
        tenant: &DemoTenant,
        group: &str,
        method: &str,
        rule_type: PolicyRuleType,
        rate_limit: Option<RateLimit>,
        workload_id: Option<String>,
    ) -> PolicyRule {
        let narrowed = if workload_id.is_some() { "_batch" } else { "" };
        PolicyRule {
            policy_id: Some(format!(
                "pol_demo_{}_{}_{group}_{}{narrowed}",
                tenant.n,
                self.slug,
                method.to_ascii_lowercase()
            )),
            rule_type,
            scope: PolicyScope {
                tenant_id: tenant.id.as_str().to_owned(),
                workload_id,
                integration_id: self.integration_id(tenant),
                template_id: None,
                template_version: None,
                action_group: group.to_owned(),
                method: method.to_owned(),
                host: self.host.to_owned(),
                query_keys: None,
            },
            constraints: None,
            rate_limit,
        }
    }
}

/// One approval request and the status it ends in.
#[derive(Debug, Clone)]
pub struct DemoApproval {
    /// `apr_demo_<tenant>_<k>`.
    pub id: String,
    /// Where it ends: the seed walks it there from `pending`.
    pub status: ApprovalStatus,
    /// The request asking for it.
    pub descriptor: CanonicalRequestDescriptor,
    /// Its path group.
    pub group: &'static str,
    /// Its risk.
    pub risk: RiskTier,
    /// Destination host.
    pub host: &'static str,
    /// Request path.
    pub path: &'static str,
    /// Expired in the past (the `expired` one) or open for a day.
    pub expired: bool,
}

impl DemoApproval {
    /// The statuses the approval passes through after `pending`, in order.
    pub fn steps(&self) -> &'static [ApprovalStatus] {
        use ApprovalStatus::*;
        match self.status {
            Pending => &[],
            Approved => &[Approved],
            Denied => &[Denied],
            Expired => &[Expired],
            Canceled => &[Canceled],
            Executed => &[Approved, Executed],
        }
    }
}

/// Six approvals, one in each status: mail sends from the billing API and payouts.
pub fn approvals(tenant: &DemoTenant) -> Vec<DemoApproval> {
    use ApprovalStatus::*;
    let (mail, payments) = (&APIS[0], &APIS[2]);
    [
        (Pending, mail, "send", "/v3/messages/send"),
        (Approved, mail, "send", "/v3/messages/send"),
        (Denied, payments, "payouts", "/v1/payouts"),
        (Executed, payments, "payouts", "/v1/payouts"),
        (Expired, mail, "send", "/v3/messages/send"),
        (Canceled, payments, "payouts", "/v1/payouts"),
    ]
    .into_iter()
    .enumerate()
    .map(|(k, (status, api, group, path))| {
        let k = k + 1;
        DemoApproval {
            id: format!("apr_demo_{}_{k}", tenant.n),
            status,
            descriptor: descriptor(tenant, api, "billing-api", group, "POST", path, k),
            group,
            risk: RiskTier::High,
            host: api.host,
            path,
            expired: status == Expired,
        }
    })
    .collect()
}

/// A request of `workload` to `api`; `k` varies its query (`?ref=demo-<k>`), so every approval
/// is for a request of its own.
pub fn descriptor(
    tenant: &DemoTenant,
    api: &Api,
    workload: &str,
    group: &str,
    method: &str,
    path: &str,
    k: usize,
) -> CanonicalRequestDescriptor {
    CanonicalRequestDescriptor {
        tenant_id: tenant.id.as_str().to_owned(),
        workload_id: format!("w_demo_{}_{workload}", tenant.n),
        integration_id: api.integration_id(tenant),
        template_id: api.template_id.to_owned(),
        template_version: 1,
        method: method.to_owned(),
        canonical_url: format!("https://{}{path}?ref=demo-{k}", api.host),
        matched_path_group_id: group.to_owned(),
        normalized_headers: Vec::new(),
        query_keys: vec!["ref".into()],
        query_fingerprint_base64: None,
        body_sha256_base64: None,
    }
}

/// What the broker did with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// Allowed and sent: the upstream's status and latency.
    Sent {
        /// Upstream HTTP status.
        status: i32,
        /// Upstream latency.
        latency_ms: i32,
    },
    /// Refused by a rate-limit rule.
    Throttled,
    /// Refused: the integration is disabled.
    Denied,
}

/// One call a workload made through the broker, as the audit trail records it: a
/// `policy_decision` event and an `execute` (or `throttle`) event.
#[derive(Debug, Clone)]
pub struct DemoCall {
    /// `evt_demo_<tenant>_call_<k>` (its decision event adds `_decision`).
    pub event_id: String,
    /// The API called.
    pub api: &'static Api,
    /// The request.
    pub descriptor: CanonicalRequestDescriptor,
    /// Path group.
    pub group: &'static str,
    /// Risk of the path group.
    pub risk: RiskTier,
    /// What happened.
    pub outcome: CallOutcome,
}

/// Calls made per tenant.
pub const CALLS: usize = 12;

/// [`CALLS`] calls, cycling through the workloads' typical traffic.
pub fn calls(tenant: &DemoTenant) -> Vec<DemoCall> {
    use CallOutcome::*;
    let (mail, crm, payments) = (&APIS[0], &APIS[1], &APIS[2]);
    let sent = |status, latency_ms| Sent { status, latency_ms };
    let pattern: [(
        &'static Api,
        &str,
        &'static str,
        RiskTier,
        &str,
        &str,
        CallOutcome,
    ); 6] = [
        (
            mail,
            "mailer",
            "read",
            RiskTier::Low,
            "GET",
            "/v3/messages",
            sent(200, 84),
        ),
        (
            crm,
            "crm-sync",
            "contacts_read",
            RiskTier::Low,
            "GET",
            "/v2/contacts",
            sent(200, 131),
        ),
        (
            crm,
            "crm-sync",
            "contacts_write",
            RiskTier::Medium,
            "PATCH",
            "/v2/contacts",
            sent(204, 212),
        ),
        (
            crm,
            "crm-sync",
            "contacts_write",
            RiskTier::Medium,
            "POST",
            "/v2/contacts",
            Throttled,
        ),
        (
            payments,
            "billing-api",
            "balance",
            RiskTier::Low,
            "GET",
            "/v1/balance",
            Denied,
        ),
        (
            mail,
            "mailer",
            "read",
            RiskTier::Low,
            "GET",
            "/v3/messages",
            sent(429, 40),
        ),
    ];
    (1..=CALLS)
        .map(|k| {
            let (api, workload, group, risk, method, path, outcome) =
                pattern[(k - 1) % pattern.len()];
            let outcome = match outcome {
                Sent { status, latency_ms } => Sent {
                    status,
                    latency_ms: latency_ms + i32::try_from(k).unwrap_or(0) * 3,
                },
                other => other,
            };
            DemoCall {
                event_id: tenant.event_id(&format!("call_{k}")),
                api,
                descriptor: descriptor(tenant, api, workload, group, method, path, k),
                group,
                risk,
                outcome,
            }
        })
        .collect()
}

/// The demo project's name (one per tenant).
pub const PROJECT_NAME: &str = "JIVE";
/// Its repository.
pub const PROJECT_REPO_URL: &str = "https://github.com/example/jive";
/// Its webhook secret (demo data: deliveries to the demo project are signed with it).
pub const PROJECT_WEBHOOK_SECRET: &str = "jive-demo-webhook-secret";

/// The demo project's artifacts: a PRD, an architecture note, an epic and two stories.
pub fn artifacts() -> Vec<brokerdb_projects::artifacts::ArtifactInput> {
    use brokerdb_projects::ArtifactType;
    let a = |path: &str, name: &str, artifact_type: ArtifactType, deps: &[&str]| {
        brokerdb_projects::artifacts::ArtifactInput {
            path: path.to_owned(),
            name: name.to_owned(),
            artifact_type,
            dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
            content_hash: None,
        }
    };
    vec![
        a(
            "docs/prd.md",
            "Product requirements",
            ArtifactType::Prd,
            &[],
        ),
        a(
            "docs/architecture.md",
            "Architecture",
            ArtifactType::Architecture,
            &["docs/prd.md"],
        ),
        a(
            "docs/epics/e1.md",
            "Epic 1: onboarding",
            ArtifactType::Epic,
            &["docs/prd.md"],
        ),
        a(
            "docs/stories/e1-s1.md",
            "Story 1.1: sign up",
            ArtifactType::Story,
            &["docs/epics/e1.md"],
        ),
        a(
            "docs/stories/e1-s2.md",
            "Story 1.2: first project",
            ArtifactType::Story,
            &["docs/epics/e1.md"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerdb::model::{
        ApprovalId, Email, EventId, IntegrationId, PolicyId, UserId, WorkloadId,
    };
    use brokerdb::repo::approvals::{ApprovalRequest, ApprovalSummary};

    fn tenants() -> Result<Vec<DemoTenant>, ValidationError> {
        [1, 2, 8, 9, 250].into_iter().map(DemoTenant::new).collect()
    }

    #[test]
    fn every_id_passes_the_library_rules() -> Result<(), ValidationError> {
        for t in tenants()? {
            for j in [1, 2, 17, 200, 100_000] {
                let u = user(&t, j);
                UserId::parse(&u.id)?;
                Email::parse(&u.email)?;
                brokerdb::model::UserRole::normalize_set(u.roles.iter().copied())?;
            }
            for w in workloads(&t) {
                WorkloadId::parse(&w.id)?;
                if let Some(list) = &w.ip_allowlist {
                    brokerdb::model::IpAllowlist::parse(list.iter().map(String::as_str))?;
                }
            }
            for api in APIS {
                IntegrationId::parse(&api.integration_id(&t))?;
                for v in 1..=api.versions {
                    api.template(v)?;
                }
                for rule in api.policy_rules(&t) {
                    let normalized = rule.normalized()?;
                    PolicyId::parse(normalized.policy_id.as_deref().unwrap_or_default())?;
                }
            }
            for a in approvals(&t) {
                let request = ApprovalRequest {
                    approval_id: ApprovalId::parse(&a.id)?,
                    status: a.status,
                    expires_at: brokerdb::model::Timestamp::now(),
                    correlation_id: brokerdb::model::NonEmptyString::new("c", "c")?,
                    summary: ApprovalSummary {
                        integration_id: a.descriptor.integration_id.clone(),
                        action_group: a.group.into(),
                        risk_tier: a.risk,
                        destination_host: a.host.into(),
                        method: a.descriptor.method.clone(),
                        path: a.path.into(),
                    },
                    canonical_descriptor: a.descriptor.clone(),
                };
                ApprovalRequest::from_json(
                    serde_json::to_value(&request)
                        .map_err(|_| ValidationError::new("approval", "does not serialize"))?,
                )?;
            }
            for c in calls(&t) {
                EventId::parse(&c.event_id)?;
                EventId::parse(&format!("{}_decision", c.event_id))?;
                c.descriptor.validate()?;
                c.descriptor.ids()?;
            }
        }
        Ok(())
    }

    #[test]
    fn users_have_unique_ids_and_emails_and_one_owner() -> Result<(), ValidationError> {
        let t = DemoTenant::new(1)?;
        let users: Vec<_> = (1..=500).map(|j| user(&t, j)).collect();
        let emails: std::collections::HashSet<_> = users.iter().map(|u| &u.email).collect();
        assert_eq!(emails.len(), users.len());
        let owners = users.iter().filter(|u| u.roles.contains(&"owner")).count();
        assert_eq!(owners, 1);
        assert!(users[0].enabled && users[0].roles.contains(&"admin"));
        assert!(users.iter().any(|u| !u.enabled));
        assert!(users.iter().any(|u| u.oidc.is_none()));
        Ok(())
    }

    #[test]
    fn approvals_cover_every_status_once() -> Result<(), ValidationError> {
        let t = DemoTenant::new(3)?;
        let mut statuses: Vec<_> = approvals(&t).iter().map(|a| a.status).collect();
        statuses.sort();
        assert_eq!(statuses, ApprovalStatus::ALL);
        let hashes: std::collections::HashSet<_> = approvals(&t)
            .iter()
            .map(|a| a.descriptor.sha256())
            .collect();
        assert_eq!(hashes.len(), 6);
        Ok(())
    }

    #[test]
    fn the_same_tenant_number_gives_the_same_data() -> Result<(), ValidationError> {
        let (a, b) = (DemoTenant::new(2)?, DemoTenant::new(2)?);
        assert_eq!(
            (a.id.clone(), a.name.clone()),
            (b.id.clone(), b.name.clone())
        );
        assert_eq!(user(&a, 42), user(&b, 42));
        assert_eq!(workloads(&a), workloads(&b));
        let ids = |t: &DemoTenant| -> Vec<_> {
            APIS.iter()
                .flat_map(|api| api.policy_rules(t))
                .filter_map(|r| r.policy_id)
                .collect()
        };
        assert_eq!(ids(&a), ids(&b));
        Ok(())
    }
}
