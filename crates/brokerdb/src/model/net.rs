//! Network values: IP/CIDR allowlist entries and exact policy hosts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, private::BytesMut, to_sql_checked};

use crate::scalar::ValidationError;
use crate::scalar::{normalize_unique_list, trim, trimmed_non_empty};

type SqlError = Box<dyn std::error::Error + Sync + Send>;

/// One allowlist entry: an IPv4 or IPv6 literal, optionally `/prefix`. Stored as trimmed input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpOrCidr {
    text: String,
    addr: IpAddr,
    prefix: Option<u8>,
}

impl IpOrCidr {
    /// Dotted quad without leading zeros, IPv6 without brackets (a `%zone` suffix is tolerated),
    /// or either followed by exactly one `/` and an all-digit prefix of 0..32 / 0..128. Host bits
    /// need not be zero.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("ip_allowlist", "invalid IP/CIDR entry");
        let text = trim(s);
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (text, None),
        };
        let addr = parse_ip(ip).ok_or_else(invalid)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => None,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(
                p.parse::<u8>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(invalid)?,
            ),
            Some(_) => return Err(invalid()),
        };
        Ok(Self {
            text: text.to_owned(),
            addr,
            prefix,
        })
    }

    /// The entry as stored (the trimmed input).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The address part.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length, when the entry is a CIDR range.
    pub fn prefix(&self) -> Option<u8> {
        self.prefix
    }
}

brokerdb_core::impl_text_newtype!(IpOrCidr, IpOrCidr::parse);

fn parse_ip(s: &str) -> Option<IpAddr> {
    if !s.contains(':') {
        // std rejects octets with leading zeros, as the rule requires.
        return s.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    let (addr, zone) = match s.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (s, None),
    };
    let zone_ok = zone.is_none_or(|z| {
        !z.is_empty()
            && z.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
    });
    addr.parse::<Ipv6Addr>()
        .ok()
        .filter(|_| zone_ok)
        .map(IpAddr::V6)
}

/// A workload's `ip_allowlist`: unique after trimming, every entry valid, sorted by byte order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpAllowlist(Vec<IpOrCidr>);

impl IpAllowlist {
    /// Applies the unique-list rule, then the IP/CIDR rule to every entry; errors name the
    /// entry by its input position (`ip_allowlist[i]`).
    pub fn parse<I>(items: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_owned()).collect();
        normalize_unique_list("ip_allowlist", &items)?;
        let mut entries = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                IpOrCidr::parse(item).map_err(|e| e.with_field(format!("ip_allowlist[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_unstable();
        Ok(Self(entries))
    }

    /// The entries, sorted.
    pub fn as_slice(&self) -> &[IpOrCidr] {
        &self.0
    }

    /// The entries as text, sorted.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|e| e.text.clone()).collect()
    }
}

impl serde::Serialize for IpAllowlist {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(IpOrCidr::as_str))
    }
}

impl<'de> serde::Deserialize<'de> for IpAllowlist {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(deserializer)?;
        Self::parse(items).map_err(serde::de::Error::custom)
    }
}

impl ToSql for IpAllowlist {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, SqlError> {
        self.0
            .iter()
            .map(IpOrCidr::as_str)
            .collect::<Vec<_>>()
            .to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <Vec<&str> as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for IpAllowlist {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, SqlError> {
        Ok(Self::parse(Vec::<&str>::from_sql(ty, raw)?)?)
    }
    fn accepts(ty: &Type) -> bool {
        <Vec<&str> as FromSql>::accepts(ty)
    }
}

/// A policy's exact destination host: a lower-case WHATWG host without port, path or userinfo.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyHost(String);

impl PolicyHost {
    /// The "policy host (exact host)" rule: trim; reject `*`, `://`, `/`, `?`, `#`, `@`; parse
    /// `https://<host>`; path must be `/`, no userinfo, no port but the default 443 (dropped);
    /// the hostname lower-cased (IDN → punycode, IPv4 shorthands canonical, IPv6 in brackets);
    /// empty or ending with `.` is rejected.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("host", "must be an exact host name or IP");
        let t = trimmed_non_empty("host", s)?;
        if t.contains(['*', '/', '?', '#', '@']) {
            return Err(invalid());
        }
        let url = url::Url::parse(&format!("https://{t}")).map_err(|_| invalid())?;
        if url.path() != "/"
            || url.port().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(invalid());
        }
        match url.host_str().map(str::to_lowercase) {
            Some(host) if !host.is_empty() && !host.ends_with('.') => Ok(Self(host)),
            _ => Err(invalid()),
        }
    }

    /// The normalized host.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized host, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

brokerdb_core::impl_text_newtype!(PolicyHost, PolicyHost::parse);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn host(s: &str) -> Option<String> {
        PolicyHost::parse(s).ok().map(PolicyHost::into_inner)
    }

