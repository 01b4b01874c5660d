//! The key rules every Redis adapter shares: the percent-encoding of caller-supplied key parts,
//! the key-prefix rule, and the injectable clock.
//!
//! Every caller-supplied part is **percent-encoded**: bytes of `[A-Za-z0-9._-]` (the business-id
//! set) pass through, every other byte of its UTF-8 becomes `%XX` (upper-case hex). An encoded
//! part is therefore made of `[A-Za-z0-9._%-]` only — never `:`, `{`, `}`, whitespace or a glob
//! metacharacter — and decoding it gives back the exact part, so keys joined from encoded parts
//! with `:` never collide.

use std::sync::Arc;

use crate::scalar::{Timestamp, trim};

/// Bytes written as themselves: the business-id set `[A-Za-z0-9._-]`.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// `part` percent-encoded (module docs): the one encoding of every caller-supplied key part.
pub fn encode_key_part(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    push_encoded_key_part(&mut out, part);
    out
}

/// Appends `part` percent-encoded (module docs) to `out`.
pub fn push_encoded_key_part(out: &mut String, part: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in part.as_bytes() {
        if is_plain(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// The adapters' notion of "now" (injectable, for tests); defaults to the wall clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// The key-prefix rule of every adapter: trim; empty (or absent) → `default`; append `:` unless
/// present.
pub fn normalize_prefix(given: Option<&str>, default: &str) -> String {
    let trimmed = given.map(trim).unwrap_or_default();
    let base = if trimmed.is_empty() { default } else { trimmed };
    if base.is_empty() || base.ends_with(':') {
        base.to_owned()
    } else {
        format!("{base}:")
    }
}

#[cfg(test)]
mod tests {
    use super::{encode_key_part, normalize_prefix};

    #[test]
    fn parts_are_percent_encoded_outside_the_business_id_set() {
        assert_eq!(encode_key_part("t_1.a-b"), "t_1.a-b");
        assert_eq!(encode_key_part("a:b{c} é"), "a%3Ab%7Bc%7D%20%C3%A9");
    }

    #[test]
    fn prefixes_end_with_one_colon() {
        assert_eq!(normalize_prefix(None, "broker"), "broker:");
        assert_eq!(normalize_prefix(Some("  "), "broker:"), "broker:");
        assert_eq!(normalize_prefix(Some(" app "), "broker"), "app:");
    }
}
