//! Kubernetes' CEL quantity library (`quantity('2Gi')`, `isQuantity`,
//! `compareTo`, `isGreaterThan`, `isLessThan`, `asApproximateFloat`), which
//! the API server adds to every admission policy's environment: a policy
//! that limits memory or ephemeral storage compares quantities with it.
//!
//! A quantity is held exactly, in nano-units, so `quantity('1Gi')` and
//! `quantity('1073741824')` compare equal as they do in Kubernetes.

use std::sync::Arc;

use cel::extractors::This;
use cel::objects::Opaque;
use cel::{Context, ExecutionError, ResolveResult, Value};

/// A resource quantity, in nano-units (`1` is 1e9, `250m` is 2.5e8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

impl Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Parses Kubernetes' quantity syntax: a signed decimal number, then a
    /// binary (`Ki`…`Ei`) or decimal (`n`, `u`, `m`, `k`, `M`…`E`) suffix or
    /// an exponent (`e3`). `None` when the text is not a quantity.
    pub fn parse(text: &str) -> Option<Quantity> {
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.strip_prefix('+').unwrap_or(text)),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
        // value = digits × 10^-len(fraction) × multiplier, in nano-units.
        let (numerator, denominator) = suffix_scale(suffix)?;
        let scaled = digits.checked_mul(numerator)?.checked_mul(NANO)?;
        let divisor = denominator.checked_mul(10_i128.checked_pow(fraction.len() as u32)?)?;
        Some(Quantity(sign * scaled / divisor))
    }

    pub fn as_approximate_float(self) -> f64 {
        self.0 as f64 / NANO as f64
    }
}

/// A suffix's value as a fraction `numerator / denominator`.
fn suffix_scale(suffix: &str) -> Option<(i128, i128)> {
    let binary = |power: u32| Some((1_i128 << power, 1));
    let decimal = |exponent: i32| {
        if exponent >= 0 {
            Some((10_i128.pow(exponent as u32), 1))
        } else {
            Some((1, 10_i128.pow(exponent.unsigned_abs())))
        }
    };
    match suffix {
        "" => decimal(0),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        exponent => {
            let digits = exponent
                .strip_prefix('e')
                .or_else(|| exponent.strip_prefix('E'))?;
            let power: i32 = digits.parse().ok()?;
            if power.unsigned_abs() > 18 {
                return None;
            }
            decimal(power)
        }
    }
}

fn quantity_of(value: &Value, function: &str) -> Result<Quantity, ExecutionError> {
    match value {
        Value::Opaque(opaque) => opaque.downcast_ref::<Quantity>().copied(),
        _ => None,
    }
    .ok_or_else(|| ExecutionError::function_error(function, format!("{value:?} is not a quantity")))
}

fn quantity(text: Arc<String>) -> ResolveResult {
    Quantity::parse(&text)
        .map(|q| Value::Opaque(Arc::new(q)))
        .ok_or_else(|| {
            ExecutionError::function_error(
                "quantity",
                format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text}"),
            )
        })
}

fn compare_to(This(this): This<Value>, other: Value) -> Result<i64, ExecutionError> {
    let (a, b) = (
        quantity_of(&this, "compareTo")?,
        quantity_of(&other, "compareTo")?,
    );
    Ok(a.cmp(&b) as i64)
}

/// Adds the library's functions to a context.
pub fn register(context: &mut Context) -> Result<(), cel::DeclarationError> {
    context.add_function("quantity", quantity)?;
    context.add_function("isQuantity", |text: Arc<String>| {
        Quantity::parse(&text).is_some()
    })?;
    context.add_function("compareTo", compare_to)?;
    context.add_function(
        "isGreaterThan",
        |This(this): This<Value>, other: Value| -> Result<bool, ExecutionError> {
            Ok(quantity_of(&this, "isGreaterThan")? > quantity_of(&other, "isGreaterThan")?)
        },
    )?;
    context.add_function(
        "isLessThan",
        |This(this): This<Value>, other: Value| -> Result<bool, ExecutionError> {
            Ok(quantity_of(&this, "isLessThan")? < quantity_of(&other, "isLessThan")?)
        },
    )?;
    context.add_function(
        "asApproximateFloat",
        |This(this): This<Value>| -> Result<f64, ExecutionError> {
            Ok(quantity_of(&this, "asApproximateFloat")?.as_approximate_float())
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Quantity;

    #[test]
    fn parses_every_suffix_kubernetes_accepts() {
        let gi = Quantity::parse("1Gi").unwrap();
        assert_eq!(Quantity::parse("1073741824"), Some(gi));
        assert_eq!(Quantity::parse("1024Mi"), Some(gi));
        assert_eq!(Quantity::parse("0.5Gi"), Quantity::parse("512Mi"));
        assert_eq!(Quantity::parse("250m"), Quantity::parse("0.25"));
        assert_eq!(Quantity::parse("1k"), Quantity::parse("1e3"));
        assert_eq!(Quantity::parse("2G"), Quantity::parse("2000M"));
        assert!(Quantity::parse("1G") < Quantity::parse("1Gi"));
        assert!(Quantity::parse("-1") < Quantity::parse("0"));
        for bad in ["", "Gi", "1gb", "64gb", "1.2.3", "one", "1 Gi"] {
            assert_eq!(Quantity::parse(bad), None, "{bad}");
        }
    }
}
