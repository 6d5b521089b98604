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

mod finish;
pub(crate) use finish::*;

#[cfg(test)]
mod tests;
