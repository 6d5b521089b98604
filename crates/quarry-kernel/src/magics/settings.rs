//! `%config`, `%set` and `%unset`: the kernel's settings and the query
//! parameters.

use quarry_s3::CacheStats;
use quarry_text::markup::{Cell, HtmlTable};
use quarry_text::numbers::human_bytes;

use crate::protocol::{ExecuteError, Outputs};
use crate::{QuarryHandler, display};

/// Above this many displayed rows, `%config max_rows` warns.
const LARGE_DISPLAY: usize = 10_000;

fn parameter_error(error: quarry_sql::SqlError) -> ExecuteError {
    ExecuteError::new(error.kind.ename(), error.message)
}

/// `%set` lists the parameters; `%set name = value` (or `name value`) sets one.
pub(super) fn set(
    handler: &QuarryHandler,
    rest: &str,
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let parameters = handler.session.parameters();
    if rest.is_empty() {
        let list = parameters.list();
        if list.is_empty() {
            outputs.stdout(
                "No parameters are set: %set name = value sets one, used in SQL as $name.\n",
            );
            return Ok(());
        }
        let mut table = HtmlTable::new([
            ("parameter", Cell::Code),
            ("type", Cell::Text),
            ("value", Cell::Code),
        ]);
        let mut text = String::new();
        for (name, parameter) in &list {
            let type_name = parameter.type_name();
            text.push_str(&format!("${name}  {type_name}  {}\n", parameter.text));
            table.row([format!("${name}").as_str(), &type_name, &parameter.text]);
        }
        outputs.display(display::text_and_html(&text, table.to_html()), None);
        return Ok(());
    }
    let (name, value) = match rest.split_once('=') {
        Some((name, value)) => (name.trim(), value.trim()),
        None => rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(n, v)| (n, v.trim())),
    };
    let name = name.trim_start_matches('$');
    let parameter = parameters.set(name, value).map_err(parameter_error)?;
    outputs.stdout(&format!(
        "${name} = {} ({})\n",
        parameter.text,
        parameter.type_name()
    ));
    Ok(())
}

pub(super) fn unset(
    handler: &QuarryHandler,
    args: &[&str],
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let [name] = args else {
        return Err(ExecuteError::new(
            "ParameterError",
            "%unset takes one parameter name: %unset city.",
        ));
    };
    if handler.session.parameters().unset(name) {
        outputs.stdout(&format!(
            "${} is no longer set.\n",
            name.trim_start_matches('$')
        ));
        Ok(())
    } else {
        Err(ExecuteError::new(
            "ParameterError",
            format!(
                "${} is not set (%set lists the parameters).",
                name.trim_start_matches('$')
            ),
        ))
    }
}

pub(super) fn config(
    handler: &QuarryHandler,
    args: &[&str],
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    match args {
        [] => show(handler, outputs),
        ["max_rows", value] => set_max_rows(handler, value, outputs),
        ["s3_cache", "clear"] => clear_s3_cache(handler, outputs),
        ["memory_limit", ..] => Err(ExecuteError::new(
            "ConfigError",
            "memory_limit is fixed when the kernel starts: set QUARRY_MEMORY_LIMIT (e.g. 4g) and restart the kernel.",
        )),
        _ => Err(ExecuteError::new(
            "ConfigError",
            format!(
                "Unknown setting '{}': use %config max_rows N or %config s3_cache clear (see %help).",
                args.join(" ")
            ),
        )),
    }
}

/// `%config`: the settings and what they are now.
fn show(handler: &QuarryHandler, outputs: &Outputs) -> Result<(), ExecuteError> {
    let config = handler.config();
    let memory = handler.session.memory_in_words();
    let settings = [
        ("max_rows", config.max_rows.to_string()),
        ("memory_limit", memory),
        (
            "s3_cache",
            describe_cache(handler.session.s3().cache().map(|c| c.stats())),
        ),
        (
            "s3_endpoint",
            handler.session.s3().settings().endpoint_display(),
        ),
    ];
    let mut table = HtmlTable::new([("setting", Cell::Code), ("value", Cell::Text)]);
    let mut text = String::new();
    for (name, value) in &settings {
        text.push_str(&format!("{name:<14}{value}\n"));
        table.row([*name, value.as_str()]);
    }
    outputs.display(display::text_and_html(&text, table.to_html()), None);
    Ok(())
}

/// `%config max_rows N`.
fn set_max_rows(
    handler: &QuarryHandler,
    value: &str,
    outputs: &Outputs,
) -> Result<(), ExecuteError> {
    let rows: usize = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ExecuteError::new(
            "ConfigError",
            format!("max_rows must be a positive whole number, not '{value}'."),
        )
    })?;
    handler.config.lock().expect("config lock").max_rows = rows;
    outputs.stdout(&format!("max_rows = {rows}\n"));
    if rows > LARGE_DISPLAY {
        outputs.stderr(&format!(
            "Warning: showing more than {LARGE_DISPLAY} rows makes notebooks large and browsers slow; \
             consider COPY … TO 's3://…' for big results.\n"
        ));
    }
    Ok(())
}

/// `%config s3_cache clear`.
fn clear_s3_cache(handler: &QuarryHandler, outputs: &Outputs) -> Result<(), ExecuteError> {
    match handler.session.s3().cache() {
        Some(cache) => {
            let held = cache.stats().used;
            cache.clear();
            outputs.stdout(&format!(
                "Dropped {} of cached S3 reads and decoded files; the next queries read from S3 again.\n",
                human_bytes(held as u64)
            ));
        }
        None => outputs.stdout("The S3 cache is off (QUARRY_S3_CACHE=0).\n"),
    }
    Ok(())
}

/// `1.2 GiB of 3.6 GiB held · 84% of reads from memory`, for `%config`.
fn describe_cache(stats: Option<CacheStats>) -> String {
    let Some(stats) = stats else {
        return "off (QUARRY_S3_CACHE=0)".to_string();
    };
    let mut held = format!(
        "{} of {} held",
        human_bytes(stats.used as u64),
        human_bytes(stats.capacity as u64)
    );
    if stats.derived_bytes > 0 {
        held.push_str(&format!(
            " ({} of it CSV/JSON kept decoded)",
            human_bytes(stats.derived_bytes as u64)
        ));
    }
    let read = stats.hit_bytes + stats.fetched_bytes;
    if read == 0 {
        return held;
    }
    let share = (stats.hit_bytes as f64 / read as f64 * 100.0).round();
    format!("{held} · {share}% of bytes read came from memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_line_says_how_much_is_held_and_reused() {
        assert_eq!(describe_cache(None), "off (QUARRY_S3_CACHE=0)");
        let fresh = CacheStats {
            capacity: 1 << 30,
            ..CacheStats::default()
        };
        assert_eq!(describe_cache(Some(fresh)), "0 B of 1.0 GiB held");
        let used = CacheStats {
            used: 3 << 20,
            hit_bytes: 3,
            fetched_bytes: 1,
            ..fresh
        };
        assert_eq!(
            describe_cache(Some(used)),
            "3.0 MiB of 1.0 GiB held · 75% of bytes read came from memory"
        );
    }
}
