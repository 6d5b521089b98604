use super::*;
use arrow::datatypes::{DataType, Field, Schema};

fn columns(fields: &[(&str, DataType)]) -> Columns {
    Columns::from_schema(&Schema::new(
        fields
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn kind_for(fields: &[(&str, DataType)], args: &str) -> ChartKind {
    choose(&ChartRequest::parse(args).unwrap(), &columns(fields))
        .unwrap()
        .kind
}

#[test]
fn the_schema_picks_the_chart() {
    use DataType::*;
    let time = Timestamp(arrow::datatypes::TimeUnit::Second, None);
    assert_eq!(
        kind_for(&[("t", time.clone()), ("v", Float64)], ""),
        ChartKind::Line
    );
    assert_eq!(kind_for(&[("s", Utf8), ("v", Int32)], ""), ChartKind::Bar);
    assert_eq!(
        kind_for(&[("a", Int64), ("b", Float32)], ""),
        ChartKind::Point
    );
    assert_eq!(kind_for(&[("a", Int64)], ""), ChartKind::Hist);
    assert_eq!(kind_for(&[("t", time)], ""), ChartKind::Hist);
    assert_eq!(kind_for(&[("s", Utf8)], ""), ChartKind::Bar);
    // What is named steers the choice.
    assert_eq!(
        kind_for(&[("a", Int64), ("b", Float32)], "x=a"),
        ChartKind::Hist
    );
    assert_eq!(
        kind_for(&[("a", Int64), ("b", Float32)], "x=a y=b"),
        ChartKind::Point
    );
    assert_eq!(
        kind_for(&[("a", Int64), ("b", Float32)], "x=a y=sum(b)"),
        ChartKind::Bar
    );
}

#[test]
fn defaults_say_what_they_aggregate() {
    use DataType::*;
    let c = columns(&[("s", Utf8), ("v", Int32)]);
    let choice = choose(&ChartRequest::default(), &c).unwrap();
    assert_eq!(
        choice.y,
        YPart::Measure(Measure {
            aggregate: Aggregate::Sum,
            column: Some(c.find("v").unwrap().clone())
        })
    );
    let choice = choose(&ChartRequest::parse("bar x=s y=count").unwrap(), &c).unwrap();
    assert_eq!(
        choice.y,
        YPart::Measure(Measure {
            aggregate: Aggregate::Count,
            column: None
        })
    );
}

#[test]
fn bins_are_round_and_time_units_fit() {
    assert_eq!(nice_step(99.9, 30, false), 5.0);
    assert_eq!(nice_step(1.0, 10, false), 0.1);
    assert_eq!(nice_step(7.0, 30, true), 1.0, "integers are never split");
    assert_eq!(
        nice_step(0.0, 30, false),
        1.0,
        "a constant column gets one bin"
    );
    assert_eq!(nice_step(f64::NAN, 30, false), 1.0);
    assert_eq!(TimeUnit::for_span(3_600.0 * 300.0, 400), TimeUnit::Hour);
    assert_eq!(TimeUnit::for_span(86_400.0 * 41.0, 400), TimeUnit::Day);
    assert_eq!(
        TimeUnit::for_span(86_400.0 * 365.0 * 500.0, 400),
        TimeUnit::Year
    );
}

#[test]
fn explicit_colours_may_not_be_unreadable_but_automatic_ones_step_aside() {
    use DataType::*;
    let time = Timestamp(arrow::datatypes::TimeUnit::Second, None);
    let c = columns(&[("t", time), ("s", Utf8), ("v", Float64)]);
    let stats = |distinct| Stats {
        rows: 10,
        drawable: 10,
        columns: vec![
            ColumnStats {
                min: Some(0.0),
                max: Some(100.0),
                distinct: 0,
            },
            ColumnStats {
                min: None,
                max: None,
                distinct,
            },
        ],
    };
    let auto = choose(&ChartRequest::default(), &c).unwrap();
    assert!(finish(auto.clone(), stats(3)).unwrap().color.is_some());
    assert!(finish(auto, stats(200)).unwrap().color.is_none());
    let explicit = choose(&ChartRequest::parse("color=s").unwrap(), &c).unwrap();
    assert!(matches!(
        finish(explicit, stats(200)),
        Err(ChartError::TooManyValues { .. })
    ));
}
