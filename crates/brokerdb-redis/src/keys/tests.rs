//! Key injectivity: every layout decodes back to exactly the parts it was built from, and every
//! adapter's key builder maps distinct (normalized) inputs to distinct keys — including inputs
//! whose parts, joined with `:` or `|` the way the v1 layouts did, are the same string.

use brokerdb::model::{
    CanonicalRequestDescriptor, HttpMethod, PolicyHost, SessionId, TokenHash, trim,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use super::layouts::*;
use super::{Layout, digest};
use crate::AdapterError;
use crate::audit::{self, AuditCacheFilter};
use crate::auth::{enrollment, replay, sessions};
use crate::canonicalizer::{RouteRateLimit, approval_once, rate_limit as route, template};
use crate::crypto;
use crate::forwarder::{self, ForwarderCall, ForwarderScope};
use crate::policy::rate_limit as policy;
use crate::ssrf::{self, normalize_host};

const PREFIX: &str = "p:";

/// A layout's real builder behind an arity-erased signature.
type Build = Box<dyn Fn(&str, &[String]) -> String>;

/// A layout with its arity erased, and its real builder.
struct AnyLayout {
    family: &'static str,
    tenant_tagged: bool,
    parts: usize,
    build: Build,
}

fn erased<const N: usize>(layout: Layout<N>) -> AnyLayout {
    AnyLayout {
        family: layout.family,
        tenant_tagged: layout.tenant_tagged,
        parts: N,
        build: Box::new(move |prefix, parts| {
            let parts: [&str; N] =
                std::array::from_fn(|i| parts.get(i).map(String::as_str).unwrap_or_default());
            layout.key(prefix, parts)
        }),
    }
}

fn all_layouts() -> Vec<AnyLayout> {
    vec![
        erased(SESSION_TOKEN),
        erased(SESSION_ID),
        erased(ENROLLMENT),
        erased(ENROLLMENT_LOCK),
        erased(DPOP),
        erased(FORWARDER_LOCK),
        erased(FORWARDER_IDEMPOTENCY),
        erased(POLICY_RATE_LIMIT),
        erased(TEMPLATE),
        erased(APPROVAL_ONCE),
        erased(ROUTE_RATE_LIMIT),
        erased(ROTATION_LOCK),
        erased(DNS),
        erased(DNS_HISTORY),
        erased(AUDIT_GENERATION),
        erased(AUDIT_QUERY),
    ]
}

/// Independent decoder of one encoded part: plain bytes and upper-case `%XX`, nothing else.
fn decode_part(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| match b.get(j) {
                Some(d @ b'0'..=b'9') => Some(d - b'0'),
                Some(d @ b'A'..=b'F') => Some(d - b'A' + 10),
                _ => None,
            };
            out.push((hex(i + 1)? << 4) | hex(i + 2)?);
            i += 3;
        } else if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-') {
            out.push(c);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// Every (family, parts) of the crate that reads as `key` under `prefix`.
fn parse(prefix: &str, key: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut found = Vec::new();
    for layout in all_layouts() {
        let Some(rest) = key
            .strip_prefix(prefix)
            .and_then(|k| k.strip_prefix(layout.family))
            .and_then(|k| k.strip_prefix(':'))
        else {
            continue;
        };
        let segments: Vec<&str> = rest.split(':').collect();
        if segments.len() != layout.parts {
            continue;
        }
        let decoded: Option<Vec<String>> = segments
            .iter()
            .enumerate()
            .map(|(i, seg)| match i == 0 && layout.tenant_tagged {
                true => seg
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .and_then(decode_part),
                false => decode_part(seg),
            })
            .collect();
        if let Some(parts) = decoded {
            found.push((layout.family, parts));
        }
    }
    found
}

/// Strings built to break naive joins: separators, braces, escapes, glob characters, spaces,
/// non-ASCII, and the empty string.
fn hostile() -> BoxedStrategy<String> {
    prop::collection::vec(
        select(vec![
            "a", "B", "1", ".", "_", "-", ":", "{", "}", "|", "%", "%3A", "%3a", "*", " ", "\t",
            "é", "😀", "\u{0}",
        ]),
        0..5,
    )
    .prop_map(|v| v.concat())
    .boxed()
}

/// Small id-set strings (`[A-Za-z0-9._-]`, 1..4), so that independent draws often coincide.
fn id() -> BoxedStrategy<String> {
    prop::collection::vec(select(vec!["a", "b", "1", ".", "_", "-"]), 1..4)
        .prop_map(|v| v.concat())
        .boxed()
}

/// `atoms` cut at `cuts` (indices 1..len) into parts, atoms inside a part joined with `sep`: for
/// any cuts, the parts joined with `sep` are the atoms joined with `sep`.
fn group(atoms: &[String], cuts: &[usize], sep: &str) -> Vec<String> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(atoms.len());
    bounds
        .windows(2)
        .map(|w| atoms.get(w[0]..w[1]).unwrap_or_default().join(sep))
        .collect()
}

