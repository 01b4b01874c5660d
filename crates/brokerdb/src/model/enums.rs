//! The PostgreSQL enums of the schema (migration `0002_types.sql`) and the other closed label
//! sets of the contracts, as Rust enums with their exact labels. Bind them as text and cast in SQL (`$1::text::risk_tier`).

use crate::scalar::ValidationError;

/// Declares a label enum: `ALL`, `LABELS`, `PG_TYPE`, `as_str`, `parse` (exact label),
/// `Display`, serde as the label. `pg` names the PostgreSQL enum type it mirrors (its labels in
/// the same order: a test compares them with `pg_enum`).
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident($field:literal $(, pg = $pg:literal)?) { $($(#[$vdoc:meta])* $variant:ident = $label:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// Every label, in declaration order.
            pub const LABELS: &'static [&'static str] = &[$($label,)+];

            /// The PostgreSQL enum type this mirrors, if any.
            pub const PG_TYPE: Option<&'static str> = label_enum!(@pg $($pg)?);

            /// The label, as PostgreSQL and JSON spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }

            /// The value with exactly this label; anything else is a validation error.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| ValidationError::new($field, concat!("must be one of:", $(" ", $label,)+)))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
    (@pg $pg:literal) => { Some($pg) };
    (@pg) => { None };
}

label_enum!(
    /// A human's or admin's role (PostgreSQL `user_role`).
    UserRole("role", pg = "user_role") {
        /// Full control.
        Owner = "owner",
        /// Administration.
        Admin = "admin",
        /// Read-only audit access.
        Auditor = "auditor",
        /// Day-to-day operation.
        Operator = "operator",
    }
);

label_enum!(
    /// How a workload gets its client certificate (PostgreSQL `workload_enrollment_mode`).
    EnrollmentMode("enrollment_mode", pg = "workload_enrollment_mode") {
        /// Issued by the broker's CA.
        BrokerCa = "broker_ca",
        /// Issued by an external CA.
        ExternalCa = "external_ca",
    }
);

label_enum!(
    /// Whether unknown people may sign up as admins (PostgreSQL `admin_new_user_mode`).
    NewUserMode("new_user_mode", pg = "admin_new_user_mode") {
        /// New admins may sign up (subject to the other rules).
        Allowed = "allowed",
        /// New admins are refused (the fail-closed default).
        Blocked = "blocked",
    }
);

label_enum!(
    /// An admin identity's status (PostgreSQL `admin_identity_status`).
    IdentityStatus("status", pg = "admin_identity_status") {
        /// May sign in.
        Active = "active",
        /// Awaiting activation.
        Pending = "pending",
        /// May not sign in.
        Disabled = "disabled",
    }
);

label_enum!(
    /// Where an admin access request stands (PostgreSQL `admin_access_request_status`).
    AccessRequestStatus("status", pg = "admin_access_request_status") {
        /// Open.
        Pending = "pending",
        /// Granted.
        Approved = "approved",
        /// Refused.
        Denied = "denied",
        /// Withdrawn.
        Canceled = "canceled",
    }
);

/// Every label enum that mirrors a PostgreSQL enum: `(type, labels in order)`.
pub const PG_ENUMS: &[(Option<&str>, &[&str])] = &[
    (UserRole::PG_TYPE, UserRole::LABELS),
    (EnrollmentMode::PG_TYPE, EnrollmentMode::LABELS),
    (NewUserMode::PG_TYPE, NewUserMode::LABELS),
    (IdentityStatus::PG_TYPE, IdentityStatus::LABELS),
    (AccessRequestStatus::PG_TYPE, AccessRequestStatus::LABELS),
    (ApprovalStatus::PG_TYPE, ApprovalStatus::LABELS),
    (RiskTier::PG_TYPE, RiskTier::LABELS),
    (AuditDecision::PG_TYPE, AuditDecision::LABELS),
    (PolicyRuleType::PG_TYPE, PolicyRuleType::LABELS),
    (AuditEventType::PG_TYPE, AuditEventType::LABELS),
    (SecretType::PG_TYPE, SecretType::LABELS),
    (ManifestKeyAlg::PG_TYPE, ManifestKeyAlg::LABELS),
    (ManifestKeyStatus::PG_TYPE, ManifestKeyStatus::LABELS),
];

label_enum!(
    /// `ApprovalStatus` (PostgreSQL `approval_status`).
    ApprovalStatus("status", pg = "approval_status") {
        /// Waiting for a decision.
        Pending = "pending",
        /// Approved; may be executed once.
        Approved = "approved",
        /// Refused (terminal).
        Denied = "denied",
        /// Not decided in time (terminal).
        Expired = "expired",
        /// Approved and carried out (terminal).
        Executed = "executed",
        /// Withdrawn (terminal).
        Canceled = "canceled",
    }
);

label_enum!(
    /// `RiskTier` (PostgreSQL `risk_tier`).
    RiskTier("risk_tier", pg = "risk_tier") {
        /// Low risk.
        Low = "low",
        /// Medium risk.
        Medium = "medium",
        /// High risk.
        High = "high",
    }
);

label_enum!(
    /// `AuditDecision` (PostgreSQL `audit_decision`).
    AuditDecision("decision", pg = "audit_decision") {
        /// The request may proceed.
        Allowed = "allowed",
        /// The request is refused.
        Denied = "denied",
        /// A human must approve first.
        ApprovalRequired = "approval_required",
        /// Rate-limited.
        Throttled = "throttled",
    }
);

label_enum!(
    /// `PolicyRuleType` (PostgreSQL `policy_rule_type`).
    PolicyRuleType("rule_type", pg = "policy_rule_type") {
        /// Allows matching requests.
        Allow = "allow",
        /// Denies matching requests.
        Deny = "deny",
        /// Requires a human approval.
        ApprovalRequired = "approval_required",
        /// Rate-limits matching requests.
        RateLimit = "rate_limit",
    }
);

label_enum!(
    /// `AuditEventType` (PostgreSQL `audit_event_type`).
    AuditEventType("event_type", pg = "audit_event_type") {
        /// A workload session was issued.
        SessionIssued = "session_issued",
        /// An upstream call was executed.
        Execute = "execute",
        /// A policy decision.
        PolicyDecision = "policy_decision",
        /// An approval was requested.
        ApprovalCreated = "approval_created",
        /// An approval was decided.
        ApprovalDecided = "approval_decided",
        /// A violation.
        Violation = "violation",
        /// A throttled request.
        Throttle = "throttle",
        /// A sandbox alert.
        SandboxAlert = "sandbox_alert",
        /// An administrative change.
        AdminAction = "admin_action",
    }
);

label_enum!(
    /// `SecretType` (PostgreSQL `secret_type`).
    SecretType("secret_type", pg = "secret_type") {
        /// A static API key.
        ApiKey = "api_key",
        /// An OAuth refresh token.
        OauthRefreshToken = "oauth_refresh_token",
    }
);

label_enum!(
    /// A manifest signing key's algorithm (PostgreSQL `manifest_signing_algorithm`).
    ManifestKeyAlg("alg", pg = "manifest_signing_algorithm") {
        /// Ed25519 signatures.
        EdDSA = "EdDSA",
        /// ECDSA P-256 with SHA-256.
        ES256 = "ES256",
    }
);

label_enum!(
    /// A manifest signing key's lifecycle status (PostgreSQL `manifest_signing_key_status`).
    ManifestKeyStatus("status", pg = "manifest_signing_key_status") {
        /// Signs new manifests (at most one).
        Active = "active",
        /// Published for verification only.
        Retired = "retired",
        /// Withdrawn; terminal.
        Revoked = "revoked",
    }
);

label_enum!(
    /// What a redaction profile does with a value.
    RedactionAction("action") {
        /// Keep as is.
        Keep = "keep",
        /// Replace with a mask.
        Mask = "mask",
        /// Replace with a salted hash.
        Hash = "hash",
        /// Remove.
        Drop = "drop",
    }
);

label_enum!(
    /// Why the SSRF guard decided as it did: the 18 codes `ssrf_guard_decisions.reason_code` accepts
/// (its CHECK constraint lists the same set).
    SsrfReasonCode("reason_code") {
        /// Input failed validation.
        InvalidInput = "invalid_input",
        /// The URL does not parse.
        RequestUrlInvalid = "request_url_invalid",
        /// The URL carries userinfo.
        RequestUrlUserinfoForbidden = "request_url_userinfo_forbidden",
        /// The URL carries a fragment.
        RequestUrlFragmentForbidden = "request_url_fragment_forbidden",
        /// Scheme not allowed.
        RequestSchemeNotAllowed = "request_scheme_not_allowed",
        /// Host not allowed.
        RequestHostNotAllowed = "request_host_not_allowed",
        /// Port not allowed.
        RequestPortNotAllowed = "request_port_not_allowed",
        /// IP literal hosts are forbidden.
        RequestIpLiteralForbidden = "request_ip_literal_forbidden",
        /// The template's host is invalid.
        TemplateHostInvalid = "template_host_invalid",
        /// DNS resolution is required.
        DnsResolutionRequired = "dns_resolution_required",
        /// DNS resolution failed.
        DnsResolutionFailed = "dns_resolution_failed",
        /// DNS returned no address.
        DnsResolutionEmpty = "dns_resolution_empty",
        /// A resolved address is invalid.
        ResolvedIpInvalid = "resolved_ip_invalid",
        /// A resolved address is private.
        ResolvedIpDeniedPrivateRange = "resolved_ip_denied_private_range",
        /// A resolved address is loopback.
        ResolvedIpDeniedLoopback = "resolved_ip_denied_loopback",
        /// A resolved address is link-local.
        ResolvedIpDeniedLinkLocal = "resolved_ip_denied_link_local",
        /// A resolved address is a metadata endpoint.
        ResolvedIpDeniedMetadataRange = "resolved_ip_denied_metadata_range",
        /// A redirect was refused.
        RedirectDenied = "redirect_denied",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_exactly() -> Result<(), serde_json::Error> {
        for s in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(s.as_str()), Ok(*s));
        }
        assert_eq!(
            serde_json::to_string(&AuditDecision::ApprovalRequired)?,
            "\"approval_required\""
        );
        assert_eq!(
            serde_json::from_str::<RiskTier>("\"high\"")?,
            RiskTier::High
        );
        assert!(serde_json::from_str::<RiskTier>("\"HIGH\"").is_err());
        assert!(PolicyRuleType::parse(" allow").is_err());
        assert_eq!(
            ApprovalStatus::parse("open").err().map(|e| e.to_string()),
            Some(
                "status: must be one of: pending approved denied expired executed canceled".into()
            )
        );
        Ok(())
    }
}
