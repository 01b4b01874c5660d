//! Business identifiers: validated newtypes over `String`, one line each.
//!
//! Every id is trimmed on the way in, then checked against its rule:
//!
//! - **Business ids** ([`TenantId`], [`UserId`], [`WorkloadId`], [`IntegrationId`], [`PolicyId`],
//!   [`ApprovalId`], [`IdentityId`], [`AccessRequestId`], [`SecretRef`], [`EventId`]): 1..=128
//!   characters of `[A-Za-z0-9._-]` (ASCII letters, digits, `.`, `_`, `-`). No separators (`:`,
//!   `/`, `|`, `@`), braces, `%`, whitespace or non-ASCII characters, so an id can never be
//!   mistaken for part of another id where ids are joined (Redis keys, cache keys, log lines).
//!   Blank input is "cannot be empty"; anything else outside the rule is "must be 1..128
//!   characters of [A-Za-z0-9._-]" under the id's field name (the value itself is never echoed).
//!   Existing rows whose ids break the rule can no longer be read (reading validates): check a
//!   database with `SELECT tenant_id FROM tenants WHERE tenant_id !~ '^[A-Za-z0-9._-]{1,128}$'`
//!   (and likewise for the other id columns) before upgrading.
//! - [`TemplateId`]: `tpl_[a-z0-9_]+`; [`Kid`]: 1..128 characters of `[A-Za-z0-9._:-]`;
//!   [`SessionId`]: a UUID, stored lower-case.
//!
//! Ids the module mints (`generate`) are a prefix plus 32 lower-case hex digits (a v4 UUID
//! without hyphens), and so satisfy their rule. Prefixes: tenant `t_`, user `u_`, workload `w_`,
//! integration `int_`, policy rule `pol_`, approval `apr_`, admin identity `adm_`, access
//! request `aar_`.

use super::encoding::is_uuid;
use crate::scalar::{ValidationError, business_id, trimmed_non_empty};

pub use crate::scalar::TenantId;

brokerdb_core::text_id!("A human user's id." UserId("user_id", business_id), generated with "u_");
brokerdb_core::text_id!("A workload's id." WorkloadId("workload_id", business_id), generated with "w_");
brokerdb_core::text_id!("An integration's id." IntegrationId("integration_id", business_id), generated with "int_");
brokerdb_core::text_id!("A policy rule's id." PolicyId("policy_id", business_id), generated with "pol_");
brokerdb_core::text_id!("An approval request's id." ApprovalId("approval_id", business_id), generated with "apr_");
brokerdb_core::text_id!("An admin identity's id." IdentityId("identity_id", business_id), generated with "adm_");
brokerdb_core::text_id!("An admin access request's id." AccessRequestId("request_id", business_id), generated with "aar_");
brokerdb_core::text_id!("A reference to a stored secret." SecretRef("secret_ref", business_id));
brokerdb_core::text_id!("An audit event's id." EventId("event_id", business_id), generated with "evt_");
brokerdb_core::text_id!("A workload session's id: a UUID, stored lower-case." SessionId("session_id", uuid_rule));
brokerdb_core::text_id!("A template's id, `tpl_[a-z0-9_]+`." TemplateId("template_id", template_id_rule));
brokerdb_core::text_id!("A key id: 1..128 chars of `[A-Za-z0-9._:-]`." Kid("kid", kid_rule));

fn uuid_rule(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = trimmed_non_empty(field, s)?;
    match is_uuid(s) {
        true => Ok(s.to_ascii_lowercase()),
        false => Err(ValidationError::new(field, "must be a UUID")),
    }
}

fn template_id_rule(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = trimmed_non_empty(field, s)?;
    match s.strip_prefix("tpl_") {
        Some(rest)
            if !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')) =>
        {
            Ok(s.to_owned())
        }
        _ => Err(ValidationError::new(field, "must match tpl_[a-z0-9_]+")),
    }
}

