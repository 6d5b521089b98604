//! Text for people, with no dependencies: every crate that shows data to a
//! notebook goes through here.
//!
//! The one rule this crate keeps: **anything that came from data or from
//! another tenant is text, never markup.** Object keys, bucket names, column
//! names, values, statistics and error sentences that quote them reach a
//! JupyterLab that renders outputs produced while running as *trusted* —
//! unsanitised HTML and Markdown. So Quarry never puts data into Markdown
//! (whose escaping rules differ by renderer and context: code spans, tables,
//! links, raw HTML) and builds HTML only through [`markup`], where every
//! piece of data passes [`markup::escape_html`] exactly once.

#![warn(missing_docs)]

pub mod markup;
pub mod numbers;
