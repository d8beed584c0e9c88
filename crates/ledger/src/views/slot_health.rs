//! The one decision about a slot's health, and its lease.
//!
//! [`assess`] is a pure function from what the store says of a slot
//! ([`SlotFacts`]) to one [`Health`]. The wake plan (`plan_wake`), recovery
//! (`recovery`) and the watchdog all present that decision, each with the
//! reference's names for it (`blocked_restart_required` in the plan is
//! `restart_thread` in recovery), so they can never disagree about a slot.
//!
//! Liveness: a failed or stale heartbeat, or one older than the window, is
//! evidence of a dead session. A slot that never sent a heartbeat is not
//! presumed dead, unless a task has waited for it longer than the window;
//! a claimed task is protected by its lease, which the claiming run's
//! heartbeats renew ([`renews`], recorded on the task by `record_heartbeat`).

use chrono::{DateTime, Duration, Utc};

use crate::index::work::TaskRow;
use crate::model::{Heartbeat, Lease, TaskStatus};
use crate::ops::tasks::DEFAULT_LEASE_SECONDS;
use crate::time;

/// What a slot's last heartbeat says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beat {
    /// No heartbeat, or one whose time cannot be read (the reference took
    /// an unreadable time as fresh).
    Missing,
    Ok(DateTime<Utc>),
    Failed,
    Stale,
}

impl Beat {
    /// From a heartbeat's status and time.
    pub fn of(status: Option<&str>, checked_at: Option<&str>) -> Beat {
        match status {
            Some("failed") => return Beat::Failed,
            Some("stale") => return Beat::Stale,
            _ => {}
        }
        match checked_at.and_then(time::parse) {
            Some(t) => Beat::Ok(t),
            None => Beat::Missing,
        }
    }

    /// An ok heartbeat older than `window` at `now`.
    pub fn overdue(&self, now: DateTime<Utc>, window: Duration) -> bool {
        matches!(self, Beat::Ok(t) if now - *t > window)
    }
}

/// Everything the decision looks at, read from one snapshot.
#[derive(Clone, Debug)]
pub struct SlotFacts {
    pub parked: Option<Parked>,
    pub beat: Beat,
    pub unread: usize,
    /// Status of the slot's current open task (see `WorkIndex::current`).
    pub current: Option<TaskStatus>,
    /// When the current task was queued, when it is queued: else the
    /// newest unread message's time.
    pub waiting_since: Option<DateTime<Utc>>,
    /// The active task, with when its lease expires.
    pub active: Option<(String, Option<DateTime<Utc>>)>,
    /// A queued task whose dependencies are met.
    pub claimable: bool,
    /// A queued task waiting for its dependencies.
    pub waiting: bool,
    pub blocked: bool,
    pub reported: bool,
}

impl SlotFacts {
    fn has_work(&self) -> bool {
        self.active.is_some() || self.claimable || self.waiting || self.blocked || self.reported
    }
}

/// The operator's reason a slot is out of rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parked {
    Paused,
    Parked,
}

/// Why a slot looks dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dead {
    HeartbeatFailed,
    HeartbeatStale,
    HeartbeatOverdue,
    /// Its queued task waited past the window, and it never sent a heartbeat.
    QueuedInboxNoHeartbeat,
    /// Its queued task waited past the window, and its heartbeat is overdue.
    QueuedInboxHeartbeatOverdue,
}

impl Dead {
    pub fn code(&self) -> &'static str {
        match self {
            Dead::HeartbeatFailed => "heartbeat_failed",
            Dead::HeartbeatStale => "heartbeat_stale",
            Dead::HeartbeatOverdue => "heartbeat_overdue",
            Dead::QueuedInboxNoHeartbeat => "queued_inbox_no_heartbeat",
            Dead::QueuedInboxHeartbeatOverdue => "queued_inbox_heartbeat_overdue",
        }
    }
}

/// A slot's health: exactly one, the first that applies in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Paused or parked by the operator.
    Parked(Parked),
    /// Its active task's claim expired: the coordinator should requeue it.
    LeaseExpired {
        task_id: String,
    },
    /// It looks dead; `idle` when it has neither work nor unread messages.
    Unresponsive {
        why: Dead,
        idle: bool,
    },
    /// It has unread messages; the status of its current task, if any.
    Inbox {
        current: Option<TaskStatus>,
    },
    /// It works on its active task.
    Working {
        task_id: String,
    },
    /// A task is queued for it and can be claimed.
    Claimable,
    Blocked,
    WaitingDependencies,
    AwaitingIntegration,
    /// Nothing to do; `heartbeat_known` is false when it never sent one.
    Idle {
        heartbeat_known: bool,
    },
}

