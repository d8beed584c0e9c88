//! Processes: who is alive (pid plus start time, so a reused pid is not
//! taken for the worker), the whole tree of a job, and ending it.
//!
//! The one place that asks the system about processes. Per platform:
//!
//! - Linux: `/proc` (procfs) for the start time in clock ticks after boot,
//!   the parent and the process group; signals through rustix.
//! - macOS: sysinfo (libproc) for the start time (seconds since the
//!   epoch) and the parent, `getpgid` for the group, signals as on Linux.
//! - Windows: sysinfo (a ToolHelp snapshot and the process times) for the
//!   start time (seconds) and the parent; there are no process groups and
//!   no way to freeze a process, so a tree is ended by terminating it from
//!   the root down, scanning again for children made meanwhile (see
//!   [`kill_tree`]).
//!
//! A start time only ever compares with one taken on the same machine, so
//! its unit differs by platform without harm. Where it has one-second
//! resolution (macOS, Windows), a pid reused within the second the worker
//! started is taken for the worker: a job would be seen running until
//! that process ends.

/// One live process: its pid, parent, group (Unix) and start time.
#[derive(Clone, Copy, Debug)]
struct Proc {
    pid: u32,
    ppid: u32,
    pgrp: Option<u32>,
    start: u64,
}

/// A process's start time, `None` when it does not exist or is a zombie
/// (dead, not yet reaped).
#[cfg(target_os = "linux")]
pub fn start_time(pid: u32) -> Option<u64> {
    use procfs::process::Process;
    let stat = Process::new(i32::try_from(pid).ok()?).ok()?.stat().ok()?;
    (stat.state != 'Z' && stat.state != 'X').then_some(stat.starttime)
}

/// A process's start time, `None` when it does not exist or is a zombie
/// (dead, not yet reaped).
#[cfg(not(target_os = "linux"))]
pub fn start_time(pid: u32) -> Option<u64> {
    with_process(pid, |p| Some(p.start_time()))
}

/// `f` of the live process `pid`, asking the system about that one only.
#[cfg(not(target_os = "linux"))]
fn with_process<T>(pid: u32, f: impl FnOnce(&sysinfo::Process) -> Option<T>) -> Option<T> {
    let pid = sysinfo::Pid::from_u32(pid);
    let mut sys = sysinfo::System::new();
    sys.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::Some(&[pid]),
        true,
        sysinfo::ProcessRefreshKind::nothing(),
    );
    sys.process(pid).filter(|p| live(p.status())).and_then(f)
}

#[cfg(not(target_os = "linux"))]
fn live(s: sysinfo::ProcessStatus) -> bool {
    !matches!(
        s,
        sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead
    )
}

/// Every live process.
#[cfg(target_os = "linux")]
fn table() -> Vec<Proc> {
    let mut procs = Vec::new();
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            if let Ok(s) = p.stat()
                && s.state != 'Z'
                && s.state != 'X'
                && let (Ok(pid), Ok(ppid), Ok(pgrp)) = (
                    u32::try_from(s.pid),
                    u32::try_from(s.ppid),
                    u32::try_from(s.pgrp),
                )
            {
                procs.push(Proc {
                    pid,
                    ppid,
                    pgrp: Some(pgrp),
                    start: s.starttime,
                });
            }
        }
    }
    procs
}

/// Every live process.
#[cfg(not(target_os = "linux"))]
fn table() -> Vec<Proc> {
    let mut sys = sysinfo::System::new();
    sys.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::All,
        true,
        sysinfo::ProcessRefreshKind::nothing(),
    );
    sys.processes()
        .values()
        .filter(|p| live(p.status()))
        .map(|p| Proc {
            pid: p.pid().as_u32(),
            ppid: p.parent().map_or(0, sysinfo::Pid::as_u32),
            pgrp: group(p.pid().as_u32()),
            start: p.start_time(),
        })
        .collect()
}

#[cfg(all(unix, not(target_os = "linux")))]
fn group(pid: u32) -> Option<u32> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let g = rustix::process::getpgid(Some(pid)).ok()?;
    u32::try_from(g.as_raw_nonzero().get()).ok()
}

#[cfg(windows)]
fn group(_pid: u32) -> Option<u32> {
    None
}

