//! The one scanner of JSON-lines files (`messages/ledger.jsonl`).
//!
//! One rule for every reader, so the index, `doctor`, the v1 importer and
//! the tests agree on what a line is:
//!
//! - A line ends with `\n`. Blank lines are skipped and not counted.
//! - A final segment without `\n` is a **torn tail** (a writer killed mid
//!   append): never parsed as a record and not counted, because the next
//!   append may still terminate it. It is reported separately.
//! - Every other line is numbered (1-based, non-blank lines only; a legacy
//!   line without `seq` takes its number as its seq) and is either a JSON
//!   object or **damaged** with a reason. A damaged line keeps its number, so
//!   the lines after it keep theirs.

use serde_json::{Map, Value};

/// One complete, non-blank line.
#[derive(Debug)]
pub struct Line<'a> {
    /// Byte offset of the line in the file.
    pub offset: u64,
    /// Length including the terminating newline.
    pub len: u64,
    /// The line's number among non-blank complete lines, from 1.
    pub number: u64,
    /// The line without its newline.
    pub bytes: &'a [u8],
}

impl Line<'_> {
    /// The line as a JSON object, or why it is not one.
    pub fn parse(&self) -> Result<Map<String, Value>, String> {
        parse_object(self.bytes)
    }
}

/// Parse one line as a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// An unterminated final segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    pub offset: u64,
    pub len: u64,
}

/// The lines of `buf`, which starts at byte `base` of its file, numbered
/// after `lines_before` earlier lines; and the torn tail, if any.
pub fn split(buf: &[u8], base: u64, lines_before: u64) -> (Vec<Line<'_>>, Option<TornTail>) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut number = lines_before;
    while pos < buf.len() {
        let Some(nl) = buf[pos..].iter().position(|b| *b == b'\n') else {
            let rest = &buf[pos..];
            let torn = (!rest.iter().all(u8::is_ascii_whitespace)).then_some(TornTail {
                offset: base + pos as u64,
                len: rest.len() as u64,
            });
            return (out, torn);
        };
        let bytes = &buf[pos..pos + nl];
        let offset = base + pos as u64;
        pos += nl + 1;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        number += 1;
        out.push(Line {
            offset,
            len: nl as u64 + 1,
            number,
            bytes,
        });
    }
    (out, None)
}

/// Where the complete lines of `buf` end: the byte after the last newline
/// (a torn tail and trailing blanks without newline stay uncovered).
pub fn covered_end(buf: &[u8], base: u64) -> u64 {
    base + buf
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_skip_blanks_and_torn_tails_are_apart() {
        let buf = b"{\"a\":1}\n\n  \nnot json\n[1]\n{\"b\":2}\n{\"c\":";
        let (lines, torn) = split(buf, 100, 5);
        let numbers: Vec<u64> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, vec![6, 7, 8, 9]);
        assert_eq!(lines[0].offset, 100);
        assert!(lines[0].parse().is_ok());
        assert!(lines[1].parse().is_err());
        assert_eq!(lines[2].parse(), Err("not a JSON object".to_string()));
        assert_eq!(
            torn,
            Some(TornTail {
                offset: 133,
                len: 5
            })
        );
        assert_eq!(covered_end(buf, 100), 133);
        let (_, none) = split(b"{}\n   ", 0, 0);
        assert_eq!(none, None, "trailing blanks are not a torn line");
    }
}
