//! The schedule generator: draws the next chaos event from the seed's
//! random stream and the world's current shape (which devices are up, what
//! is in flight), with the seed's swarm mix of scenarios and fault rates.

use super::config::{Config, FaultKind, Scenario};
use super::rng::Rng;
use super::world::{Status, World, POISON_VARIANTS};
use super::{Event, Fate};

pub(crate) struct Generator {
    rng: Rng,
    config: Config,
    value: i64,
}

impl Generator {
    pub(crate) fn new(seed: u64, config: &Config) -> Generator {
        Generator {
            rng: Rng::stream(seed, 2),
            config: *config,
            value: 0,
        }
    }

    fn rate(&self, kind: FaultKind) -> u32 {
        self.config.faults.of(kind)
    }

    fn fate(&mut self) -> Fate {
        Fate {
            drop: self.rng.chance(self.rate(FaultKind::Drop)),
            dup: self.rng.chance(self.rate(FaultKind::Duplicate)),
            delay: if self.rng.chance(self.rate(FaultKind::Delay)) {
                1 + self.rng.below(20) as u8
            } else {
                0
            },
        }
    }

    fn value(&mut self) -> i64 {
        // Mostly fresh values; sometimes one of a few, so equal-value
        // overwrites (SPEC R6.3 "same value") happen too.
        if self.rng.chance(200) {
            self.rng.range(0, 2)
        } else {
            self.value += 1;
            100 + self.value
        }
    }

    fn pick(&mut self, from: &[usize]) -> Option<usize> {
        (!from.is_empty()).then(|| from[self.rng.index(from.len())])
    }

    // A key a user of device `d` edits: a shared task, their own
    // singleton, or the space's.
    fn user_key(&mut self, w: &World, d: usize) -> usize {
        let tasks = self.config.tasks.max(1);
        match self.rng.below(10) {
            0 => w.user_key(w.devices[d].user),
            1 => w.space_key(),
            _ => self.rng.index(tasks),
        }
    }

