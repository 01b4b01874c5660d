//! The one key builder of the cache: `<prefix>{<tenant>}:<resource>:<id>:<variant>`.
//!
//! - `<prefix>`: [`crate::CacheSettings::key_prefix`], ending in `:`.
//! - `{<tenant>}`: the tenant id percent-encoded with brokerdb-redis's key-part encoding
//!   ([`brokerdb_redis::read_cache::encode_key_part`]: `[A-Za-z0-9._-]` as is, every other byte
//!   `%XX`), as a Redis Cluster hash tag, so a resource's generation key and its entries share a
//!   slot (the read script touches both). The global scope (the manifest keyset) is `{@system}`:
//!   `@` never appears in an encoded part, so no tenant can address it.
//! - `<resource>`: a fixed name with its layout version ([`Resource::key_name`]).
//! - `<id>`: the entry's id parts, each encoded, joined by `,` (which never appears in an
//!   encoded part); the generation key has the id `@` (never an encoded id).
//! - `<variant>`: `gen` for the generation key; `g<generation>` for an entry (the builder ends
//!   an entry key in `g`, and the generation, read by the script, is appended).
//!
//! So a key splits into exactly these five fields and each decodes to one value: two different
//! inputs never build the same key (the unit tests decode built keys back).

use brokerdb_redis::read_cache::push_encoded_key_part;

/// What a cache entry holds, and what [`crate::CachedReads::invalidate`] busts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The execute-path lookup (workload, integration, resolved template).
    ExecuteLookup,
    /// The policy rules matching a descriptor scope.
    PolicyRules,
    /// Template versions by id and version.
    TemplateVersions,
    /// Human users by id.
    Users,
    /// The published manifest verification keyset (global, not per tenant).
    ManifestKeyset,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Self; 5] = [
        Self::ExecuteLookup,
        Self::PolicyRules,
        Self::TemplateVersions,
        Self::Users,
        Self::ManifestKeyset,
    ];

    /// The `cache` label of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::ExecuteLookup => "execute_lookup",
            Self::PolicyRules => "policy_rules",
            Self::TemplateVersions => "template_version",
            Self::Users => "user",
            Self::ManifestKeyset => "manifest_keyset",
        }
    }

    /// The `<resource>` field of its keys (name and layout version).
    pub fn key_name(self) -> &'static str {
        match self {
            Self::ExecuteLookup => "exec.v1",
            Self::PolicyRules => "policy.v1",
            Self::TemplateVersions => "template.v1",
            Self::Users => "user.v1",
            Self::ManifestKeyset => "keyset.v1",
        }
    }

    /// The resource of a `label`.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.label() == label)
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::ExecuteLookup => 0,
            Self::PolicyRules => 1,
            Self::TemplateVersions => 2,
            Self::Users => 3,
            Self::ManifestKeyset => 4,
        }
    }
}

/// Whose entry: a tenant's, or the global (system-scope) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope<'a> {
    /// A tenant (a validated id).
    Tenant(&'a str),
    /// Global data (the manifest keyset).
    System,
}

/// Which key of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant<'a> {
    /// The resource's generation counter (id `@`).
    Generation,
    /// An entry with these id parts; the key ends in `g`, the generation is appended.
    Entry(&'a [&'a str]),
}

/// The key builder (module docs).
pub(crate) fn key(
    prefix: &str,
    scope: Scope<'_>,
    resource: Resource,
    variant: Variant<'_>,
) -> String {
    // Room for every part plain plus the fixed fields: no regrowth for business ids.
    let parts_len = match variant {
        Variant::Generation => 0,
        Variant::Entry(parts) => parts.iter().map(|p| p.len() + 1).sum(),
    };
    let mut key = String::with_capacity(prefix.len() + parts_len + 64);
    key.push_str(prefix);
    key.push('{');
    match scope {
        Scope::Tenant(tenant) => push_encoded_key_part(&mut key, tenant),
        Scope::System => key.push_str("@system"),
    }
    key.push_str("}:");
    key.push_str(resource.key_name());
    key.push(':');
    match variant {
        Variant::Generation => key.push_str("@:gen"),
        Variant::Entry(parts) => {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    key.push(',');
                }
                push_encoded_key_part(&mut key, part);
            }
            key.push_str(":g");
        }
    }
    key
}

/// The invalidation channel: `<prefix>invalidate:v1`.
pub(crate) fn channel(prefix: &str) -> String {
    format!("{prefix}invalidate:v1")
}

