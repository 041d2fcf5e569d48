//! The hash chain over a run's JSONL records, and its check.
//!
//! Every record carries its place (`seq`, from 1) and the SHA-256 of the line before it
//! (`prev`); the first record's `prev` derives from the run's id. A run that finishes
//! ends with a closing record holding the number of records before it and the head of
//! the chain (the SHA-256 of the line before it); the head is also kept in the state
//! directory's index of runs, shown at the end of the run and, with `--syslog` or the
//! preset's `[audit] syslog`, sent to the system log (`announce`), so a copy kept
//! elsewhere proves the file whole.

use std::collections::HashSet;

use super::record::{Body, Record};
use crate::digest::sha256_hex;

/// The `prev` of a run's first record.
pub fn genesis(run: &str) -> String {
    sha256_hex(format!("kubewiz audit log of run {run}").as_bytes())
}

/// The hash the next record carries for `line` (without its newline).
pub fn link(line: &str) -> String {
    sha256_hex(line.as_bytes())
}

/// What the index of runs holds for a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub records: u64,
    pub head: String,
}

/// What the index of runs says about one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    /// There is no index beside the log (a copy kept elsewhere): only the chain is
    /// checked; the head is to be compared with the one kept elsewhere.
    Absent,
    /// The index exists and has no head for this run (it never finished, or its entry
    /// was removed).
    NoEntry,
    Kept(Kept),
}

/// The verdict on one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The chain holds from the first record to the closing record.
    Whole {
        run: String,
        records: u64,
        head: String,
        /// Whether the head was found in the index of runs.
        indexed: bool,
    },
    /// The chain holds, but the run never wrote its closing record (it was killed or
    /// crashed): every line up to `last` verified.
    Unfinished { run: String, last: usize },
    /// The first line that breaks the chain, and what is wrong.
    Broken { line: usize, what: String },
}

/// Checks a log's text against the chain and the index of runs.
pub fn verify(text: &str, index: &Index) -> Verdict {
    let checked = parse(text).and_then(|(lines, records, torn)| {
        let run = opening(&records)?;
        links(&lines, &records)?;
        Ok(end(&records, torn, index, run))
    });
    checked.unwrap_or_else(|broken| broken)
}

fn broken(line: usize, what: String) -> Verdict {
    Verdict::Broken { line, what }
}

/// The log's lines and their records, and whether the last line is torn (a process
/// killed while writing leaves its last line without an end; that line is left out).
fn parse(text: &str) -> Result<(Vec<&str>, Vec<Record>, bool), Verdict> {
    if text.is_empty() {
        return Err(broken(
            1,
            "the file is empty: its records were removed".into(),
        ));
    }
    let torn = !text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match Record::parse(line) {
            Ok(r) => records.push(r),
            Err(_) if torn && i + 1 == lines.len() => break,
            Err(e) => {
                return Err(broken(
                    i + 1,
                    format!("edited: line {} is not an audit record: {e}", i + 1),
                ));
            }
        }
    }
    Ok((lines, records, torn))
}

/// The run's id, from a first record that is its opening record, numbered 1 and
/// chained to the run's genesis.
fn opening(records: &[Record]) -> Result<String, Verdict> {
    let Some(first) = records.first() else {
        return Err(broken(1, "cut: not even the first record is whole".into()));
    };
    let Body::Opening(opening) = &first.body else {
        return Err(match first.seq {
            1 => broken(
                1,
                "edited: the first record is not the run's opening record".into(),
            ),
            n => broken(
                1,
                format!(
                    "removed: the log starts with record {n}; records 1 to {} are missing",
                    n - 1
                ),
            ),
        });
    };
    let run = opening.run.clone();
    if first.seq != 1 {
        return Err(broken(
            1,
            format!("reordered: line 1 is record {}", first.seq),
        ));
    }
    if first.prev != genesis(&run) {
        return Err(broken(
            1,
            format!("edited: line 1's chain value does not derive from its run id {run}"),
        ));
    }
    Ok(run)
}

/// Every record after the first: in its place, chained to the line before it, and
/// none after a closing record, whose count and head must be the chain's.
fn links(lines: &[&str], records: &[Record]) -> Result<(), Verdict> {
    let seqs: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    let mut closing = None;
    for (i, record) in records.iter().enumerate().skip(1) {
        let n = i + 1;
        if let Some(at) = closing {
            return Err(broken(
                n,
                format!("added: line {n} follows the closing record at line {at}"),
            ));
        }
        if record.seq != n as u64 {
            return Err(broken(n, out_of_place(n, record.seq, &seqs)));
        }
        if record.prev != link(lines[i - 1]) {
            return Err(broken(
                n - 1,
                format!(
                    "edited: line {} is not the line whose hash line {n} recorded",
                    n - 1
                ),
            ));
        }
        if let Body::Closing(c) = &record.body {
            if c.records != i as u64 || c.head != record.prev {
                return Err(broken(
                    n,
                    format!(
                        "edited: the closing record says {} records and head {}, the chain has {i} and {}",
                        c.records, c.head, record.prev
                    ),
                ));
            }
            closing = Some(n);
        }
    }
    Ok(())
}

/// What is wrong with line `n` holding record `seq`: records removed before it, or
/// records out of order.
fn out_of_place(n: usize, seq: u64, seqs: &HashSet<u64>) -> String {
    let n64 = n as u64;
    if seq > n64 && !seqs.contains(&n64) {
        let missing = if seq == n64 + 1 {
            format!("record {n} is missing")
        } else {
            format!("records {n} to {} are missing", seq - 1)
        };
        format!("removed: line {n} is record {seq}; {missing}")
    } else {
        format!("reordered: line {n} is record {seq}")
    }
}

/// How the log ends: closed with the head the index of runs keeps, or unfinished
/// where the index has no head for it.
fn end(records: &[Record], torn: bool, index: &Index, run: String) -> Verdict {
    let last = records.len();
    let Some(Body::Closing(c)) = records.last().map(|r| &r.body) else {
        return match index {
            Index::Kept(kept) => broken(
                last + 1,
                format!(
                    "cut at the end: the index of runs says the run closed after {} records with head {}; the file ends at line {last}",
                    kept.records, kept.head
                ),
            ),
            _ => Verdict::Unfinished { run, last },
        };
    };
    if torn {
        return broken(
            last + 1,
            format!("added: an unfinished line follows the closing record at line {last}"),
        );
    }
    match index {
        Index::Kept(kept) if kept.head != c.head || kept.records != c.records => broken(
            last,
            format!(
                "rewritten: the head {} ({} records) is not the index of runs' {} ({} records)",
                c.head, c.records, kept.head, kept.records
            ),
        ),
        Index::NoEntry => broken(
            last,
            format!(
                "not in the index of runs: no run {run} closed with head {}",
                c.head
            ),
        ),
        _ => Verdict::Whole {
            run,
            records: c.records,
            head: c.head.clone(),
            indexed: matches!(index, Index::Kept(_)),
        },
    }
}
