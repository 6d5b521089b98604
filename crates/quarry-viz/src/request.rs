//! What `%chart` was asked for: `%chart [KIND] [x=COL] [y=AGG(COL)]
//! [color=COL] [facet=COL] [title="…"]`, every part optional.

use crate::ChartError;

/// The kinds of chart `%chart` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Bars per category (top N and "other"), bin or time unit.
    Bar,
    /// A line over time (or a binned number).
    Line,
    /// A stacked area over time (or a binned number).
    Area,
    /// A scatter of two numbers; binned into a heatmap past a few thousand points.
    Point,
    /// Counts (or an aggregate) over a 2-D grid of bins or categories.
    Heatmap,
    /// A histogram of one number or one time column.
    Hist,
    /// Shares of a total per category (top N and "other").
    Pie,
}

impl ChartKind {
    const ALL: [(&'static str, ChartKind); 7] = [
        ("bar", ChartKind::Bar),
        ("line", ChartKind::Line),
        ("area", ChartKind::Area),
        ("point", ChartKind::Point),
        ("heatmap", ChartKind::Heatmap),
        ("hist", ChartKind::Hist),
        ("pie", ChartKind::Pie),
    ];

    /// The name `%chart` takes for this kind.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("chart", |(name, _)| name)
    }

    fn from_name(name: &str) -> Option<ChartKind> {
        let name = name.to_ascii_lowercase();
        let name = match name.as_str() {
            "scatter" => "point",
            "histogram" => "hist",
            other => other,
        };
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, kind)| *kind)
    }
}

/// How the values of a group become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Rows (`count(*)`) or non-null values (`count(col)`).
    Count,
    /// The sum.
    Sum,
    /// The mean.
    Avg,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

impl Aggregate {
    /// The SQL name, also used in axis titles.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
        }
    }

    fn from_name(name: &str) -> Option<Aggregate> {
        Some(match name.to_ascii_lowercase().as_str() {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "avg" | "mean" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            _ => return None,
        })
    }
}

/// The `y=` argument as written: a bare column (the chart picks the
/// aggregate) or an aggregate of a column (`None`: `count(*)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YArgument {
    /// `y=COL`.
    Column(String),
    /// `y=AGG(COL)`, `y=count(*)`, `y=count`.
    Aggregate(Aggregate, Option<String>),
}

/// A parsed `%chart` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartRequest {
    /// The chart kind, or `None` to choose from the result's columns.
    pub kind: Option<ChartKind>,
    /// The x column.
    pub x: Option<String>,
    /// The y value.
    pub y: Option<YArgument>,
    /// A column whose values get one colour each.
    pub color: Option<String>,
    /// A column whose values get one small chart each.
    pub facet: Option<String>,
    /// The chart's title, replacing the one made from its encoding.
    pub title: Option<String>,
}

const KEYS: &str = "x=, y=, color=, facet=, title=";

impl ChartRequest {
    /// Parses the words after `%chart`.
    pub fn parse(args: &str) -> Result<ChartRequest, ChartError> {
        let mut request = ChartRequest::default();
        for (index, word) in split_words(args)?.into_iter().enumerate() {
            let Some((key, value)) = word.split_once('=') else {
                match ChartKind::from_name(&word) {
                    Some(kind) if index == 0 => request.kind = Some(kind),
                    _ => return Err(bad_word(&word)),
                }
                continue;
            };
            let value = unquote(value.trim());
            if value.is_empty() {
                return Err(ChartError::Usage(format!(
                    "{key}= needs a value, as in {key}=column."
                )));
            }
            match key.trim().to_ascii_lowercase().as_str() {
                "x" => request.x = Some(value),
                "y" => request.y = Some(parse_y(&value)?),
                "color" | "colour" => request.color = Some(value),
                "facet" => request.facet = Some(value),
                "title" => request.title = Some(value),
                other => {
                    return Err(ChartError::Usage(format!(
                        "%chart does not take {other}=; it takes {KEYS}."
                    )));
                }
            }
        }
        Ok(request)
    }
}

