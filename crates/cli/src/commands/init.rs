//! `codenator init`: create the store (a v2 registry; an existing registry,
//! v1 included, is kept as it is).

use anyhow::Context;
use serde_json::json;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Root: `--root`, else the root variables, else the current directory
/// (no upward search: `init` creates where it is told). The nested-root rule
/// applies, as everywhere.
pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let root = match env.explicit_root() {
        Some(r) => r,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let store = ledger::Store::open(&root, ledger::ids::COORDINATOR)
        .with_context(|| format!("cannot create the store under {}", root.display()))?;
    let imported = if store.legacy_inbox_pending() {
        Some(store.import_legacy_inbox(false)?)
    } else {
        None
    };
    if args.json {
        print_json(&json!({
            "store": store.dir(),
            "root": store.root(),
            "legacy_inbox_import": imported,
        }))?;
    } else {
        println!("Initialized {}", store.dir().display());
    }
    Ok(0)
}
