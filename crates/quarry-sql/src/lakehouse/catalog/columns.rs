//! A kept table's columns, stored so the table is known without S3.
//!
//! Stored as an Arrow IPC stream with no batches (hex in the JSON file):
//! every Arrow type, nested ones and metadata included, comes back exactly,
//! which a type name printed and parsed again does not promise.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;

pub(crate) fn encode(schema: &SchemaRef) -> Result<String, ArrowError> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, schema)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn decode(hex: &str) -> Result<SchemaRef, ArrowError> {
    let invalid = || ArrowError::ParseError("not hex".into());
    if !hex.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(invalid)
        })
        .collect::<Result<Vec<u8>, _>>()?;
    Ok(StreamReader::try_new(std::io::Cursor::new(bytes), None)?.schema())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn every_kind_of_column_comes_back_as_it_was() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("site", DataType::Utf8View, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("reading", DataType::Float64, true),
            Field::new_list("tags", Field::new_list_field(DataType::Utf8, true), true),
            Field::new_struct(
                "where",
                vec![
                    Field::new("lat", DataType::Float32, true),
                    Field::new("lon", DataType::Float32, true),
                ],
                true,
            ),
            Field::new("price", DataType::Decimal128(12, 2), true),
        ]));
        assert_eq!(decode(&encode(&schema).unwrap()).unwrap(), schema);
        assert!(decode("zz").is_err());
        assert!(decode("abc").is_err());
    }
}