fn bad_word(word: &str) -> ChartError {
    let kinds: Vec<&str> = ChartKind::ALL.iter().map(|(name, _)| *name).collect();
    ChartError::Usage(format!(
        "'{word}' is neither a chart kind ({}, first) nor key=value ({KEYS}).",
        kinds.join(", ")
    ))
}

/// `sum(value)`, `count(*)`, `count`, `value`, `avg("a b")`.
fn parse_y(value: &str) -> Result<YArgument, ChartError> {
    let Some((name, rest)) = value.split_once('(') else {
        return Ok(match Aggregate::from_name(value) {
            Some(Aggregate::Count) => YArgument::Aggregate(Aggregate::Count, None),
            _ => YArgument::Column(value.to_string()),
        });
    };
    let inner = rest.strip_suffix(')').ok_or_else(|| {
        ChartError::Usage(format!("y={value} is missing its closing parenthesis."))
    })?;
    let aggregate = Aggregate::from_name(name.trim()).ok_or_else(|| {
        ChartError::Usage(format!(
            "y= takes count, sum, avg, min or max of a column, not {}(…).",
            name.trim()
        ))
    })?;
    let inner = unquote(inner.trim());
    match (aggregate, inner.as_str()) {
        (Aggregate::Count, "*" | "") => Ok(YArgument::Aggregate(Aggregate::Count, None)),
        (_, "*" | "") => Err(ChartError::Usage(format!(
            "y={value} needs a column inside the parentheses."
        ))),
        _ => Ok(YArgument::Aggregate(aggregate, Some(inner))),
    }
}

/// Splits on whitespace outside double quotes; quotes stay in the words
/// (so `title="a b"` is one word) and are removed per value.
fn split_words(args: &str) -> Result<Vec<String>, ChartError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if quoted {
        return Err(ChartError::Usage(
            "A double quote in the %chart line is never closed.".into(),
        ));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

fn unquote(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
        .replace('"', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_is_optional_and_in_any_order() {
        assert_eq!(ChartRequest::parse("").unwrap(), ChartRequest::default());
        let request =
            ChartRequest::parse(r#"line y=avg(value) x=ts title="Hourly mean" colour=site"#)
                .unwrap();
        assert_eq!(request.kind, Some(ChartKind::Line));
        assert_eq!(request.x.as_deref(), Some("ts"));
        assert_eq!(
            request.y,
            Some(YArgument::Aggregate(Aggregate::Avg, Some("value".into())))
        );
        assert_eq!(request.color.as_deref(), Some("site"));
        assert_eq!(request.title.as_deref(), Some("Hourly mean"));
    }

    #[test]
    fn y_is_a_column_or_an_aggregate() {
        let y = |s: &str| ChartRequest::parse(&format!("y={s}")).unwrap().y.unwrap();
        assert_eq!(y("v"), YArgument::Column("v".into()));
        assert_eq!(y("count"), YArgument::Aggregate(Aggregate::Count, None));
        assert_eq!(y("count(*)"), YArgument::Aggregate(Aggregate::Count, None));
        assert_eq!(
            y(r#"MAX("a b")"#),
            YArgument::Aggregate(Aggregate::Max, Some("a b".into()))
        );
    }

    #[test]
    fn mistakes_are_one_sentence() {
        for (args, expected) in [
            ("bars", "neither a chart kind"),
            ("x=a line", "neither a chart kind"),
            ("size=3", "does not take size="),
            ("y=median(v)", "count, sum, avg, min or max"),
            ("y=sum(v", "closing parenthesis"),
            ("y=sum(*)", "needs a column"),
            (r#"title="open"#, "never closed"),
            ("x=", "needs a value"),
        ] {
            let message = ChartRequest::parse(args).unwrap_err().to_string();
            assert!(message.contains(expected), "{args}: {message}");
            assert!(
                message.ends_with('.') && !message.contains('\n'),
                "{message}"
            );
        }
    }
}