/// Is the process `pid` that started at `start` still running?
pub fn alive(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// Every live process in the tree of `root` (its descendants) and in its
/// process group, `root` included when it is alive.
pub fn tree(root: u32) -> Vec<u32> {
    let procs = table();
    let seeds: Vec<(u32, Option<u64>)> = procs
        .iter()
        .filter(|p| p.pid == root || p.pgrp == Some(root))
        .map(|p| (p.pid, Some(p.start)))
        .collect();
    descendants(&procs, &seeds)
}

/// The live processes among `seeds` and every live descendant of them. A
/// child counts only when it started no earlier than its parent (when the
/// parent's start is known): on Windows a parent pid is not updated when
/// the parent dies, and the number may since name another process.
fn descendants(procs: &[Proc], seeds: &[(u32, Option<u64>)]) -> Vec<u32> {
    let mut found: Vec<(u32, Option<u64>)> = seeds.to_vec();
    let mut i = 0;
    while i < found.len() {
        let (parent, parent_start) = found[i];
        for p in procs {
            if p.ppid == parent
                && p.pid != parent
                && parent_start.is_none_or(|s| p.start >= s)
                && !found.iter().any(|(f, _)| *f == p.pid)
            {
                found.push((p.pid, Some(p.start)));
            }
        }
        i += 1;
    }
    found
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|pid| procs.iter().any(|p| p.pid == *pid))
        .collect()
}

/// SIGKILL every process of the tree of `root` (see [`tree`]). The tree
/// is first frozen (SIGSTOP) and scanned again until no new process shows
/// up, so a child forked while the tree is being found is found too and
/// nothing escapes by being re-parented; then every process is killed.
/// Returns how many were signalled.
#[cfg(unix)]
pub fn kill_tree(root: u32) -> usize {
    use rustix::process::Signal;
    let mut seen: Vec<u32> = Vec::new();
    for _ in 0..50 {
        let new: Vec<u32> = tree(root)
            .into_iter()
            .filter(|p| !seen.contains(p))
            .collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            signal(p, Signal::STOP);
            seen.push(p);
        }
    }
    seen.iter().filter(|p| signal(**p, Signal::KILL)).count()
}

#[cfg(unix)]
fn signal(pid: u32, sig: rustix::process::Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|p| rustix::process::kill_process(p, sig).is_ok())
}

/// Terminate every process of the tree of `root`. Windows can neither
/// freeze a process nor re-parent one: each scan terminates what it finds,
/// and the next looks for children of everything terminated so far (their
/// parent pid still names it), until a scan finds nothing new. Returns how
/// many were terminated.
#[cfg(windows)]
pub fn kill_tree(root: u32) -> usize {
    let mut seen: Vec<(u32, Option<u64>)> = Vec::new();
    let mut killed = 0;
    for _ in 0..50 {
        let procs = table();
        let mut seeds = seen.clone();
        if !seeds.iter().any(|(p, _)| *p == root) {
            seeds.push((root, procs.iter().find(|p| p.pid == root).map(|p| p.start)));
        }
        let new: Vec<u32> = descendants(&procs, &seeds)
            .into_iter()
            .filter(|p| !seen.iter().any(|(s, _)| s == p))
            .collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            let start = procs.iter().find(|p| p.pid == pid).map(|p| p.start);
            if terminate(pid) {
                killed += 1;
            }
            seen.push((pid, start));
        }
    }
    killed
}

#[cfg(windows)]
fn terminate(pid: u32) -> bool {
    with_process(pid, |p| p.kill().then_some(())).is_some()
}

/// Make `cmd` start detached from the caller: a process (and group) of its
/// own, so the caller's Ctrl-C or end does not reach it and [`kill_tree`]
/// finds its group. Unix: a new process group (`setpgid(0, 0)`); Windows:
/// `DETACHED_PROCESS` (no console of the caller's) and
/// `CREATE_NEW_PROCESS_GROUP` (no Ctrl-C of the caller's).
pub fn detach(cmd: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const DETACHED_PROCESS: u32 = 0x0000_0008;
        const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
        cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP)
    }
}

/// The signal that ended a process, if one did (never on Windows, where
/// a terminated process has an exit code).
pub fn ending_signal(status: &std::process::ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::signal(status)
    }
    #[cfg(windows)]
    {
        let _ = status;
        None
    }
}
