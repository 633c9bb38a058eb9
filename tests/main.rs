//! The one integration-test binary: every behaviour checked at the public
//! boundary. Each module pins the rules its name says; test names read as
//! the rule they pin.

mod support;

mod scenarios;
