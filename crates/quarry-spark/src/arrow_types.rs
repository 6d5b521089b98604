//! DataFusion and Spark speak slightly different Arrow: DataFusion reads
//! strings as views and keeps unsigned and nanosecond types, which Spark's
//! Arrow reader rejects. Tables sent with `%%spark -i` are cast first.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::SparkError;

/// The nearest type Spark reads for `data_type`.
pub fn spark_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        DataType::Dictionary(_, values) => spark_type(values),
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Float16 => DataType::Float32,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::List(field) | DataType::ListView(field) | DataType::LargeList(field) => {
            DataType::List(Arc::new(spark_field(field)))
        }
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| spark_field(f)).collect())
        }
        other => other.clone(),
    }
}

fn spark_field(field: &Field) -> Field {
    field.clone().with_data_type(spark_type(field.data_type()))
}

/// `schema` with every column in a type Spark reads.
pub fn spark_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| spark_field(f))
            .collect::<Vec<_>>(),
    ))
}

/// Casts `batches` to [`spark_schema`].
pub fn for_spark(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>), SparkError> {
    let target = spark_schema(schema);
    if &target == schema {
        return Ok((target, batches.to_vec()));
    }
    let converted = batches
        .iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(column, field)| cast(column, field.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(Arc::clone(&target), columns)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SparkError::Query(format!("Could not convert the table for Spark: {e}.")))?;
    Ok((target, converted))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{StringViewArray, TimestampNanosecondArray, UInt32Array};

    use super::*;

    #[test]
    fn views_unsigned_and_nanoseconds_become_spark_types() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8View, true),
            Field::new("count", DataType::UInt32, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringViewArray::from(vec![Some("a"), None])),
                Arc::new(UInt32Array::from(vec![4_000_000_000, 1])),
                Arc::new(
                    TimestampNanosecondArray::from(vec![Some(1_500_000_000), None])
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap();
        let (target, converted) = for_spark(&schema, &[batch]).unwrap();
        assert_eq!(target.field(0).data_type(), &DataType::Utf8);
        assert_eq!(target.field(1).data_type(), &DataType::Int64);
        assert_eq!(
            target.field(2).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let pretty = datafusion::arrow::util::pretty::pretty_format_batches(&converted)
            .unwrap()
            .to_string();
        assert!(pretty.contains("4000000000"), "{pretty}");
        assert!(pretty.contains("1970-01-01T00:00:01.500Z"), "{pretty}");
    }

    #[test]
    fn spark_ready_schemas_are_left_alone() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        assert_eq!(spark_schema(&schema), schema);
    }
}
