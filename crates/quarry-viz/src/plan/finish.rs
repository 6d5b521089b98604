//! The second step of planning: once the engine has counted rows and
//! measured ranges ([`Stats`]), how to bin, group and title the chart
//! ([`finish`] makes its [`Shape`]).

use super::*;

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
    let (y, measure) = y_and_measure(&choice.y, kind, scatter, &column_stats(1))?;
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

/// The y dimension (a second column) and what is measured: a scatter
/// draws both columns raw, a heatmap bins the second and counts, and a
/// measure or a count stands alone.
fn y_and_measure(
    y: &YPart,
    kind: ChartKind,
    scatter: bool,
    y_stats: &ColumnStats,
) -> Result<(Option<Dim>, Option<Measure>), ChartError> {
    let count = || Measure {
        aggregate: Aggregate::Count,
        column: None,
    };
    Ok(match y {
        YPart::Column(column) if scatter => (
            Some(Dim::Raw {
                column: column.clone(),
            }),
            None,
        ),
        YPart::Column(column) => (Some(dim(kind, column, y_stats, false)?), Some(count())),
        YPart::Measure(measure) => (None, Some(measure.clone())),
        YPart::Count => (None, Some(count())),
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
    pub(super) fn for_span(span: f64, points: usize) -> TimeUnit {
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
