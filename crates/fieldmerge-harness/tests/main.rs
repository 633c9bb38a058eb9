//! The one integration-test binary: every behaviour checked at the public
//! boundary. Each module pins the rules its name says; test names read as
//! the rule they pin.

mod support;

// Issue #2: the kernel's rules and the seed system's failure modes.
mod rules;
mod scenarios;

// Issue #10: one place for each decision and each check.
mod boundary;
mod forms;
mod poison;
mod storage;

// Issue #3: laws as properties, the reference model, conformance vectors.
mod differential;
mod laws;
mod vectors;

// Issue #4: the simulator.
mod sim;

// Issue #6: exhaustive small-scope checks and coverage marks.
mod coverage;
mod exhaustive;

// Issue #11: time under bulk writes, wrong clocks and merges.
mod clock;
mod failover;
mod hostile;
