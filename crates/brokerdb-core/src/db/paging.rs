//! Paging: offset pages with the list envelope, sort allowlists, signed keyset cursors, and
//! LIKE patterns built from search text.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::scalar::Timestamp;
use crate::scalar::ValidationError;

/// A keyset list's page size: 1..=200, 100 when not given (`validation_error` on `limit`
/// otherwise). Shared by every keyset list, in this crate and in other domains'.
pub fn checked_limit(limit: Option<i64>) -> Result<i64, ValidationError> {
    let limit = limit.unwrap_or(100);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ValidationError::new(
            "limit",
            "must be an integer from 1 to 200",
        ))
    }
}

/// The `(timestamp, id)` position of a decoded `[timestamp, id]` cursor (none: the first page);
/// a timestamp that does not parse is a `validation_error` on `cursor`.
pub fn timestamp_cursor(
    values: Option<[String; 2]>,
) -> Result<(Option<Timestamp>, Option<String>), ValidationError> {
    match values {
        None => Ok((None, None)),
        Some([at, id]) => Ok((
            Some(Timestamp::parse(&at).map_err(|e| e.with_field("cursor"))?),
            Some(id),
        )),
    }
}

/// Largest page size any list accepts.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A validated offset page request: `page ≥ 1`, `1 ≤ page_size ≤ 100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
}

impl PageRequest {
    /// Checks the bounds.
    pub fn new(page: i64, page_size: i64) -> Result<Self, ValidationError> {
        let page = u32::try_from(page)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ValidationError::new("page", "must be an integer ≥ 1"))?;
        let page_size = u32::try_from(page_size)
            .ok()
            .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
            .ok_or_else(|| ValidationError::new("pageSize", "must be an integer from 1 to 100"))?;
        Ok(Self { page, page_size })
    }

    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// Rows per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// SQL `LIMIT`.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }

    /// SQL `OFFSET`.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }
}

impl Default for PageRequest {
    /// Page 1 of 50 rows (the maximum page size is [`MAX_PAGE_SIZE`], 100).
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The list envelope `{items, page, pageSize, total, totalPages}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: u32,
    /// Requested page size.
    pub page_size: u32,
    /// Rows matching the filters, over all pages: exact, unless `total_is_estimate`.
    pub total: u64,
    /// `ceil(total / page_size)`; 0 when there is nothing.
    pub total_pages: u64,
    /// True when more rows match than the exact-count limit
    /// ([`super::DbSettings::exact_total_limit`], 1,000 by default): `total` is then the
    /// planner's estimate (never below the limit + 1). Serialized only when true, so the envelope
    /// of an exact total is unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub total_is_estimate: bool,
}

impl<T> Page<T> {
    /// Builds the envelope for `items` of `request` out of `total` rows.
    pub fn new(items: Vec<T>, request: PageRequest, total: u64) -> Self {
        let size = u64::from(request.page_size);
        Self {
            items,
            page: request.page,
            page_size: request.page_size,
            total,
            total_pages: total.div_ceil(size),
            total_is_estimate: false,
        }
    }

    /// The envelope with an estimated `total` (see [`Page::total_is_estimate`]).
    pub fn estimated(items: Vec<T>, request: PageRequest, total: u64) -> Self {
        Self {
            total_is_estimate: true,
            ..Self::new(items, request, total)
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    #[default]
    Desc,
}

impl Direction {
    /// `asc` or `desc` (case-insensitive); anything else is a validation error.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "asc" => Ok(Self::Asc),
            "desc" => Ok(Self::Desc),
            _ => Err(ValidationError::new(
                "sort_direction",
                "must be asc or desc",
            )),
        }
    }

    /// `asc` / `desc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// A sortable field of one list: an enum whose variants are the allowlist. SQL for each
/// (field, direction) is a fixed text chosen by the repository, never interpolated.
pub trait SortField: Copy + Eq + 'static {
    /// Every allowed field.
    const ALL: &'static [Self];
    /// The field's public name.
    fn name(self) -> &'static str;

    /// The field named `text`, or a validation error naming the allowed ones.
    fn parse(text: &str) -> Result<Self, ValidationError> {
        let wanted = text.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| ValidationError::new("sort", "is not a sortable field"))
    }
}

/// A validated sort: an allowlisted field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<F> {
    /// Field.
    pub field: F,
    /// Direction.
    pub direction: Direction,
}

impl<F: SortField> Sort<F> {
    /// Parses both parts against the allowlist.
    pub fn parse(field: &str, direction: &str) -> Result<Self, ValidationError> {
        Ok(Self {
            field: F::parse(field)?,
            direction: Direction::parse(direction)?,
        })
    }

    /// `field:direction`, what a cursor is bound to.
    pub fn tag(&self) -> String {
        format!("{}:{}", self.field.name(), self.direction.as_str())
    }
}

