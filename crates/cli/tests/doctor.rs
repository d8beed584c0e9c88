//! `codenator doctor` as a process: it finds a corrupt middle line, a torn
//! last line, a cursor ahead of the ledger and a stale temp file; `--repair`
//! fixes them without losing a message, and the next check is clean.

use std::fs;
use std::path::Path;
use std::process::Output;

use test_support::{cli_command, store_dir, temp_root};

fn doctor(root: &Path, args: &[&str]) -> Output {
    cli_command()
        .arg("doctor")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run doctor")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn doctor_finds_and_repairs_damage() {
    let tmp = temp_root();
    let root = tmp.path();
    let store = store_dir(root);
    // No store yet: a clear error, exit 2.
    let out = doctor(root, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no codenator store"));

    // A store with four good lines (one legacy line without seq), a corrupt
    // middle line and a torn last line.
    ledger::Store::open(root).expect("create store");
    let good = |seq: Option<u64>, id: &str| {
        let mut v = serde_json::json!({"id": id, "type": "message", "from": "session-01", "to": "coordinator", "subject": id, "message": "m", "created_at": "2026-01-01T00:00:00.000Z"});
        if let Some(s) = seq {
            v["seq"] = serde_json::json!(s);
        }
        v.to_string()
    };
    let text = format!(
        "{}\n{}\n{{\"id\": broken\n{}\n{}\n{{\"id\":\"torn",
        good(Some(1), "a"),
        good(Some(2), "b"),
        good(None, "c"),
        good(Some(5), "d")
    );
    fs::write(store.join("messages/ledger.jsonl"), text).unwrap();
    fs::write(
        store.join("cursors/session-01.json"),
        r#"{"slot":"session-01","last_seq":99}"#,
    )
    .unwrap();
    fs::write(store.join("tasks/.t1.json.123.abc.tmp"), "partial").unwrap();

    let out = doctor(root, &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "problems found: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = json(&out);
    let kinds: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for k in [
        "ledger_damaged_line",
        "ledger_torn_tail",
        "cursor_ahead",
        "stale_temp_file",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(report["clean"], serde_json::json!(false));

    let out = doctor(root, &["--repair", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!json(&out)["repaired"].as_array().unwrap().is_empty());

    // Nothing lost: the four good lines remain, the legacy one pinned at its
    // old seq (4, its line number before the damage was removed).
    let ledger = fs::read_to_string(store.join("messages/ledger.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = ledger
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 4, 5]);
    let quarantine = fs::read_to_string(store.join("messages/ledger.quarantine.jsonl")).unwrap();
    assert!(
        quarantine.contains("broken") && quarantine.contains("torn"),
        "{quarantine}"
    );
    assert!(!store.join("tasks/.t1.json.123.abc.tmp").exists());
    let cursor: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(store.join("cursors/session-01.json")).unwrap())
            .unwrap();
    assert_eq!(cursor["last_seq"], serde_json::json!(5));

    let out = doctor(root, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("clean"));
}

/// The journal: a writer that died after its entry was durable (the
/// fault switch aborts `codenator send` there), then damage from outside (a
/// line that does not parse, a torn end). `doctor` names each; `--repair`
/// applies the entry (its message reaches the ledger and the inbox), keeps
/// a copy of the damaged journal, and the next check is clean.
#[test]
fn doctor_finds_and_repairs_a_damaged_journal() {
    let w = test_support::World::new();
    let here = w.root.clone();
    w.ok(&here, &["init"]);
    w.ok(&here, &["send", "session-01", "--message", "first"]);
    let out = w
        .cmd(&here, &["send", "session-01", "--message", "second"])
        .env("CODENATOR_FAULT", "after_journal:1")
        .output()
        .expect("send");
    assert_eq!(out.status.code(), None, "the fault aborts the writer");
    let ledger = fs::read_to_string(w.store().join("messages/ledger.jsonl")).unwrap();
    assert!(!ledger.contains("second"), "nothing applied yet: {ledger}");
    // Younger, the entry would be in flight (its writer waiting for its
    // fsync), not a finding.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let journal = w.store().join("journal.jsonl");
    let mut j = fs::read(&journal).unwrap();
    j.extend_from_slice(b"{\"tx\": damaged\n{\"tx\":\"torn");
    fs::write(&journal, &j).unwrap();

    let check = json(&doctor(&w.root, &["--json"]));
    let kinds: Vec<&str> = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    for k in ["journal_unapplied", "journal_damaged", "journal_torn"] {
        assert!(kinds.contains(&k), "doctor misses {k}: {check:#}");
    }

    let out = doctor(&w.root, &["--repair", "--json"]);
    let repaired = json(&out);
    assert!(
        repaired["repaired"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("redid 1 unapplied entry")),
        "{repaired:#}"
    );
    let copies: Vec<_> = fs::read_dir(w.store())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("journal.damaged-"))
        .collect();
    assert_eq!(copies.len(), 1, "one copy of the damaged journal");
    assert_eq!(fs::read(w.store().join(&copies[0])).unwrap(), j);
    let after = json(&doctor(&w.root, &["--json"]));
    assert_eq!(after["findings"], serde_json::json!([]), "{after:#}");
    let inbox = w.json(&here, &["inbox", "session-01", "--json"]);
    let texts: Vec<&str> = inbox
        .as_array()
        .unwrap_or_else(|| panic!("{inbox:#}"))
        .iter()
        .filter_map(|m| m["message"].as_str())
        .collect();
    assert_eq!(texts, ["first", "second"], "{inbox:#}");
}
