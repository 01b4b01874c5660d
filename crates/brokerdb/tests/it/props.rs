//! Bad input at scale (issue 18, item 6): property tests of every parser and normaliser of this
//! crate that takes outside input, thousands of cases each. Each asserts "a typed error or a
//! valid value, never a panic" and, where the parser has an inverse or a fixed point, the
//! round trip (`parse(render(x)) == x`, cursors decode to what they encoded, a normalised value
//! normalises to itself). The narrower unit properties inside `src/model` stay where they are;
//! these use only the public API.
//!
//! - cursors: signed keyset cursors, `decode_cursor`, the timestamp position, page bounds, sorts
//!   and `LIKE` patterns; garbage cursors through a real list call;
//! - hosts: `PolicyHost`, and the descriptor's URL → policy host;
//! - allowlists: `IpOrCidr`, `IpAllowlist` (text, serde);
//! - descriptors: `CanonicalRequestDescriptor` from any JSON, its canonical JSON and hash;
//! - snapshots: the JSON decoders of stored snapshots (templates, approvals, audit events,
//!   redaction profiles, secret envelopes) on mutations of valid documents;
//! - envelopes: base64 payloads and the envelope bounds;
//! - scalars: ids, timestamps, methods, e-mail, token hashes, API token text.

use std::net::IpAddr;

use brokerdb::audit::AuditEvent;
use brokerdb::db::paging::{
    self, CursorKey, Direction, PageRequest, checked_limit, contains_pattern, decode_cursor,
    timestamp_cursor,
};
use brokerdb::model::{
    Base64Payload, CanonicalRequestDescriptor, Email, HttpMethod, IpAllowlist, IpOrCidr,
    MAX_AAD_BYTES, MAX_CIPHERTEXT_BYTES, MAX_WRAPPED_DATA_KEY_BYTES, PolicyHost, TenantId,
    Timestamp, TokenHash, ValidationError, WorkloadId, aad_b64, ciphertext_b64,
    wrapped_data_key_b64,
};
use brokerdb::repo::approvals::ApprovalRequest;
use brokerdb::repo::audit_events::{self, AuditQueryFilter, AuditRedactionProfile};
use brokerdb::repo::secrets::SecretEnvelope;
use brokerdb::repo::templates::Template;
use brokerdb::repo::{api_tokens, tenants};
use brokerdb_testkit::props::{config, config_with, hostile_string, json, mutated};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json as j};

use crate::TestResult;

/// A typed error names a field and says what is wrong, without quoting the input.
fn typed(e: &ValidationError) -> bool {
    !e.field.is_empty() && !e.message.is_empty()
}

// ---------------------------------------------------------------- cursors

fn key() -> CursorKey {
    CursorKey::from_bytes([7; 32])
}

