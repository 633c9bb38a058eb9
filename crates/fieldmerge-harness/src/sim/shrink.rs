//! Shrinking a failing run to a minimal schedule: fewer actors, fewer
//! events, fewer faults, as long as the same kind of violation still
//! happens; then printing it as a regression test to paste.

use super::config::Config;
use super::{run_schedule, Event, Fate, Violation, ViolationKind};

/// A shrunk failing schedule.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest configuration found.
    pub config: Config,
    /// The smallest schedule found.
    pub schedule: Vec<Event>,
    /// The violation it still shows.
    pub violation: Violation,
    /// How many runs shrinking took.
    pub runs: usize,
}

struct Shrinker {
    kind: ViolationKind,
    runs: usize,
    budget: usize,
}

impl Shrinker {
    fn fails(&mut self, config: &Config, schedule: &[Event]) -> Option<Violation> {
        if self.runs >= self.budget {
            return None;
        }
        self.runs += 1;
        run_schedule(config, schedule)
            .violations
            .into_iter()
            .find(|v| v.kind == self.kind)
    }
}

/// Shrinks `schedule` under `config` while a violation of `kind` remains,
/// with at most `budget` runs. Greedy and deterministic: actors first, then
/// chunks of events (halving the chunk size down to single events), then
/// faults (message fates made normal, reordering undone).
pub fn shrink(
    config: &Config,
    schedule: &[Event],
    kind: ViolationKind,
    budget: usize,
) -> Option<Shrunk> {
    let mut s = Shrinker {
        kind,
        runs: 0,
        budget,
    };
    let mut config = *config;
    let mut schedule = schedule.to_vec();
    let mut violation = s.fails(&config, &schedule)?;
    // Cut everything after the step that failed, when it failed in chaos.
    if violation.step + 1 < schedule.len() {
        let cut = &schedule[..=violation.step];
        if let Some(v) = s.fails(&config, cut) {
            schedule = cut.to_vec();
            violation = v;
        }
    }
    loop {
        let before = (config, schedule.len(), fault_count(&schedule), s.runs);
        // Fewer actors and records.
        for which in 0..3 {
            loop {
                let mut smaller = config;
                match which {
                    0 if smaller.users > 1 => smaller.users -= 1,
                    1 if smaller.devices_per_user > 1 => smaller.devices_per_user -= 1,
                    2 if smaller.tasks > 1 => smaller.tasks -= 1,
                    _ => break,
                }
                // Keep the schedule, or fold the dropped devices onto the
                // remaining ones.
                let devices = smaller.users.max(1) * smaller.devices_per_user.max(1);
                let folded = renumber(&schedule, config.devices_per_user, &smaller, devices);
                if let Some(v) = s.fails(&smaller, &schedule) {
                    config = smaller;
                    violation = v;
                } else if let Some(v) = s.fails(&smaller, &folded) {
                    config = smaller;
                    schedule = folded;
                    violation = v;
                } else {
                    break;
                }
            }
        }
        // Fewer events: remove chunks, halving the chunk size.
        let mut chunk = (schedule.len() / 2).max(1);
        loop {
            let mut i = 0;
            while i < schedule.len() {
                let mut candidate = schedule.clone();
                candidate.drain(i..(i + chunk).min(schedule.len()));
                match s.fails(&config, &candidate) {
                    Some(v) => {
                        schedule = candidate;
                        violation = v;
                    }
                    None => i += chunk,
                }
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
        // Fewer faults.
        for i in 0..schedule.len() {
            if let Some(calm) = calmer(&schedule[i]) {
                let mut candidate = schedule.clone();
                candidate[i] = calm;
                if let Some(v) = s.fails(&config, &candidate) {
                    schedule = candidate;
                    violation = v;
                }
            }
        }
        // Fewer ticks: merge neighbours, then shorten what is left.
        let mut i = 0;
        while i + 1 < schedule.len() {
            if let (Event::Tick { ms: a }, Event::Tick { ms: b }) = (schedule[i], schedule[i + 1]) {
                let mut candidate = schedule.clone();
                candidate[i] = Event::Tick {
                    ms: a.saturating_add(b),
                };
                candidate.remove(i + 1);
                if let Some(v) = s.fails(&config, &candidate) {
                    schedule = candidate;
                    violation = v;
                    continue;
                }
            }
            i += 1;
        }
        for i in 0..schedule.len() {
            while let Event::Tick { ms } = schedule[i] {
                if ms <= 1 {
                    break;
                }
                let mut candidate = schedule.clone();
                candidate[i] = Event::Tick { ms: ms / 2 };
                match s.fails(&config, &candidate) {
                    Some(v) => {
                        schedule = candidate;
                        violation = v;
                    }
                    None => break,
                }
            }
        }
        let after = (config, schedule.len(), fault_count(&schedule), s.runs);
        if (after.0, after.1, after.2) == (before.0, before.1, before.2) || s.runs >= budget {
            break;
        }
    }
    Some(Shrunk {
        config,
        schedule,
        violation,
        runs: s.runs,
    })
}

// The schedule with each device renumbered for a smaller configuration:
// (user, slot) keeps its meaning where it still exists, and wraps otherwise.
fn renumber(
    schedule: &[Event],
    per_user_before: usize,
    smaller: &Config,
    devices: usize,
) -> Vec<Event> {
    let per_user = smaller.devices_per_user.max(1);
    let map = |d: usize| {
        let (user, slot) = (d / per_user_before.max(1), d % per_user_before.max(1));
        ((user % smaller.users.max(1)) * per_user + slot % per_user) % devices
    };
    schedule
        .iter()
        .map(|e| {
            let mut e = *e;
            match &mut e {
                Event::Join { device, .. }
                | Event::Boot { device, .. }
                | Event::Crash { device }
                | Event::Wipe { device, .. }
                | Event::Write { device, .. }
                | Event::Burst { device, .. }
                | Event::Delete { device, .. }
                | Event::Restore { device, .. }
                | Event::Migrate { device, .. }
                | Event::MigrateAll { device, .. }
                | Event::Backup { device }
                | Event::RestoreBackup { device }
                | Event::Push { device, .. }
                | Event::Pull { device, .. }
                | Event::Replay { device, .. }
                | Event::Merge { device, .. }
                | Event::ResetCursor { device }
                | Event::Clock { device, .. }
                | Event::Partition { device, .. } => *device = map(*device),
                Event::Tick { .. }
                | Event::Agent { .. }
                | Event::AgentAhead { .. }
                | Event::Legacy { .. }
                | Event::Deliver { .. }
                | Event::RestartServer
                | Event::Failover
                | Event::Poison { .. } => {}
            }
            e
        })
        .collect()
}

fn fate_of(event: &Event) -> Option<Fate> {
    match *event {
        Event::Join { fate, .. }
        | Event::Boot { fate, .. }
        | Event::Wipe { fate, .. }
        | Event::Push { fate, .. }
        | Event::Pull { fate, .. }
        | Event::Deliver { fate, .. } => Some(fate),
        _ => None,
    }
}

fn fault_count(schedule: &[Event]) -> usize {
    schedule
        .iter()
        .filter(|e| {
            fate_of(e).is_some_and(Fate::is_fault)
                || matches!(e, Event::Deliver { pick, .. } if *pick != 0)
        })
        .count()
}

// The same event with its faults removed, if it had any.
fn calmer(event: &Event) -> Option<Event> {
    let mut calm = *event;
    match &mut calm {
        Event::Join { fate, .. }
        | Event::Boot { fate, .. }
        | Event::Wipe { fate, .. }
        | Event::Push { fate, .. }
        | Event::Pull { fate, .. } => *fate = Fate::OK,
        Event::Deliver { pick, fate } => {
            *pick = 0;
            *fate = Fate::OK;
        }
        _ => return None,
    }
    (calm != *event).then_some(calm)
}

/// A ready-to-paste regression test for a shrunk failure. It asserts the
/// run is clean, so it fails until the bug is fixed, and pins the fix after.
pub fn regression_test(shrunk: &Shrunk, name: &str) -> String {
    let mut events = String::new();
    for e in &shrunk.schedule {
        events.push_str(&format!("        {e:?},\n"));
    }
    let mut imports = vec!["run_schedule", "Config", "Event::*"];
    if shrunk.schedule.iter().any(|e| fate_of(e).is_some()) {
        imports.push("Fate");
    }
    imports.extend(["FaultRates", "ScenarioSet"]);
    if shrunk.config.mutation.is_some() {
        imports.push("Mutation::*");
    }
    format!(
        "/// Found by the simulator and shrunk ({runs} runs): {violation}\n\
         #[test]\n\
         fn {name}() {{\n    \
             use fieldmerge_harness::sim::{{{imports}}};\n    \
             let config = {config:?};\n    \
             let schedule = vec![\n{events}    ];\n    \
             let outcome = run_schedule(&config, &schedule);\n    \
             assert!(outcome.violations.is_empty(), \"{{:#?}}\", outcome.violations);\n\
         }}\n",
        runs = shrunk.runs,
        violation = shrunk.violation.to_string().replace('\n', " "),
        config = shrunk.config,
        imports = imports.join(", "),
    )
}