/// Two `n`-tuples that a `sep`-join could not tell apart (the same atoms cut differently), or
/// two independent tuples.
fn pair(
    n: usize,
    sep: &'static str,
    atom: impl Strategy<Value = String> + Clone + 'static,
) -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    let independent = (
        prop::collection::vec(atom.clone(), n),
        prop::collection::vec(atom.clone(), n),
    );
    let regrouped = (n..n + 4).prop_flat_map(move |k| {
        let gaps: Vec<usize> = (1..k).collect();
        (
            prop::collection::vec(atom.clone(), k),
            subsequence(gaps.clone(), n - 1),
            subsequence(gaps, n - 1),
        )
            .prop_map(move |(atoms, a, b)| (group(&atoms, &a, sep), group(&atoms, &b, sep)))
    });
    prop_oneof![independent, regrouped]
}

fn trimmed(parts: &[String]) -> Vec<String> {
    parts.iter().map(|p| trim(p).to_owned()).collect()
}

/// The property every builder must have: equal keys exactly for equal normalized inputs, and a
/// key that decodes (under exactly one family, `family`) to its parts.
fn check<N: PartialEq + std::fmt::Debug>(
    family: &str,
    a: Option<(N, String)>,
    b: Option<(N, String)>,
) -> Result<(), TestCaseError> {
    for (_, key) in a.iter().chain(b.iter()) {
        let found = parse(PREFIX, key);
        prop_assert_eq!(found.len(), 1, "{} parses once", key);
        prop_assert_eq!(found.first().map(|f| f.0), Some(family), "{}", key);
    }
    if let (Some((na, ka)), Some((nb, kb))) = (a, b) {
        prop_assert_eq!(na == nb, ka == kb, "{:?} → {} / {:?} → {}", na, ka, nb, kb);
    }
    Ok(())
}

#[test]
fn families_are_distinct_and_tenant_layouts_start_with_the_tenant() {
    let layouts = all_layouts();
    for (i, a) in layouts.iter().enumerate() {
        for b in layouts.iter().skip(i + 1) {
            assert_ne!(a.family, b.family);
        }
        assert!(a.parts >= 1, "{}", a.family);
    }
    let key = FORWARDER_IDEMPOTENCY.key("p:", ["acme", "w1", "int_1", "send", "k1:z"]);
    assert_eq!(key, "p:idem:v2:{acme}:w1:int_1:send:k1%3Az");
    assert_eq!(
        AUDIT_QUERY.tenant_prefix("p:", "t_1"),
        "p:audit-query:v2:{t_1}:"
    );
}

#[test]
fn encoding_escapes_everything_outside_the_id_set() {
    let key = POLICY_RATE_LIMIT.key("", ["a:b{c}|d%e f/é"]);
    assert_eq!(key, "rl:v2:a%3Ab%7Bc%7D%7Cd%25e%20f%2F%C3%A9");
    assert_eq!(POLICY_RATE_LIMIT.key("", ["Az09._-"]), "rl:v2:Az09._-");
}