proptest! {
    #![proptest_config(config())]

    /// Any values a list puts in a cursor come back exactly, for that tenant and sort only.
    #[test]
    fn cursors_round_trip_and_bind_tenant_and_sort(
        tenant in hostile_string(),
        sort in hostile_string(),
        values in prop::collection::vec(hostile_string(), 0..4),
    ) {
        let k = key();
        let c = k.encode(&tenant, &sort, &values);
        prop_assert_eq!(k.decode(&tenant, &sort, &c).ok(), Some(values.clone()));
        let (other_tenant, other_sort) = (format!("{tenant}x"), format!("{sort}x"));
        prop_assert!(k.decode(&other_tenant, &sort, &c).is_err());
        prop_assert!(k.decode(&tenant, &other_sort, &c).is_err());
        prop_assert!(CursorKey::from_bytes([8; 32]).decode(&tenant, &sort, &c).is_err());
        // The arity check: exactly N values or a validation error.
        let two = decode_cursor::<2>(&k, &tenant, &sort, Some(&c));
        match values.len() {
            2 => prop_assert_eq!(two.ok().flatten().map(Vec::from), Some(values.clone())),
            _ => prop_assert!(two.is_err_and(|e| e.field == "cursor")),
        }
    }

    /// Every single-character change of a valid cursor is refused (as a validation error).
    #[test]
    fn tampered_cursors_are_refused(
        values in prop::collection::vec("[ -~]{0,16}", 1..3),
        at in any::<prop::sample::Index>(),
        with in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %".chars().collect::<Vec<_>>(),
        ),
    ) {
        let k = key();
        let c = k.encode("t_a", "created_at:desc", &values);
        let mut chars: Vec<char> = c.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != with);
        chars[i] = with;
        let tampered: String = chars.into_iter().collect();
        let decoded = k.decode("t_a", "created_at:desc", &tampered);
        prop_assert!(decoded.as_ref().is_err_and(typed), "{tampered:?} → {decoded:?}");
    }

    /// Whatever a client sends as a cursor: a validation error on `cursor`, never a panic.
    #[test]
    fn garbage_cursors_are_validation_errors(cursor in prop_oneof![
        hostile_string(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9_-]{0,8}\\.{1,3}[A-Za-z0-9_-]{0,8}",
    ]) {
        let decoded = decode_cursor::<2>(&key(), "t_a", "created_at:desc", Some(&cursor));
        prop_assert!(decoded.is_err_and(|e| e.field == "cursor"));
    }

    /// The `[timestamp, id]` position: a rendered timestamp parses back to itself; anything
    /// else is a validation error on `cursor`.
    #[test]
    fn timestamp_positions_parse_or_fail_on_cursor(
        ms in -62_167_219_200_000i64..253_402_300_800_000,
        junk in hostile_string(),
        id in hostile_string(),
    ) {
        let at = Timestamp::from_unix_millis(ms).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (t, i) = timestamp_cursor(Some([at.to_string(), id.clone()]))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!((t, i), (Some(at), Some(id.clone())));
        match timestamp_cursor(Some([junk.clone(), id])) {
            Ok((Some(t), _)) => prop_assert_eq!(t.to_string(), Timestamp::parse(&junk).map(|t| t.to_string()).ok().unwrap_or_default()),
            Ok(_) => prop_assert!(false, "a position without its timestamp"),
            Err(e) => prop_assert_eq!(e.field, "cursor"),
        }
    }

    /// Page bounds: exactly the documented ranges, and the offset never overflows.
    #[test]
    fn page_bounds_are_exact(page in any::<i64>(), size in any::<i64>(), limit in proptest::option::of(any::<i64>())) {
        match PageRequest::new(page, size) {
            Ok(r) => {
                prop_assert!(page >= 1 && page <= i64::from(u32::MAX) && (1..=i64::from(paging::MAX_PAGE_SIZE)).contains(&size));
                prop_assert_eq!(r.offset(), (page - 1) * size);
                prop_assert_eq!(r.limit(), size);
            }
            Err(e) => prop_assert!(typed(&e)),
        }
        match checked_limit(limit) {
            Ok(l) => prop_assert!((1..=200).contains(&l) && limit.is_none_or(|x| x == l)),
            Err(e) => prop_assert!(e.field == "limit" && limit.is_some_and(|x| !(1..=200).contains(&x))),
        }
    }

    /// Sort directions: `asc`/`desc` in any case and padding, nothing else.
    #[test]
    fn directions_parse_only_asc_and_desc(s in hostile_string()) {
        match Direction::parse(&s) {
            Ok(d) => prop_assert_eq!(d.as_str(), s.trim().to_ascii_lowercase()),
            Err(e) => prop_assert!(typed(&e)),
        }
    }

    /// `LIKE` patterns: unescaping gives the search text back, and no wildcard is left bare.
    #[test]
    fn like_patterns_escape_every_wildcard(s in hostile_string()) {
        let p = contains_pattern(&s);
        let inner = p.strip_prefix('%').and_then(|p| p.strip_suffix('%'));
        prop_assert!(inner.is_some());
        let mut back = String::new();
        let mut chars = inner.unwrap_or_default().chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => back.extend(chars.next()),
                '%' | '_' => prop_assert!(false, "bare wildcard in {p:?}"),
                c => back.push(c),
            }
        }
        prop_assert_eq!(back, s);
    }
}

