//! The safe-command policy: which commands (and patches) a wake may approve
//! without a person, inside the slot's worktree (the approval root).
//!
//! It is the reference's table (`decideCommandApprovalResponse`) without
//! its holes (spec §7.6): a path argument may contain no `..` component at
//! all (the reference let `git add -- docs/..` stage the whole worktree);
//! `rg`'s pattern may not start with `-` (the reference let `rg -n
//! --pre=sh …` run a program); `node` may only `--check` a file (running a
//! script the agent may have written is running anything); and the working
//! directory must be inside the root component by component, with case
//! (the reference compared case-insensitively, so `/WT/SUB` passed for
//! `/wt`). Further: the shell that wraps a command must be a bare name or
//! live in a system directory (the model chooses `exec_command`'s `shell`,
//! and `/tmp/x/bash -lc "git status"` would run its own binary); programs
//! are bare names; a PowerShell argument may not contain a comma (PowerShell
//! splits `docs,..` into two arguments).
//!
//! Everything not matched is declined. The text is parsed strictly: quotes
//! group, and anything a shell would expand or interpret (`$`, backticks,
//! backslashes, `| & ; < > ( ) { } [ ] * ? ~ ! #`, newlines) makes the command
//! unparsable, hence declined.
//!
//! Known residual: `git commit -m …` is accepted, and git runs the
//! repository's hooks; they live under `.git` (read-only in Codex's
//! workspace-write sandbox) unless `core.hooksPath` points into the worktree.

use std::path::{Component, Path, PathBuf};

/// A command to judge: Codex's v2 requests carry a command line, v1 ones an argv.
#[derive(Clone, Debug)]
pub enum CommandText<'a> {
    Line(&'a str),
    Argv(&'a [String]),
}

/// Accepted, or declined and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Decline(String),
}

fn decline(why: impl Into<String>) -> Verdict {
    Verdict::Decline(why.into())
}

/// Judge a command run in `cwd` against the approval `root`.
pub fn judge(cmd: &CommandText<'_>, cwd: &str, root: &Path) -> Verdict {
    if !inside(Path::new(cwd), root) {
        return decline(format!(
            "cwd {cwd} is not inside the approval root {}",
            root.display()
        ));
    }
    let argv = match cmd {
        CommandText::Line(line) => match split(line) {
            Some(a) => a,
            None => return decline("the command line uses shell syntax that is not allowed"),
        },
        CommandText::Argv(a) => a.to_vec(),
    };
    judge_argv(&argv)
}

/// Is `path` (absolute, without `.`/`..` tricks) `root` or below it, compared
/// component by component, with case?
pub fn inside(path: &Path, root: &Path) -> bool {
    let (Some(path), Some(root)) = (normal(path), normal(root)) else {
        return false;
    };
    path.starts_with(&root)
}

/// An absolute path with `.` components dropped; `None` for a relative path
/// or one with a `..` component.
fn normal(p: &Path) -> Option<PathBuf> {
    if !p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => return None,
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}

