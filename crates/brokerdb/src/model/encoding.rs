//! Encoded values: base64 payloads and envelope bounds, token hashes, DPoP thumbprints, e-mail
//! addresses and the UUID rule. Each rule is spelled out on its type or function.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::scalar::ValidationError;
use crate::scalar::trimmed_non_empty;

/// The UUID rule: 8-4-4-4-12 hex digits (any case), version nibble 1–8 and variant nibble
/// 8/9/a/b — or the nil UUID.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    shape
        && (s == "00000000-0000-0000-0000-000000000000"
            || (matches!(b[14], b'1'..=b'8')
                && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')))
}

/// Canonical, padded, standard-alphabet base64 text (trimmed) that decodes to at least one byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Base64Payload {
    text: String,
    decoded_len: usize,
}

impl Base64Payload {
    /// The base64 rule: trim; non-empty; length a multiple of 4; `[A-Za-z0-9+/]` then at most two
    /// `=`; decoding and re-encoding must give the same text (so `QR==` is rejected).
    pub fn parse(
        field: impl Into<std::borrow::Cow<'static, str>>,
        s: &str,
    ) -> Result<Self, ValidationError> {
        let field = field.into();
        let text = trimmed_non_empty(field.clone(), s)?;
        let body = text.trim_end_matches('=');
        let well_formed = text.len() % 4 == 0
            && text.len() - body.len() <= 2
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        let decoded = well_formed.then(|| STANDARD.decode(text).ok()).flatten();
        match decoded {
            Some(bytes) if STANDARD.encode(&bytes) == text => Ok(Self {
                text: text.to_owned(),
                decoded_len: bytes.len(),
            }),
            _ => Err(ValidationError::new(field, "invalid base64 payload")),
        }
    }

    /// Like [`Self::parse`], and the decoded size must be within `1..=max_bytes`.
    pub fn parse_bounded(
        field: &'static str,
        s: &str,
        max_bytes: usize,
    ) -> Result<Self, ValidationError> {
        let payload = Self::parse(field, s)?;
        match (1..=max_bytes).contains(&payload.decoded_len) {
            true => Ok(payload),
            false => Err(ValidationError::new(
                field,
                format!("decoded size must be 1..{max_bytes} bytes"),
            )),
        }
    }

    /// The base64 text as stored.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The base64 text, owned.
    pub fn into_inner(self) -> String {
        self.text
    }

    /// How many bytes the text decodes to.
    pub fn decoded_len(&self) -> usize {
        self.decoded_len
    }

    /// The decoded bytes.
    pub fn decode(&self) -> Vec<u8> {
        // Cannot fail: `parse` decoded this exact text.
        STANDARD.decode(&self.text).unwrap_or_default()
    }
}

brokerdb_core::impl_text_newtype!(Base64Payload, |s| Base64Payload::parse("value", s));

/// Upper bound of the decoded `wrapped_data_key_b64` of a secret envelope.
pub const MAX_WRAPPED_DATA_KEY_BYTES: usize = 16_384;
/// Upper bound of the decoded `aad_b64` of a secret envelope.
pub const MAX_AAD_BYTES: usize = 16_384;
/// Upper bound of the decoded `ciphertext_b64` of a secret envelope.
pub const MAX_CIPHERTEXT_BYTES: usize = 1_048_576;

/// An envelope's `wrapped_data_key_b64`: base64 of 1..16 384 bytes.
pub fn wrapped_data_key_b64(s: &str) -> Result<Base64Payload, ValidationError> {
    Base64Payload::parse_bounded("wrapped_data_key_b64", s, MAX_WRAPPED_DATA_KEY_BYTES)
}

/// An envelope's `aad_b64` (when present): base64 of 1..16 384 bytes.
pub fn aad_b64(s: &str) -> Result<Base64Payload, ValidationError> {
    Base64Payload::parse_bounded("aad_b64", s, MAX_AAD_BYTES)
}

/// An envelope's `ciphertext_b64`: base64 of 1..1 048 576 bytes.
pub fn ciphertext_b64(s: &str) -> Result<Base64Payload, ValidationError> {
    Base64Payload::parse_bounded("ciphertext_b64", s, MAX_CIPHERTEXT_BYTES)
}

/// Declares a string newtype whose whole value must satisfy `$ok` (no trimming). `redacted`
/// values never show in `Debug` (they identify a credential).
macro_rules! exact_text {
    ($doc:literal $name:ident($field:literal, $message:literal, $ok:expr)) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);
        exact_text!(@impl $name($field, $message, $ok));
    };
    (redacted $doc:literal $name:ident($field:literal, $message:literal, $ok:expr)) => {
        #[doc = $doc]
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
        exact_text!(@impl $name($field, $message, $ok));
    };
    (@impl $name:ident($field:literal, $message:literal, $ok:expr)) => {

        impl $name {
            /// Validates `s` exactly as given.
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                let ok: fn(&str) -> bool = $ok;
                match ok(s) {
                    true => Ok(Self(s.to_owned())),
                    false => Err(ValidationError::new($field, $message)),
                }
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        brokerdb_core::impl_text_newtype!($name, $name::parse);
    };
}

exact_text!(redacted "A token hash: 64 lower-case hex digits; `Debug` shows `TokenHash(<redacted>)`." TokenHash("token_hash", "must be 64 lower-case hex digits",
    |s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))));

