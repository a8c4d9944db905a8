//! The browser assets, embedded in the binary: the vendored third-party files (GraphiQL, React,
//! uPlot: `assets/vendor/`, pinned with their sha256 in `assets/vendor/MANIFEST.tsv`) and the
//! pages' own files (`assets/graphiql/`, `assets/dashboard/`). Each is served at
//! `/assets/{stem}.{hash}.{ext}`, its hash taken over the bytes served, so a browser may keep it
//! for a year and a new build can never be shadowed by an old copy.
//!
//! Why vendored and embedded rather than fetched: the build and the pages must work with no
//! network but the registries (CI builds from the repository and crates.io), and a machine
//! cut off from the internet must still get working pages from `cargo run --release` alone.
//! `assets/fetch.sh` refetches the pins from the npm registry (`--verify` checks the vendored
//! bytes against them); the tests below check every embedded file against the manifest.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One file to serve, as embedded.
struct Source {
    /// Its name: unique across the set, and how pages and modules refer to it.
    name: &'static str,
    bytes: &'static [u8],
    /// Whether it is an ES module of ours, whose `"./x.js"` imports are rewritten to the hashed
    /// names of the modules listed before it.
    module: bool,
}

macro_rules! vendored {
    ($name:literal) => {
        Source { name: $name, bytes: include_bytes!(concat!("../assets/vendor/", $name)), module: false }
    };
}

macro_rules! own {
    ($dir:literal, $name:literal) => {
        Source { name: $name, bytes: include_bytes!(concat!("../assets/", $dir, "/", $name)), module: false }
    };
    ($dir:literal, $name:literal, module) => {
        Source { name: $name, bytes: include_bytes!(concat!("../assets/", $dir, "/", $name)), module: true }
    };
}

/// Every asset. Modules come after the modules they import, so each one's hash covers the
/// hashed names of its imports (and so, transitively, their contents).
const SOURCES: &[Source] = &[
    vendored!("graphiql.min.js"),
    vendored!("graphiql.min.css"),
    vendored!("react.production.min.js"),
    vendored!("react-dom.production.min.js"),
    vendored!("uPlot.iife.min.js"),
    vendored!("uPlot.min.css"),
    own!("graphiql", "graphiql-start.js"),
    own!("graphiql", "graphiql-page.css"),
    own!("dashboard", "dashboard.css"),
    own!("dashboard", "format.js", module),
    own!("dashboard", "range.js", module),
    own!("dashboard", "graphql.js", module),
    own!("dashboard", "panel.js", module),
    own!("dashboard", "charts.js", module),
    own!("dashboard", "summary.js", module),
    own!("dashboard", "daily.js", module),
    own!("dashboard", "drilldown.js", module),
    own!("dashboard", "deployments.js", module),
    own!("dashboard", "talkdesk.js", module),
    own!("dashboard", "dashboard.js", module),
];

/// The pinned manifest of the vendored files.
#[cfg(test)]
const MANIFEST: &str = include_str!("../assets/vendor/MANIFEST.tsv");

/// An asset as served.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Bytes,
}

/// The assets by their served file name (`{stem}.{hash}.{ext}`), and each name's URL.
#[derive(Debug)]
pub(crate) struct Assets {
    by_file: HashMap<String, Asset>,
    urls: HashMap<&'static str, String>,
}

/// The URL prefix every asset is served under.
pub(crate) const PREFIX: &str = "/assets/";

static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::build);

