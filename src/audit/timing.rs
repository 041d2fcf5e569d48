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
    /// In a phase with more hosts than may run at once: how long the critical path's
    /// host waited for a free slot before its first step (0 otherwise). It is the
    /// limit's doing, not kubewiz's between steps, and is kept out of the gap; it holds
    /// the earlier hosts' whole time, their gaps included.
    pub slot_wait_ms: u64,
    /// At most this many hosts ran at once (None in logs that do not say).
    pub at_once: Option<usize>,
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
    /// Wall time not spent in a step on the critical path, nor waiting for a slot.
    pub fn gap_ms(&self) -> u64 {
        self.wall_ms
            .saturating_sub(self.critical_ms)
            .saturating_sub(self.slot_wait_ms)
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
    /// When its first step in the phase started.
    first: Option<OffsetDateTime>,
    total_ms: u64,
    steps: Vec<(String, u64)>,
}

#[derive(Default)]
struct PhaseData {
    one_at_a_time: bool,
    at_once: Option<usize>,
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
                        at_once,
                        ..
                    } => {
                        order.push(phase.clone());
                        let data = phases.entry(phase.clone()).or_default();
                        data.start = Some(when);
                        data.one_at_a_time = *one_at_a_time;
                        data.at_once = *at_once;
                    }
                    Event::PhaseFinished { phase, .. } => {
                        phases.entry(phase.clone()).or_default().end = Some(when);
                    }
                    Event::StepStarted {
                        phase,
                        host,
                        step,
                        title,
                        ..
                    } => {
                        started.insert(step.clone(), title.clone());
                        let h = phases
                            .entry(phase.clone())
                            .or_default()
                            .hosts
                            .entry(host.clone())
                            .or_default();
                        h.first.get_or_insert(when);
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
        timing.phases.push(phase_timing(name, wall_ms, start, data));
    }
    Ok(timing)
}

fn phase_timing(
    phase: String,
    wall_ms: u64,
    start: OffsetDateTime,
    data: PhaseData,
) -> PhaseTiming {
    let PhaseData {
        one_at_a_time,
        at_once,
        hosts,
        ..
    } = data;
    // More hosts than slots: a host's wait for one counts, so the critical path is
    // the host that finished last counting from the phase's start.
    let limited = !one_at_a_time && at_once.is_some_and(|n| hosts.len() > n);
    let wait = |h: &HostSteps| h.first.map_or(0, |first| ms(start, first));
    let busiest = if limited {
        hosts.iter().max_by_key(|(_, h)| wait(h) + h.total_ms)
    } else {
        hosts.iter().max_by_key(|(_, h)| h.total_ms)
    };
    let slot_wait_ms = match busiest {
        Some((_, h)) if limited => wait(h),
        _ => 0,
    };
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
        slot_wait_ms,
        at_once,
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
            "{:<22} {:>9}  {:<26} {:>9} {:>9} {:>9}",
            "phase", "wall", "critical path", "steps", "slot wait", "gap"
        )?;
        for p in &self.phases {
            let path = match &p.path {
                CriticalPath::Host(host) => host.clone(),
                CriticalPath::InTurn(n) => format!("{n} hosts in turn"),
                CriticalPath::NoStep => "no step".to_owned(),
            };
            writeln!(
                f,
                "{:<22} {:>9}  {:<26} {:>9} {:>9} {:>9}",
                p.phase,
                secs(p.wall_ms),
                path,
                secs(p.critical_ms),
                secs(p.slot_wait_ms),
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
        let waits: u64 = self.phases.iter().map(|p| p.slot_wait_ms).sum();
        if let Some(limit) = self
            .phases
            .iter()
            .filter(|p| p.slot_wait_ms > 0)
            .find_map(|p| p.at_once)
        {
            writeln!(
                f,
                "More hosts than the {limit} that run at once: the critical paths' hosts waited {} for a free slot (apart from the gap; the wait holds the earlier hosts' time).",
                secs(waits)
            )?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Stamped, StepOutcome};

    /// An event record at `ms` milliseconds past a fixed second.
    fn at(ms: u64, event: Event) -> (String, Record) {
        let stamp = OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms as i64);
        let body = Body::Event(Stamped {
            at: stamp.format(&Rfc3339).unwrap(),
            event,
        });
        let record = Record {
            seq: 0,
            prev: String::new(),
            operator: None,
            body,
        };
        (String::new(), record)
    }

    /// A phase of `hosts` hosts, each with one step of 1000 ms; at most `at_once` of
    /// them at once, each host starting 10 ms after a slot is free.
    fn phase(hosts: usize, at_once: usize) -> Vec<(String, Record)> {
        let mut records = vec![at(
            0,
            Event::PhaseStarted {
                phase: "prepare".into(),
                title: "Prepare".into(),
                hosts: (0..hosts).map(|i| format!("h{i}")).collect(),
                one_at_a_time: false,
                at_once: Some(at_once),
            },
        )];
        let mut end = 0;
        for i in 0..hosts {
            let round = (i / at_once) as u64;
            let start = round * 1010 + 10;
            let host = format!("h{i}");
            let step = format!("prepare/{host}/sysctl");
            records.push(at(
                start,
                Event::StepStarted {
                    phase: "prepare".into(),
                    host: host.clone(),
                    step: step.clone(),
                    title: "sysctl".into(),
                    command: None,
                },
            ));
            records.push(at(
                start + 1000,
                Event::StepFinished {
                    host,
                    step,
                    outcome: StepOutcome::Done,
                    duration_ms: 1000,
                },
            ));
            end = end.max(start + 1000);
        }
        records.push(at(
            end + 5,
            Event::PhaseFinished {
                phase: "prepare".into(),
                failed_hosts: Vec::new(),
            },
        ));
        records
    }

    #[test]
    fn a_hosts_wait_for_a_free_slot_is_apart_from_the_gap() {
        // Three rounds of two: the last host waited two rounds for a slot.
        let limited = timing(&phase(6, 2)).unwrap();
        let p = &limited.phases[0];
        assert_eq!(p.wall_ms, 3035);
        assert_eq!(p.critical_ms, 1000);
        assert_eq!(p.slot_wait_ms, 2030);
        assert_eq!(p.gap_ms(), 5);
        assert_eq!(p.path, CriticalPath::Host("h5".into()));
        let text = limited.to_string();
        assert!(
            text.contains(
                "More hosts than the 2 that run at once: the critical paths' hosts waited 2.0 s"
            ),
            "{text}"
        );
        // Within the limit, no host waits: the time before a first step is the gap's.
        let within = timing(&phase(2, 2)).unwrap();
        let p = &within.phases[0];
        assert_eq!((p.wall_ms, p.slot_wait_ms, p.gap_ms()), (1015, 0, 15));
        assert!(!within.to_string().contains("More hosts than"));
    }
}