/// Decide a slot's health at `now`, with `window` as the longest a
/// heartbeat (or a queued task) may wait.
pub fn assess(f: &SlotFacts, now: DateTime<Utc>, window: Duration) -> Health {
    if let Some(p) = f.parked {
        return Health::Parked(p);
    }
    if let Some((task_id, Some(expires))) = &f.active
        && *expires < now
    {
        return Health::LeaseExpired {
            task_id: task_id.clone(),
        };
    }
    let idle = !f.has_work() && f.unread == 0;
    match f.beat {
        Beat::Failed => {
            return Health::Unresponsive {
                why: Dead::HeartbeatFailed,
                idle,
            };
        }
        Beat::Stale => {
            return Health::Unresponsive {
                why: Dead::HeartbeatStale,
                idle,
            };
        }
        _ => {}
    }
    let queued_inbox_waited = f.unread > 0
        && f.current.as_ref().is_some_and(TaskStatus::is_claimable)
        && f.waiting_since.is_some_and(|t| now - t > window);
    if f.beat.overdue(now, window) {
        let why = if queued_inbox_waited {
            Dead::QueuedInboxHeartbeatOverdue
        } else {
            Dead::HeartbeatOverdue
        };
        return Health::Unresponsive { why, idle };
    }
    if f.beat == Beat::Missing && queued_inbox_waited {
        return Health::Unresponsive {
            why: Dead::QueuedInboxNoHeartbeat,
            idle: false,
        };
    }
    if f.unread > 0 {
        return Health::Inbox {
            current: f.current.clone(),
        };
    }
    if let Some((task_id, _)) = &f.active {
        return Health::Working {
            task_id: task_id.clone(),
        };
    }
    if f.claimable {
        Health::Claimable
    } else if f.blocked {
        Health::Blocked
    } else if f.waiting {
        Health::WaitingDependencies
    } else if f.reported {
        Health::AwaitingIntegration
    } else {
        Health::Idle {
            heartbeat_known: f.beat != Beat::Missing,
        }
    }
}

/// The lease of an active task: its own, or, for a task claimed before
/// leases existed (or by the reference), one from when it started.
pub fn effective_lease(
    status: &TaskStatus,
    lease: &Option<Lease>,
    started_at: &Option<String>,
) -> Option<Lease> {
    if *status != TaskStatus::Active {
        return None;
    }
    lease.clone().or_else(|| {
        started_at.as_ref().map(|s| Lease {
            claimed_at: s.clone(),
            renewed_at: None,
            seconds: DEFAULT_LEASE_SECONDS,
        })
    })
}

/// Does a heartbeat renew the lease of a task claimed by `claimed_run` on
/// `slot`? An ok heartbeat the slot recorded itself, from the claiming run
/// (any run when the claim named none).
pub fn renews(hb: &Heartbeat, slot: &str, claimed_run: Option<&str>) -> bool {
    let own = hb.recorded_by.as_deref().is_none_or(|by| by == slot);
    let run_ok = match claimed_run {
        None => true,
        Some(run) => hb.run_id.as_deref() == Some(run),
    };
    hb.status == "ok" && own && run_ok
}

/// When a lease expires: its length after the claim or the last renewal,
/// whichever is later. None when the claim time cannot be read.
pub fn lease_expiry(lease: &Lease) -> Option<DateTime<Utc>> {
    let claimed = time::parse(&lease.claimed_at)?;
    let renewed = lease.renewed_at.as_deref().and_then(time::parse);
    let from = renewed.map_or(claimed, |r| r.max(claimed));
    Some(from + Duration::seconds(lease.seconds.min(i64::MAX as u64) as i64))
}