fn kid_rule(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = trimmed_non_empty(field, s)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    match s.len() <= 128 && s.bytes().all(allowed) {
        true => Ok(s.to_owned()),
        false => Err(ValidationError::new(
            field,
            "must be 1..128 characters of [A-Za-z0-9._:-]",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::types::{FromSql, Type};

    #[test]
    fn ids_are_trimmed_and_must_not_be_empty() -> Result<(), ValidationError> {
        assert_eq!(TenantId::parse("  t_1\n")?.as_str(), "t_1");
        assert_eq!("evt_2".parse::<EventId>()?.into_inner(), "evt_2");
        assert_eq!(SecretRef::try_from(" sec ".to_owned())?.to_string(), "sec");
        let err = WorkloadId::parse(" \t ").err();
        assert_eq!(
            err,
            Some(ValidationError::new("workload_id", "cannot be empty"))
        );
        assert_eq!(
            AccessRequestId::parse("").err().map(|e| e.field),
            Some("request_id".into())
        );
        Ok(())
    }

    #[test]
    fn business_ids_are_1_to_128_chars_of_the_id_set() -> Result<(), ValidationError> {
        assert_eq!(
            TenantId::parse(" Acme-1.prod_eu ")?.as_str(),
            "Acme-1.prod_eu"
        );
        assert!(WorkloadId::parse(&"w".repeat(128)).is_ok());
        let refused =
            ValidationError::new("tenant_id", "must be 1..128 characters of [A-Za-z0-9._-]");
        for bad in [
            "acme:w1", "a/b", "a|b", "a@b", "a b", "{acme}", "a%3A", "é", "a\u{0}b", "a*",
        ] {
            assert_eq!(TenantId::parse(bad).err(), Some(refused.clone()), "{bad:?}");
        }
        assert_eq!(TenantId::parse(&"t".repeat(129)).err(), Some(refused));
        type Parse = fn(&str) -> Result<(), ValidationError>;
        let parsers: [(&str, Parse); 10] = [
            ("tenant_id", |s| TenantId::parse(s).map(drop)),
            ("user_id", |s| UserId::parse(s).map(drop)),
            ("workload_id", |s| WorkloadId::parse(s).map(drop)),
            ("integration_id", |s| IntegrationId::parse(s).map(drop)),
            ("policy_id", |s| PolicyId::parse(s).map(drop)),
            ("approval_id", |s| ApprovalId::parse(s).map(drop)),
            ("identity_id", |s| IdentityId::parse(s).map(drop)),
            ("request_id", |s| AccessRequestId::parse(s).map(drop)),
            ("secret_ref", |s| SecretRef::parse(s).map(drop)),
            ("event_id", |s| EventId::parse(s).map(drop)),
        ];
        for (field, parse) in parsers {
            assert_eq!(parse("ok_1.x-Y"), Ok(()), "{field}");
            let err = parse("has:colon").err();
            assert_eq!(err.as_ref().map(|e| e.field.as_ref()), Some(field));
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("[A-Za-z0-9._-]"), "{text}");
            assert!(!text.contains("colon"), "the value is never echoed: {text}");
        }
        Ok(())
    }

    #[test]
    fn generated_ids_are_prefix_and_32_lower_hex() {
        let cases = [
            (TenantId::generate().into_inner(), "t_"),
            (UserId::generate().into_inner(), "u_"),
            (WorkloadId::generate().into_inner(), "w_"),
            (IntegrationId::generate().into_inner(), "int_"),
            (PolicyId::generate().into_inner(), "pol_"),
            (ApprovalId::generate().into_inner(), "apr_"),
            (IdentityId::generate().into_inner(), "adm_"),
            (AccessRequestId::generate().into_inner(), "aar_"),
        ];
        for (id, prefix) in cases {
            let hex = id.strip_prefix(prefix).unwrap_or_default();
            assert_eq!(hex.len(), 32, "{id}");
            assert!(
                hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        assert_ne!(TenantId::generate(), TenantId::generate());
    }

    #[test]
    fn template_ids_follow_the_tpl_pattern() {
        assert!(TemplateId::parse("tpl_gmail_v2").is_ok());
        assert!(TemplateId::parse(" tpl_0 ").is_ok());
        for bad in [
            "tpl_",
            "tpl_Gmail",
            "tpl-gmail",
            "gmail",
            "tpl_a-b",
            "tpl_é",
            "",
        ] {
            assert!(TemplateId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kids_are_1_to_128_chars_of_the_allowed_class() {
        assert!(Kid::parse("key-2026.01:a_B").is_ok());
        assert!(Kid::parse(&"k".repeat(128)).is_ok());
        assert!(Kid::parse(&"k".repeat(129)).is_err());
        for bad in ["", "a b", "a/b", "ké", "a+b"] {
            assert!(Kid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_ids_are_uuids_stored_lower_case() -> Result<(), ValidationError> {
        let id = SessionId::parse("9F1C2A4E-8B3D-4C5E-9A7B-1D2E3F4A5B6C")?;
        assert_eq!(id.as_str(), "9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c");
        assert!(SessionId::parse("00000000-0000-0000-0000-000000000000").is_ok());
        assert!(SessionId::parse("9f1c2a4e-8b3d-0c5e-9a7b-1d2e3f4a5b6c").is_err());
        assert!(SessionId::parse("not-a-uuid").is_err());
        Ok(())
    }

    #[test]
    fn ids_order_by_bytes() -> Result<(), ValidationError> {
        assert!(EventId::parse("B")? < EventId::parse("a")?);
        Ok(())
    }

    #[test]
    fn serde_round_trips_and_validates() -> Result<(), serde_json::Error> {
        let id: TenantId = serde_json::from_str("\" t_1 \"")?;
        assert_eq!(serde_json::to_string(&id)?, "\"t_1\"");
        assert!(serde_json::from_str::<TenantId>("\"   \"").is_err());
        assert!(serde_json::from_str::<TenantId>("\"acme:w1\"").is_err());
        assert!(serde_json::from_str::<TemplateId>("\"gmail\"").is_err());
        Ok(())
    }

    #[test]
    fn reading_from_sql_validates() {
        let id = TenantId::from_sql(&Type::TEXT, b"t_1").ok();
        assert_eq!(id.map(TenantId::into_inner), Some("t_1".to_owned()));
        assert!(TenantId::from_sql(&Type::TEXT, b"  ").is_err());
        assert!(TenantId::from_sql(&Type::TEXT, b"acme:w1").is_err());
        assert!(<TenantId as FromSql>::accepts(&Type::TEXT));
        assert!(!<TenantId as FromSql>::accepts(&Type::INT4));
    }
}
