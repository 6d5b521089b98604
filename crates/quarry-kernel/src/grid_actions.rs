//! The grid's Chart, Profile and Export buttons.
//!
//! A saved output is written by whoever wrote the notebook, and the grid
//! renders in untrusted notebooks too, so nothing in a saved
//! `application/vnd.quarry.result+json` decides what code runs. The cells
//! the buttons insert come from this kernel: for a result it still holds,
//! it remembers the query that made it (the user's own cell), and answers
//! `{"request": "actions", "result_id", "seq", "sort", "filters"}` with
//! `{"seq", "actions": {"chart", "profile", "export"}, "whole": bool}` —
//! that query narrowed to the grid's filters and sort, so the buttons act
//! on what the grid shows. A result it does not hold (another kernel's, a
//! notebook opened from a file, a forged output) is answered
//! `{"seq", "error", "gone": true}` and the grid stays a read-only table.

use std::collections::HashMap;
use std::sync::Mutex;

use quarry_sql::{
    SqlSession, notebook::ActionsAnswer, notebook::Held, notebook::PageRequest,
    notebook::ResultError, notebook::ViewDialect,
};
use serde_json::{Value, json};

use super::present::LastQuery;

/// The queries behind the results the session still holds, by result id.
#[derive(Debug, Default)]
pub(super) struct GridActions {
    sources: Mutex<HashMap<String, LastQuery>>,
}

impl GridActions {
    /// Remembers the query behind a result that was held, and forgets the
    /// results the store no longer holds.
    pub(super) fn remember(&self, session: &SqlSession, held: &Held, source: Option<&LastQuery>) {
        let (Held::Yes(id), Some(source)) = (held, source) else {
            return;
        };
        let still_held = session.results().ids();
        let mut sources = self.sources.lock().expect("grid actions lock");
        sources.retain(|id, _| still_held.contains(id));
        sources.insert(id.clone(), source.clone());
    }

    /// The answer to an `actions` request.
    pub(super) fn answer(&self, session: &SqlSession, data: &Value) -> Value {
        let seq = data.get("seq").cloned().unwrap_or(Value::Null);
        match self.cells(session, data) {
            Ok((actions, whole)) => crate::comms::answer(ActionsAnswer {
                seq,
                actions: Some(actions),
                whole: Some(whole),
                error: None,
                gone: None,
            }),
            Err(ActionError { message, gone }) => {
                crate::comms::answer(ActionsAnswer::failed(seq, message, gone))
            }
        }
    }

    fn cells(
        &self,
        session: &SqlSession,
        data: &Value,
    ) -> Result<(std::collections::BTreeMap<String, String>, bool), ActionError> {
        let id = data
            .get("result_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ActionError::request("An actions request needs the \"result_id\" of a result.")
            })?;
        let source = self
            .sources
            .lock()
            .expect("grid actions lock")
            .get(id)
            .cloned();
        let Some(source) = source else {
            // Held but made by a statement with no query to repeat (or not
            // held at all): say which, from the store.
            return Err(match session.results().ids().iter().any(|held| held == id) {
                true => ActionError::request(
                    "This result's cell has no query to chart, profile or export again; write the query in a cell.",
                ),
                false => ActionError {
                    message: "This result is not held by this kernel (it was saved with the notebook, or the kernel restarted): run its cell again to chart, profile or export it.".into(),
                    gone: true,
                },
            });
        };
        let view = view_of(data).map_err(|e| ActionError::request(&e))?;
        let whole = view.filters.is_empty();
        let (dialect, spark) = match &source {
            LastQuery::Sql(_) => (ViewDialect::DataFusion, false),
            LastQuery::Spark(_) => (ViewDialect::Spark, true),
        };
        let sql = session
            .grid_view_sql(id, source.sql(), &view, dialect)
            .map_err(|e: ResultError| ActionError {
                gone: e.is_gone(),
                message: e.to_string(),
            })?;
        let below = if spark {
            format!("%%spark\n{sql}")
        } else {
            sql
        };
        let actions = [
            ("chart", format!("%chart\n{below}")),
            ("profile", format!("%profile\n{below}")),
            ("export", format!("%export csv\n{below}")),
        ];
        Ok((
            actions.map(|(name, cell)| (name.to_string(), cell)).into(),
            whole,
        ))
    }
}

/// The grid's filters and sort from a request (paging is not part of a view).
fn view_of(data: &Value) -> Result<PageRequest, String> {
    let mut view = json!({});
    for field in ["sort", "filters"] {
        if let Some(value) = data.get(field) {
            view[field] = value.clone();
        }
    }
    serde_json::from_value(view).map_err(|e| format!("The grid's view is not understood: {e}."))
}

struct ActionError {
    message: String,
    gone: bool,
}

impl ActionError {
    fn request(message: &str) -> Self {
        ActionError {
            message: message.to_string(),
            gone: false,
        }
    }
}