/// Garbage cursors and limits through a real list call on a real database: always a
/// `validation_error`, never a panic, another error or a page.
#[test]
fn garbage_cursors_through_the_audit_list_are_validation_errors() -> TestResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let test_db = rt.block_on(brokerdb_testkit::database());
    let db = rt.block_on(test_db.db());
    let tenant = TenantId::parse("t_props")?;
    rt.block_on(tenants::create(
        &mut db.system(),
        "Props",
        Some(tenant.clone()),
    ))?;
    // One valid cursor of another tenant, to mix in.
    let foreign = db.cursor_key().encode(
        "t_other",
        "timestamp:desc",
        &["2026-01-01T00:00:00.000Z".into(), "e".into()],
    );
    let mut runner = TestRunner::new(config_with(300));
    let input = (
        prop_oneof![hostile_string(), Just(foreign)],
        proptest::option::of(prop_oneof![any::<i64>(), Just(0i64), Just(201)]),
    );
    runner.run(&input, |(cursor, limit)| {
        let filter = AuditQueryFilter {
            cursor: Some(cursor.clone()),
            limit,
            ..AuditQueryFilter::default()
        };
        let result = rt.block_on(audit_events::query(&mut db.tenant(&tenant), &filter));
        let code = result.as_ref().err().map(|e| e.code().as_str());
        prop_assert_eq!(code, Some("validation_error"), "{:?} {:?}", cursor, limit);
        Ok(())
    })?;
    Ok(())
}

/// Any text presented as an API token is answered `None` or a token, never an error or panic.
#[test]
fn any_presented_api_token_text_is_unknown_not_an_error() -> TestResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let test_db = rt.block_on(brokerdb_testkit::database());
    let db = rt.block_on(test_db.db());
    let mut runner = TestRunner::new(config_with(300));
    let input = prop_oneof![
        hostile_string(),
        "bdb_[ -~]{0,40}",
        "bdb_[a-z0-9]{1,20}_[A-Za-z0-9_-]{1,60}"
    ];
    runner.run(&input, |text| {
        let found = rt.block_on(api_tokens::authenticate(&mut db.system(), &text));
        prop_assert!(matches!(found, Ok(None)), "{:?} → {:?}", text, found.err());
        Ok(())
    })?;
    Ok(())
}

// ---------------------------------------------------------------- hosts

/// Hosts as people and programs write them: names (IDN too), IPv4 in every shorthand, IPv6 in
/// brackets, with ports, case and padding, plus arbitrary text.
fn host_like() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        "[a-zA-Z0-9-]{1,12}",
        "[a-zäöüß\u{4e00}-\u{4e10}]{1,6}",
        Just("xn--bcher-kva".to_owned())
    ];
    let name = prop::collection::vec(label, 1..4).prop_map(|l| l.join("."));
    let v4 = prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        (any::<u8>(), any::<u32>()).prop_map(|(a, b)| format!("{a}.{b}")),
        any::<u32>().prop_map(|n| format!("{n:#x}")),
        any::<u32>().prop_map(|n| n.to_string()),
    ];
    let v6 = any::<u128>().prop_map(|n| format!("[{}]", std::net::Ipv6Addr::from(n)));
    let port = proptest::option::of(prop_oneof![
        Just(443u32),
        any::<u16>().prop_map(u32::from),
        Just(99_999)
    ]);
    let pad = prop::sample::select(vec!["", " ", "\t", "\n", "\u{a0}"]);
    prop_oneof![
        4 => (pad.clone(), prop_oneof![name, v4, v6], port, pad, any::<bool>()).prop_map(
            |(a, h, p, b, upper)| {
                let h = if upper { h.to_uppercase() } else { h };
                match p {
                    Some(p) => format!("{a}{h}:{p}{b}"),
                    None => format!("{a}{h}{b}"),
                }
            }
        ),
        1 => hostile_string(),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A policy host parses to a lower-case bare host that parses to itself, or fails typed.
    #[test]
    fn policy_hosts_normalise_idempotently(s in host_like()) {
        match PolicyHost::parse(&s) {
            Ok(h) => {
                let text = h.as_str();
                prop_assert!(!text.is_empty() && !text.ends_with('.'));
                prop_assert!(!text.contains(['/', '?', '#', '@', ' ', '*']), "{text:?}");
                prop_assert_eq!(text.to_lowercase(), text);
                prop_assert_eq!(PolicyHost::parse(text).ok(), Some(h.clone()));
                prop_assert_eq!(PolicyHost::parse(&format!("{text}:443")).ok(), Some(h.clone()));
            }
            Err(e) => prop_assert!(typed(&e)),
        }
    }

    /// The descriptor's URL → policy host: any URL text gives a typed error or a host that is a
    /// fixed point of the policy-host rule.
    #[test]
    fn descriptor_urls_give_a_normalised_host_or_a_typed_error(
        scheme in prop::sample::select(vec!["https", "http", "HTTPS", "ftp", "data", ""]),
        host in host_like(),
        path in "(/[ -~]{0,12}){0,2}",
    ) {
        let mut d = descriptor();
        d.canonical_url = format!("{scheme}://{host}{path}");
        match d.policy_scope() {
            Ok((method, h)) => {
                prop_assert_eq!(method, HttpMethod::Post);
                prop_assert_eq!(PolicyHost::parse(h.as_str()).ok(), Some(h.clone()));
            }
            Err(e) => prop_assert!(typed(&e) && e.field.starts_with("descriptor.")),
        }
    }
}