/// Split a command line into words: `'…'` is literal, `"…"` is literal but
/// may hold nothing a shell expands, words concatenate (`'a'"b"` is `ab`).
/// `None` when anything else a shell would interpret appears.
pub fn split(line: &str) -> Option<Vec<String>> {
    const UNQUOTED_BAD: &str = "|&;<>()$`\\*?[]{}~!#\"'";
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\r' => return None,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        '\n' | '\r' => return None,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' | '\\' | '!' | '\n' | '\r' => return None,
                        c => word.push(c),
                    }
                }
            }
            c if UNQUOTED_BAD.contains(c) || c.is_control() => return None,
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// The last path component, with either separator.
fn basename(p: &str) -> &str {
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

fn is_bare(p: &str) -> bool {
    !p.is_empty() && !p.contains(['/', '\\'])
}

/// A shell or PowerShell that may wrap a command: a bare name, or one in a
/// system directory.
fn trusted_wrapper(p: &str) -> bool {
    if is_bare(p) {
        return true;
    }
    const POSIX_DIRS: [&str; 5] = [
        "/bin/",
        "/usr/bin/",
        "/usr/local/bin/",
        "/opt/homebrew/bin/",
        "/run/current-system/sw/bin/",
    ];
    if POSIX_DIRS
        .iter()
        .any(|d| p.strip_prefix(d).is_some_and(is_bare))
    {
        return true;
    }
    // Windows paths are case-insensitive; only these two folders are trusted.
    let lower = p.to_ascii_lowercase().replace('/', "\\");
    ["c:\\windows\\system32\\", "c:\\program files\\powershell\\"]
        .iter()
        .any(|d| lower.starts_with(d))
}

/// A program name: lower-cased, `.exe` dropped.
fn program(p: &str) -> String {
    let b = basename(p).to_ascii_lowercase();
    b.strip_suffix(".exe").map(str::to_owned).unwrap_or(b)
}

fn judge_argv(argv: &[String]) -> Verdict {
    let Some(first) = argv.first() else {
        return decline("an empty command");
    };
    let name = program(first);
    match name.as_str() {
        "bash" | "sh" | "zsh" | "dash" => {
            if !trusted_wrapper(first) {
                return decline(format!("the shell {first} is not a system shell"));
            }
            match argv {
                [_, flag, script] if flag == "-c" || flag == "-lc" => match split(script) {
                    Some(inner) => judge_plain(&inner, false),
                    None => decline("the script uses shell syntax that is not allowed"),
                },
                _ => decline("a shell must be called as `<shell> -c '<command>'`"),
            }
        }
        "pwsh" | "powershell" => {
            if !trusted_wrapper(first) {
                return decline(format!("{first} is not a system PowerShell"));
            }
            let mut rest = &argv[1..];
            while let Some(f) = rest.first() {
                let f = f.to_ascii_lowercase();
                if f == "-noprofile" || f == "-noninteractive" || f == "-nologo" {
                    rest = &rest[1..];
                } else {
                    break;
                }
            }
            match rest.split_first() {
                Some((flag, script))
                    if ["-command", "-c", "/c"].contains(&flag.to_ascii_lowercase().as_str())
                        && !script.is_empty() =>
                {
                    judge_powershell(&script.join(" "))
                }
                _ => decline("PowerShell must be called with -Command"),
            }
        }
        _ => judge_plain(argv, false),
    }
}

/// `Get-ChildItem [-Recurse] -File a,b [| ForEach-Object { … }]`,
/// `Get-Content [-Raw] p`, or a plain command in PowerShell quoting.
fn judge_powershell(script: &str) -> Verdict {
    let s: String = script.split_whitespace().collect::<Vec<_>>().join(" ");
    const FULL_NAME: [&str; 2] = [
        "{ $_.FullName }",
        "{ $_.FullName.Substring($PWD.Path.Length + 1) }",
    ];
    let (head, pipe) = match s.split_once(" | ") {
        Some((h, p)) => (h, Some(p)),
        None => (s.as_str(), None),
    };
    if let Some(p) = pipe {
        let Some(block) = p.strip_prefix("ForEach-Object ") else {
            return decline("only `| ForEach-Object { $_.FullName }` may follow Get-ChildItem");
        };
        if !FULL_NAME.contains(&block) {
            return decline("only `| ForEach-Object { $_.FullName }` may follow Get-ChildItem");
        }
    }
    let words: Vec<&str> = head.split(' ').collect();
    match words.as_slice() {
        ["Get-ChildItem", rest @ ..] => {
            let rest: Vec<&str> = rest.iter().copied().filter(|w| *w != "-Recurse").collect();
            match rest.as_slice() {
                ["-File", list] => {
                    for p in list.split(',') {
                        if let Err(why) = safe_path(p) {
                            return decline(why);
                        }
                    }
                    Verdict::Accept
                }
                _ => decline("Get-ChildItem takes only [-Recurse] -File <paths>"),
            }
        }
        ["Get-Content", "-Raw", p] | ["Get-Content", p] if pipe.is_none() => match safe_path(p) {
            Ok(()) => Verdict::Accept,
            Err(why) => decline(why),
        },
        _ if pipe.is_some() => decline("only Get-ChildItem may be piped"),
        _ => match split(head) {
            Some(argv) => judge_plain(&argv, true),
            None => decline("the script uses syntax that is not allowed"),
        },
    }
}

/// A path argument: relative, inside the root, outside `.git`.
fn safe_path(p: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("path {p:?}: {why}"));
    if p.is_empty() || p == "." || p == ".." {
        return bad("the whole directory or its parent");
    }
    if p.starts_with('-') {
        return bad("looks like an option");
    }
    if p.contains(['*', '?']) {
        return bad("a wildcard");
    }
    let n = p.replace('\\', "/");
    let drive = n.len() >= 2 && n.as_bytes()[1] == b':' && n.as_bytes()[0].is_ascii_alphabetic();
    if n.starts_with('/') || drive {
        return bad("absolute");
    }
    for part in n.split('/') {
        if part == ".." {
            return bad("leaves its directory");
        }
        if part.eq_ignore_ascii_case(".git") {
            return bad("inside .git");
        }
    }
    Ok(())
}

