//! Deciding what to draw: first from the result's columns alone
//! ([`choose`]), then — once the engine has counted rows and measured
//! ranges — how to bin and group ([`finish`]).

use crate::columns::{Column, Columns, Role};
use crate::request::YArgument;
use crate::{Aggregate, ChartError, ChartKind, ChartRequest};

/// Past this many points a scatter becomes a binned heatmap: more marks
/// than this make a slow, over-plotted notebook, and a sample would hide
/// what the data holds.
pub(crate) const MAX_POINTS: u64 = 5_000;
/// Colours an automatic choice uses at most (more are hard to tell apart).
const AUTO_COLORS: u64 = 10;
/// Colours an explicit `color=` allows.
const MAX_COLORS: u64 = 20;
/// Small multiples an explicit `facet=` allows.
const MAX_FACETS: u64 = 12;
/// Categories along a heatmap axis.
const MAX_HEATMAP_CATEGORIES: u64 = 50;

/// A value drawn per group: an aggregate of a column, or `count(*)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measure {
    pub(crate) aggregate: Aggregate,
    pub(crate) column: Option<Column>,
}

impl Measure {
    pub(crate) fn label(&self) -> String {
        match &self.column {
            None => "count".into(),
            Some(column) => format!("{}({})", self.aggregate.name(), column.name),
        }
    }
}

/// What the y position shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum YPart {
    /// An aggregate per group (bar, line, area, pie; a heatmap's colour).
    Measure(Measure),
    /// A second dimension (point, heatmap), with the heatmap's colour.
    Column(Column),
    /// Nothing: a histogram counts rows.
    Count,
}

/// The chart chosen from the columns, before the data is looked at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub(crate) kind: ChartKind,
    pub(crate) x: Column,
    pub(crate) y: YPart,
    /// The colour column and whether the user asked for it.
    pub(crate) color: Option<(Column, bool)>,
    pub(crate) facet: Option<Column>,
    pub(crate) title: Option<String>,
    /// Whether the user named the aggregate (`y=sum(v)`), rather than a
    /// column the chart aggregates by its kind's default.
    pub(crate) explicit_aggregate: bool,
}

impl Choice {
    /// The columns the statistics query measures.
    pub(crate) fn columns(&self) -> Vec<&Column> {
        let mut columns = vec![&self.x];
        if let YPart::Column(y) = &self.y {
            columns.push(y);
        }
        columns.extend(self.color.as_ref().map(|(c, _)| c));
        columns.extend(self.facet.as_ref());
        columns
    }

    /// The columns a row must have to be drawn at a position (binned
    /// and time axes drop rows without a value; categories keep "(null)").
    pub(crate) fn positional(&self) -> Vec<&Column> {
        let mut columns = vec![&self.x];
        if let YPart::Column(y) = &self.y {
            columns.push(y);
        }
        columns.retain(|c| c.role != Role::Text);
        columns
    }
}

/// Chooses kind and columns from `request` and the result's `columns`.
pub(crate) fn choose(request: &ChartRequest, columns: &Columns) -> Result<Choice, ChartError> {
    if columns.is_empty() {
        return Err(ChartError::NothingToChart(
            "the query returns no columns".into(),
        ));
    }
    let named = |name: &Option<String>| name.as_deref().map(|n| columns.find(n)).transpose();
    let x = named(&request.x)?;
    let color = named(&request.color)?;
    let facet = named(&request.facet)?;
    let kind = match request.kind {
        Some(kind) => kind,
        None => infer_kind(x, request.y.as_ref(), columns)?,
    };
    let mut taken: Vec<&str> = [color, facet]
        .into_iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    if let Some(YArgument::Column(name) | YArgument::Aggregate(_, Some(name))) = &request.y {
        taken.push(name);
    }
    let x = match x {
        Some(x) => x.clone(),
        None => default_x(kind, columns, &taken)?.clone(),
    };
    check_role(kind, "x", &x, x_roles(kind), columns)?;
    let y = choose_y(kind, &x, request.y.as_ref(), columns)?;
    let color = match color {
        Some(column) => Some((checked_group(kind, "the colour", column, columns)?, true)),
        None => auto_color(kind, request, &x, columns),
    };
    if matches!(kind, ChartKind::Pie | ChartKind::Heatmap) && color.as_ref().is_some_and(|c| c.1) {
        return Err(ChartError::Usage(format!(
            "A {} chart uses colour for its values, so it takes no color=.",
            kind.name()
        )));
    }
    let facet = facet
        .map(|f| checked_group(kind, "the facet", f, columns))
        .transpose()?;
    Ok(Choice {
        kind,
        x,
        y,
        color,
        facet,
        title: request.title.clone(),
        explicit_aggregate: matches!(request.y, Some(YArgument::Aggregate(..))),
    })
}

