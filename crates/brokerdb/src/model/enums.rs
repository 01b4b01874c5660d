//! The PostgreSQL enums the approval and audit contracts use (data-model §1), as Rust enums with
//! their exact labels. Bind them as text and cast in SQL (`$1::text::risk_tier`).

use super::validation::ValidationError;

/// Declares a label enum: `ALL`, `as_str`, `parse` (exact label), `Display`, serde as the label.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident($field:literal) { $($(#[$vdoc:meta])* $variant:ident = $label:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

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
}

label_enum!(
    /// `ApprovalStatus` (PostgreSQL `approval_status`).
    ApprovalStatus("status") {
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
    RiskTier("risk_tier") {
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
    AuditDecision("decision") {
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
    PolicyRuleType("rule_type") {
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
            Some("status: must be one of: pending approved denied expired executed canceled".into())
        );
        Ok(())
    }
}
