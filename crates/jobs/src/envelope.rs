//! The task envelope: a self-contained prompt, because a worker shares no
//! context with whoever dispatched it.

/// The parts of a prompt; sections appear in the order Task, Context,
/// Goal, Constraints, Expected Output, each only when given.
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    /// What to do.
    pub task: String,
    pub context: Option<String>,
    /// Files included in the Context section (`--file`, `--map`).
    pub files: Vec<IncludedFile>,
    pub goal: Option<String>,
    pub constraints: Vec<String>,
    pub expected: Option<String>,
}

impl Envelope {
    /// Does it have more than the task (so it is laid out in sections)?
    fn has_sections(&self) -> bool {
        self.context.is_some()
            || !self.files.is_empty()
            || self.goal.is_some()
            || !self.constraints.is_empty()
            || self.expected.is_some()
    }

    /// The prompt: the task alone when nothing else is given, else the
    /// sections in order.
    pub fn prompt(&self) -> String {
        if !self.has_sections() {
            return self.task.clone();
        }
        let mut out = String::new();
        let mut section = |title: &str, body: &str| {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str("## ");
            out.push_str(title);
            out.push('\n');
            out.push_str(body.trim_end());
            out.push('\n');
        };
        section("Task", &self.task);
        if self.context.is_some() || !self.files.is_empty() {
            let mut c = self.context.clone().unwrap_or_default();
            for f in &self.files {
                if !c.is_empty() {
                    c.push_str("\n\n");
                }
                c.push_str(&format!(
                    "File `{}`:\n```\n{}\n```",
                    f.path,
                    f.text.trim_end()
                ));
            }
            section("Context", &c);
        }
        if let Some(g) = &self.goal {
            section("Goal", g);
        }
        if !self.constraints.is_empty() {
            let list: Vec<String> = self.constraints.iter().map(|c| format!("- {c}")).collect();
            section("Constraints", &list.join("\n"));
        }
        if let Some(e) = &self.expected {
            section("Expected Output", e);
        }
        out
    }
}

/// A file whose text goes into the prompt.
#[derive(Clone, Debug)]
pub struct IncludedFile {
    /// As matched, relative to the job's directory.
    pub path: String,
    pub text: String,
}

/// Largest file `--file` includes.
pub const MAX_FILE_BYTES: usize = 64 * 1024;
/// Most bytes all included files may have together.
pub const MAX_FILES_BYTES: usize = 256 * 1024;

/// The files matching `globs` (relative to `dir`), and with `map` the
/// project's `docs/CODEBASE_MAP.md` when it exists, in order, each once.
pub fn include_files(
    dir: &std::path::Path,
    globs: &[String],
    map: bool,
) -> crate::Result<Vec<IncludedFile>> {
    use crate::Error;
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    for g in globs {
        let pattern = dir.join(g);
        let pattern = pattern
            .to_str()
            .ok_or_else(|| Error::Invalid(format!("--file {g:?}: the path is not UTF-8")))?;
        let found =
            glob::glob(pattern).map_err(|e| Error::Invalid(format!("--file {g:?}: {e}")))?;
        let before = paths.len();
        for p in found.flatten().filter(|p| p.is_file()) {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        if paths.len() == before {
            return Err(Error::Invalid(format!(
                "--file {g:?} matches no file under {}",
                dir.display()
            )));
        }
    }
    let map_path = dir.join("docs/CODEBASE_MAP.md");
    if map && map_path.is_file() && !paths.contains(&map_path) {
        paths.push(map_path);
    }
    let mut total = 0;
    let mut out = Vec::new();
    for p in paths {
        let shown = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
        let bytes = std::fs::read(&p).map_err(|e| Error::Io {
            what: format!("reading {shown}"),
            source: e,
        })?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(Error::Invalid(format!(
                "{shown} has {} bytes; a file included in the prompt has at most {MAX_FILE_BYTES}",
                bytes.len()
            )));
        }
        total += bytes.len();
        if total > MAX_FILES_BYTES {
            return Err(Error::Invalid(format!(
                "the included files pass {MAX_FILES_BYTES} bytes at {shown}"
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Invalid(format!("{shown} is not UTF-8 text")))?;
        out.push(IncludedFile { path: shown, text });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_in_order_and_only_when_given() {
        let plain = Envelope {
            task: "do it".into(),
            ..Envelope::default()
        };
        assert_eq!(plain.prompt(), "do it");
        let full = Envelope {
            task: "Add a parser".into(),
            context: Some("src/ holds the code".into()),
            files: vec![IncludedFile {
                path: "notes.md".into(),
                text: "NOTE TEXT\n".into(),
            }],
            goal: Some("parse JSONL".into()),
            constraints: vec!["no new deps".into(), "keep tests green".into()],
            expected: Some("a summary".into()),
        };
        let p = full.prompt();
        let at = |s: &str| p.find(s).unwrap_or(usize::MAX);
        assert!(at("## Task") < at("## Context"));
        assert!(at("## Context") < at("## Goal"));
        assert!(at("## Goal") < at("## Constraints"));
        assert!(at("## Constraints") < at("## Expected Output"));
        assert!(at("## Expected Output") < p.len());
        assert!(p.contains("- no new deps\n- keep tests green"));
        assert!(at("## Context") < at("File `notes.md`:\n```\nNOTE TEXT\n```"));
        assert!(at("NOTE TEXT") < at("## Goal"));
    }
}