/// The kind a result's columns suggest, given what was named.
fn infer_kind(
    x: Option<&Column>,
    y: Option<&YArgument>,
    columns: &Columns,
) -> Result<ChartKind, ChartError> {
    let has = |role| columns.with_role(role).next().is_some();
    let numbers = columns.with_role(Role::Number).count();
    if let Some(x) = x {
        return Ok(match (x.role, y) {
            (Role::Time, _) => ChartKind::Line,
            (Role::Number, Some(YArgument::Column(_))) => ChartKind::Point,
            (Role::Number, Some(_)) => ChartKind::Bar,
            (Role::Number, None) => ChartKind::Hist,
            _ => ChartKind::Bar,
        });
    }
    Ok(if has(Role::Time) && (numbers > 0 || y.is_some()) {
        ChartKind::Line
    } else if has(Role::Text) && (numbers > 0 || y.is_some()) {
        ChartKind::Bar
    } else if numbers >= 2 {
        ChartKind::Point
    } else if numbers == 1 || has(Role::Time) {
        ChartKind::Hist
    } else if has(Role::Text) {
        ChartKind::Bar
    } else {
        return Err(ChartError::NothingToChart(format!(
            "no column is a number, a time or text (columns: {})",
            columns.list(|_| true)
        )));
    })
}

fn x_roles(kind: ChartKind) -> &'static [Role] {
    match kind {
        ChartKind::Line | ChartKind::Area => &[Role::Time, Role::Number],
        ChartKind::Bar | ChartKind::Heatmap => &[Role::Text, Role::Time, Role::Number],
        ChartKind::Pie => &[Role::Text],
        ChartKind::Point => &[Role::Number],
        ChartKind::Hist => &[Role::Number, Role::Time],
    }
}

fn default_x<'c>(
    kind: ChartKind,
    columns: &'c Columns,
    taken: &[&str],
) -> Result<&'c Column, ChartError> {
    let order: &[Role] = match kind {
        ChartKind::Bar => &[Role::Text, Role::Time, Role::Number],
        ChartKind::Heatmap => &[Role::Number, Role::Text, Role::Time],
        other => x_roles(other),
    };
    order
        .iter()
        .find_map(|role| columns.first(*role, taken))
        .ok_or_else(|| {
            let wanted: Vec<&str> = order.iter().map(|r| r.describe()).collect();
            ChartError::NothingToChart(format!(
                "a {} chart needs {} column for x (columns: {})",
                kind.name(),
                wanted.join(" or "),
                columns.list(|_| true)
            ))
        })
}

fn check_role(
    kind: ChartKind,
    part: &str,
    column: &Column,
    roles: &[Role],
    columns: &Columns,
) -> Result<(), ChartError> {
    if roles.contains(&column.role) {
        return Ok(());
    }
    Err(ChartError::NotPlottable {
        column: column.name.clone(),
        role: column.role.describe().into(),
        part: part.into(),
        kind: kind.name().into(),
        candidates: columns.list(|c| roles.contains(&c.role)),
    })
}

