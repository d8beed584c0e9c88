//! `codenator status` and `codenator slots`: who is registered, what they
//! hold and how much they have not read (the ledger's cursors).

use ledger::api;
use serde_json::json;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print `{registry, rows, open_tasks, ...}` as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct SlotsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print the rows as a JSON array.
    #[arg(long)]
    pub json: bool,
}

fn pad(rows: &[Vec<String>]) -> std::io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{v:<w$}", w = widths[i]))
            .collect();
        super::out(format_args!("{}", line.join("  ").trim_end()))?;
    }
    Ok(())
}

pub fn status(env: &Env, args: &StatusArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.get_status(
        &ctx,
        &api::GetStatus {
            slot: None,
            limit: Some(200),
            offset: None,
        },
    )?;
    if args.json {
        print_json(&json!({
            "registry": store.registry()?,
            "rows": ans.slots,
            "open_tasks": ans.open_tasks,
            "task_counts": ans.task_counts,
            "total_tasks": ans.total_tasks,
            "expired_leases": ans.expired_leases,
            "summary_pause": ans.summary_pause,
            "store": store.dir(),
        }))?;
        return Ok(0);
    }
    say!("Auralis Codenator status");
    let mut table = vec![
        [
            "slot", "identity", "project", "focus", "branch", "status", "unread", "task",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &ans.slots {
        table.push(vec![
            r.slot.clone(),
            r.identity.clone(),
            r.project.clone(),
            r.focus.clone(),
            r.branch.clone(),
            r.status.clone(),
            r.unread.to_string(),
            match (&r.current_task_id, &r.current_task_status) {
                (Some(t), Some(st)) => format!(
                    "{t} ({st}{})",
                    if r.lease_expired {
                        ", lease expired"
                    } else {
                        ""
                    }
                ),
                _ => String::new(),
            },
        ]);
    }
    pad(&table)?;
    Ok(0)
}

pub fn slots(env: &Env, args: &SlotsArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let rows = store.slot_details(&ctx)?;
    if args.json {
        print_json(&rows)?;
        return Ok(0);
    }
    say!("Codenator slots");
    for d in &rows {
        let r = &d.row;
        let mut line = format!("{} {} unread={}", r.slot, r.status, r.unread);
        if let Some(h) = &r.heartbeat_status {
            line.push_str(&format!(" heartbeat={h}"));
        }
        if let Some(t) = &r.current_task_id {
            line.push_str(&format!(" task={t}"));
        }
        if !r.focus.is_empty() {
            line.push(' ');
            line.push_str(&r.focus);
        }
        say!("{line}");
    }
    Ok(0)
}
