//! What Codex keeps under `CODEX_HOME` that a wake reads: the thread writer
//! locks and the session (rollout) files. The directory itself comes from
//! the caller (`host::codex::home()` reads the environment).
//!
//! Since Codex 0.147 one process writes a thread: the process that loaded
//! it holds an exclusive `flock(2)` on `thread-writer-locks/<id>.lock`
//! (POSIX `fcntl` locks do not see it). A clean exit removes the file; a
//! killed process leaves it without the lock.

use std::path::{Path, PathBuf};

/// `CODEX_HOME`.
#[derive(Clone, Debug)]
pub struct CodexHome {
    pub dir: PathBuf,
}

/// Whether a thread is held by a writer, and how that was found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// No lock file, or one nobody locks (left by a killed process).
    Nobody,
    /// A process holds the lock: `pid` when `/proc/locks` names it.
    Held { pid: Option<u32>, how: &'static str },
}

/// A thread id that can name a file: Codex's are UUIDs; anything with a
/// separator, a dot or a control character is refused, so no id can name a
/// path outside the lock folder.
pub fn valid_thread_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl CodexHome {
    pub fn new(dir: impl Into<PathBuf>) -> CodexHome {
        CodexHome { dir: dir.into() }
    }

    /// `thread-writer-locks/<id>.lock`, or `None` for an id that cannot
    /// name a file.
    pub fn thread_lock(&self, thread_id: &str) -> Option<PathBuf> {
        valid_thread_id(thread_id).then(|| {
            self.dir
                .join("thread-writer-locks")
                .join(format!("{thread_id}.lock"))
        })
    }

    /// `sessions/` (rollouts by date: `YYYY/MM/DD/rollout-…-<id>.jsonl`).
    pub fn sessions_dir(&self) -> PathBuf {
        self.dir.join("sessions")
    }

    /// Is the thread held by a writer? On Linux `/proc/locks` answers
    /// without touching the lock; elsewhere (or when it cannot be read) a
    /// non-blocking lock attempt, released at once, answers. The probe can,
    /// for an instant, make a real writer's own attempt fail, so it is the
    /// fallback. A race remains either way (a writer may take the thread
    /// right after): a resume refused with "active writer" means held too.
    pub fn thread_holder(&self, thread_id: &str) -> Holder {
        let Some(lock) = self.thread_lock(thread_id) else {
            return Holder::Nobody;
        };
        let Ok(meta) = std::fs::metadata(&lock) else {
            return Holder::Nobody;
        };
        #[cfg(target_os = "linux")]
        if let Some(h) = proc_locks_holder(&meta) {
            return h;
        }
        let _ = &meta;
        probe(&lock)
    }
}

/// Try the lock without waiting, and release it at once.
fn probe(lock: &Path) -> Holder {
    use fs2::FileExt;
    let Ok(f) = std::fs::File::open(lock) else {
        return Holder::Nobody;
    };
    match f.try_lock_exclusive() {
        Ok(()) => {
            let _ = FileExt::unlock(&f);
            Holder::Nobody
        }
        Err(_) => Holder::Held {
            pid: None,
            how: "flock_probe",
        },
    }
}

/// Read `/proc/locks`: lines like `1: FLOCK  ADVISORY  WRITE 4321 fe:01:1234 0 EOF`
/// (waiters carry a `->`). `None` when the file cannot be read.
#[cfg(target_os = "linux")]
fn proc_locks_holder(meta: &std::fs::Metadata) -> Option<Holder> {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    // Linux's encoding of a dev_t (see `major()`/`minor()` in glibc).
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let want = (major, minor, meta.ino());
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().filter(|t| *t != "->").collect();
        if f.len() < 6 || f[1] != "FLOCK" {
            continue;
        }
        let mut id = f[5].split(':');
        let (Some(maj), Some(min), Some(ino)) = (id.next(), id.next(), id.next()) else {
            continue;
        };
        let parsed = (
            u64::from_str_radix(maj, 16),
            u64::from_str_radix(min, 16),
            ino.parse::<u64>(),
        );
        if let (Ok(a), Ok(b), Ok(c)) = parsed
            && (a, b, c) == want
        {
            return Some(Holder::Held {
                pid: f[4].parse().ok(),
                how: "proc_locks",
            });
        }
    }
    Some(Holder::Nobody)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs2::FileExt;

    #[test]
    fn a_flocked_lock_file_is_held_and_an_unlocked_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = CodexHome::new(dir.path());
        let id = "01a23469-1bc2-7632-abc2-4e8d2540f32a";
        assert_eq!(home.thread_holder(id), Holder::Nobody, "no file");
        let lock = home.thread_lock(id).expect("a valid id");
        std::fs::create_dir_all(lock.parent().expect("parent")).expect("mkdir");
        let f = std::fs::File::create(&lock).expect("create");
        assert_eq!(home.thread_holder(id), Holder::Nobody, "a stale file");
        f.lock_exclusive().expect("flock");
        match home.thread_holder(id) {
            Holder::Held { pid, .. } => {
                #[cfg(target_os = "linux")]
                assert_eq!(pid, Some(std::process::id()));
                let _ = pid;
            }
            Holder::Nobody => panic!("a flocked file is held"),
        }
        assert!(matches!(probe(&lock), Holder::Held { .. }));
        FileExt::unlock(&f).expect("unlock");
        assert_eq!(home.thread_holder(id), Holder::Nobody);
    }

    #[test]
    fn thread_ids_cannot_name_other_files() {
        let home = CodexHome::new("/ch");
        for bad in ["", "../x", "a/b", "a.b", "a\\b", "a\nb"] {
            assert_eq!(home.thread_lock(bad), None, "{bad:?}");
            assert_eq!(home.thread_holder(bad), Holder::Nobody);
        }
    }
}