    pub(crate) fn next(&mut self, w: &World) -> Event {
        let scen = self.config.scenarios;
        let devices = w.devices.len();
        let up: Vec<usize> = (0..devices).filter(|&d| w.is_up(d)).collect();
        let down: Vec<usize> = (0..devices)
            .filter(|&d| w.devices[d].status == Status::Down)
            .collect();
        let absent: Vec<usize> = (0..devices)
            .filter(|&d| w.devices[d].status == Status::Absent)
            .collect();
        // Sign-ups first: every user's first device joins.
        let per_user = self.config.devices_per_user.max(1);
        if let Some(&d) = absent.iter().find(|&&d| d % per_user == 0) {
            let fate = self.fate();
            return Event::Join { device: d, fate };
        }
        // Without the hydration scenario every device is there from the start.
        if !scen.has(Scenario::Hydration) {
            if let Some(&d) = absent.first() {
                let fate = self.fate();
                return Event::Join { device: d, fate };
            }
        }
        // Device and clock faults fire per step at their rates.
        if !up.is_empty() && self.rng.chance(self.rate(FaultKind::Crash)) {
            if let Some(d) = self.pick(&up) {
                return Event::Crash { device: d };
            }
        }
        // Drawn only when the fault is on, so a configuration without it
        // replays the schedules it drew before the fault existed.
        let restart = self.rate(FaultKind::ServerRestart);
        if restart > 0 && self.rng.chance(restart) {
            return Event::RestartServer;
        }
        if scen.has(Scenario::Failover) && self.rng.chance(3) {
            return Event::Failover;
        }
        if scen.has(Scenario::RestoredBackup) && !up.is_empty() && self.rng.chance(12) {
            if let Some(d) = self.pick(&up) {
                return if self.rng.chance(500) {
                    Event::Backup { device: d }
                } else {
                    Event::RestoreBackup { device: d }
                };
            }
        }
        let poison = self.rate(FaultKind::Poison);
        if poison > 0 && self.rng.chance(poison) {
            let variant = self.rng.below(POISON_VARIANTS) as u8;
            return Event::Poison { variant };
        }
        if self.rng.chance(self.rate(FaultKind::Partition)) {
            let d = self.rng.index(devices);
            return Event::Partition {
                device: d,
                cut: true,
            };
        }
        for kind in [
            FaultKind::Skew,
            FaultKind::Drift,
            FaultKind::ClockStep,
            FaultKind::ClockAhead,
        ] {
            if self.rng.chance(self.rate(kind)) {
                let d = self.rng.index(devices);
                let dev = &w.devices[d];
                let (mut offset_ms, mut drift_ppm) = (dev.offset_ms, dev.drift_ppm);
                match kind {
                    FaultKind::Skew => offset_ms = self.rng.range(-30_000, 30_000),
                    FaultKind::Drift => drift_ppm = self.rng.range(-50_000, 50_000),
                    FaultKind::ClockStep => offset_ms += self.rng.range(-120_000, 120_000),
                    _ => offset_ms = self.rng.range(61_000, 900_000),
                }
                return Event::Clock {
                    device: d,
                    offset_ms,
                    drift_ppm,
                };
            }
        }
        let partitioned: Vec<usize> = (0..devices).filter(|&d| w.devices[d].partitioned).collect();
        let ready = w.ready_messages();
        // Weighted choice among the ordinary events: (weight, event kind).
        let on = |cond: bool, weight: u32| if cond { weight } else { 0 };
        let some_up = !up.is_empty();
        let weights: [(u32, u8); 15] = [
            (14, 0),                                                     // tick
            (on(some_up, 20), 1),                                        // write
            (on(some_up, 10), 2),                                        // push
            (on(some_up, 9), 3),                                         // pull
            (on(ready > 0, 24), 4),                                      // deliver
            (on(!down.is_empty(), 6), 5),                                // boot
            (on(!partitioned.is_empty(), 4), 6),                         // heal a partition
            (on(scen.has(Scenario::AgentRace), 4), 7),                   // agent
            (on(scen.has(Scenario::Migration), 2), 8),                   // migration
            (on(scen.has(Scenario::Legacy), 2), 9),                      // legacy
            (on(scen.has(Scenario::Tombstones), 3), 10),                 // delete/restore
            (on(scen.has(Scenario::ReplayBurst), 3), 11),                // replay
            (on(scen.has(Scenario::Hydration), 2), 12),                  // join/wipe
            (on(scen.has(Scenario::BootstrapRace) && some_up, 2), 13),   // singleton edit
            (on(scen.has(Scenario::StateMerge) && up.len() > 1, 2), 14), // merge
        ];
        let total: u32 = weights.iter().map(|w| w.0).sum();
        let mut roll = self.rng.below(u64::from(total.max(1))) as u32;
        let mut choice = 0;
        for (weight, kind) in weights {
            if roll < weight {
                choice = kind;
                break;
            }
            roll -= weight;
        }
        let keys = w.key_count();
        match choice {
            1 => {
                let d = self.pick(&up).unwrap_or(0);
                let key = self.user_key(w, d);
                let field = self.rng.index(3);
                let value = self.value();
                Event::Write {
                    device: d,
                    key,
                    field,
                    value,
                }
            }
            2 => {
                let d = self.pick(&up).unwrap_or(0);
                let fate = self.fate();
                Event::Push { device: d, fate }
            }
            3 => {
                let d = self.pick(&up).unwrap_or(0);
                let limit = [1, 2, 4, 8, 50][self.rng.index(5)];
                let fate = self.fate();
                Event::Pull {
                    device: d,
                    limit,
                    fate,
                }
            }
            4 => {
                let pick = if self.rng.chance(self.rate(FaultKind::Reorder)) {
                    1 + self.rng.index(6)
                } else {
                    0
                };
                let fate = self.fate();
                Event::Deliver { pick, fate }
            }
            5 => {
                let d = self.pick(&down).unwrap_or(0);
                let fate = self.fate();
                Event::Boot { device: d, fate }
            }
            6 => Event::Partition {
                device: self.pick(&partitioned).unwrap_or(0),
                cut: false,
            },
            7 => {
                let (key, field, value) = (self.rng.index(keys), self.rng.index(3), self.value());
                // Now and then the agent's clock is a day ahead (R12.3).
                if scen.has(Scenario::ServerClockAhead) && self.rng.chance(40) {
                    Event::AgentAhead { key, field, value }
                } else {
                    Event::Agent { key, field, value }
                }
            }
            8 => {
                let d = self.pick(&up).unwrap_or(0);
                let (key, field, value) = (self.rng.index(keys), self.rng.index(3), self.value());
                // Now and then a migration rewrites every record (R2.2).
                if scen.has(Scenario::BulkMigration) && self.rng.chance(100) {
                    Event::MigrateAll {
                        device: d,
                        field,
                        value,
                    }
                } else {
                    Event::Migrate {
                        device: d,
                        key,
                        field,
                        value,
                    }
                }
            }
            9 => Event::Legacy {
                key: self.rng.index(self.config.tasks.max(1)),
                field: self.rng.index(3),
                value: self.value(),
            },
            10 => {
                let d = self.pick(&up).unwrap_or(0);
                let key = self.rng.index(self.config.tasks.max(1));
                if self.rng.chance(600) {
                    Event::Delete { device: d, key }
                } else {
                    Event::Restore { device: d, key }
                }
            }
            11 => {
                let d = self.pick(&up).unwrap_or(0);
                match self.rng.below(4) {
                    0 => Event::ResetCursor { device: d },
                    1 => Event::Burst {
                        device: d,
                        key: self.user_key(w, d),
                        count: 2 + self.rng.below(6) as u8,
                    },
                    _ => {
                        let cursor = w.devices.get(d).and_then(|dev| dev.replica.cursor());
                        let after = self.rng.below(cursor.unwrap_or(0) + 1);
                        Event::Replay { device: d, after }
                    }
                }
            }
            12 => {
                // Joins are common, wipes rarer: a wipe discards pending writes.
                if let Some(d) = self.pick(&absent).filter(|_| self.rng.chance(700)) {
                    let fate = self.fate();
                    Event::Join { device: d, fate }
                } else if self.rng.chance(250) {
                    let d = self.pick(&up).unwrap_or(0);
                    let fate = self.fate();
                    Event::Wipe { device: d, fate }
                } else {
                    // A new device's hydration round overlaps user edits.
                    let d = self.pick(&up).unwrap_or(0);
                    Event::Pull {
                        device: d,
                        limit: 1,
                        fate: Fate::OK,
                    }
                }
            }
            13 => {
                // Edit a singleton right away: the placeholder race.
                let d = self.pick(&up).unwrap_or(0);
                let key = if self.rng.chance(500) {
                    w.user_key(w.devices[d].user)
                } else {
                    w.space_key()
                };
                Event::Write {
                    device: d,
                    key,
                    field: self.rng.index(2),
                    value: self.value(),
                }
            }
            14 => {
                // The source must have nothing pending (see World::merge).
                let d = self.pick(&up).unwrap_or(0);
                let synced: Vec<usize> = up
                    .iter()
                    .copied()
                    .filter(|&s| s != d && w.devices[s].replica.outbox().is_empty())
                    .collect();
                match self.pick(&synced) {
                    Some(from) => Event::Merge { device: d, from },
                    None => Event::Pull {
                        device: d,
                        limit: 8,
                        fate: Fate::OK,
                    },
                }
            }
            _ => Event::Tick {
                ms: 1 + self.rng.below(2_000) as u32,
            },
        }
    }
}
