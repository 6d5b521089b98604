//! What each column of a result can be in a chart, from its Arrow type.

use arrow::datatypes::{DataType, Schema};

use crate::ChartError;

/// The part a column's type lets it play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Dates and timestamps: time units on an axis.
    Time,
    /// Integers, floats, decimals: bins, positions, aggregates.
    Number,
    /// Strings and booleans: categories and colours.
    Text,
    /// Lists, structs, binary: not drawn.
    Other,
}

impl Role {
    fn of(data_type: &DataType) -> Role {
        match data_type {
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => Role::Time,
            t if t.is_numeric() => Role::Number,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
                Role::Text
            }
            DataType::Dictionary(_, value) => match Role::of(value) {
                Role::Text => Role::Text,
                _ => Role::Other,
            },
            _ => Role::Other,
        }
    }

    /// How the column is described in errors.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Role::Time => "a time",
            Role::Number => "a number",
            Role::Text => "text",
            Role::Other => "neither a number, a time nor text",
        }
    }
}

/// One column of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Dates are cast to timestamps before time units apply.
    pub(crate) is_date: bool,
    /// Integer columns never get bins narrower than 1.
    pub(crate) is_integer: bool,
    /// Text proper (not a boolean): has a length.
    pub(crate) is_string: bool,
}

/// The result's columns, in order.
#[derive(Debug, Clone)]
pub(crate) struct Columns(Vec<Column>);

impl Columns {
    pub(crate) fn from_schema(schema: &Schema) -> Columns {
        Columns(
            schema
                .fields()
                .iter()
                .map(|field| Column {
                    name: field.name().clone(),
                    role: Role::of(field.data_type()),
                    is_date: matches!(field.data_type(), DataType::Date32 | DataType::Date64),
                    is_integer: field.data_type().is_integer(),
                    is_string: Role::of(field.data_type()) == Role::Text
                        && field.data_type() != &DataType::Boolean,
                })
                .collect(),
        )
    }

    /// The column called `name`: exactly, or else the one matching it
    /// without regard to case.
    pub(crate) fn find(&self, name: &str) -> Result<&Column, ChartError> {
        if let Some(column) = self.0.iter().find(|c| c.name == name) {
            return Ok(column);
        }
        let mut folded = self.0.iter().filter(|c| c.name.eq_ignore_ascii_case(name));
        match (folded.next(), folded.next()) {
            (Some(column), None) => Ok(column),
            _ => Err(ChartError::UnknownColumn {
                column: name.to_string(),
                available: self.list(|_| true),
            }),
        }
    }

    /// The first column with `role` that is not in `taken`.
    pub(crate) fn first(&self, role: Role, taken: &[&str]) -> Option<&Column> {
        self.0
            .iter()
            .find(|c| c.role == role && !taken.contains(&c.name.as_str()))
    }

    /// Every column, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Column> {
        self.0.iter()
    }

    /// Every column with `role`, in order.
    pub(crate) fn with_role(&self, role: Role) -> impl Iterator<Item = &Column> {
        self.0.iter().filter(move |c| c.role == role)
    }

    /// The names of the columns `keep` accepts, for messages ("none" when
    /// there are none).
    pub(crate) fn list(&self, keep: impl Fn(&Column) -> bool) -> String {
        let names: Vec<&str> = self
            .0
            .iter()
            .filter(|c| keep(c))
            .map(|c| c.name.as_str())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, TimeUnit};

    fn columns() -> Columns {
        Columns::from_schema(&Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("Day", DataType::Date32, true),
            Field::new("site", DataType::Utf8View, true),
            Field::new("value", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
            Field::new("tags", DataType::new_list(DataType::Utf8, true), true),
        ]))
    }

    #[test]
    fn roles_follow_arrow_types() {
        let c = columns();
        let roles: Vec<Role> = c.0.iter().map(|c| c.role).collect();
        use Role::*;
        assert_eq!(roles, vec![Time, Time, Text, Number, Number, Other]);
        assert!(c.find("day").unwrap().is_date);
        assert!(c.find("n").unwrap().is_integer);
        assert_eq!(c.first(Number, &["value"]).unwrap().name, "n");
    }

    #[test]
    fn a_missing_column_lists_the_real_ones() {
        let message = columns().find("nope").unwrap_err().to_string();
        assert_eq!(
            message,
            "The result has no column 'nope'; its columns are ts, Day, site, value, n, tags."
        );
    }
}
