//! `codenator import-legacy-inbox`: bring the reference CLI's inbox files
//! into the ledger now (every other command does it on first use). See
//! `ledger::maint::legacy_import` for what happens to each file.

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Say what would be imported; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let store = env.store_without_import()?;
    let r = store.import_legacy_inbox(args.dry_run)?;
    if args.json {
        print_json(&r)?;
        return Ok(0);
    }
    let t = &r.totals;
    say!(
        "Legacy inbox import{}: {} unread file(s) ({} already in the ledger, {} appended), {} read message(s) marked read, {} skipped",
        if args.dry_run { " (dry-run)" } else { "" },
        t.archived_files,
        t.unread_in_ledger,
        t.appended,
        t.marked_read,
        t.skipped
    );
    for s in &r.skipped {
        say!("- skipped {}: {}", s.file, s.reason);
    }
    Ok(0)
}
