//! How long a run took and where the time went, read from its audit log alone: per
//! phase, its wall time, the host whose steps set its pace (or, for a phase whose hosts
//! ran one after the other, all of them in turn), those steps' own time, and the gap
//! between the two, which is kubewiz's share: connections, scheduling, the barrier at
//! the phase's end. `kubewiz audit show NAME --timing` prints it.

use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::record::{Body, CpuUse, Record};
use crate::exec::Event;

/// The longest steps named per phase.
const LONGEST: usize = 3;

/// One phase of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseTiming {
    pub phase: String,
    /// From the phase's start to its end (or to the log's last record).
    pub wall_ms: u64,
    pub path: CriticalPath,
    /// The steps' own time on the critical path.
    pub critical_ms: u64,
    /// The longest steps on that path: (host, title, ms).
    pub longest: Vec<(String, String, u64)>,
}

/// Whose steps made a phase as long as it was.
#[derive(Debug, Clone, PartialEq)]
pub enum CriticalPath {
    /// The host whose steps took longest, the others running beside it.
    Host(String),
    /// This many hosts, one after the other (the phase says so in the log): all of
    /// their steps.
    InTurn(usize),
    /// No host had a step.
    NoStep,
}

impl PhaseTiming {
    /// Wall time not spent in a step on the critical path.
    pub fn gap_ms(&self) -> u64 {
        self.wall_ms.saturating_sub(self.critical_ms)
    }
}

/// A run's timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub run: String,
    pub cluster: String,
    pub kind: String,
    pub dry_run: bool,
    /// From the run's first record to its last.
    pub total_ms: u64,
    pub phases: Vec<PhaseTiming>,
    /// The log ends without the run's end (a crash, or a run still going on).
    pub unfinished: bool,
    /// CPU time of the run's process, from the closing record.
    pub cpu: Option<CpuUse>,
    /// Hosts other than the KVM host itself that had steps.
    pub hosts: usize,
}

#[derive(Default)]
struct HostSteps {
    total_ms: u64,
    steps: Vec<(String, u64)>,
}

#[derive(Default)]
struct PhaseData {
    one_at_a_time: bool,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    hosts: BTreeMap<String, HostSteps>,
}

fn at(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("a record's time {text:?}: {e}"))
}