#[test]
fn the_v1_collisions_are_gone() -> Result<(), AdapterError> {
    // Forwarder: (acme, w1, int_1, send, k1:z) and (acme, w1, int_1, send:k1, z) were both
    // `idem:acme:w1:int_1:send:k1:z`; a tenant `acme:w1` can no longer be named at all.
    let a = ForwarderScope::new(&ForwarderCall {
        tenant_id: "acme",
        workload_id: "w1",
        integration_id: "int_1",
        action_group: "send",
        idempotency_key: "k1:z",
    })?;
    let b = ForwarderScope::new(&ForwarderCall {
        tenant_id: "acme",
        workload_id: "w1",
        integration_id: "int_1",
        action_group: "send:k1",
        idempotency_key: "z",
    })?;
    assert_ne!(
        forwarder::idempotency_key(PREFIX, &a),
        forwarder::idempotency_key(PREFIX, &b)
    );
    assert_ne!(
        forwarder::lock_key(PREFIX, &a),
        forwarder::lock_key(PREFIX, &b)
    );
    assert!(
        ForwarderScope::new(&ForwarderCall {
            tenant_id: "acme:w1",
            workload_id: "int_1",
            integration_id: "send",
            action_group: "k1",
            idempotency_key: "z"
        })
        .is_err()
    );
    // Replay: `a|b` + `c` and `a` + `b|c` hashed the same `a|b|c`.
    assert_ne!(
        replay::marker_key(PREFIX, "a|b", "c")?,
        replay::marker_key(PREFIX, "a", "b|c")?
    );
    Ok(())
}

#[test]
fn digests_join_encoded_parts() {
    assert_eq!(digest(&["a|b", "c"]), digest(&["a|b", "c"]));
    assert_ne!(digest(&["a|b", "c"]), digest(&["a", "b|c"]));
    assert_ne!(digest(&["a:b", "c"]), digest(&["a", "b:c"]));
    assert_ne!(digest(&["a", ""]), digest(&["a"]));
}

type Pair = (Vec<String>, Vec<String>);

fn layout_round_trip(
    which: usize,
    parts: Vec<String>,
    tenant: String,
    prefix: &str,
) -> Result<(), TestCaseError> {
    let layouts = all_layouts();
    let layout = layouts
        .get(which)
        .ok_or_else(|| TestCaseError::fail("no layout"))?;
    let mut parts: Vec<String> = parts.into_iter().take(layout.parts).collect();
    if layout.tenant_tagged
        && let Some(first) = parts.first_mut()
    {
        *first = tenant;
    }
    let key = (layout.build)(prefix, &parts);
    prop_assert_eq!(parse(prefix, &key), vec![(layout.family, parts)], "{}", key);
    Ok(())
}

fn session_and_enrollment((a, b): Pair, u: (u128, u128)) -> Result<(), TestCaseError> {
    let token = |p: &Vec<String>| Some((p.clone(), sessions::token_key(PREFIX, &p[0])));
    check("sess:token", token(&a), token(&b))?;
    let hash = |p: &Vec<String>| TokenHash::parse(&format!("{:0>64}", p[0])).ok();
    let entry = |h: &Option<TokenHash>| {
        h.clone()
            .map(|h| (h.clone(), enrollment::entry_key(PREFIX, &h)))
    };
    let lock = |h: &Option<TokenHash>| {
        h.clone()
            .map(|h| (h.clone(), enrollment::lock_key(PREFIX, &h)))
    };
    let (ha, hb) = (hash(&a), hash(&b));
    check("enroll", entry(&ha), entry(&hb))?;
    check("enroll:lock", lock(&ha), lock(&hb))?;
    let sid = |n: u128| {
        let uuid = uuid::Builder::from_random_bytes(n.to_le_bytes()).into_uuid();
        SessionId::parse(&uuid.to_string()).ok()
    };
    let id = |s: Option<SessionId>| s.map(|s| (s.clone(), sessions::id_key(PREFIX, &s)));
    check("sess:id", id(sid(u.0)), id(sid(u.1)))
}

