//! `codenator init`: create the store (a v2 registry; an existing registry,
//! v1 included, is kept as it is).

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

/// Root: `--root`, else the root variables, else the current directory (no
/// upward search: `init` creates where it is told). The nested-root rule
/// applies, as everywhere.
pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let root = host::root::Root::for_init(env.root.as_deref())?;
    let store = root.open_or_create()?;
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
        say!("Initialized {}", store.dir().display());
    }
    Ok(0)
}