fn ms(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// The timing of the run whose records these are (as `audit::read_log` gives them).
pub fn timing(records: &[(String, Record)]) -> Result<Timing, String> {
    let mut timing = Timing {
        run: String::new(),
        cluster: String::new(),
        kind: String::new(),
        dry_run: false,
        total_ms: 0,
        phases: Vec::new(),
        unfinished: true,
        cpu: None,
        hosts: 0,
    };
    let mut first: Option<OffsetDateTime> = None;
    let mut last: Option<OffsetDateTime> = None;
    let mut order: Vec<String> = Vec::new();
    let mut phases: BTreeMap<String, PhaseData> = BTreeMap::new();
    // A step's title, by step id, until it finishes.
    let mut started: BTreeMap<String, String> = BTreeMap::new();
    for (_, record) in records {
        let when = match &record.body {
            Body::Opening(o) => {
                timing.run = o.run.clone();
                timing.cluster = o.cluster.clone();
                timing.kind = o.kind.name().to_owned();
                timing.dry_run = o.dry_run;
                at(&o.at)?
            }
            Body::Closing(c) => {
                timing.cpu = c.cpu;
                at(&c.at)?
            }
            Body::Event(stamped) => {
                let when = at(&stamped.at)?;
                match &stamped.event {
                    Event::PhaseStarted {
                        phase,
                        one_at_a_time,
                        ..
                    } => {
                        order.push(phase.clone());
                        let data = phases.entry(phase.clone()).or_default();
                        data.start = Some(when);
                        data.one_at_a_time = *one_at_a_time;
                    }
                    Event::PhaseFinished { phase, .. } => {
                        phases.entry(phase.clone()).or_default().end = Some(when);
                    }
                    Event::StepStarted { step, title, .. } => {
                        started.insert(step.clone(), title.clone());
                    }
                    Event::StepFinished {
                        host,
                        step,
                        duration_ms,
                        ..
                    } => {
                        let phase = step.split('/').next().unwrap_or_default().to_owned();
                        let title = started.remove(step).unwrap_or_else(|| step.clone());
                        let h = phases
                            .entry(phase)
                            .or_default()
                            .hosts
                            .entry(host.clone())
                            .or_default();
                        h.total_ms += duration_ms;
                        h.steps.push((title, *duration_ms));
                    }
                    Event::RunFinished { .. } => timing.unfinished = false,
                    _ => {}
                }
                when
            }
        };
        first.get_or_insert(when);
        last = Some(when);
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Err("the log holds no record".into());
    };
    timing.total_ms = ms(first, last);
    timing.hosts = phases
        .values()
        .flat_map(|p| p.hosts.keys())
        .filter(|h| h.as_str() != crate::plan::LOCAL)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    for name in order {
        let Some(data) = phases.remove(&name) else {
            continue;
        };
        let start = data.start.unwrap_or(first);
        let wall_ms = ms(start, data.end.unwrap_or(last));
        timing
            .phases
            .push(phase_timing(name, wall_ms, data.one_at_a_time, data.hosts));
    }
    Ok(timing)
}

fn phase_timing(
    phase: String,
    wall_ms: u64,
    one_at_a_time: bool,
    hosts: BTreeMap<String, HostSteps>,
) -> PhaseTiming {
    let busiest = hosts.iter().max_by_key(|(_, h)| h.total_ms);
    let (path, on_path): (CriticalPath, Vec<(&String, &HostSteps)>) = match busiest {
        _ if one_at_a_time && hosts.len() > 1 => {
            (CriticalPath::InTurn(hosts.len()), hosts.iter().collect())
        }
        Some((host, h)) => (CriticalPath::Host(host.clone()), vec![(host, h)]),
        None => (CriticalPath::NoStep, Vec::new()),
    };
    let critical_ms = on_path.iter().map(|(_, h)| h.total_ms).sum();
    let mut longest: Vec<(String, String, u64)> = on_path
        .into_iter()
        .flat_map(|(host, h)| h.steps.iter().map(|(t, d)| (host.clone(), t.clone(), *d)))
        .collect();
    longest.sort_by_key(|s| std::cmp::Reverse(s.2));
    longest.truncate(LONGEST);
    // Steps worth naming: a twentieth of the path or more, and at least what one
    // decimal of a second shows.
    longest.retain(|(_, _, d)| *d >= 50 && d * 20 >= critical_ms);
    PhaseTiming {
        phase,
        wall_ms,
        path,
        critical_ms,
        longest,
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dry = if self.dry_run { " (dry run)" } else { "" };
        writeln!(
            f,
            "Run {} of {}: {}{dry}, {} from its first record to its last{}.",
            self.run,
            self.cluster,
            self.kind,
            secs(self.total_ms),
            if self.unfinished {
                "; the log ends before the run did"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "{:<22} {:>9}  {:<26} {:>9} {:>9}",
            "phase", "wall", "critical path", "steps", "gap"
        )?;
        for p in &self.phases {
            let path = match &p.path {
                CriticalPath::Host(host) => host.clone(),
                CriticalPath::InTurn(n) => format!("{n} hosts in turn"),
                CriticalPath::NoStep => "no step".to_owned(),
            };
            writeln!(
                f,
                "{:<22} {:>9}  {:<26} {:>9} {:>9}",
                p.phase,
                secs(p.wall_ms),
                path,
                secs(p.critical_ms),
                secs(p.gap_ms())
            )?;
            if !p.longest.is_empty() {
                let steps: Vec<String> = p
                    .longest
                    .iter()
                    .map(|(host, title, d)| format!("{host}: {title} {}", secs(*d)))
                    .collect();
                writeln!(f, "    longest: {}", steps.join("; "))?;
            }
        }
        let walls: u64 = self.phases.iter().map(|p| p.wall_ms).sum();
        let steps: u64 = self.phases.iter().map(|p| p.critical_ms).sum();
        let gaps: u64 = self.phases.iter().map(PhaseTiming::gap_ms).sum();
        let share = if walls == 0 {
            0.0
        } else {
            gaps as f64 * 100.0 / walls as f64
        };
        writeln!(
            f,
            "Phases {}: steps on the critical path {}, the gap (kubewiz between and around them) {} ({share:.0}%).",
            secs(walls),
            secs(steps),
            secs(gaps)
        )?;
        match self.cpu {
            Some(cpu) => {
                let per_host = if self.hosts == 0 {
                    String::new()
                } else {
                    format!(
                        ", {:.0} ms per host ({} hosts)",
                        cpu.own_ms as f64 / self.hosts as f64,
                        self.hosts
                    )
                };
                writeln!(
                    f,
                    "kubewiz's own CPU time: {}{per_host}; its ended child processes (SSH connections): {}.",
                    secs(cpu.own_ms),
                    secs(cpu.children_ms)
                )
            }
            None => writeln!(f, "kubewiz's own CPU time: not in this log."),
        }
    }
}