fn replay_markers((a, b): Pair) -> Result<(), TestCaseError> {
    let key = |p: &Vec<String>| {
        replay::marker_key(PREFIX, &p[0], &p[1])
            .ok()
            .map(|k| (p.clone(), k))
    };
    check("dpop:v2", key(&a), key(&b))
}

type Scope = Option<(Vec<String>, ForwarderScope)>;

fn forwarder_scopes((ia, ib): Pair, (a, b): Pair, (ga, gb): Pair) -> Result<(), TestCaseError> {
    let scope = |ids: &[String], group: String, key: &str| -> Scope {
        let parts = [&ids[0], &ids[1], &ids[2], &group, key];
        let normal = trimmed(&parts.map(|p| p.to_owned()));
        let scope = ForwarderScope::new(&ForwarderCall {
            tenant_id: parts[0],
            workload_id: parts[1],
            integration_id: parts[2],
            action_group: parts[3],
            idempotency_key: parts[4],
        })
        .ok()?;
        Some((normal, scope))
    };
    let sa = scope(&ia, format!("{}{}", ga[0], a[0]), &a[1]);
    let sb = scope(&ib, format!("{}{}", gb[0], b[0]), &b[1]);
    let with = |f: fn(&str, &ForwarderScope) -> String, s: &Scope| {
        s.as_ref().map(|(n, s)| (n.clone(), f(PREFIX, s)))
    };
    let idem = forwarder::idempotency_key;
    check("idem:v2", with(idem, &sa), with(idem, &sb))?;
    let lock = forwarder::lock_key;
    check("lock:v2", with(lock, &sa), with(lock, &sb))
}

fn policy_counters((a, b): Pair) -> Result<(), TestCaseError> {
    let key = |p: &Vec<String>| {
        policy::counter_key(PREFIX, &p[0])
            .ok()
            .map(|k| (p.clone(), k))
    };
    check("rl:v2", key(&a), key(&b))
}

fn templates((a, b): Pair, versions: (i64, i64)) -> Result<(), TestCaseError> {
    let key = |p: &Vec<String>, v: i64| {
        template::template_key(PREFIX, &p[0], &p[1], v)
            .ok()
            .map(|k| ((trimmed(p), v), k))
    };
    check("template:v2", key(&a, versions.0), key(&b, versions.1))
}

fn approvals((a, b): Pair, urls: (&str, &str)) -> Result<(), TestCaseError> {
    let key = |p: &Vec<String>, url: &str| {
        let d = CanonicalRequestDescriptor {
            tenant_id: p[0].clone(),
            workload_id: p[1].clone(),
            integration_id: p[2].clone(),
            template_id: "tpl_t".into(),
            template_version: 1,
            method: "GET".into(),
            canonical_url: url.into(),
            matched_path_group_id: "g".into(),
            normalized_headers: Vec::new(),
            query_keys: Vec::new(),
            query_fingerprint_base64: None,
            body_sha256_base64: None,
        };
        approval_once::approval_key(PREFIX, &d)
            .ok()
            .map(|k| ((trimmed(p), d.sha256()), k))
    };
    check("approval-once:v2", key(&a, urls.0), key(&b, urls.1))
}

fn routes((a, b): Pair, methods: (&str, &str), hosts: (&str, &str)) -> Result<(), TestCaseError> {
    let key = |p: &Vec<String>, method: &str, host: &str| {
        let r = RouteRateLimit {
            tenant_id: &p[0],
            workload_id: &p[1],
            integration_id: &p[2],
            action_group: &p[3],
            method,
            host,
            interval_seconds: 1,
            max_requests: 1,
        };
        let normal = (
            trimmed(p),
            HttpMethod::parse(method)
                .ok()
                .map(|m| m.as_str().to_owned()),
            PolicyHost::parse(host).ok().map(|h| h.as_str().to_owned()),
        );
        route::route_key(PREFIX, &r).ok().map(|k| (normal, k))
    };
    let (ka, kb) = (key(&a, methods.0, hosts.0), key(&b, methods.1, hosts.1));
    check("route-rl:v2", ka, kb)
}