fn choose_y(
    kind: ChartKind,
    x: &Column,
    y: Option<&YArgument>,
    columns: &Columns,
) -> Result<YPart, ChartError> {
    let find = |name: &str| columns.find(name).cloned();
    match (kind, y) {
        (ChartKind::Hist, None) => Ok(YPart::Count),
        (ChartKind::Hist, Some(_)) => Err(ChartError::Usage(
            "A histogram counts rows, so it takes no y=; use bar with y=AGG(COL) to aggregate a column per bin.".into(),
        )),
        (ChartKind::Point | ChartKind::Heatmap, Some(YArgument::Aggregate(..))) => Err(ChartError::Usage(format!(
            "A {} chart places rows by two columns, so y= is a column (y=COL), not an aggregate.",
            kind.name()
        ))),
        (ChartKind::Point | ChartKind::Heatmap, y) => {
            let roles: &[Role] = if kind == ChartKind::Point { &[Role::Number] } else { x_roles(kind) };
            let column = match y {
                Some(YArgument::Column(name)) => find(name)?,
                _ => roles
                    .iter()
                    .find_map(|role| columns.first(*role, &[x.name.as_str()]))
                    .cloned()
                    .ok_or_else(|| ChartError::NothingToChart(format!(
                        "a {} chart needs a second column for y besides {} (columns: {})",
                        kind.name(), x.name, columns.list(|_| true)
                    )))?,
            };
            check_role(kind, "y", &column, roles, columns)?;
            Ok(YPart::Column(column))
        }
        (_, Some(YArgument::Aggregate(aggregate, None))) => Ok(YPart::Measure(Measure { aggregate: *aggregate, column: None })),
        (_, Some(YArgument::Aggregate(aggregate, Some(name)))) => {
            let column = find(name)?;
            if *aggregate != Aggregate::Count {
                check_role(kind, &format!("y={}(…)", aggregate.name()), &column, &[Role::Number], columns)?;
            }
            Ok(YPart::Measure(Measure { aggregate: *aggregate, column: Some(column) }))
        }
        (_, Some(YArgument::Column(name))) => {
            let column = find(name)?;
            check_role(kind, "y", &column, &[Role::Number], columns)?;
            Ok(YPart::Measure(Measure { aggregate: default_aggregate(kind), column: Some(column) }))
        }
        (_, None) => Ok(YPart::Measure(match columns.first(Role::Number, &[x.name.as_str()]) {
            Some(column) => Measure { aggregate: default_aggregate(kind), column: Some(column.clone()) },
            None => Measure { aggregate: Aggregate::Count, column: None },
        })),
    }
}

/// Lines show a level over time (a mean); bars, areas and pies show parts
/// of a whole (a sum). The chosen aggregate is always in the axis title.
fn default_aggregate(kind: ChartKind) -> Aggregate {
    match kind {
        ChartKind::Line => Aggregate::Avg,
        _ => Aggregate::Sum,
    }
}

fn checked_group(
    kind: ChartKind,
    part: &str,
    column: &Column,
    columns: &Columns,
) -> Result<Column, ChartError> {
    check_role(kind, part, column, &[Role::Text, Role::Number], columns)?;
    Ok(column.clone())
}

/// A line over time with a spare text column colours by it (when it
/// turns out to have few values; see [`finish`]).
fn auto_color(
    kind: ChartKind,
    request: &ChartRequest,
    x: &Column,
    columns: &Columns,
) -> Option<(Column, bool)> {
    if request.kind.is_some()
        || request.x.is_some()
        || !matches!(kind, ChartKind::Line)
        || x.role != Role::Time
    {
        return None;
    }
    columns.first(Role::Text, &[]).map(|c| (c.clone(), false))
}

/// What the statistics query found.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Stats {
    /// Rows of the result.
    pub(crate) rows: u64,
    /// Rows with a value in every positional column.
    pub(crate) drawable: u64,
    /// Per column (in [`Choice::columns`] order): min, max, approximate distinct.
    pub(crate) columns: Vec<ColumnStats>,
}

/// One column's range and approximate number of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ColumnStats {
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) distinct: u64,
}

/// How rows map onto one axis or grouping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dim {
    /// `floor(value / step) * step`.
    Bins { column: Column, step: f64 },
    /// `date_trunc(unit, value)`.
    Time { column: Column, unit: TimeUnit },
    /// One group per value; `top`: the largest N by the measure, the rest as "other".
    Category { column: Column, top: Option<usize> },
    /// The value itself (scatter points).
    Raw { column: Column },
}