exact_text!("A DPoP key thumbprint: 43 chars of `[A-Za-z0-9_-]`." DpopThumbprint("dpop_key_thumbprint",
    "must be 43 characters of [A-Za-z0-9_-]",
    |s| s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')));

exact_text!("An e-mail address (a pragmatic rule, see `is_email`), kept as given." Email("email", "must be an email address", is_email));

impl Email {
    /// The same address lower-cased, as admin identities store it.
    #[must_use]
    pub fn to_lowercase(&self) -> Self {
        Self(self.0.to_ascii_lowercase())
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_'+.-".contains(&b))
        && !local.starts_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let (last, rest) = labels.split_last().unwrap_or((&"", &[]));
    let label_ok = |l: &&str| {
        l.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    local_ok
        && !rest.is_empty()
        && rest.iter().all(label_ok)
        && last.len() >= 2
        && last.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uuid_rule_checks_shape_version_and_variant() {
        assert!(is_uuid("9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c"));
        assert!(is_uuid("9F1C2A4E-8B3D-8C5E-BA7B-1D2E3F4A5B6C"));
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        for bad in [
            "9f1c2a4e-8b3d-0c5e-9a7b-1d2e3f4a5b6c", // version 0
            "9f1c2a4e-8b3d-9c5e-9a7b-1d2e3f4a5b6c", // version 9
            "9f1c2a4e-8b3d-4c5e-7a7b-1d2e3f4a5b6c", // variant 7
            "9f1c2a4e8b3d4c5e9a7b1d2e3f4a5b6c",
            "{9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c}",
            "9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6g",
            " 9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c",
            "",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn base64_accepts_canonical_padded_text() -> Result<(), ValidationError> {
        let p = Base64Payload::parse("iv_b64", " aGVsbG8= \n")?;
        assert_eq!(
            (p.as_str(), p.decoded_len(), p.decode()),
            ("aGVsbG8=", 5, b"hello".to_vec())
        );
        assert_eq!(Base64Payload::parse("iv_b64", "QQ==")?.decode(), b"A");
        assert_eq!(Base64Payload::parse("iv_b64", "+/+/")?.decoded_len(), 3);
        Ok(())
    }

    #[test]
    fn base64_rejects_non_canonical_or_malformed_text() {
        for bad in [
            "QR==",
            "QUI=x",
            "aGVsbG8",
            "a===",
            "ab=c",
            "-_-_",
            "QUJD\nREVG",
            "====",
            "",
            "  ",
        ] {
            let err = Base64Payload::parse("ciphertext_b64", bad).err();
            assert_eq!(
                err.map(|e| e.field),
                Some("ciphertext_b64".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            Base64Payload::parse("x", "QR==").err().map(|e| e.message),
            Some("invalid base64 payload".into())
        );
    }

    #[test]
    fn envelope_bounds_limit_the_decoded_size() {
        let b64 = |n: usize| STANDARD.encode(vec![7u8; n]);
        assert!(wrapped_data_key_b64(&b64(16_384)).is_ok());
        assert!(wrapped_data_key_b64(&b64(16_385)).is_err());
        assert!(aad_b64(&b64(1)).is_ok());
        assert!(aad_b64(&b64(16_385)).is_err());
        assert!(ciphertext_b64(&b64(1_048_576)).is_ok());
        assert_eq!(
            ciphertext_b64(&b64(1_048_577)).err().map(|e| e.field),
            Some("ciphertext_b64".into())
        );
        assert!(ciphertext_b64("").is_err());
    }

    #[test]
    fn token_hash_is_64_lower_hex() {
        assert!(TokenHash::parse(&"ab12".repeat(16)).is_ok());
        let hash = TokenHash::parse(&"ab12".repeat(16)).map(|h| format!("{h:?}"));
        assert_eq!(
            hash.as_deref(),
            Ok("TokenHash(<redacted>)"),
            "Debug never shows a hash"
        );
        assert!(TokenHash::parse(&"AB12".repeat(16)).is_err());
        assert!(TokenHash::parse(&"ab1".repeat(21)).is_err());
        assert!(TokenHash::parse(&format!(" {}", "a".repeat(63))).is_err());
        assert!(TokenHash::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn dpop_thumbprint_is_43_base64url_chars() {
        let ok = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        assert!(DpopThumbprint::parse(ok).is_ok());
        assert!(DpopThumbprint::parse(&ok[1..]).is_err());
        assert!(DpopThumbprint::parse(&format!("{ok}A")).is_err());
        assert!(DpopThumbprint::parse(&ok.replace('-', "+")).is_err());
    }

    #[test]
    fn email_follows_the_pragmatic_rule() {
        for ok in [
            "a@b.co",
            "O'Neil+tag@Mail.Example.COM",
            "x_-@a-1.b2.de",
            "a.b@1x.io",
            "-@a-.bc",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            ".a@b.co",
            "a..b@b.co",
            "a.@b.co",
            "a'@b.co",
            "@b.co",
            "a@b",
            "a@b.c",
            "a@b.c0",
            "a@-b.co",
            "a@b..co",
            "a@b.co.",
            "a b@b.co",
            "a@b@c.co",
            "ä@b.co",
            " a@b.co",
            "a@.b.co",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_keeps_case_and_lower_cases_on_request() -> Result<(), ValidationError> {
        let e = Email::parse("Ann@Example.COM")?;
        assert_eq!(
            (e.as_str(), e.to_lowercase().as_str()),
            ("Ann@Example.COM", "ann@example.com")
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn encoded_bytes_always_parse_back(bytes in prop::collection::vec(any::<u8>(), 1..64)) {
            let text = STANDARD.encode(&bytes);
            let p = Base64Payload::parse("x", &text);
            prop_assert_eq!(p.as_ref().map(Base64Payload::decode).ok(), Some(bytes.clone()));
            prop_assert_eq!(p.map(|p| p.decoded_len()).ok(), Some(bytes.len()));
        }
    }
}
