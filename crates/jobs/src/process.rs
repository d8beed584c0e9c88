//! Processes: who is alive (pid plus start time, so a reused pid is not
//! taken for the worker), the whole tree of a job, and ending it.

use procfs::process::{Process, all_processes};
use rustix::process::{Pid, Signal, kill_process};

/// A process's start time (clock ticks after boot), `None` when it does
/// not exist or is a zombie (dead, not yet reaped).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = Process::new(i32::try_from(pid).ok()?).ok()?.stat().ok()?;
    (stat.state != 'Z' && stat.state != 'X').then_some(stat.starttime)
}

/// Is the process `pid` that started at `start` still running?
pub fn alive(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// Every live process in the tree of `root` (its descendants) and in its
/// process group, `root` included when it is alive.
pub fn tree(root: u32) -> Vec<u32> {
    let Ok(root_i) = i32::try_from(root) else {
        return Vec::new();
    };
    let mut procs: Vec<(i32, i32, i32)> = Vec::new();
    if let Ok(all) = all_processes() {
        for p in all.flatten() {
            if let Ok(s) = p.stat()
                && s.state != 'Z'
                && s.state != 'X'
            {
                procs.push((s.pid, s.ppid, s.pgrp));
            }
        }
    }
    let mut found: Vec<i32> = procs
        .iter()
        .filter(|(pid, _, pgrp)| *pid == root_i || *pgrp == root_i)
        .map(|(pid, _, _)| *pid)
        .collect();
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for (pid, ppid, _) in &procs {
            if *ppid == parent && !found.contains(pid) {
                found.push(*pid);
            }
        }
        i += 1;
    }
    found
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// SIGKILL every process of the tree of `root` (see [`tree`]). The tree
/// is first frozen (SIGSTOP) and scanned again until no new process shows
/// up, so a child forked while the tree is being found is found too and
/// nothing escapes by being re-parented; then every process is killed.
/// Returns how many were signalled.
pub fn kill_tree(root: u32) -> usize {
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

fn signal(pid: u32, sig: Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|p| kill_process(p, sig).is_ok())
}
