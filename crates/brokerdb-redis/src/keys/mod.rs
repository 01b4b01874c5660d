//! The one Redis key encoding every adapter uses (layouts in the crate docs, "Key layouts").
//!
//! A key is `<prefix><family>` followed by one `:<segment>` per part of its [`Layout`]:
//!
//! - every caller-supplied part is **percent-encoded**: bytes of `[A-Za-z0-9._-]` (the business-id
//!   set) pass through, every other byte of its UTF-8 becomes `%XX` (upper-case hex). An encoded
//!   part is therefore made of `[A-Za-z0-9._%-]` only — never `:`, `{`, `}`, whitespace or a glob
//!   metacharacter — and decoding it gives back the exact part;
//! - in a tenant-scoped layout the first part is the tenant, written `{<encoded tenant>}`: a Redis
//!   Cluster hash tag, so every key of one tenant (and the audit cache's two-key scripts) lands on
//!   one slot;
//! - a layout's family (`idem:v2`, `dns:v2`, …) is a fixed string naming the key family and its
//!   layout version, and no two layouts of the crate share one, and its number of parts is fixed.
//!
//! So a key splits on `:` into the family's segments and exactly its number of encoded parts,
//! each of which decodes to one value: distinct part tuples (or families) never build the same
//! key, whatever the parts contain. The unit tests check this by decoding every built key back.

use sha2::{Digest, Sha256};

#[cfg(test)]
mod tests;

pub use brokerdb_core::redis::{encode_key_part, push_encoded_key_part};
use push_encoded_key_part as push_encoded;

/// Lower-case hex SHA-256 of the parts, each percent-encoded, joined by `:` — an unambiguous
/// digest of a tuple (no separator can be forged from inside a part).
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            joined.push(':');
        }
        push_encoded(&mut joined, part);
    }
    hex::encode(Sha256::digest(joined.as_bytes()))
}

/// One key family's layout: a fixed family name (with its layout version) and `N` parts, the
/// first being the tenant hash tag when `tenant_tagged`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout<const N: usize> {
    /// The family and layout version, e.g. `idem:v2`.
    pub family: &'static str,
    /// Whether part 0 is a tenant id written as a cluster hash tag `{…}`.
    pub tenant_tagged: bool,
}

impl<const N: usize> Layout<N> {
    /// A family whose parts are all plain segments.
    pub(crate) const fn global(family: &'static str) -> Self {
        Self {
            family,
            tenant_tagged: false,
        }
    }

    /// A family whose first part is the tenant (hash-tagged).
    pub(crate) const fn tenant(family: &'static str) -> Self {
        Self {
            family,
            tenant_tagged: true,
        }
    }

    /// `<prefix><family>:<part 0>:…:<part N-1>` with every part encoded. A tenant part must not
    /// be empty (callers validate it as a `TenantId`): an empty hash tag would not pin the slot.
    pub(crate) fn key(&self, prefix: &str, parts: [&str; N]) -> String {
        let mut key = String::with_capacity(
            prefix.len() + self.family.len() + parts.iter().map(|p| p.len() + 3).sum::<usize>(),
        );
        key.push_str(prefix);
        key.push_str(self.family);
        for (i, part) in parts.iter().enumerate() {
            key.push(':');
            if i == 0 && self.tenant_tagged {
                key.push('{');
                push_encoded(&mut key, part);
                key.push('}');
            } else {
                push_encoded(&mut key, part);
            }
        }
        key
    }

    /// `<prefix><family>:{<tenant>}:`: what every key of `tenant` in this family starts with
    /// (scripts append the remaining encoded parts to it).
    pub(crate) fn tenant_prefix(&self, prefix: &str, tenant: &str) -> String {
        debug_assert!(self.tenant_tagged, "{} is not tenant-scoped", self.family);
        let mut key = format!("{prefix}{}:{{", self.family);
        push_encoded(&mut key, tenant);
        key.push_str("}:");
        key
    }
}

/// Every layout of the crate, one place (crate docs, "Key layouts").
pub(crate) mod layouts {
    use super::Layout;

    /// Auth: session record by token hash (layout unchanged from v1).
    pub(crate) const SESSION_TOKEN: Layout<1> = Layout::global("sess:token");
    /// Auth: token hash by session id (layout unchanged from v1).
    pub(crate) const SESSION_ID: Layout<1> = Layout::global("sess:id");
    /// Auth: enrollment token by hash (layout unchanged from v1).
    pub(crate) const ENROLLMENT: Layout<1> = Layout::global("enroll");
    /// Auth: enrollment consume lock by hash (layout unchanged from v1).
    pub(crate) const ENROLLMENT_LOCK: Layout<1> = Layout::global("enroll:lock");
    /// Auth: DPoP replay marker, by digest of (replay scope, jti).
    pub(crate) const DPOP: Layout<1> = Layout::global("dpop:v2");
    /// Forwarder: execution lock (tenant, workload, integration, action group, idempotency key).
    pub(crate) const FORWARDER_LOCK: Layout<5> = Layout::tenant("lock:v2");
    /// Forwarder: idempotency record (same parts as the lock).
    pub(crate) const FORWARDER_IDEMPOTENCY: Layout<5> = Layout::tenant("idem:v2");
    /// Policy engine: fixed-window counter of a caller-supplied key.
    pub(crate) const POLICY_RATE_LIMIT: Layout<1> = Layout::global("rl:v2");
    /// Canonicalizer: template version (tenant, template, version).
    pub(crate) const TEMPLATE: Layout<3> = Layout::tenant("template:v2");
    /// Canonicalizer: approve-once entry (tenant, workload, integration, descriptor hash).
    pub(crate) const APPROVAL_ONCE: Layout<4> = Layout::tenant("approval-once:v2");
    /// Canonicalizer: per-route counter (tenant, workload, integration, action group, method,
    /// host).
    pub(crate) const ROUTE_RATE_LIMIT: Layout<6> = Layout::tenant("route-rl:v2");
    /// Crypto: manifest-key rotation lock by name.
    pub(crate) const ROTATION_LOCK: Layout<1> = Layout::global("rotation-lock:v2");
    /// SSRF: DNS resolution cache by normalized host.
    pub(crate) const DNS: Layout<1> = Layout::global("dns:v2");
    /// SSRF: DNS rebinding history by normalized host.
    pub(crate) const DNS_HISTORY: Layout<1> = Layout::global("dns-history:v2");
    /// Audit: the tenant's cache generation.
    pub(crate) const AUDIT_GENERATION: Layout<1> = Layout::tenant("audit-gen:v2");
    /// Audit: a cached query (tenant, generation, filter hash).
    pub(crate) const AUDIT_QUERY: Layout<3> = Layout::tenant("audit-query:v2");
}
