//! Quantities: `100m` of CPU, `128Mi` of memory.
//!
//! Mirrors apimachinery's `pkg/api/resource/quantity.go` (`ParseQuantity`, `Value`,
//! `MilliValue`). A quantity is a decimal number with an optional suffix: binary (`Ki` `Mi` `Gi`
//! `Ti` `Pi` `Ei`, powers of 1024), decimal SI (`n` `u` `m` `k` `M` `G` `T` `P` `E`), or an
//! exponent (`1e3`, `5E-3`). `250m` CPU is a quarter of a core; `1Gi` is 1,073,741,824 bytes.
//!
//! Skiff keeps a quantity exactly, in nano-units (an `i128`), and rounds up when asked for whole
//! or milli units, as Kubernetes does. Left out: the canonical re-formatting of `String()`.

use std::fmt;

/// Kubernetes' message for a malformed quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{FORMAT_ERROR}")]
pub struct QuantityError;

/// An exact quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Quantity {
    nanos: i128,
}

const NANO: i128 = 1_000_000_000;

fn pow(base: i128, exp: u32) -> i128 {
    base.pow(exp)
}

impl Quantity {
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let text = text.trim_end();
        let split = text.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-'))).unwrap_or(text.len());
        // A trailing sign belongs to an exponent (`1e-3`), which starts with a letter.
        let (number, suffix) = text.split_at(split);
        let (negative, digits) = match number.as_bytes().first() {
            Some(b'-') => (true, &number[1..]),
            Some(b'+') => (false, &number[1..]),
            _ => (false, number),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let valid_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !valid_digits(whole) || !valid_digits(fraction) {
            return Err(QuantityError);
        }
        // The number as an integer mantissa and a count of decimal places.
        // (Zero if it does not fit, as it always was.)
        let mantissa: i128 = whole
            .bytes()
            .chain(fraction.bytes())
            .try_fold(0i128, |n, digit| n.checked_mul(10)?.checked_add(i128::from(digit - b'0')))
            .unwrap_or(0);
        let places = fraction.len() as i32;

        // (binary multiplier, decimal exponent) of the suffix.
        let (binary, exponent): (i128, i32) = match suffix {
            "" => (1, 0),
            "Ki" => (pow(1024, 1), 0),
            "Mi" => (pow(1024, 2), 0),
            "Gi" => (pow(1024, 3), 0),
            "Ti" => (pow(1024, 4), 0),
            "Pi" => (pow(1024, 5), 0),
            "Ei" => (pow(1024, 6), 0),
            "n" => (1, -9),
            "u" => (1, -6),
            "m" => (1, -3),
            "k" => (1, 3),
            "M" => (1, 6),
            "G" => (1, 9),
            "T" => (1, 12),
            "P" => (1, 15),
            "E" => (1, 18),
            other => {
                let exp = other.strip_prefix(['e', 'E']).ok_or(QuantityError)?;
                let exp: i32 = exp.parse().map_err(|_| QuantityError)?;
                if !(-30..=30).contains(&exp) {
                    return Err(QuantityError);
                }
                (1, exp)
            }
        };
        // nanos = mantissa × 10^(exponent − places + 9) × binary, rounded up if fractional.
        let scale = exponent - places + 9;
        let value = mantissa.checked_mul(binary).ok_or(QuantityError)?;
        let nanos = if scale >= 0 {
            value.checked_mul(pow(10, scale as u32)).ok_or(QuantityError)?
        } else {
            let divisor = pow(10, (-scale) as u32);
            (value + divisor - 1) / divisor
        };
        Ok(Quantity { nanos: if negative { -nanos } else { nanos } })
    }

    pub fn from_milli(milli: i64) -> Quantity {
        Quantity { nanos: milli as i128 * 1_000_000 }
    }

    /// Whole units, rounded up (`Value()`): bytes of memory, counts.
    pub fn value(&self) -> i64 {
        ceil_div(self.nanos, NANO) as i64
    }

    /// Thousandths, rounded up (`MilliValue()`): millicores of CPU.
    pub fn milli_value(&self) -> i64 {
        ceil_div(self.nanos, 1_000_000) as i64
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b > 0 {
        q + 1
    } else {
        q
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, other: Quantity) -> Quantity {
        Quantity { nanos: self.nanos + other.nanos }
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), |a, b| a + b)
    }
}

impl fmt::Display for Quantity {
    /// A plain decimal form (`0.25`, `134217728`); not Kubernetes' canonical suffix form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.abs();
        let (whole, fraction) = (abs / NANO, abs % NANO);
        if fraction == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{fraction:09}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_like_kubernetes() {
        let cases: [(&str, i64, i64); 14] = [
            ("100m", 1, 100),
            ("250m", 1, 250),
            ("1", 1, 1000),
            ("0.5", 1, 500),
            ("2", 2, 2000),
            ("1Ki", 1024, 1_024_000),
            ("128Mi", 134_217_728, 134_217_728_000),
            ("1.5Gi", 1_610_612_736, 1_610_612_736_000),
            ("1G", 1_000_000_000, 1_000_000_000_000),
            ("1e3", 1000, 1_000_000),
            ("5E-3", 1, 5),
            ("5n", 1, 1),
            ("+3k", 3000, 3_000_000),
            ("-1", -1, -1000),
        ];
        for (text, value, milli) in cases {
            let q = Quantity::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((q.value(), q.milli_value()), (value, milli), "{text}");
        }
    }

    #[test]
    fn malformed_quantities_are_refused_with_kubernetes_message() {
        for bad in ["", "abc", "1.2.3", "1Ki5", "1 Gi", "1KB", "Mi", ".", "1e", "1e99", "--1"] {
            let err = Quantity::parse(bad).expect_err(bad);
            assert!(err.to_string().starts_with("quantities must match the regular expression"), "{bad}");
        }
    }

    #[test]
    fn quantities_compare_add_and_print_by_value() {
        let a = Quantity::parse("500m").unwrap();
        let b = Quantity::parse("0.5").unwrap();
        assert_eq!(a, b);
        assert!(Quantity::parse("1Gi").unwrap() > Quantity::parse("1G").unwrap());
        let total: Quantity = ["100m", "250m", "1"].iter().map(|t| Quantity::parse(t).unwrap()).sum();
        assert_eq!(total.milli_value(), 1350);
        assert_eq!(total.to_string(), "1.35");
        assert_eq!(Quantity::from_milli(2000).to_string(), "2");
    }
}