// ---------------------------------------------------------------- allowlists

fn ip_like() -> impl Strategy<Value = String> {
    let prefix = proptest::option::of(prop_oneof![0u16..=140, Just(255), Just(256)]);
    let addr = prop_oneof![
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        any::<u128>().prop_map(|n| std::net::Ipv6Addr::from(n).to_string()),
        "[0-9.]{1,16}",
        "[0-9a-fA-F:]{1,30}",
        "fe80::[0-9a-f]{1,4}%[a-z0-9.:/-]{0,6}",
    ];
    prop_oneof![
        4 => (addr, prefix, prop::sample::select(vec!["", " ", "\t"])).prop_map(|(a, p, pad)| match p {
            Some(p) => format!("{pad}{a}/{p}{pad}"),
            None => format!("{pad}{a}{pad}"),
        }),
        1 => hostile_string(),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// An allowlist entry is an address with an in-range prefix whose text parses to itself.
    #[test]
    fn ip_entries_parse_to_fixed_points(s in ip_like()) {
        match IpOrCidr::parse(&s) {
            Ok(e) => {
                let max = if e.addr().is_ipv4() { 32 } else { 128 };
                prop_assert!(e.prefix().is_none_or(|p| p <= max));
                prop_assert_eq!(IpOrCidr::parse(e.as_str()).ok(), Some(e.clone()));
                prop_assert_eq!(e.as_str(), brokerdb::model::trim(&s));
            }
            Err(e) => prop_assert_eq!(e.field, "ip_allowlist"),
        }
    }

    /// Every address std renders, with every valid prefix, is accepted with that address.
    #[test]
    fn every_rendered_address_and_prefix_is_accepted(n in any::<u128>(), v4 in any::<bool>(), p in 0u8..=128) {
        let (ip, max) = match v4 {
            true => (IpAddr::from(std::net::Ipv4Addr::from(n as u32)), 32),
            false => (IpAddr::from(std::net::Ipv6Addr::from(n)), 128),
        };
        let text = format!("{ip}/{}", p % (max + 1));
        let e = IpOrCidr::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!((e.addr(), e.prefix()), (ip, Some(p % (max + 1))));
    }

    /// A list: unique, sorted, each entry valid; its rendering (text and JSON) parses to itself;
    /// an error names the entry by position.
    #[test]
    fn allowlists_normalise_idempotently(items in prop::collection::vec(ip_like(), 0..6)) {
        match IpAllowlist::parse(&items) {
            Ok(list) => {
                let texts = list.to_strings();
                prop_assert!(texts.windows(2).all(|w| w[0] < w[1]) || list.as_slice().windows(2).all(|w| w[0] < w[1]));
                prop_assert_eq!(IpAllowlist::parse(&texts).ok(), Some(list.clone()));
                let json = serde_json::to_string(&list).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(serde_json::from_str::<IpAllowlist>(&json).ok(), Some(list.clone()));
            }
            Err(e) => prop_assert!(e.field.starts_with("ip_allowlist"), "{}", e.field),
        }
    }
}

// ---------------------------------------------------------------- descriptors

fn descriptor_json() -> Value {
    j!({"tenant_id": "t_1", "workload_id": "w_1", "integration_id": "int_1",
        "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
        "canonical_url": "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
        "matched_path_group_id": "gmail_send",
        "normalized_headers": [{"name": "content-type", "value": "application/json"}],
        "query_keys": ["q"], "body_sha256_base64": null})
}

fn descriptor() -> CanonicalRequestDescriptor {
    serde_json::from_value(descriptor_json()).unwrap_or_else(|e| unreachable!("{e}"))
}

/// Descriptors with arbitrary strings in every field.
fn any_descriptor() -> impl Strategy<Value = CanonicalRequestDescriptor> {
    let s = hostile_string;
    let opt = || proptest::option::of(proptest::option::of(hostile_string()));
    (
        (s(), s(), s(), s(), any::<i32>(), s(), s(), s()),
        prop::collection::vec((s(), s()), 0..3),
        prop::collection::vec(s(), 0..3),
        opt(),
        opt(),
    )
        .prop_map(|((t, w, i, tpl, v, m, url, g), headers, keys, q, b)| {
            CanonicalRequestDescriptor {
                tenant_id: t,
                workload_id: w,
                integration_id: i,
                template_id: tpl,
                template_version: v,
                method: m,
                canonical_url: url,
                matched_path_group_id: g,
                normalized_headers: headers
                    .into_iter()
                    .map(|(name, value)| brokerdb::model::NormalizedHeader { name, value })
                    .collect(),
                query_keys: keys,
                query_fingerprint_base64: q,
                body_sha256_base64: b,
            }
        })
}

proptest! {
    // A descriptor carries a dozen hostile strings (some of thousands of characters), each
    // serialized, parsed and hashed several times: half the cases keep a debug run short.
    #![proptest_config(config_with(1000))]

    /// Canonicalisation: the canonical JSON decodes to the same descriptor, re-canonicalises to
    /// the same bytes (idempotent), its JSON value form decodes to the same descriptor, and the
    /// hash is 64 hex digits. Validation never panics on any field content.
    #[test]
    fn canonical_json_round_trips_and_is_idempotent(d in any_descriptor()) {
        let text = d.canonical_json();
        let back: CanonicalRequestDescriptor = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &d);
        prop_assert_eq!(back.canonical_json(), text.clone());
        prop_assert_eq!(back.sha256(), d.sha256());
        prop_assert_eq!(serde_json::from_value::<CanonicalRequestDescriptor>(d.to_json()).ok(), Some(d.clone()));
        prop_assert!(d.sha256().len() == 64 && d.sha256().bytes().all(|b| b.is_ascii_hexdigit()));
        for checked in [d.validate().err(), d.ids().err(), d.policy_scope().err()].into_iter().flatten() {
            prop_assert!(typed(&checked) && checked.field.starts_with("descriptor."), "{}", checked.field);
        }
    }

}