impl Dim {
    pub(crate) fn column(&self) -> &Column {
        match self {
            Dim::Bins { column, .. }
            | Dim::Time { column, .. }
            | Dim::Category { column, .. }
            | Dim::Raw { column } => column,
        }
    }
}

/// The final shape of the chart: dimensions and what each mark shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    pub(crate) kind: ChartKind,
    pub(crate) x: Dim,
    /// The second axis of a point or heatmap chart.
    pub(crate) y: Option<Dim>,
    pub(crate) color: Option<Column>,
    pub(crate) facet: Option<Column>,
    /// `None` for a scatter of raw points.
    pub(crate) measure: Option<Measure>,
    pub(crate) stats: Stats,
    /// A scatter with too many points, drawn as a heatmap instead.
    pub(crate) binned_points: bool,
    pub(crate) title: Option<String>,
    /// Every x category holds one row: the default aggregate of a value
    /// already computed per group (`avg_temp` by site) is that value, so
    /// the chart is titled by the column, not `sum(avg_temp)`.
    pub(crate) one_row_per_group: bool,
}

impl Shape {
    /// What the value axis shows, as its title and the chart's say it.
    pub(crate) fn measure_label(&self) -> Option<String> {
        let measure = self.measure.as_ref()?;
        Some(match &measure.column {
            Some(column) if self.one_row_per_group => column.name.clone(),
            _ => measure.label(),
        })
    }
}

/// Bins, units and groups for `choice`, now that `stats` are known.
pub(crate) fn finish(choice: Choice, stats: Stats) -> Result<Shape, ChartError> {
    let column_stats = |index: usize| stats.columns.get(index).cloned().unwrap_or_default();
    let scatter = choice.kind == ChartKind::Point && stats.drawable <= MAX_POINTS;
    let kind = if choice.kind == ChartKind::Point && !scatter {
        ChartKind::Heatmap
    } else {
        choice.kind
    };
    let x = if scatter {
        Dim::Raw {
            column: choice.x.clone(),
        }
    } else {
        dim(kind, &choice.x, &column_stats(0), true)?
    };
    let (y, measure) = match &choice.y {
        YPart::Column(column) if scatter => (
            Some(Dim::Raw {
                column: column.clone(),
            }),
            None,
        ),
        YPart::Column(column) => (
            Some(dim(kind, column, &column_stats(1), false)?),
            Some(Measure {
                aggregate: Aggregate::Count,
                column: None,
            }),
        ),
        YPart::Measure(measure) => (None, Some(measure.clone())),
        YPart::Count => (
            None,
            Some(Measure {
                aggregate: Aggregate::Count,
                column: None,
            }),
        ),
    };
    let mut next = 1 + usize::from(matches!(choice.y, YPart::Column(_)));
    let color = match choice.color {
        Some((column, explicit)) => {
            next += 1;
            readable_color(column, explicit, column_stats(next - 1).distinct)?
        }
        None => None,
    };
    if let Some(facet) = &choice.facet {
        let values = column_stats(next).distinct;
        if values > MAX_FACETS {
            return Err(too_many(facet, values, "facets", MAX_FACETS));
        }
    }
    let one_row_per_group = !choice.explicit_aggregate
        && measure.as_ref().is_some_and(|m| m.column.is_some())
        // Every category drawn on its own (no "other" summing several).
        && matches!(&x, Dim::Category { top, .. }
            if top.is_none_or(|top| column_stats(0).distinct <= top as u64))
        && y.is_none()
        && color.is_none()
        && choice.facet.is_none()
        && stats.rows > 0
        && stats.rows == column_stats(0).distinct;
    Ok(Shape {
        kind,
        x,
        y,
        color,
        facet: choice.facet,
        measure,
        stats,
        binned_points: choice.kind == ChartKind::Point && !scatter,
        title: choice.title,
        one_row_per_group,
    })
}

