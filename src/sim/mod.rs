//! The deterministic simulator (issue #4): whole-system runs as a pure
//! function of `(seed, configuration)`, checked by a causal oracle.
