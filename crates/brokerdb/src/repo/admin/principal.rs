//! `AdminSessionPrincipal` and its normalization.

use serde::Deserialize;

use crate::model::{
    Email, UserRole, ValidationError, normalize_unique_list, trim, trimmed_non_empty,
};

/// `AdminSessionPrincipal` as received.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSessionPrincipal {
    /// OIDC subject.
    pub subject: String,
    /// OIDC issuer (absolute URL).
    pub issuer: String,
    /// Email address.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// At least one role.
    pub roles: Vec<String>,
    /// Tenant ids the identity is scoped to.
    #[serde(default)]
    pub tenant_ids: Vec<String>,
}

/// A normalized principal: issuer/subject trimmed, email lower-cased, name trimmed (dropped when
/// empty), roles and tenant ids unique-list normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPrincipal {
    /// Trimmed, an absolute URL.
    pub issuer: String,
    /// Trimmed.
    pub subject: String,
    /// Lower-cased.
    pub email: String,
    /// Trimmed, non-empty.
    pub name: Option<String>,
    /// Unique, sorted by label.
    pub roles: Vec<UserRole>,
    /// Unique, sorted by byte order.
    pub tenant_ids: Vec<String>,
}

impl AdminPrincipal {
    /// Validates and normalizes: issuer an absolute URL, subject trimmed and non-empty, email
    /// lower-cased, a blank name dropped, roles and tenant ids unique and sorted.
    pub fn normalize(p: &AdminSessionPrincipal) -> Result<Self, ValidationError> {
        let issuer = trimmed_non_empty("issuer", &p.issuer)?;
        url::Url::parse(issuer)
            .map_err(|_| ValidationError::new("issuer", "must be an absolute URL"))?;
        let subject = trimmed_non_empty("subject", &p.subject)?;
        let email = Email::parse(trim(&p.email))?.to_lowercase();
        let name = p
            .name
            .as_deref()
            .map(trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        Ok(Self {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            email: email.as_str().to_owned(),
            name,
            roles: UserRole::normalize_set(p.roles.iter().map(String::as_str))?,
            tenant_ids: normalize_unique_list(
                "tenant_ids",
                p.tenant_ids.iter().map(String::as_str),
            )?,
        })
    }
}
