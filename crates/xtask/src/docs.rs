//! `cargo xtask docs`: the book under `docs/`, built with mdBook (from
//! crates.io, installed once into `~/.cache/quarry/tools`) and every link
//! in the built HTML checked: a page, picture or `#anchor` that does not
//! exist fails the build, as does a relative link that leaves the book.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::env::{Project, run};

/// The mdBook release the book is built with.
const MDBOOK_VERSION: &str = "0.5.4";

/// Builds the book into `docs/book/` and checks its links.
pub fn build(project: &Project) -> anyhow::Result<PathBuf> {
    let mdbook = install_mdbook(project)?;
    let docs = project.root.join("docs");
    run(Command::new(&mdbook).arg("build").arg(&docs))?;
    let book = docs.join("book");
    let broken = broken_links(&book)?;
    if !broken.is_empty() {
        bail!(
            "the book has {} broken link(s):\n{}",
            broken.len(),
            broken.join("\n")
        );
    }
    eprintln!(
        "xtask: the book is in {} and its links hold",
        book.display()
    );
    Ok(book)
}

/// mdBook without its server and file watcher (the book is only built).
fn install_mdbook(project: &Project) -> anyhow::Result<PathBuf> {
    let root = project.tools_dir();
    let mdbook = root.join("bin/mdbook");
    let version = Command::new(&mdbook).arg("--version").output();
    if version.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(MDBOOK_VERSION)) {
        return Ok(mdbook);
    }
    eprintln!("xtask: installing mdBook {MDBOOK_VERSION} (once, about 3 minutes)");
    let root_arg = root.to_str().context("non-UTF-8 tools path")?;
    let target = project.target_dir().join("tools");
    let target_arg = target.to_str().context("non-UTF-8 target path")?;
    project.cargo(&[
        "install",
        "mdbook",
        "--version",
        MDBOOK_VERSION,
        "--locked",
        "--no-default-features",
        "--features",
        "search",
        "--root",
        root_arg,
        "--target-dir",
        target_arg,
    ])?;
    Ok(mdbook)
}

/// Every link in the book's HTML that points nowhere, as `page: link`.
pub fn broken_links(book: &Path) -> anyhow::Result<Vec<String>> {
    let mut pages = Vec::new();
    html_files(book, &mut pages)?;
    let mut anchors: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    let mut texts = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page)
            .with_context(|| format!("could not read {}", page.display()))?;
        anchors.insert(
            page.clone(),
            attribute_values(&text, "id").into_iter().collect(),
        );
        texts.push((page.clone(), text));
    }
    let mut broken = Vec::new();
    for (page, text) in &texts {
        for link in attribute_values(text, "href")
            .into_iter()
            .chain(attribute_values(text, "src"))
        {
            if let Some(why) = check_link(book, page, &link, &anchors) {
                let shown = page.strip_prefix(book).unwrap_or(page).display();
                broken.push(format!("{shown}: {link} ({why})"));
            }
        }
    }
    Ok(broken)
}

/// Why `link` on `page` is broken, if it is.
fn check_link(
    book: &Path,
    page: &Path,
    link: &str,
    anchors: &HashMap<PathBuf, HashSet<String>>,
) -> Option<&'static str> {
    // Other sites, and the site root (mdBook's 404 page links to `/`).
    let elsewhere = ["mailto:", "data:", "javascript:"];
    if link.contains("://") || link == "/" || elsewhere.iter().any(|p| link.starts_with(p)) {
        return None;
    }
    let (path, fragment) = link.split_once('#').unwrap_or((link, ""));
    let path = path.split('?').next().unwrap_or_default();
    let target = if path.is_empty() {
        page.to_path_buf()
    } else {
        let joined = normalize(&page.parent()?.join(path));
        if !joined.starts_with(book) {
            return Some("leaves the book");
        }
        if joined.is_dir() {
            joined.join("index.html")
        } else {
            joined
        }
    };
    if !target.is_file() {
        return Some("no such file");
    }
    let is_page = target.extension().is_some_and(|e| e == "html");
    if !fragment.is_empty() && is_page && !anchors.get(&target)?.contains(fragment) {
        return Some("no such anchor");
    }
    None
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The values of `name="…"` attributes in `html`, entities for `&` undone.
fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            Some(rest[..rest.find('"')?].replace("&amp;", "&"))
        })
        .collect()
}

fn html_files(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            html_files(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book_with(pages: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, html) in pages {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, html).unwrap();
        }
        dir
    }

    #[test]
    fn links_to_pages_anchors_and_pictures_that_exist_hold() {
        let book = book_with(&[
            (
                "index.html",
                r##"<a href="guide/sql.html#cells">x</a><a href="https://x.org/y">y</a>"##,
            ),
            (
                "guide/sql.html",
                r##"<h2 id="cells">Cells</h2><img src="../images/a.png"><a href="#cells">z</a>"##,
            ),
            ("images/a.png", ""),
        ]);
        assert_eq!(broken_links(book.path()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_missing_page_anchor_or_escape_is_named() {
        let book = book_with(&[(
            "guide/sql.html",
            r##"<a href="gone.html">a</a><a href="#nowhere">b</a><img src="../../crates/x.png"><h2 id="here">h</h2>"##,
        )]);
        let broken = broken_links(book.path()).unwrap();
        assert_eq!(
            broken,
            [
                "guide/sql.html: gone.html (no such file)",
                "guide/sql.html: #nowhere (no such anchor)",
                "guide/sql.html: ../../crates/x.png (leaves the book)",
            ]
        );
    }
}
