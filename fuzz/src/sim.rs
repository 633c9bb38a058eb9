//! Simulator schedules from fuzzer bytes: the `sim` target drives
//! `fieldmerge_harness::sim::run_schedule` with a chaos schedule drawn from the
//! input instead of from a seed. Indexes stay in small ranges, a little past
//! the default world's devices, keys and fields, so out-of-range events
//! (which the simulator must skip) come up too.

use arbitrary::{Result, Unstructured};
use fieldmerge_harness::sim::{Config, Event, Fate};

/// The configuration of a fuzzed run: the default world (2 users with 2
/// devices each, 4 tasks, every scenario), with the schedule's length.
pub fn config(steps: usize) -> Config {
    Config {
        steps,
        ..Config::default()
    }
}

/// A message fate: usually on time, sometimes lost, doubled or delayed.
pub fn fate(u: &mut Unstructured<'_>) -> Result<Fate> {
    if u.ratio(3, 4)? {
        return Ok(Fate::OK);
    }
    Ok(Fate {
        drop: u.ratio(1, 3)?,
        dup: u.ratio(1, 3)?,
        delay: u.int_in_range(0..=6)?,
    })
}

/// One chaos event.
pub fn event(u: &mut Unstructured<'_>) -> Result<Event> {
    let device = u.int_in_range(0..=4)?;
    let key = u.int_in_range(0..=8)?;
    let field = u.int_in_range(0..=6)?;
    let value = i64::from(u.int_in_range(0..=9u8)?);
    Ok(match u.int_in_range(0..=20u8)? {
        0 => Event::Tick {
            ms: u.int_in_range(0..=120_000)?,
        },
        1 => Event::Join {
            device,
            fate: fate(u)?,
        },
        2 => Event::Boot {
            device,
            fate: fate(u)?,
        },
        3 => Event::Crash { device },
        4 => Event::Wipe {
            device,
            fate: fate(u)?,
        },
        5 | 6 => Event::Write {
            device,
            key,
            field,
            value,
        },
        7 => Event::Burst {
            device,
            key,
            count: u.int_in_range(1..=5)?,
        },
        8 => Event::Delete { device, key },
        9 => Event::Restore { device, key },
        10 => Event::Migrate {
            device,
            key,
            field,
            value,
        },
        11 => Event::Agent { key, field, value },
        12 => Event::Legacy { key, field, value },
        13 | 14 => Event::Push {
            device,
            fate: fate(u)?,
        },
        15 | 16 => Event::Pull {
            device,
            limit: u.int_in_range(0..=10)?,
            fate: fate(u)?,
        },
        17 => Event::Deliver {
            pick: u.int_in_range(0..=16)?,
            fate: fate(u)?,
        },
        18 => Event::Replay {
            device,
            after: u.int_in_range(0..=40)?,
        },
        19 => Event::Merge {
            device,
            from: u.int_in_range(0..=4)?,
        },
        _ => match u.int_in_range(0..=2u8)? {
            0 => Event::ResetCursor { device },
            1 => Event::Clock {
                device,
                offset_ms: i64::from(u.int_in_range(-120_000..=120_000)?),
                drift_ppm: i64::from(u.int_in_range(-2_000..=2_000)?),
            },
            _ => Event::Partition {
                device,
                cut: u.arbitrary()?,
            },
        },
    })
}

/// A schedule of up to `len_max` events; the devices join first, so most of
/// the schedule exercises sync rather than skipped events.
pub fn schedule(u: &mut Unstructured<'_>, len_max: usize) -> Result<Vec<Event>> {
    let mut events: Vec<Event> = (0..4)
        .map(|device| Event::Join {
            device,
            fate: Fate::OK,
        })
        .collect();
    let len = u.int_in_range(0..=len_max)?;
    for _ in 0..len {
        if u.is_empty() {
            break;
        }
        events.push(event(u)?);
    }
    Ok(events)
}
