//! The wake daemon: cycles on an interval, each reported as it happens,
//! until a cycle count, SIGINT or SIGTERM. A slot woken once is left alone
//! while nothing changes (the plan's `last_wake.unchanged_since`), so an
//! idle worker is nudged once per change, not once per interval (the
//! reference re-woke it every cycle).

use std::time::Duration;

use ledger::{Ctx, Store};
use serde::Serialize;

use crate::Settings;
use crate::cycle::{self, CycleOptions, CycleReport};

/// How often, and how many times.
#[derive(Clone, Debug)]
pub struct LoopOptions {
    pub interval: Duration,
    /// Stop after this many cycles (`None`: until a signal).
    pub max_cycles: Option<u64>,
}

/// Why the daemon stopped.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    MaxCycles,
    Signal(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct DaemonSummary {
    pub cycles: u64,
    /// Every cycle was ok.
    pub ok: bool,
    pub stopped: Stop,
}

/// Resolves when SIGINT or SIGTERM (Ctrl-C or Ctrl-Break on Windows)
/// arrives; never when no handler can be installed.
async fn shutdown_signal() -> String {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "SIGINT".to_string(),
                _ = term.recv() => "SIGTERM".to_string(),
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C".to_string(),
            Err(_) => std::future::pending().await,
        }
    }
}

/// Run cycles, calling `on_cycle` after each. A signal during a cycle ends
/// it at once: the delivery in flight is dropped, which kills the Codex
/// processes it started (their process group), and its attempt is not
/// recorded.
pub async fn run(
    store: &Store,
    ctx: &Ctx,
    s: &Settings,
    o: &CycleOptions,
    lp: &LoopOptions,
    mut on_cycle: impl FnMut(u64, &CycleReport) -> anyhow::Result<()>,
) -> anyhow::Result<DaemonSummary> {
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut cycles = 0;
    let mut ok = true;
    loop {
        let report = tokio::select! {
            r = cycle::run(store, ctx, s, o) => r?,
            sig = &mut signal => return Ok(DaemonSummary { cycles, ok, stopped: Stop::Signal(sig) }),
        };
        cycles += 1;
        ok &= report.ok;
        on_cycle(cycles, &report)?;
        if lp.max_cycles.is_some_and(|m| cycles >= m) {
            return Ok(DaemonSummary {
                cycles,
                ok,
                stopped: Stop::MaxCycles,
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(lp.interval) => {}
            sig = &mut signal => return Ok(DaemonSummary { cycles, ok, stopped: Stop::Signal(sig) }),
        }
    }
}