fn rotation_locks((a, b): Pair) -> Result<(), TestCaseError> {
    let key = |p: &Vec<String>| {
        crypto::lock_key(PREFIX, &p[0])
            .ok()
            .map(|k| (trimmed(p), k))
    };
    check("rotation-lock:v2", key(&a), key(&b))
}

fn ssrf_hosts((a, b): Pair) -> Result<(), TestCaseError> {
    let with = |f: fn(&str, &str) -> Result<String, AdapterError>, p: &Vec<String>| {
        let key = f(PREFIX, &p[0]).ok()?;
        Some((normalize_host(&p[0]).ok(), key))
    };
    check("dns:v2", with(ssrf::dns_key, &a), with(ssrf::dns_key, &b))?;
    let history = ssrf::history_key;
    check("dns-history:v2", with(history, &a), with(history, &b))
}

fn audit_entries(
    (a, b): Pair,
    generations: (&str, &str),
    groups: (Option<&str>, Option<&str>),
) -> Result<(), TestCaseError> {
    let generation = |p: &Vec<String>| {
        audit::generation_key(PREFIX, &p[0])
            .ok()
            .map(|k| (trimmed(p), k))
    };
    check("audit-gen:v2", generation(&a), generation(&b))?;
    let query = |p: &Vec<String>, g: &str, group: Option<&str>| {
        let filter = AuditCacheFilter {
            action_group: group.map(String::from),
            ..Default::default()
        };
        let key = audit::query_key(PREFIX, &p[0], g, &filter).ok()?;
        // The scripts append `<generation>:<hash>` to the tenant prefix: it must be this key.
        let prefix = audit::tenant_prefix(PREFIX, &p[0]).ok()?;
        let appended = format!("{prefix}{g}:{}", filter.query_hash());
        Some((
            (trimmed(p), g.to_owned(), filter.query_hash()),
            (key, appended),
        ))
    };
    let (qa, qb) = (
        query(&a, generations.0, groups.0),
        query(&b, generations.1, groups.1),
    );
    for (_, (key, appended)) in qa.iter().chain(qb.iter()) {
        prop_assert_eq!(key, appended);
    }
    let keys = |q: Option<(_, (String, String))>| q.map(|(n, (k, _))| (n, k));
    check("audit-query:v2", keys(qa), keys(qb))
}