/// A colour column with few enough values to tell apart: an explicit one
/// may have up to [`MAX_COLORS`] (more is an error), an automatic one up to
/// [`AUTO_COLORS`] (more, and the chart simply has no colour).
fn readable_color(
    column: Column,
    explicit: bool,
    values: u64,
) -> Result<Option<Column>, ChartError> {
    match (explicit, values) {
        (_, v) if v <= AUTO_COLORS => Ok(Some(column)),
        (true, v) if v <= MAX_COLORS => Ok(Some(column)),
        (true, v) => Err(too_many(&column, v, "colours", MAX_COLORS)),
        (false, _) => Ok(None),
    }
}

fn too_many(column: &Column, values: u64, part: &str, limit: u64) -> ChartError {
    ChartError::TooManyValues {
        column: column.name.clone(),
        values,
        part: part.into(),
        limit,
    }
}

/// One axis: bins for numbers, a time unit for times, groups for text.
fn dim(
    kind: ChartKind,
    column: &Column,
    stats: &ColumnStats,
    is_x: bool,
) -> Result<Dim, ChartError> {
    let span = match (stats.min, stats.max) {
        (Some(min), Some(max)) => max - min,
        _ => 0.0,
    };
    Ok(match column.role {
        Role::Number => {
            let bins = match kind {
                ChartKind::Line | ChartKind::Area => 100,
                ChartKind::Heatmap => 30,
                _ => 30,
            };
            Dim::Bins {
                column: column.clone(),
                step: nice_step(span, bins, column.is_integer),
            }
        }
        Role::Time => {
            let points = match kind {
                ChartKind::Line | ChartKind::Area => 400,
                ChartKind::Heatmap => 30,
                _ => 60,
            };
            Dim::Time {
                column: column.clone(),
                unit: TimeUnit::for_span(span, points),
            }
        }
        _ => {
            let top = match kind {
                ChartKind::Pie => Some(8),
                ChartKind::Bar if is_x => Some(20),
                _ => None,
            };
            if kind == ChartKind::Heatmap && stats.distinct > MAX_HEATMAP_CATEGORIES {
                return Err(too_many(
                    column,
                    stats.distinct,
                    "a heatmap axis",
                    MAX_HEATMAP_CATEGORIES,
                ));
            }
            Dim::Category {
                column: column.clone(),
                top,
            }
        }
    })
}

/// A bin width of 1, 2 or 5 × 10ⁿ giving at most `bins` bins over `span`
/// (Vega's "nice" steps, so bin edges are round numbers).
pub(crate) fn nice_step(span: f64, bins: usize, integer: bool) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let bins = bins.max(1) as f64;
    let magnitude = 10f64.powf((span / bins).log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| span / step <= bins)
        .unwrap_or(10.0 * magnitude);
    if integer { step.max(1.0) } else { step }
}

/// A unit `date_trunc` understands, in both DataFusion and Spark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeUnit {
    const ALL: [(TimeUnit, f64); 8] = [
        (TimeUnit::Second, 1.0),
        (TimeUnit::Minute, 60.0),
        (TimeUnit::Hour, 3_600.0),
        (TimeUnit::Day, 86_400.0),
        (TimeUnit::Week, 604_800.0),
        (TimeUnit::Month, 2_629_746.0),
        (TimeUnit::Quarter, 7_889_238.0),
        (TimeUnit::Year, 31_556_952.0),
    ];

    /// The finest unit giving at most `points` steps over `span` seconds.
    fn for_span(span: f64, points: usize) -> TimeUnit {
        Self::ALL
            .iter()
            .find(|(_, seconds)| span / seconds <= points as f64)
            .map_or(TimeUnit::Year, |(unit, _)| *unit)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Year => "year",
        }
    }

    /// Vega-Lite's name for the same truncation (bars get band widths).
    pub(crate) fn vega(self) -> &'static str {
        match self {
            TimeUnit::Second => "yearmonthdatehoursminutesseconds",
            TimeUnit::Minute => "yearmonthdatehoursminutes",
            TimeUnit::Hour => "yearmonthdatehours",
            TimeUnit::Day => "yearmonthdate",
            TimeUnit::Week => "yearweek",
            TimeUnit::Month => "yearmonth",
            TimeUnit::Quarter => "yearquarter",
            TimeUnit::Year => "year",
        }
    }
}

#[cfg(test)]
mod tests;