fn all_safe(paths: &[String]) -> Verdict {
    if paths.is_empty() {
        return decline("no path given");
    }
    for p in paths {
        if let Err(why) = safe_path(p) {
            return decline(why);
        }
    }
    Verdict::Accept
}

/// `git …`, `node --check …`, `rg …`; `powershell` forbids commas and
/// `@` (PowerShell arrays and splatting).
fn judge_plain(argv: &[String], powershell: bool) -> Verdict {
    if powershell && argv.iter().any(|a| a.contains([',', '@']) || a == "--%") {
        return decline("PowerShell arrays, splatting or --% in an argument");
    }
    let Some(first) = argv.first() else {
        return decline("an empty command");
    };
    if !is_bare(first) {
        return decline(format!(
            "{first}: programs must be bare names found on PATH"
        ));
    }
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let owned = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match (program(first).as_str(), args.as_slice()) {
        ("git", ["ls-files", paths @ ..]) => {
            if paths.is_empty() {
                Verdict::Accept
            } else {
                all_safe(&owned(paths))
            }
        }
        ("git", ["status", flags @ ..]) => {
            const OK: [&str; 6] = [
                "--short",
                "-s",
                "--porcelain",
                "--porcelain=v1",
                "--branch",
                "-b",
            ];
            if !flags.is_empty() && flags.iter().all(|f| OK.contains(f)) {
                Verdict::Accept
            } else {
                decline("git status takes only --short, --porcelain or --branch")
            }
        }
        ("git", ["diff"]) | ("git", ["diff", "--check"]) => Verdict::Accept,
        ("git", ["diff", "--", paths @ ..]) | ("git", ["diff", "--check", "--", paths @ ..]) => {
            all_safe(&owned(paths))
        }
        ("git", ["rev-parse", specs @ ..]) => {
            let ok = !specs.is_empty()
                && specs.iter().all(|s| {
                    !s.starts_with('-')
                        && !s.contains("..")
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c))
                });
            if ok {
                Verdict::Accept
            } else {
                decline("git rev-parse takes only object names")
            }
        }
        ("git", ["hash-object", rest @ ..]) => {
            let mut paths = Vec::new();
            let mut i = 0;
            let mut after_dashes = false;
            while i < rest.len() {
                let a = rest[i];
                if after_dashes {
                    paths.push(a.to_string());
                } else if a == "--" {
                    after_dashes = true;
                } else if a == "--no-filters" {
                } else if let Some(p) = a.strip_prefix("--path=") {
                    if let Err(why) = safe_path(p) {
                        return decline(why);
                    }
                } else if a == "--path" {
                    i += 1;
                    match rest.get(i) {
                        Some(p) => {
                            if let Err(why) = safe_path(p) {
                                return decline(why);
                            }
                        }
                        None => return decline("--path needs a value"),
                    }
                } else if a.starts_with('-') {
                    return decline(format!("git hash-object option {a} is not allowed"));
                } else {
                    paths.push(a.to_string());
                }
                i += 1;
            }
            all_safe(&paths)
        }
        ("git", ["ls-tree", spec, rest @ ..]) => {
            if spec.starts_with('-') || spec.contains("..") {
                return decline("git ls-tree takes an object name first");
            }
            match rest {
                [] | ["-r"] => Verdict::Accept,
                ["--", paths @ ..] | ["-r", "--", paths @ ..] => all_safe(&owned(paths)),
                _ => decline("git ls-tree takes only -r and -- <paths>"),
            }
        }
        ("git", ["clean", rest @ ..]) => {
            const OK: [&str; 9] = [
                "-f",
                "--force",
                "-d",
                "-n",
                "--dry-run",
                "-fd",
                "-df",
                "-dn",
                "-nd",
            ];
            let Some(dashes) = rest.iter().position(|a| *a == "--") else {
                return decline("git clean needs -- <paths>");
            };
            if !rest[..dashes].iter().all(|o| OK.contains(o)) {
                return decline("git clean takes only -f, -d and -n (never -x)");
            }
            all_safe(&owned(&rest[dashes + 1..]))
        }
        ("git", ["add", "--", paths @ ..]) => all_safe(&owned(paths)),
        ("git", ["add", paths @ ..]) => all_safe(&owned(paths)),
        ("git", ["commit", flag, _message]) if *flag == "-m" || *flag == "--message" => {
            Verdict::Accept
        }
        ("node", ["--check", script]) => {
            if !script.ends_with(".js") {
                return decline("node --check takes a .js file");
            }
            match safe_path(script) {
                Ok(()) => Verdict::Accept,
                Err(why) => decline(why),
            }
        }
        ("node", _) => decline("node may only --check a file: running a script runs anything"),
        ("rg", ["--files", paths @ ..]) => {
            if paths.is_empty() {
                Verdict::Accept
            } else {
                all_safe(&owned(paths))
            }
        }
        ("rg", [flag, pattern, paths @ ..]) if *flag == "-n" || *flag == "--line-number" => {
            if pattern.starts_with('-') {
                return decline(
                    "an rg pattern may not start with - (it would be an option such as --pre)",
                );
            }
            all_safe(&owned(paths))
        }
        _ => decline(format!(
            "`{}` is not on the safe-command list",
            argv.join(" ")
        )),
    }
}

