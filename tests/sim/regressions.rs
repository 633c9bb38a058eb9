//! Failures the simulator found, shrunk and pasted as literal schedules.
//! Each pins the fix of the bug its comment names.