/// A list as one part: its length, `#`, then each item encoded, joined by `,` (unambiguous,
/// the empty list included; the part is encoded again when used).
pub(crate) fn list_part(items: &[String]) -> String {
    let mut out = format!("{}#", items.len());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_encoded_key_part(&mut out, item);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Decodes a percent-encoded part; `None` if it is not one this encoding makes.
    fn decode(part: &str) -> Option<String> {
        let bytes = part.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let hex = part.get(i + 1..i + 3)?;
                if hex.to_uppercase() != hex {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                out.push(b);
                i += 1;
            } else {
                return None;
            }
        }
        String::from_utf8(out).ok()
    }

    type Decoded = (Option<String>, String, Option<Vec<String>>);

    /// Splits a key built under `prefix` back into (tenant, resource, id parts); `None` id parts
    /// for the generation key.
    fn parse(prefix: &str, key: &str) -> Option<Decoded> {
        let rest = key.strip_prefix(prefix)?.strip_prefix('{')?;
        let (tenant, rest) = rest.split_once("}:")?;
        let tenant = match tenant {
            "@system" => None,
            t => Some(decode(t)?),
        };
        let fields: Vec<&str> = rest.split(':').collect();
        let [resource, id, variant] = fields[..] else {
            return None;
        };
        match (id, variant) {
            ("@", "gen") => Some((tenant, resource.to_owned(), None)),
            (id, "g") => {
                let parts = id.split(',').map(decode).collect::<Option<Vec<_>>>()?;
                Some((tenant, resource.to_owned(), Some(parts)))
            }
            _ => None,
        }
    }

    const NASTY: [&str; 14] = [
        "", "a", "a,b", "a:b", "{a}", "}:", "%2C", "%", "@", "@system", "g", "gen", "é 😀", ",",
    ];

    #[test]
    fn every_key_decodes_back_to_its_inputs_and_none_collide() {
        let prefix = "broker:cache:";
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut check = |key: String, expect: Decoded| {
            let parsed = parse(prefix, &key);
            assert_eq!(parsed.as_ref(), Some(&expect), "{key}");
            let shown = format!("{expect:?}");
            if let Some(other) = seen.insert(key.clone(), shown.clone()) {
                assert_eq!(other, shown, "two inputs built {key}");
            }
        };
        for resource in Resource::ALL {
            let name = resource.key_name().to_owned();
            for tenant in NASTY.iter().filter(|t| !t.is_empty()) {
                let scope = Scope::Tenant(tenant);
                check(
                    key(prefix, scope, resource, Variant::Generation),
                    (Some((*tenant).to_owned()), name.clone(), None),
                );
                for a in NASTY {
                    let parts = [a];
                    check(
                        key(prefix, scope, resource, Variant::Entry(&parts)),
                        (
                            Some((*tenant).to_owned()),
                            name.clone(),
                            Some(vec![a.to_owned()]),
                        ),
                    );
                    for b in NASTY {
                        let parts = [a, b];
                        check(
                            key(prefix, scope, resource, Variant::Entry(&parts)),
                            (
                                Some((*tenant).to_owned()),
                                name.clone(),
                                Some(vec![a.to_owned(), b.to_owned()]),
                            ),
                        );
                    }
                }
            }
            check(
                key(prefix, Scope::System, resource, Variant::Generation),
                (None, name.clone(), None),
            );
            let parts = ["keyset"];
            check(
                key(prefix, Scope::System, resource, Variant::Entry(&parts)),
                (None, name.clone(), Some(vec!["keyset".to_owned()])),
            );
        }
    }

    #[test]
    fn a_tenant_named_like_the_system_scope_gets_its_own_keys() {
        let p = "p:";
        let parts = ["x"];
        let system = key(p, Scope::System, Resource::Users, Variant::Entry(&parts));
        let tenant = key(
            p,
            Scope::Tenant("@system"),
            Resource::Users,
            Variant::Entry(&parts),
        );
        assert_ne!(system, tenant);
        assert_eq!(tenant, "p:{%40system}:user.v1:x:g");
        assert_eq!(system, "p:{@system}:user.v1:x:g");
    }

    #[test]
    fn business_ids_stay_readable() {
        let parts = ["w_1", "int-2"];
        assert_eq!(
            key(
                "broker:cache:",
                Scope::Tenant("t_a"),
                Resource::ExecuteLookup,
                Variant::Entry(&parts)
            ),
            "broker:cache:{t_a}:exec.v1:w_1,int-2:g"
        );
        assert_eq!(
            key(
                "broker:cache:",
                Scope::Tenant("t_a"),
                Resource::Users,
                Variant::Generation
            ),
            "broker:cache:{t_a}:user.v1:@:gen"
        );
    }

    #[test]
    fn lists_separate_their_items() {
        let ab = ["a,b".to_owned()];
        let a_b = ["a".to_owned(), "b".to_owned()];
        assert_ne!(list_part(&ab), list_part(&a_b));
        assert_ne!(list_part(&[]), list_part(&["".to_owned()]));
    }
}
