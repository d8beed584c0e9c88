//! Reading answers and records.

use std::path::Path;

use serde_json::{Map, Value};

/// The row of `slot` in a list of rows (`get_status`'s `slots`, the CLI's
/// `rows`, `plan_wake`'s `actions`); panics, showing the list, when there
/// is none.
pub fn row<'a>(rows: &'a Value, slot: &str) -> &'a Value {
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["slot"] == slot))
        .unwrap_or_else(|| panic!("no row for {slot} in {rows}"))
}

/// A string field of a record, `""` when it is missing or not a string.
pub fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The JSON files of a store's `reports/`, by kind; each list is
/// `(file name, content)`, sorted by name.
#[derive(Debug, Default)]
pub struct ReportFiles {
    /// Commit reports (`last-reported.json`, the reference's pointer, aside).
    pub reports: Vec<(String, Value)>,
    /// Failures the commit hook kept (`*_hook_error.json`).
    pub hook_errors: Vec<(String, Value)>,
}

/// Read the store's `reports/` (nothing when it does not exist); a file that
/// is not JSON fails the test.
pub fn report_files(store: &Path) -> ReportFiles {
    let mut out = ReportFiles::default();
    for e in std::fs::read_dir(store.join("reports"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name == "last-reported.json" {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("read a report file");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{name} is not JSON ({err}): {text}"));
        if name.ends_with("_hook_error.json") {
            out.hook_errors.push((name, v));
        } else {
            out.reports.push((name, v));
        }
    }
    out.reports.sort_by(|a, b| a.0.cmp(&b.0));
    out.hook_errors.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