proptest! {
    #![proptest_config(config())]

    /// A descriptor from any JSON (a valid one mutated): a serde error or a descriptor that
    /// canonicalises to a fixed point.
    #[test]
    fn descriptors_from_any_json_decode_or_fail(v in prop_oneof![mutated(descriptor_json()), json()]) {
        if let Ok(d) = serde_json::from_value::<CanonicalRequestDescriptor>(v) {
            let again: Option<CanonicalRequestDescriptor> = serde_json::from_str(&d.canonical_json()).ok();
            prop_assert_eq!(again, Some(d.clone()));
            let _ = (d.validate(), d.ids(), d.policy_scope());
        }
    }
}

// ---------------------------------------------------------------- snapshots

fn template_json() -> Value {
    j!({"template_id": "tpl_mail", "version": 1, "provider": "acme",
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny", "max_hops": 0},
        "path_groups": [{"group_id": "send", "risk_tier": "high", "approval_mode": "required", "methods": ["post"],
            "path_patterns": ["/v1/send"], "query_allowlist": ["q"], "header_forward_allowlist": ["x-id"],
            "body_policy": {"max_bytes": 1024, "content_types": ["application/json"]}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}})
}

fn approval_json() -> Value {
    j!({"approval_id": "apr_1", "status": "pending", "expires_at": "2999-01-01T00:00:00.000Z",
        "correlation_id": "corr-1",
        "summary": {"integration_id": "int_1", "action_group": "gmail_send", "risk_tier": "high",
            "destination_host": " Gmail.GoogleAPIs.com:443 ", "method": "post",
            "path": "/gmail/v1/users/me/messages/send"},
        "canonical_descriptor": descriptor_json()})
}

fn audit_event_json() -> Value {
    j!({"event_id": "evt_1", "timestamp": "2026-01-02T01:00:00+01:00", "tenant_id": "t_1",
        "correlation_id": "c", "event_type": "execute", "workload_id": "w_1",
        "latency_ms": 12, "upstream_status_code": 200, "decision": "allowed",
        "canonical_descriptor": descriptor_json()})
}

fn redaction_profile_json() -> Value {
    j!({"tenant_id": "t_1", "profile_id": "p1", "rules": {
        "message_action": "keep", "metadata_default_action": "mask",
        "metadata_key_actions": {"email": "hash"}, "metadata_allow_keys": ["id"],
        "sensitive_key_patterns": ["^authorization$", "s[e3]cret"], "canonical_header_value_action": "drop",
        "policy_identifier_action": "keep", "max_depth": 4, "max_collection_size": 50,
        "max_string_length": 256, "hash_salt": "s"}})
}

fn envelope_json() -> Value {
    j!({"key_id": "kek-1", "content_encryption_alg": "A256GCM", "key_encryption_alg": "RSA-OAEP-256",
        "wrapped_data_key_b64": "d3JhcHBlZA==", "iv_b64": "aXY=", "ciphertext_b64": "Y2lwaGVy",
        "auth_tag_b64": "dGFn", "aad_b64": "YWFk"})
}

/// The valid bases decode (else the mutation properties below would test nothing).
#[test]
fn the_snapshot_bases_are_valid() -> TestResult {
    Template::from_json(template_json())?;
    ApprovalRequest::from_json(approval_json())?;
    AuditEvent::from_json(audit_event_json())?;
    AuditRedactionProfile::from_json(redaction_profile_json())?;
    serde_json::from_value::<SecretEnvelope>(envelope_json())?.validated()?;
    Ok(())
}

proptest! {
    // Compiling tenant regular expressions is slow in a debug build: fewer cases.
    #![proptest_config(config_with(200))]

    /// Redaction profiles: their patterns are compiled from tenant input.
    #[test]
    fn redaction_profiles_decode_or_fail_typed(
        v in prop_oneof![4 => mutated(redaction_profile_json()), 1 => json()],
        pattern in prop_oneof!["[ -~]{0,16}", Just("(a+)+$".to_owned()), Just("\\p{Foo}".to_owned()), Just("a{1000}{1000}".to_owned())],
    ) {
        let mut with_pattern = redaction_profile_json();
        with_pattern["rules"]["sensitive_key_patterns"] = j!([pattern]);
        for v in [v, with_pattern] {
            match AuditRedactionProfile::from_json(v) {
                Ok(p) => {
                    prop_assert!(p.validate().is_ok());
                    let back = serde_json::to_value(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(AuditRedactionProfile::from_json(back).ok(), Some(p));
                }
                Err(e) => prop_assert!(typed(&e)),
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Templates (stored as JSON, decoded on the execute path): a typed error or a valid
    /// template whose own JSON decodes to it, from a value and from text alike.
    #[test]
    fn template_snapshots_decode_or_fail_typed(v in prop_oneof![4 => mutated(template_json()), 1 => json()]) {
        let from_value = Template::from_json(v.clone());
        let from_text = Template::from_json_str(&v.to_string());
        prop_assert_eq!(&from_value, &from_text);
        match from_value {
            Ok(t) => {
                prop_assert!(t.validate().is_ok());
                let back = serde_json::to_value(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(Template::from_json(back).ok(), Some(t));
            }
            Err(e) => prop_assert!(typed(&e)),
        }
    }

    /// Approvals (the API body and the stored snapshot).
    #[test]
    fn approval_snapshots_decode_or_fail_typed(v in prop_oneof![4 => mutated(approval_json()), 1 => json()]) {
        match ApprovalRequest::from_json(v) {
            Ok(a) => {
                let back = serde_json::to_value(&a).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(ApprovalRequest::from_json(back).ok(), Some(a));
            }
            Err(e) => prop_assert!(typed(&e)),
        }
    }

    /// Audit events (`event_json`).
    #[test]
    fn audit_event_snapshots_decode_or_fail_typed(v in prop_oneof![4 => mutated(audit_event_json()), 1 => json()]) {
        match AuditEvent::from_json(v) {
            Ok(e) => {
                let back = e.to_json().map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(AuditEvent::from_json(back).ok(), Some(e));
            }
            Err(e) => prop_assert!(typed(&e)),
        }
    }

    /// Secret envelopes (the API body): serde then the envelope rules; `validated` is a fixed
    /// point and every error names an `envelope.` field.
    #[test]
    fn secret_envelopes_decode_or_fail_typed(v in prop_oneof![4 => mutated(envelope_json()), 1 => json()]) {
        if let Ok(env) = serde_json::from_value::<SecretEnvelope>(v) {
            match env.validated() {
                Ok(ok) => prop_assert_eq!(ok.validated().ok(), Some(ok.clone())),
                Err(e) => prop_assert!(typed(&e) && e.field.starts_with("envelope."), "{}", e.field),
            }
        }
    }
}

// ---------------------------------------------------------------- envelopes

proptest! {
    #![proptest_config(config())]

    /// Base64: canonical text of 1.. bytes parses to exactly those bytes; anything else is a
    /// typed error on the field given.
    #[test]
    fn base64_payloads_parse_exactly_canonical_text(
        bytes in prop::collection::vec(any::<u8>(), 0..48),
        junk in prop_oneof![hostile_string(), "[A-Za-z0-9+/=_-]{0,16}"],
    ) {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        match Base64Payload::parse("iv_b64", &text) {
            Ok(p) => prop_assert_eq!((p.decode(), p.decoded_len(), p.as_str()), (bytes.clone(), bytes.len(), text.as_str())),
            Err(e) => prop_assert!(bytes.is_empty() && e.field == "iv_b64"),
        }
        match Base64Payload::parse("iv_b64", &junk) {
            Ok(p) => {
                prop_assert_eq!(base64::engine::general_purpose::STANDARD.encode(p.decode()), p.as_str());
                prop_assert_eq!(Base64Payload::parse("iv_b64", p.as_str()).ok(), Some(p.clone()));
            }
            Err(e) => prop_assert_eq!(e.field, "iv_b64"),
        }
    }
}

/// The envelope bounds hold at every size near them: accepted iff 1 ≤ decoded ≤ max (every
/// size within 3 bytes of both ends, exhaustively: these are few and large).
#[test]
fn envelope_bounds_hold_at_the_edges() {
    use base64::Engine as _;
    type Check = fn(&str) -> Result<Base64Payload, ValidationError>;
    let checks: [(usize, Check); 3] = [
        (MAX_WRAPPED_DATA_KEY_BYTES, wrapped_data_key_b64),
        (MAX_AAD_BYTES, aad_b64),
        (MAX_CIPHERTEXT_BYTES, ciphertext_b64),
    ];
    for (max, check) in checks {
        for len in (0..=3).chain(max - 3..=max + 3) {
            let text = base64::engine::general_purpose::STANDARD.encode(vec![0xa5; len]);
            let result = check(&text);
            assert_eq!(
                result.is_ok(),
                (1..=max).contains(&len),
                "{len} bytes against {max}"
            );
            if let Err(e) = result {
                assert!(typed(&e), "{len} bytes: {e}");
            }
        }
    }
}

// ---------------------------------------------------------------- scalars

proptest! {
    #![proptest_config(config())]

    /// Ids, instants, methods, e-mail and token hashes: a typed error or a value whose text
    /// parses to itself.
    #[test]
    fn scalar_parsers_fail_typed_or_reach_a_fixed_point(s in prop_oneof![
        hostile_string(),
        "[a-zA-Z0-9._-]{1,140}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})",
        "[a-zA-Z0-9._'+-]{1,10}@[a-z0-9-]{1,8}\\.[a-z]{1,4}",
        "[0-9a-f]{64}",
    ]) {
        macro_rules! fixed_point {
            ($parse:expr, $text:expr) => {
                match $parse(&s) {
                    Ok(v) => prop_assert_eq!($parse(&$text(&v)).ok(), Some(v.clone())),
                    Err(e) => prop_assert!(typed(&e)),
                }
            };
        }
        fixed_point!(TenantId::parse, |v: &TenantId| v.as_str().to_owned());
        fixed_point!(WorkloadId::parse, |v: &WorkloadId| v.as_str().to_owned());
        fixed_point!(Timestamp::parse, |v: &Timestamp| v.to_string());
        fixed_point!(HttpMethod::parse, |v: &HttpMethod| v.as_str().to_owned());
        fixed_point!(Email::parse, |v: &Email| v.as_str().to_owned());
        fixed_point!(TokenHash::parse, |v: &TokenHash| v.as_str().to_owned());
    }
}