/// The secret that signs keyset cursors (HMAC-SHA256). Give every instance of a deployment the
/// same key; a new key invalidates outstanding cursors (they fail as `validation_error`).
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A random key: cursors then live as long as this process.
    pub fn random() -> Self {
        Self(rand::random())
    }

    fn mac(&self, tenant: &str, sort_tag: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_key());
        for part in [
            b"brokerdb-cursor-v1".as_slice(),
            tenant.as_bytes(),
            sort_tag.as_bytes(),
            payload,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// An opaque cursor carrying `values` (the last row's sort key), bound to `tenant` and the
    /// sort.
    pub fn encode(&self, tenant: &str, sort_tag: &str, values: &[String]) -> String {
        let payload = serde_json::to_vec(values).unwrap_or_default();
        let tag = self.mac(tenant, sort_tag, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The values of a cursor made by [`CursorKey::encode`] for the same tenant and sort;
    /// a malformed, tampered, foreign-tenant or other-sort cursor is a validation error.
    pub fn decode(
        &self,
        tenant: &str,
        sort_tag: &str,
        cursor: &str,
    ) -> Result<Vec<String>, ValidationError> {
        let invalid = || ValidationError::new("cursor", "is not a valid cursor for this list");
        let (payload, tag) = cursor.trim().split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        self.mac(tenant, sort_tag, &payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

/// One keyset page: items and the opaque cursor of the next page (absent on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeysetPage<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// Pass back for the next page; signed and bound to the tenant and the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> KeysetPage<T> {
    /// Builds the page from `items` fetched with `LIMIT limit + 1`: a cursor is made from the
    /// last kept item's sort key only when the extra row showed that more exist.
    pub fn from_rows(
        key: &CursorKey,
        tenant: &str,
        sort_tag: &str,
        mut items: Vec<T>,
        limit: i64,
        sort_key: impl Fn(&T) -> Vec<String>,
    ) -> Self {
        let more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = match items.last() {
            Some(last) if more => Some(key.encode(tenant, sort_tag, &sort_key(last))),
            _ => None,
        };
        Self { items, next_cursor }
    }
}

/// Decodes an optional cursor that must carry exactly `N` values.
pub fn decode_cursor<const N: usize>(
    key: &CursorKey,
    tenant: &str,
    sort_tag: &str,
    cursor: Option<&str>,
) -> Result<Option<[String; N]>, ValidationError> {
    cursor
        .map(|c| {
            key.decode(tenant, sort_tag, c)?
                .try_into()
                .map_err(|_| ValidationError::new("cursor", "is not a valid cursor for this list"))
        })
        .transpose()
}

fn unreachable_key() -> Hmac<Sha256> {
    // HMAC accepts keys of any length; a 32-byte key cannot be rejected.
    unreachable!("HMAC-SHA256 accepts any key length")
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// A `LIKE`/`ILIKE` pattern matching `text` anywhere, with `\`, `%` and `_` escaped (PostgreSQL's
/// default escape character is `\`). Bind it as a parameter.
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum UserSort {
        CreatedAt,
        Email,
    }

    impl SortField for UserSort {
        const ALL: &'static [Self] = &[Self::CreatedAt, Self::Email];
        fn name(self) -> &'static str {
            match self {
                Self::CreatedAt => "created_at",
                Self::Email => "email",
            }
        }
    }

    #[test]
    fn page_bounds_are_enforced() {
        assert!(PageRequest::new(1, 1).is_ok());
        assert!(PageRequest::new(7, 100).is_ok());
        for (page, size) in [(0, 10), (-1, 10), (1, 0), (1, 101), (1, -5), (i64::MAX, 10)] {
            assert!(
                PageRequest::new(page, size).is_err(),
                "page {page} size {size}"
            );
        }
        let req = PageRequest::new(3, 20).map_err(|e| e.to_string());
        assert_eq!(req.map(|r| (r.offset(), r.limit())), Ok((40, 20)));
    }

    #[test]
    fn envelope_math_is_right_at_the_edges() {
        let req = |p, s| PageRequest::new(p, s).map_err(|e| e.to_string());
        let page = |items: usize, r: PageRequest, total| Page::new(vec![(); items], r, total);
        let r = req(1, 10)
            .map(|r| page(0, r, 0))
            .map(|p| (p.total, p.total_pages));
        assert_eq!(r, Ok((0, 0)));
        assert_eq!(req(1, 10).map(|r| page(10, r, 10).total_pages), Ok(1));
        assert_eq!(req(2, 10).map(|r| page(1, r, 11).total_pages), Ok(2));
        assert_eq!(req(9, 10).map(|r| page(0, r, 11).total_pages), Ok(2));
    }

    #[test]
    fn sorts_outside_the_allowlist_are_rejected() {
        assert_eq!(
            Sort::<UserSort>::parse("email", "ASC")
                .map(|s| s.tag())
                .map_err(|e| e.to_string()),
            Ok("email:asc".to_owned())
        );
        assert!(Sort::<UserSort>::parse("password_hash", "asc").is_err());
        assert!(Sort::<UserSort>::parse("email; DROP TABLE x", "asc").is_err());
        assert!(Sort::<UserSort>::parse("email", "sideways").is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_tampering_and_reuse() {
        let key = CursorKey::random();
        let values = vec!["2026-02-13T00:00:00.000Z".to_owned(), "u_1".to_owned()];
        let c = key.encode("t_a", "created_at:desc", &values);
        assert_eq!(
            key.decode("t_a", "created_at:desc", &c)
                .map_err(|e| e.to_string()),
            Ok(values)
        );
        assert!(
            key.decode("t_b", "created_at:desc", &c).is_err(),
            "another tenant"
        );
        assert!(key.decode("t_a", "email:asc", &c).is_err(), "another sort");
        assert!(
            CursorKey::random()
                .decode("t_a", "created_at:desc", &c)
                .is_err(),
            "another key"
        );
        let mut tampered = c.clone().into_bytes();
        tampered[2] ^= 1;
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert!(key.decode("t_a", "created_at:desc", &tampered).is_err());
        for junk in ["", ".", "abc", "abc.def", "!!!.???"] {
            assert!(
                key.decode("t_a", "created_at:desc", junk).is_err(),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