/// The lease expiry of an active task's index row.
pub fn row_lease_expiry(row: &TaskRow) -> Option<DateTime<Utc>> {
    lease_expiry(&effective_lease(&row.status, &row.lease, &row.started_at)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        time::parse(s).expect("time")
    }

    fn facts() -> SlotFacts {
        SlotFacts {
            parked: None,
            beat: Beat::Missing,
            unread: 0,
            current: None,
            waiting_since: None,
            active: None,
            claimable: false,
            waiting: false,
            blocked: false,
            reported: false,
        }
    }

    /// The recovery table of the reference, and the cases the wake plan
    /// and recovery used to decide differently, now decided once.
    #[test]
    fn one_decision_in_order() {
        let now = at("2026-01-01T01:00:00.000Z");
        let w = Duration::minutes(15);
        let old = at("2026-01-01T00:00:00.000Z");
        let fresh = at("2026-01-01T00:59:00.000Z");
        let h = |f: SlotFacts| assess(&f, now, w);
        assert_eq!(
            h(SlotFacts {
                beat: Beat::Stale,
                ..facts()
            }),
            Health::Unresponsive {
                why: Dead::HeartbeatStale,
                idle: true
            }
        );
        assert_eq!(
            h(SlotFacts {
                parked: Some(Parked::Parked),
                unread: 3,
                beat: Beat::Failed,
                ..facts()
            }),
            Health::Parked(Parked::Parked)
        );
        let queued = |beat| SlotFacts {
            unread: 1,
            current: Some(TaskStatus::Queued),
            waiting_since: Some(old),
            claimable: true,
            beat,
            ..facts()
        };
        assert_eq!(
            h(queued(Beat::Missing)),
            Health::Unresponsive {
                why: Dead::QueuedInboxNoHeartbeat,
                idle: false
            }
        );
        assert_eq!(
            h(queued(Beat::Ok(old))),
            Health::Unresponsive {
                why: Dead::QueuedInboxHeartbeatOverdue,
                idle: false
            }
        );
        assert_eq!(
            h(queued(Beat::Ok(fresh))),
            Health::Inbox {
                current: Some(TaskStatus::Queued)
            }
        );
        assert_eq!(
            h(SlotFacts {
                unread: 2,
                ..facts()
            }),
            Health::Inbox { current: None }
        );
        assert_eq!(
            h(SlotFacts {
                reported: true,
                current: Some(TaskStatus::Reported),
                ..facts()
            }),
            Health::AwaitingIntegration
        );
        assert_eq!(
            h(SlotFacts {
                beat: Beat::Ok(old),
                ..facts()
            }),
            Health::Unresponsive {
                why: Dead::HeartbeatOverdue,
                idle: true
            }
        );
        assert_eq!(
            h(facts()),
            Health::Idle {
                heartbeat_known: false
            }
        );
        assert_eq!(
            h(SlotFacts {
                beat: Beat::Ok(fresh),
                ..facts()
            }),
            Health::Idle {
                heartbeat_known: true
            }
        );
        // An active task with an overdue heartbeat is a dead run, not work
        // in progress; with an expired lease the remedy is a requeue.
        let active = |exp| SlotFacts {
            active: Some(("t".into(), exp)),
            current: Some(TaskStatus::Active),
            beat: Beat::Ok(old),
            ..facts()
        };
        assert_eq!(
            h(active(Some(fresh + Duration::hours(1)))),
            Health::Unresponsive {
                why: Dead::HeartbeatOverdue,
                idle: false
            }
        );
        assert_eq!(
            h(active(Some(old))),
            Health::LeaseExpired {
                task_id: "t".into()
            }
        );
        assert_eq!(
            h(SlotFacts {
                beat: Beat::Ok(fresh),
                ..active(None)
            }),
            Health::Working {
                task_id: "t".into()
            }
        );
        assert_eq!(
            h(SlotFacts {
                beat: Beat::Ok(fresh),
                blocked: true,
                waiting: true,
                ..facts()
            }),
            Health::Blocked
        );
    }

    #[test]
    fn leases_are_renewed_only_by_the_claiming_run() {
        let lease = Lease {
            claimed_at: "2026-01-01T00:00:00.000Z".into(),
            renewed_at: None,
            seconds: 30 * 60,
        };
        let hb = |status: &str, run: Option<&str>, by: Option<&str>| Heartbeat {
            slot: "s1".into(),
            status: status.into(),
            run_id: run.map(str::to_owned),
            checked_at: Some("2026-01-01T00:20:00.000Z".into()),
            recorded_by: by.map(str::to_owned),
            ..Heartbeat::default()
        };
        let exp = |h: &Heartbeat, run: Option<&str>| {
            let mut l = lease.clone();
            if renews(h, "s1", run) {
                l.renewed_at = h.checked_at.clone();
            }
            lease_expiry(&l).map(time::format)
        };
        let renewed = Some("2026-01-01T00:50:00.000Z".to_string());
        let not = Some("2026-01-01T00:30:00.000Z".to_string());
        assert_eq!(exp(&hb("ok", Some("r1"), None), Some("r1")), renewed);
        assert_eq!(
            exp(&hb("ok", Some("r2"), None), Some("r1")),
            not,
            "another run"
        );
        assert_eq!(
            exp(&hb("ok", None, None), Some("r1")),
            not,
            "an unnamed run"
        );
        assert_eq!(
            exp(&hb("ok", None, None), None),
            renewed,
            "a claim without run"
        );
        assert_eq!(exp(&hb("failed", Some("r1"), None), Some("r1")), not);
        assert_eq!(
            exp(&hb("ok", Some("r1"), Some("coordinator")), Some("r1")),
            not,
            "a supervisor's heartbeat"
        );
    }
}
