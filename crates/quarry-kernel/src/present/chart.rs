//! `%chart`: a chart of a cell's result — or of the last result — whose
//! aggregation runs in the engine that produced it (quarry-viz plans it).

use jupyter_protocol::{Media, MediaType};
use quarry_viz::{Chart, ChartRequest};

use super::{LastQuery, draw_error, spark_query};
use crate::QuarryHandler;
use crate::protocol::{ExecuteError, Outputs};

fn chart_error(error: quarry_viz::ChartError) -> ExecuteError {
    ExecuteError::new("ChartError", error.to_string())
}

impl QuarryHandler {
    /// `%chart ARGS` over a SQL cell's `sql`, or over the last result
    /// when the cell has no SQL.
    pub(crate) async fn chart_sql(
        &self,
        args: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let request = ChartRequest::parse(args).map_err(chart_error)?;
        let source = self.source("%chart", sql, outputs).await?;
        self.chart(&request, source, outputs).await
    }

    /// `%chart ARGS` above `%%spark`: the Spark query, aggregated in Spark.
    pub(crate) async fn chart_spark(
        &self,
        args: &str,
        options: &str,
        body: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let request = ChartRequest::parse(args).map_err(chart_error)?;
        if !options.is_empty() {
            return Err(ExecuteError::new(
                "ChartError",
                "%chart charts a %%spark query as it is, so %%spark takes no options here: run the cell with -i/-o first, then %chart alone.",
            ));
        }
        self.chart(&request, spark_query(body)?, outputs).await
    }

    /// Draws `source` as `request` asks and shows the chart as the cell's result.
    async fn chart(
        &self,
        request: &ChartRequest,
        source: LastQuery,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let engine = self.engine_for(&source)?;
        let sql = source.sql().to_string();
        let drawing = async {
            quarry_viz::draw(&engine, &sql, request)
                .await
                .map_err(draw_error)
        };
        let chart = self
            .with_status("Charting (aggregating every row)", outputs, drawing)
            .await?;
        outputs.result(chart_media(&chart));
        self.remember_query(source);
        Ok(())
    }
}

/// The chart for JupyterLab (Vega-Lite) and a text stand-in that says
/// what it shows, for every other frontend.
///
/// No `text/html`: JupyterLab prefers HTML (rank 50) to its Vega renderer
/// (rank 57), so an HTML stand-in would hide the chart — which is why
/// Altair sends none either.
fn chart_media(chart: &Chart) -> Media {
    Media {
        content: vec![
            MediaType::Plain(chart.plain()),
            MediaType::VegaLiteV5(chart.spec.clone()),
        ],
    }
}
