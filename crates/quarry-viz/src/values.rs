//! Reading the engine's Arrow answers as numbers and labels.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;

use crate::ChartError;

/// Column `name` of every batch as `f64`s (nulls as `None`).
pub(crate) fn numbers(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>, ChartError> {
    let mut out = Vec::new();
    for batch in batches {
        let array =
            cast(column(batch, name)?, &DataType::Float64).map_err(|e| unexpected(name, e))?;
        out.extend(array.as_primitive::<Float64Type>().iter());
    }
    Ok(out)
}

/// Column `name` of every batch as text (times in ISO 8601 without a zone
/// suffix, so Vega reads them as the wall-clock times the query showed).
pub(crate) fn texts(
    batches: &[RecordBatch],
    name: &str,
) -> Result<Vec<Option<String>>, ChartError> {
    let mut out = Vec::new();
    for batch in batches {
        let array = cast(column(batch, name)?, &DataType::Utf8).map_err(|e| unexpected(name, e))?;
        out.extend(array.as_string::<i32>().iter().map(|v| {
            v.map(|s| {
                s.strip_suffix('Z')
                    .or_else(|| s.strip_suffix("+00:00"))
                    .unwrap_or(s)
                    .to_string()
            })
        }));
    }
    Ok(out)
}

/// The only value of a one-row answer's column `name`.
pub(crate) fn single(batches: &[RecordBatch], name: &str) -> Result<Option<f64>, ChartError> {
    numbers(batches, name)?
        .first()
        .copied()
        .ok_or_else(|| ChartError::UnexpectedResult(format!("no row for {name}")))
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b dyn Array, ChartError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| ChartError::UnexpectedResult(format!("no column {name}")))
}

fn unexpected(name: &str, error: impl std::fmt::Display) -> ChartError {
    ChartError::UnexpectedResult(format!("column {name}: {error}"))
}

/// `12400000` → `12.4 M`: row counts as a title shows them.
pub(crate) fn compact(n: u64) -> String {
    let n_f = n as f64;
    match n {
        0..=9_999 => quarry_text::numbers::group_thousands(n),
        10_000..=999_999 => format!("{:.1} k", n_f / 1e3).replace(".0 k", " k"),
        1_000_000..=999_999_999 => format!("{:.1} M", n_f / 1e6),
        _ => format!("{:.1} B", n_f / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn counts_read_as_people_say_them() {
        assert_eq!(compact(8), "8");
        assert_eq!(compact(5_000), "5,000");
        assert_eq!(compact(12_000), "12 k");
        assert_eq!(compact(12_400_000), "12.4 M");
        assert_eq!(compact(3_000_000_000), "3.0 B");
    }
}