impl Assets {
    /// The embedded set, hashed once per process.
    pub(crate) fn get() -> &'static Assets {
        &ASSETS
    }

    fn build() -> Assets {
        let mut by_file = HashMap::new();
        let mut urls: HashMap<&'static str, String> = HashMap::new();
        // (import as written, import as served), for the modules seen so far.
        let mut imports: Vec<(String, String)> = Vec::new();
        for source in SOURCES {
            let bytes = if source.module {
                let mut text = String::from_utf8_lossy(source.bytes).into_owned();
                for (written, served) in &imports {
                    text = text.replace(written, served);
                }
                Bytes::from(text)
            } else {
                Bytes::from_static(source.bytes)
            };
            let file = hashed_name(source.name, &bytes);
            if source.module {
                for quote in ['"', '\''] {
                    imports.push((format!("{quote}./{}{quote}", source.name), format!("{quote}./{file}{quote}")));
                }
            }
            urls.insert(source.name, format!("{PREFIX}{file}"));
            by_file.insert(file, Asset { content_type: content_type(source.name), bytes });
        }
        Assets { by_file, urls }
    }

    /// The URL of an asset by its name (`graphiql.min.js`). Panics on a name not in the set:
    /// the pages' templates name only embedded files, which a test checks.
    pub(crate) fn url(&self, name: &str) -> &str {
        match self.urls.get(name) {
            Some(url) => url,
            None => panic!("no embedded asset named {name}"),
        }
    }

    /// The asset served as `file` (the part of the path after `/assets/`).
    pub(crate) fn file(&self, file: &str) -> Option<&Asset> {
        self.by_file.get(file)
    }

    /// The served bytes of every asset, by name (for tests and page weights).
    #[cfg(test)]
    pub(crate) fn served(&self) -> Vec<(&'static str, &Asset)> {
        SOURCES
            .iter()
            .map(|s| {
                let file = self.urls[s.name].trim_start_matches(PREFIX);
                (s.name, &self.by_file[file])
            })
            .collect()
    }
}

/// `stem.{first 16 hex digits of the sha256}.ext`.
fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The manifest's rows: (file, package, version, sha256, bytes).
    fn manifest() -> Vec<(String, String, String, String, usize)> {
        MANIFEST
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 7, "{l}");
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned(), f[4].to_owned(), f[5].parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn assets_vendored_files_are_the_pinned_bytes() {
        let rows = manifest();
        let vendored: Vec<&Source> = SOURCES.iter().filter(|s| rows.iter().any(|r| r.0 == s.name)).collect();
        assert_eq!(vendored.len(), rows.len(), "every manifest row is embedded, and only once");
        for (file, package, version, sha256, size) in &rows {
            let source = SOURCES.iter().find(|s| s.name == file).unwrap();
            let actual: String = Sha256::digest(source.bytes).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(&actual, sha256, "{file} is not {package}@{version}'s: run assets/fetch.sh");
            assert_eq!(source.bytes.len(), *size, "{file}");
        }
    }

    #[test]
    fn assets_are_served_under_their_content_hash() {
        let assets = Assets::get();
        for (name, asset) in assets.served() {
            let url = assets.url(name);
            let file = url.strip_prefix(PREFIX).unwrap();
            let (stem, ext) = name.rsplit_once('.').unwrap();
            let hash: String = Sha256::digest(&asset.bytes).iter().take(8).map(|b| format!("{b:02x}")).collect();
            assert_eq!(file, format!("{stem}.{hash}.{ext}"));
            assert!(assets.file(file).is_some());
            assert!(assets.file(name).is_none(), "no unhashed path");
        }
    }

    #[test]
    fn assets_module_imports_name_hashed_files_that_exist() {
        let assets = Assets::get();
        let mut checked = 0;
        for (name, asset) in assets.served() {
            if !name.ends_with(".js") || name.contains(".min.") || name.starts_with("graphiql") {
                continue;
            }
            let text = std::str::from_utf8(&asset.bytes).unwrap();
            for line in text.lines().filter(|l| l.trim_start().starts_with("import ")) {
                let target = line.rsplit_once("from").map_or(line, |(_, t)| t);
                let target = target.trim().trim_end_matches(';').trim_matches(['"', '\'']);
                let file = target.strip_prefix("./").unwrap_or_else(|| panic!("{name}: {line}"));
                assert!(assets.file(file).is_some(), "{name} imports {target}, which is not served");
                checked += 1;
            }
        }
        assert!(checked >= 10, "{checked} imports checked");
    }
}