/// Judge a patch: every path it changes (absolute, or relative to `cwd`)
/// is inside `root` and outside `.git`.
pub fn judge_patch(paths: &[String], cwd: Option<&str>, root: &Path) -> Verdict {
    if paths.is_empty() {
        return decline("the patch's files are unknown");
    }
    for p in paths {
        let path = Path::new(p);
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match cwd {
                Some(c) => Path::new(c).join(path),
                None => return decline(format!("{p}: relative, and the cwd is unknown")),
            }
        };
        let (Some(full), Some(r)) = (normal(&full), normal(root)) else {
            return decline(format!("{p}: not a plain path"));
        };
        let Ok(rel) = full.strip_prefix(&r) else {
            return decline(format!(
                "{p} is outside the approval root {}",
                root.display()
            ));
        };
        if rel
            .components()
            .any(|c| c.as_os_str().eq_ignore_ascii_case(".git"))
        {
            return decline(format!("{p} is inside .git"));
        }
    }
    Verdict::Accept
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/wt";

    fn line(cmd: &str) -> Verdict {
        judge(&CommandText::Line(cmd), "/wt", Path::new(ROOT))
    }

    fn argv(cmd: &[&str]) -> Verdict {
        let v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        judge(&CommandText::Argv(&v), "/wt/sub", Path::new(ROOT))
    }

    /// The reference's accepted cases (its test 6), as Codex 0.169 sends
    /// them (wrapped in `/bin/bash -lc`) and bare.
    #[test]
    fn the_references_accepted_cases_are_accepted() {
        for cmd in [
            "git diff --check",
            "git add -- docs/a.md",
            r#"/bin/bash -lc "git add -- 'a b.txt'""#,
            "/bin/bash -lc 'git diff --check'",
            r#"pwsh -Command "git add -- docs/a.md""#,
            "pwsh -Command git add -- docs/a.md",
            r#"pwsh -NoProfile -Command "git ls-files docs""#,
            "git rev-parse HEAD:docs/a.md",
            r#"pwsh -Command "git hash-object --no-filters -- docs/a.md docs/b.md""#,
            r#"pwsh -Command "git hash-object --path=docs/a.md docs/a.md""#,
            "git clean -fd -- build/tmp",
            "pwsh -Command 'Get-ChildItem -Recurse -File docs,src | ForEach-Object { $_.FullName }'",
            "node --check script.js",
            "git status --short --branch",
            "rg --files src",
            "rg -n needle src/lib.rs",
            "git ls-tree HEAD -r -- src",
        ] {
            assert_eq!(line(cmd), Verdict::Accept, "{cmd}");
        }
        assert_eq!(
            argv(&["git", "commit", "-m", "fix(parser): one line"]),
            Verdict::Accept
        );
        assert_eq!(
            argv(&["pwsh", "-Command", "git", "add", "--", "docs/a.md"]),
            Verdict::Accept
        );
        assert_eq!(
            argv(&[
                r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                "-Command",
                "Get-ChildItem -File a,b | ForEach-Object { $_.FullName.Substring($PWD.Path.Length + 1) }",
            ]),
            Verdict::Accept
        );
        assert_eq!(
            argv(&["pwsh.exe", "-c", "Get-Content -Raw docs/a.md"]),
            Verdict::Accept
        );
    }

    /// The reference's declined cases (its tests 7 and 8).
    #[test]
    fn the_references_declined_cases_are_declined() {
        for cmd in [
            "git add -- .",
            "git reset --hard",
            "git push origin main",
            "git commit -am unsafe",
            "git clean -fdx -- p",
            "git clean -fd -- .",
            "git rev-parse --verify HEAD",
            "git hash-object E:/abs",
            "git hash-object --path=../outside x",
            "git diff --check && git push",
            "node -e 'require(1)'",
            "node ../outside.js",
            r#"pwsh -Command "Get-ChildItem -Recurse -File ..""#,
            r#"pwsh -Command "Get-ChildItem -Recurse -File docs | Remove-Item""#,
        ] {
            assert!(matches!(line(cmd), Verdict::Decline(_)), "{cmd}");
        }
        // A cwd outside the approval root.
        assert!(matches!(
            judge(
                &CommandText::Line("git diff"),
                "/elsewhere",
                Path::new(ROOT)
            ),
            Verdict::Decline(_)
        ));
    }

    /// The reference's four holes (spec §7.6), each declined here.
    #[test]
    fn the_references_four_holes_are_declined() {
        // 1. A trailing `/..` made a whole-worktree add or clean pass.
        for cmd in [
            "git add -- docs/..",
            "git clean -fd -- docs/..",
            r"git add -- docs\..",
        ] {
            assert!(matches!(line(cmd), Verdict::Decline(_)), "{cmd}");
        }
        // 2. rg's pattern slot let `--pre` run a program.
        for cmd in [
            "rg -n --pre=sh foo bar.txt",
            "rg --line-number --pre sh bar.txt",
        ] {
            assert!(matches!(line(cmd), Verdict::Decline(_)), "{cmd}");
        }
        // 3. `node <script>` runs whatever the agent wrote.
        for cmd in ["node script.js", "/bin/bash -lc 'node tools/x.js'"] {
            assert!(matches!(line(cmd), Verdict::Decline(_)), "{cmd}");
        }
        // 4. Case-insensitive containment: /WT/SUB is not inside /wt.
        assert!(matches!(
            judge(&CommandText::Line("git diff"), "/WT/SUB", Path::new(ROOT)),
            Verdict::Decline(_)
        ));
        assert!(matches!(
            judge(
                &CommandText::Line("git diff"),
                "/wt/../etc",
                Path::new(ROOT)
            ),
            Verdict::Decline(_)
        ));
        assert!(matches!(
            judge(&CommandText::Line("git diff"), "/wtx", Path::new(ROOT)),
            Verdict::Decline(_)
        ));
    }

    #[test]
    fn further_tricks_are_declined() {
        for cmd in [
            // A shell of the model's choosing.
            "/tmp/x/bash -lc 'git status --short'",
            // A program by path.
            "./git status --short",
            // PowerShell splits `docs,..` into two arguments.
            r#"pwsh -Command "git add -- docs,..""#,
            // Expansions and substitutions.
            r#"/bin/bash -lc "git add -- $HOME""#,
            "git add -- `id`",
            "git add -- .git/config",
            "git add -- *",
            "git -C /etc add x",
            "bash -c 'git diff' extra",
            "git commit -m 'two\nlines'",
            "",
        ] {
            assert!(matches!(line(cmd), Verdict::Decline(_)), "{cmd:?}");
        }
    }

    #[test]
    fn split_groups_quotes_and_refuses_expansions() {
        assert_eq!(
            split(r#"git add -- 'a b' "c d" e'f'"g""#),
            Some(vec![
                "git".into(),
                "add".into(),
                "--".into(),
                "a b".into(),
                "c d".into(),
                "efg".into()
            ])
        );
        assert_eq!(split("a ''"), Some(vec!["a".into(), String::new()]));
        assert_eq!(split("a 'b"), None);
        assert_eq!(split(r#"a "$x""#), None);
        assert_eq!(split("a;b"), None);
        assert_eq!(split("a | b"), None);
    }

    #[test]
    fn patches_stay_in_the_root_and_out_of_git() {
        let root = Path::new("/wt");
        assert_eq!(
            judge_patch(&["/wt/a.txt".into()], None, root),
            Verdict::Accept
        );
        assert_eq!(
            judge_patch(&["src/a.rs".into()], Some("/wt"), root),
            Verdict::Accept
        );
        for p in [
            "/etc/passwd",
            "/wt/../etc/x",
            "/wt/.git/hooks/pre-commit",
            "/WT/a",
        ] {
            assert!(
                matches!(judge_patch(&[p.into()], None, root), Verdict::Decline(_)),
                "{p}"
            );
        }
        assert!(matches!(judge_patch(&[], None, root), Verdict::Decline(_)));
    }
}