    #[test]
    fn ip_entries_accept_v4_v6_and_cidr() -> Result<(), ValidationError> {
        for ok in [
            "10.0.0.1",
            "0.0.0.0/0",
            "10.0.0.1/32",
            "10.0.0.1/24",
            "255.255.255.255",
            "::1",
            "2001:db8::/32",
            "fe80::1%eth0",
            "fe80::1%en0/64",
            "::ffff:1.2.3.4",
            "::/128",
            "10.0.0.0/010",
        ] {
            assert!(IpOrCidr::parse(ok).is_ok(), "{ok}");
        }
        let e = IpOrCidr::parse(" 10.1.2.3/8 ")?;
        assert_eq!(
            (e.as_str(), e.addr(), e.prefix()),
            (
                "10.1.2.3/8",
                IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                Some(8)
            )
        );
        Ok(())
    }

    #[test]
    fn ip_entries_reject_malformed_input() {
        for bad in [
            "10.0.0.1/33",
            "010.0.0.1",
            "10.0.0.256",
            "10.0.0",
            "10.0.0.1/",
            "10.0.0.1/+8",
            "10.0.0.1/8/8",
            "[::1]",
            "::1/129",
            "fe80::1%",
            "fe80::1%e/th",
            "1.2.3.4%eth0",
            "127.1",
            "0x7f.0.0.1",
            "example.com",
            "::ffff:01.2.3.4",
            "10.0.0.1/ 8",
            "10.0.0.1/99999999999",
        ] {
            let err = IpOrCidr::parse(bad).err();
            assert_eq!(
                err.map(|e| e.message),
                Some("invalid IP/CIDR entry".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn allowlist_is_unique_trimmed_and_sorted() -> Result<(), ValidationError> {
        let list = IpAllowlist::parse([" 192.168.0.1", "10.0.0.0/8 ", "::1", "10.0.0.1"])?;
        assert_eq!(
            list.to_strings(),
            ["10.0.0.0/8", "10.0.0.1", "192.168.0.1", "::1"]
        );
        assert_eq!(
            IpAllowlist::parse(Vec::<String>::new())?,
            IpAllowlist::default()
        );
        Ok(())
    }

    #[test]
    fn allowlist_rejects_duplicates_empties_and_bad_entries() {
        let field = |items: &[&str]| {
            IpAllowlist::parse(items)
                .err()
                .map(|e| e.field.into_owned())
        };
        assert_eq!(
            field(&["10.0.0.1", " 10.0.0.1 "]),
            Some("ip_allowlist[1]".into())
        );
        assert_eq!(field(&["10.0.0.1", ""]), Some("ip_allowlist[1]".into()));
        assert_eq!(
            field(&["::1", "10.0.0.1", "10.0.0.1/33"]),
            Some("ip_allowlist[2]".into())
        );
    }

    #[test]
    fn allowlist_serde_validates() -> Result<(), serde_json::Error> {
        let list: IpAllowlist = serde_json::from_str(r#"["::1", "10.0.0.1"]"#)?;
        assert_eq!(serde_json::to_string(&list)?, r#"["10.0.0.1","::1"]"#);
        assert!(serde_json::from_str::<IpAllowlist>(r#"["010.0.0.1"]"#).is_err());
        Ok(())
    }

    #[test]
    fn policy_host_spec_examples() {
        assert_eq!(host("example.com:443"), Some("example.com".into()));
        assert_eq!(host("example.com:8443"), None);
        assert_eq!(host("bücher.de"), Some("xn--bcher-kva.de".into()));
        assert_eq!(host("127.1"), Some("127.0.0.1".into()));
        assert_eq!(host("0x7f.1"), Some("127.0.0.1".into()));
        assert_eq!(host("[::1]"), Some("[::1]".into()));
        assert_eq!(host("  API.Example.COM \n"), Some("api.example.com".into()));
        assert_eq!(host("[2001:DB8::1]:443"), Some("[2001:db8::1]".into()));
    }

    #[test]
    fn policy_host_rejects_everything_but_a_bare_host() {
        for bad in [
            "",
            "  ",
            "*.example.com",
            "https://example.com",
            "example.com/",
            "example.com/x",
            "example.com?q",
            "example.com#f",
            "user@example.com",
            "example.com.",
            "::1",
            "exa mple.com",
            "example.com:0",
            "example.com\\x",
            "[::1]:8443",
            "example.com:99999",
        ] {
            assert_eq!(host(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn policy_host_normalization_is_idempotent(s in "[a-zA-Z0-9.:\\[\\]-]{1,20}") {
            if let Some(once) = host(&s) {
                prop_assert_eq!(host(&once), Some(once.clone()));
            }
        }

        #[test]
        fn allowlist_normalization_is_idempotent(octets in prop::collection::vec((any::<u8>(), 0u8..=32), 0..5)) {
            let items: Vec<String> = octets.iter().map(|(a, p)| format!(" 10.{a}.0.1/{p}")).collect();
            if let Ok(once) = IpAllowlist::parse(&items) {
                prop_assert_eq!(IpAllowlist::parse(once.to_strings()), Ok(once.clone()));
            }
        }
    }
}