/// Business-id-shaped atoms, or the same with a separator or space mixed in.
const ID_ISH: &str = "[A-Za-z0-9._-]{0,3}|[:{}|é ]";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The encoding layer, for every layout of the crate and any parts at all.
    #[test]
    fn every_layout_decodes_back_to_its_parts(
        which in 0..16usize,
        parts in prop::collection::vec(hostile(), 6),
        tenant in hostile().prop_filter("a hash tag is never empty", |t| !t.is_empty()),
        prefix in "[a-z:{}]{0,6}",
    ) {
        layout_round_trip(which, parts, tenant, &prefix)?;
    }

    #[test]
    fn digests_are_injective(
        (a, b) in prop_oneof![pair(2, "|", hostile()), pair(2, ":", hostile())],
    ) {
        let (da, db) = (digest(&[&a[0], &a[1]]), digest(&[&b[0], &b[1]]));
        prop_assert_eq!(a == b, da == db);
    }

    #[test]
    fn session_and_enrollment_keys(
        hashes in pair(1, ":", "[0-9a-f]{1,3}"),
        uuids in any::<(u128, u128)>(),
    ) {
        session_and_enrollment(hashes, uuids)?;
    }

    #[test]
    fn replay_keys(pair in prop_oneof![pair(2, "|", hostile()), pair(2, ":", hostile())]) {
        replay_markers(pair)?;
    }

    /// Ids are equal, independent, or cut differently from one `.`-joined string; action group
    /// and idempotency key are cut differently from one `:`-joined string.
    #[test]
    fn forwarder_keys(
        ids in pair(3, ".", id()),
        parts in pair(2, ":", "[A-Za-z0-9._:-]{0,3}|[ {}|é]"),
        group_heads in pair(1, ":", hostile()),
    ) {
        forwarder_scopes(ids, parts, group_heads)?;
    }

    #[test]
    fn forwarder_keys_of_the_same_ids(parts in pair(2, ":", "[A-Za-z0-9._-]{0,3}")) {
        let ids: Vec<String> = vec!["acme".into(), "w1".into(), "int_1".into()];
        let ids = (ids.clone(), ids);
        let no_heads = (vec![String::new()], vec![String::new()]);
        forwarder_scopes(ids, parts, no_heads)?;
    }

    #[test]
    fn policy_rate_limit_keys(pair in pair(1, ":", hostile())) {
        policy_counters(pair)?;
    }

    #[test]
    fn template_keys(pair in pair(2, ":", ID_ISH), versions in (1..4i64, 1..4i64)) {
        templates(pair, versions)?;
    }

    #[test]
    fn approval_once_keys(
        pair in pair(3, ":", "[A-Za-z0-9._-]{0,3}|:"),
        urls in (
            select(vec!["https://a.example/x", "https://a.example/x:y"]),
            select(vec!["https://a.example/x", "https://b.example/"]),
        ),
    ) {
        approvals(pair, urls)?;
    }

    #[test]
    fn route_rate_limit_keys(
        pair in pair(4, ":", ID_ISH),
        methods in (select(vec!["GET", " post", "Post"]), select(vec!["GET", "POST"])),
        hosts in (
            select(vec!["a.example", "A.example:443", "b.example", "2001:db8::1"]),
            select(vec!["a.example", "b.example", "2001:DB8::1"]),
        ),
    ) {
        routes(pair, methods, hosts)?;
    }

    #[test]
    fn rotation_lock_keys(pair in pair(1, ":", "[A-Za-z0-9_-]{0,3}| ")) {
        rotation_locks(pair)?;
    }

    #[test]
    fn ssrf_keys(pair in pair(1, ":", "[0-9a-fA-F]{0,4}|[.]|[a-z]{1,3}")) {
        ssrf_hosts(pair)?;
    }

    #[test]
    fn audit_keys(
        pair in pair(1, ":", ID_ISH),
        generations in (
            select(vec!["00000000000000aa", "00000000000000ab"]),
            select(vec!["00000000000000aa"]),
        ),
        groups in (select(vec![None, Some("read")]), select(vec![None, Some("read:x")])),
    ) {
        audit_entries(pair, generations, groups)?;
    }
}

#[test]
fn every_adapter_rejects_ids_outside_the_id_set() {
    assert!(
        ForwarderScope::new(&ForwarderCall {
            tenant_id: "acme:w1",
            workload_id: "w",
            integration_id: "i",
            action_group: "g",
            idempotency_key: "k"
        })
        .is_err()
    );
    assert!(
        ForwarderScope::new(&ForwarderCall {
            tenant_id: "t",
            workload_id: "w/1",
            integration_id: "i",
            action_group: "g",
            idempotency_key: "k"
        })
        .is_err()
    );
    assert!(template::template_key(PREFIX, "t{x}", "tpl_a", 1).is_err());
    assert!(audit::generation_key(PREFIX, "t:1").is_err());
    let r = RouteRateLimit {
        tenant_id: "t",
        workload_id: "w 1",
        integration_id: "i",
        action_group: "g",
        method: "GET",
        host: "h.example",
        interval_seconds: 1,
        max_requests: 1,
    };
    assert!(route::route_key(PREFIX, &r).is_err());
}
