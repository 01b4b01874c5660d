//! JSON number rules shared by the contracts that read integers.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A JSON integer that fits `i32`; `1.0` counts (JavaScript has one number type, so the
/// reference accepts it), `1.5` does not. Use with `#[serde(deserialize_with = …)]`.
pub(crate) fn json_integer<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let whole = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => Some(i),
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        _ => None,
    };
    whole
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| D::Error::custom("must be an integer"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct N(#[serde(deserialize_with = "super::json_integer")] i32);

    #[test]
    fn whole_floats_count_as_integers() {
        let n = |s: &str| serde_json::from_str::<N>(s).ok().map(|n| n.0);
        assert_eq!(n("7"), Some(7));
        assert_eq!(n("7.0"), Some(7));
        assert_eq!(n("-2"), Some(-2));
        assert_eq!(n("7.5"), None);
        assert_eq!(n("3000000000"), None);
        assert_eq!(n("\"7\""), None);
    }
}
