//! Charts drawn by a real DataFusion engine, their numbers checked against
//! plain SQL over the same rows.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use quarry_viz::{Chart, ChartError, ChartRequest, Dialect, DrawError, Engine, draw};
use serde_json::Value;

struct DataFusion(SessionContext);

#[async_trait]
impl Engine for DataFusion {
    type Error = DataFusionError;

    fn dialect(&self) -> Dialect {
        Dialect::DataFusion
    }

    async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), DataFusionError> {
        let frame = self.0.sql(sql).await?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        Ok((schema, frame.collect().await?))
    }
}

const ROWS: i64 = 100_000;

/// 100,000 readings, one every 36 s from 2023-11-14 (41.7 days): three
/// sites, a value 0.0–99.9, 50 products, and a few missing values.
async fn engine() -> DataFusion {
    let ctx = SessionContext::new();
    ctx.sql(&format!(
        "CREATE TABLE readings AS SELECT
            to_timestamp(1700000000 + value * 36) AS ts,
            CASE value % 3 WHEN 0 THEN 'alpha' WHEN 1 THEN 'beta' ELSE 'gamma' END AS site,
            CASE WHEN value % 997 = 0 THEN NULL ELSE CAST(value % 1000 AS DOUBLE) / 10.0 END AS v,
            value AS n,
            concat('p', CAST(value % 50 AS VARCHAR)) AS product
         FROM generate_series(1, {ROWS})"
    ))
    .await
    .unwrap()
    .collect()
    .await
    .unwrap();
    DataFusion(ctx)
}

