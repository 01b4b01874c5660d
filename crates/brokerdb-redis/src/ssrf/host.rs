//! SSRF host normalization and the resolved-address denylist.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use brokerdb::model::{ValidationError, trim};

/// The SSRF normalized-host rule: trim, lower-case, strip one trailing `.`, 1..253 characters,
/// then an IPv4 or IPv6 literal (no brackets) or an ASCII FQDN of LDH labels (1..63 characters
/// each, starting and ending with a letter or digit).
pub fn normalize_host(host: &str) -> Result<String, ValidationError> {
    let invalid =
        || ValidationError::new("normalized_host", "must be an IP literal or a host name");
    let lower = trim(host).to_lowercase();
    let h = lower.strip_suffix('.').unwrap_or(&lower);
    if h.is_empty() || h.encode_utf16().count() > 253 {
        return Err(invalid());
    }
    if h.parse::<IpAddr>().is_ok() {
        return Ok(h.to_owned());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        (1..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
    };
    match h.bytes().all(|b| (33..=126).contains(&b))
        && !h.contains("..")
        && h.split('.').all(label_ok)
    {
        true => Ok(h.to_owned()),
        false => Err(invalid()),
    }
}

/// Why a resolved address may not be used, or `None` when it may.
pub fn denylist_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_class(v4),
            None => v6_class(v6),
        },
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let table: [(&str, [u8; 4], u32); 17] = [
        ("metadata", [169, 254, 169, 254], 32),
        ("loopback", [127, 0, 0, 0], 8),
        ("link_local", [169, 254, 0, 0], 16),
        ("private", [10, 0, 0, 0], 8),
        ("private", [172, 16, 0, 0], 12),
        ("private", [192, 168, 0, 0], 16),
        ("private", [100, 64, 0, 0], 10),
        ("private", [198, 18, 0, 0], 15),
        // Beyond the reference (its listed gaps): unspecified, special-purpose, documentation,
        // multicast, reserved and broadcast ranges are never valid upstream addresses.
        ("reserved", [0, 0, 0, 0], 8),
        ("reserved", [192, 0, 0, 0], 24),
        ("reserved", [192, 0, 2, 0], 24),
        ("reserved", [198, 51, 100, 0], 24),
        ("reserved", [203, 0, 113, 0], 24),
        ("reserved", [224, 0, 0, 0], 4),
        ("reserved", [240, 0, 0, 0], 4),
        ("reserved", [255, 255, 255, 255], 32),
        ("reserved", [192, 88, 99, 0], 24),
    ];
    table
        .iter()
        .find(|(_, net, bits)| in_v4(ip, *net, *bits))
        .map(|(class, _, _)| *class)
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let table: [(&str, &str, u32); 8] = [
        ("metadata", "fd00:ec2::254", 128),
        ("loopback", "::1", 128),
        ("link_local", "fe80::", 10),
        ("private", "fc00::", 7),
        ("reserved", "::", 128),
        ("reserved", "ff00::", 8),
        ("reserved", "2001:db8::", 32),
        ("reserved", "::", 96),
    ];
    if let Some(class) = table
        .iter()
        .find(|(_, net, bits)| in_v6(ip, v6(net), *bits))
        .map(|(class, _, _)| *class)
    {
        return Some(class);
    }
    // NAT64 (64:ff9b::/96) embeds an IPv4 address: judge that address.
    if in_v6(ip, v6("64:ff9b::"), 96) {
        let o = ip.octets();
        return v4_class(Ipv4Addr::new(o[12], o[13], o[14], o[15])).or(Some("reserved"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<&'static str> {
        s.parse().ok().and_then(denylist_class)
    }

    #[test]
    fn hosts_are_normalized_by_the_ssrf_rule() {
        let ok = |s: &str| normalize_host(s).ok();
        assert_eq!(ok(" API.Example.COM. ").as_deref(), Some("api.example.com"));
        assert_eq!(ok("2001:DB8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(ok("10.0.0.1").as_deref(), Some("10.0.0.1"));
        for bad in [
            "",
            ".",
            "a..b",
            "-a.com",
            "a-.com",
            "[::1]",
            "a_b.com",
            "bücher.de",
            "a.com..",
            &"a".repeat(64),
        ] {
            assert!(normalize_host(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_host(&format!("{}com", "a.".repeat(125))).is_ok());
        assert!(normalize_host(&format!("{}com", "a.".repeat(126))).is_err());
    }

    #[test]
    fn denylist_covers_the_spec_classes_and_mapped_addresses() {
        assert_eq!(class("169.254.169.254"), Some("metadata"));
        assert_eq!(class("fd00:ec2::254"), Some("metadata"));
        assert_eq!(class("127.0.0.5"), Some("loopback"));
        assert_eq!(class("::1"), Some("loopback"));
        assert_eq!(class("169.254.1.1"), Some("link_local"));
        assert_eq!(class("fe80::1"), Some("link_local"));
        assert_eq!(class("172.31.255.255"), Some("private"));
        assert_eq!(class("100.127.0.1"), Some("private"));
        assert_eq!(class("198.19.0.1"), Some("private"));
        assert_eq!(class("fd12::1"), Some("private"));
        assert_eq!(class("::ffff:10.1.2.3"), Some("private"));
        assert_eq!(class("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(class("0.0.0.0"), Some("reserved"));
        assert_eq!(class("224.0.0.1"), Some("reserved"));
        assert_eq!(class("64:ff9b::a00:1"), Some("private"));
        assert_eq!(class("93.184.216.34"), None);
        assert_eq!(class("172.32.0.1"), None);
        assert_eq!(class("2606:4700::1111"), None);
    }
}
