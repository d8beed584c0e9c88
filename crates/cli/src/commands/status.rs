//! `codenator status` and `codenator slots`: who is registered, what they
//! hold and how much they have not read (the ledger's cursors).

use ledger::api;
use serde_json::{Value, json};

use super::{Common, Env, print_json, s};

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

fn pad(rows: &[Vec<String>]) {
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
        println!("{}", line.join("  ").trim_end());
    }
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
    let rows = ans["slots"].clone();
    if args.json {
        let registry = {
            let _l = store.lock_shared()?;
            Value::Object(store.registry()?.doc().clone())
        };
        print_json(&json!({
            "registry": registry,
            "rows": rows,
            "open_tasks": ans["open_tasks"],
            "task_counts": ans["task_counts"],
            "total_tasks": ans["total_tasks"],
            "summary_pause": ans["summary_pause"],
            "store": store.dir(),
        }))?;
        return Ok(0);
    }
    println!("Auralis Codenator status");
    let mut table = vec![
        [
            "slot", "identity", "project", "focus", "branch", "status", "unread", "task",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows.as_array().into_iter().flatten() {
        table.push(vec![
            s(r, "slot").into(),
            s(r, "identity").into(),
            s(r, "project").into(),
            s(r, "focus").into(),
            s(r, "branch").into(),
            s(r, "status").into(),
            r["unread"].to_string(),
            match r["current_task_id"].as_str() {
                Some(t) => format!("{t} ({})", s(r, "current_task_status")),
                None => String::new(),
            },
        ]);
    }
    pad(&table);
    Ok(0)
}

pub fn slots(env: &Env, args: &SlotsArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let rows = store.slot_rows(&ctx)?;
    if args.json {
        print_json(&Value::Array(rows))?;
        return Ok(0);
    }
    println!("Codenator slots");
    for r in &rows {
        let mut line = format!("{} {} unread={}", s(r, "slot"), s(r, "status"), r["unread"]);
        if let Some(h) = r["heartbeat_status"].as_str() {
            line.push_str(&format!(" heartbeat={h}"));
        }
        if let Some(t) = r["current_task_id"].as_str() {
            line.push_str(&format!(" task={t}"));
        }
        let focus = s(r, "focus");
        if !focus.is_empty() {
            line.push(' ');
            line.push_str(focus);
        }
        println!("{line}");
    }
    Ok(0)
}