async fn chart(engine: &DataFusion, source: &str, args: &str) -> Chart {
    draw(engine, source, &ChartRequest::parse(args).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{args}: {e}"))
}

async fn chart_error(engine: &DataFusion, source: &str, args: &str) -> String {
    match draw(engine, source, &ChartRequest::parse(args).unwrap()).await {
        Err(DrawError::Chart(e)) => e.to_string(),
        Err(DrawError::Query(e)) => panic!("{args}: query failed: {e}"),
        Ok(chart) => panic!("{args}: drew {}", chart.title),
    }
}

fn values(chart: &Chart) -> &Vec<Value> {
    chart.spec["data"]["values"].as_array().unwrap()
}

fn sum(chart: &Chart, field: &str) -> f64 {
    values(chart)
        .iter()
        .map(|r| r[field].as_f64().unwrap_or(0.0))
        .sum()
}

async fn scalar(engine: &DataFusion, sql: &str) -> f64 {
    let (_, batches) = engine.query(sql).await.unwrap();
    let array =
        arrow::compute::cast(batches[0].column(0), &arrow::datatypes::DataType::Float64).unwrap();
    use arrow::array::AsArray;
    array
        .as_primitive::<arrow::datatypes::Float64Type>()
        .value(0)
}

#[tokio::test]
async fn time_and_number_draw_a_line_per_site_per_day() {
    let e = engine().await;
    let c = chart(&e, "SELECT ts, site, v FROM readings", "").await;
    assert_eq!(c.spec["mark"]["type"], "line");
    assert_eq!(c.spec["encoding"]["x"]["type"], "temporal");
    assert_eq!(c.spec["encoding"]["color"]["field"], "color");
    assert_eq!(c.title, "avg(v) per day of ts, by site");
    assert!(c.summary.starts_with("100 k rows → "), "{}", c.summary);
    // 42 or 43 calendar days, three sites each.
    let marks = values(&c).len();
    assert!((42 * 3..=43 * 3).contains(&marks), "{marks}");
    // One day's mean for one site, computed independently.
    let row = values(&c)
        .iter()
        .find(|r| r["color"] == "beta" && r["x"].as_str().unwrap().starts_with("2023-11-20"))
        .unwrap();
    let expected = scalar(&e, "SELECT avg(v) FROM readings WHERE site = 'beta' AND date_trunc('day', ts) = TIMESTAMP '2023-11-20 00:00:00'").await;
    assert!((row["value"].as_f64().unwrap() - expected).abs() < 1e-9);
}

#[tokio::test]
async fn a_histogram_counts_every_row_with_a_value() {
    let e = engine().await;
    let c = chart(&e, "SELECT v FROM readings", "").await;
    assert_eq!(c.spec["usermeta"]["quarry"]["kind"], "hist");
    let nulls = scalar(&e, "SELECT count(*) - count(v) FROM readings").await;
    assert_eq!(sum(&c, "value"), ROWS as f64 - nulls);
    assert!(
        c.summary.ends_with(" · 100 rows with no v left out"),
        "{}",
        c.summary
    );
    // Nice bins: 0–99.9 in at most 30 bins of a round width.
    let x = &c.spec["encoding"]["x"];
    assert_eq!(x["bin"]["step"], 5.0);
    for row in values(&c) {
        let start = row["x"].as_f64().unwrap();
        let expected = scalar(
            &e,
            &format!("SELECT count(*) FROM readings WHERE v >= {start} AND v < {start} + 5"),
        )
        .await;
        assert_eq!(row["value"].as_f64().unwrap(), expected, "bin {start}");
    }
}

#[tokio::test]
async fn top_bars_and_an_exact_other() {
    let e = engine().await;
    let c = chart(&e, "SELECT product, v FROM readings", "bar").await;
    let rows = values(&c);
    assert_eq!(rows.len(), 21, "20 bars and other");
    assert_eq!(
        rows.iter().filter(|r| r["x"] == "other (30 more)").count(),
        1
    );
    // Sums add up to the whole, and the bars are the largest, in order.
    let total = scalar(&e, "SELECT sum(v) FROM readings").await;
    assert!((sum(&c, "value") - total).abs() < 1e-6 * total);
    let top = scalar(
        &e,
        "SELECT max(s) FROM (SELECT sum(v) AS s FROM readings GROUP BY product)",
    )
    .await;
    let first = rows.iter().find(|r| r["rank"] == 1.0).unwrap();
    assert!((first["value"].as_f64().unwrap() - top).abs() < 1e-9);
    // Averages in "other" are exact too: the mean of every row it holds.
    let c = chart(&e, "SELECT product, v FROM readings", "bar y=avg(v)").await;
    let other = values(&c)
        .iter()
        .find(|r| r["rank"] == 21.0)
        .unwrap()
        .clone();
    let tops: Vec<String> = values(&c)
        .iter()
        .filter(|r| r["rank"].as_f64().unwrap() <= 20.0)
        .map(|r| format!("'{}'", r["x"].as_str().unwrap()))
        .collect();
    let expected = scalar(
        &e,
        &format!(
            "SELECT avg(v) FROM readings WHERE product NOT IN ({})",
            tops.join(",")
        ),
    )
    .await;
    assert!((other["value"].as_f64().unwrap() - expected).abs() < 1e-9);
}

#[tokio::test]
async fn few_points_scatter_and_many_are_binned() {
    let e = engine().await;
    let c = chart(&e, "SELECT n, v FROM readings WHERE n <= 1000", "").await;
    assert_eq!(c.spec["mark"]["type"], "point");
    assert_eq!(values(&c).len(), 1000 - 1, "one v is missing");
    let c = chart(&e, "SELECT n, v FROM readings", "point").await;
    assert_eq!(c.spec["mark"]["type"], "rect");
    assert!(
        c.summary
            .contains("too many points for a scatter, so counted in bins"),
        "{}",
        c.summary
    );
    assert_eq!(
        sum(&c, "value"),
        scalar(&e, "SELECT count(v) FROM readings").await
    );
}

#[tokio::test]
async fn pies_facets_and_areas() {
    let e = engine().await;
    let c = chart(&e, "SELECT site, n FROM readings", "pie y=count").await;
    assert_eq!(c.spec["mark"]["type"], "arc");
    assert_eq!(sum(&c, "value"), ROWS as f64);
    let c = chart(
        &e,
        "SELECT ts, site, v FROM readings",
        "area x=ts y=sum(v) facet=site",
    )
    .await;
    assert_eq!(c.spec["encoding"]["facet"]["field"], "facet");
    let total = scalar(&e, "SELECT sum(v) FROM readings").await;
    assert!((sum(&c, "value") - total).abs() < 1e-6 * total);
}

#[tokio::test]
async fn columns_that_cannot_serve_are_named_with_those_that_can() {
    let e = engine().await;
    let source = "SELECT ts, site, v, product FROM readings";
    assert_eq!(
        chart_error(&e, source, "line x=site").await,
        "site is text, so it cannot be x of a line chart; columns that can: ts, v."
    );
    assert_eq!(
        chart_error(&e, source, "x=nope").await,
        "The result has no column 'nope'; its columns are ts, site, v, product."
    );
    let message = chart_error(&e, source, "bar x=site color=product").await;
    assert!(
        message.starts_with("product has about ")
            && message.contains("too many for colours (at most 20)"),
        "{message}"
    );
    let message = chart_error(&e, "SELECT [1, 2] AS l", "").await;
    assert!(message.starts_with("Nothing to chart"), "{message}");
    assert!(matches!(
        draw(&e, "SELECT nope FROM readings", &ChartRequest::default()).await,
        Err(DrawError::Query(_))
    ));
    let _ = ChartError::Usage(String::new());
}

#[tokio::test]
async fn a_profile_covers_every_column_in_two_scans() {
    let e = engine().await;
    let p = quarry_viz::profile(
        &e,
        "SELECT *, 7 AS seven, CAST(NULL AS DOUBLE) AS nothing FROM readings",
    )
    .await
    .unwrap();
    assert_eq!(p.rows, ROWS as u64);
    let column = |name: &str| p.columns.iter().find(|c| c.name == name).unwrap();
    let v = column("v");
    assert_eq!(
        v.non_null as f64,
        scalar(&e, "SELECT count(v) FROM readings").await
    );
    assert!((v.mean.unwrap() - scalar(&e, "SELECT avg(v) FROM readings").await).abs() < 1e-9);
    assert!((v.std.unwrap() - scalar(&e, "SELECT stddev(v) FROM readings").await).abs() < 1e-9);
    assert_eq!(v.min.as_deref(), Some("0"));
    assert_eq!(column("n").max.as_deref(), Some("100000"));
    let [p25, p50, p75] = v.quartiles.unwrap();
    assert!(
        (p25 - 25.0).abs() < 1.0 && (p50 - 50.0).abs() < 1.0 && (p75 - 75.0).abs() < 1.0,
        "{p25} {p50} {p75}"
    );
    assert_eq!(v.histogram.iter().map(|b| b.2).sum::<u64>(), v.non_null);
    let site = column("site");
    assert_eq!(site.distinct, 3);
    assert_eq!(site.top.iter().map(|t| t.1).sum::<u64>(), ROWS as u64);
    assert_eq!(site.top[0], ("beta".to_string(), 33_334));
    assert!(
        (site.mean_length.unwrap() - scalar(&e, "SELECT avg(length(site)) FROM readings").await)
            .abs()
            < 1e-9
    );
    assert_eq!(column("n").flags, vec!["key?"]);
    assert!(
        column("ts").flags.is_empty(),
        "a unique time is a measurement, not a key"
    );
    assert_eq!(column("seven").flags, vec!["constant"]);
    assert_eq!(column("nothing").flags, vec!["all null"]);
    let ts = column("ts");
    assert_eq!(ts.histogram.iter().map(|b| b.2).sum::<u64>(), ROWS as u64);
    let spec = p.histograms().unwrap();
    let titles: Vec<&str> = spec["concat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["title"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec!["ts", "v", "n", "seven"],
        "every number and time column, in order"
    );
    assert!(
        p.html()
            .contains("<td style=\"white-space: nowrap\">site</td>")
    );
}

#[tokio::test]
async fn one_value_per_group_is_titled_by_its_column_with_level_labels() {
    let e = engine().await;
    let per_site = "SELECT site, avg(v) AS avg_v FROM readings GROUP BY site";
    let c = chart(&e, per_site, "").await;
    assert_eq!(c.spec["mark"]["type"], "bar");
    // Not "sum(avg_v) by site": the sum of one value is that value.
    assert_eq!(c.title, "avg_v by site");
    assert_eq!(c.spec["encoding"]["y"]["title"], "avg_v");
    // Three short names read level; Vega-Lite would turn them 90°.
    assert_eq!(c.spec["encoding"]["x"]["axis"]["labelAngle"], 0);
    // Several rows per group keep the aggregate in the title, and an
    // aggregate the user named keeps the user's words.
    let c = chart(&e, "SELECT site, v FROM readings", "bar").await;
    assert_eq!(c.title, "sum(v) by site");
    let c = chart(&e, per_site, "bar y=sum(avg_v)").await;
    assert_eq!(c.title, "sum(avg_v) by site");
    // Fifty names: the top 20 and an "other" that sums the rest keep the
    // aggregate, and do not fit level.
    let c = chart(
        &e,
        "SELECT product, sum(v) AS total FROM readings GROUP BY product",
        "bar",
    )
    .await;
    assert_eq!(c.title, "sum(total) by product");
    assert!(
        c.spec["encoding"]["x"]["axis"].get("labelAngle").is_none(),
        "{}",
        c.spec["encoding"]["x"]
    );
}
