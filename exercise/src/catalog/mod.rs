//! The checks `grade`, `repro` and `info` know, and what a failure of each means.
//!
//! Each bug declares its checks beside its code, in `variants/<bug>/checks.rs`, compiled
//! into the harness by the registry at the bottom of this file (a module and a name). A bug
//! without a `checks.rs` is graded by its triggering tests alone. A check is either a
//! black-box [`Scenario`], run against the candidate's binary over HTTP, or a [`WhiteBox`]
//! test (a probe in `variants/<bug>/probes.rs`, or a loom model in `tests/loom.rs`) run on a
//! copy of the candidate's crate.

pub mod disk;
pub mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use scenarios::services::{Setup, TestApp};

/// A scenario's check: talks to the services, panics on what it finds wrong.
pub type CheckFn = fn(Arc<TestApp>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// What one run of a workload showed, for `repro`'s table.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The symptom did not show.
    pub held: bool,
    /// The numbers, for a person: `92 ok ($920.00); /stats 84 orders ($840.00): 8 lost`.
    pub line: String,
    /// The share of updates lost, where that is what the symptom is.
    pub loss: Option<f64>,
}

pub type ObserveFn = fn(Arc<TestApp>) -> Pin<Box<dyn Future<Output = Observation> + Send>>;

/// The four verdicts of a bug, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Fixed,
    FixedWithGaps,
    WrongFix,
    NotFixed,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Fixed => "FIXED",
            Verdict::FixedWithGaps => "FIXED WITH GAPS",
            Verdict::WrongFix => "WRONG FIX",
            Verdict::NotFixed => "NOT FIXED",
        }
    }
}

/// What a check's failure tells about a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Shows the reported symptom (an order charged twice; `/stats` lower than the orders
    /// charged). It fails while the bug is there; any failure means the bug is not fixed.
    Symptom,
    /// Holds in the buggy code: failing means a fix traded the symptom for another defect,
    /// named by the text.
    Guard(&'static str),
    /// Holds for a production-grade fix; failing is a gap worth discussing, in the text's
    /// words, not the reported bug.
    Robustness(&'static str),
}

/// A [`Role`] without its text: what a scorecard's evidence records (as its label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    Symptom,
    Guard,
    Robustness,
}

impl RoleKind {
    pub fn label(self) -> &'static str {
        match self {
            RoleKind::Symptom => "symptom",
            RoleKind::Guard => "guard",
            RoleKind::Robustness => "robustness",
        }
    }
}

impl Role {
    pub fn kind(&self) -> RoleKind {
        match self {
            Role::Symptom => RoleKind::Symptom,
            Role::Guard(_) => RoleKind::Guard,
            Role::Robustness(_) => RoleKind::Robustness,
        }
    }

    /// The wrong fix or the gap a failure means; empty for a symptom.
    pub fn meaning(&self) -> &'static str {
        match self {
            Role::Symptom => "",
            Role::Guard(text) | Role::Robustness(text) => text,
        }
    }
}

/// How a check reaches the candidate's code (recorded in a scorecard as its label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A public scenario (the candidate's tests run it too), over HTTP.
    Scenario,
    /// A scenario the candidate never sees, over HTTP.
    HeldBackScenario,
    /// A test of the harness's, added to a copy of the candidate's crate.
    Probe,
    /// A loom model of `tests/loom.rs`, run on a copy of the candidate's crate.
    LoomModel,
    /// One of the bug's triggering tests, as the reference wrote it, on a copy.
    PublicTest,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario",
            Kind::HeldBackScenario => "held-back scenario",
            Kind::Probe => "probe",
            Kind::LoomModel => "loom model",
            Kind::PublicTest => "public test",
        }
    }

    /// It calls the candidate's functions directly rather than their service over HTTP (a
    /// public test runs their service in its own process, as the reference's test wrote it).
    pub fn white_box(self) -> bool {
        matches!(self, Kind::Probe | Kind::LoomModel | Kind::PublicTest)
    }
}

/// Both are written in a scorecard's JSON as the words its text uses.
macro_rules! serialize_as_label {
    ($($ty:ty),*) => {
        $(impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.label())
            }
        })*
    };
}

serialize_as_label!(RoleKind, Kind);

/// And read back from those words (a sandboxed grade's worker sends its scorecard as JSON).
macro_rules! deserialize_from_label {
    ($($ty:ty: [$($variant:expr),*]),*) => {
        $(impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let label = String::deserialize(deserializer)?;
                [$($variant),*]
                    .into_iter()
                    .find(|v: &$ty| v.label() == label)
                    .ok_or_else(|| serde::de::Error::custom(format!("no such label: {label:?}")))
            }
        })*
    };
}

deserialize_from_label!(
    RoleKind: [RoleKind::Symptom, RoleKind::Guard, RoleKind::Robustness],
    Kind: [Kind::Scenario, Kind::HeldBackScenario, Kind::Probe, Kind::LoomModel, Kind::PublicTest]
);

/// A black-box check: a setup for the services, and a check that talks to them.
#[derive(Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub role: Role,
    /// The candidate's tests run it too (it is in the `scenarios` crate).
    pub public: bool,
    pub setup: fn() -> Setup,
    pub check: CheckFn,
    pub timeout: Duration,
    /// Its fault plan is seeded: `grade` runs it once per seed, not once.
    pub seeded: bool,
    /// The scenario `repro` measures for its bug unless told otherwise.
    pub repro: bool,
    /// What `repro` prints of each run, when more than pass or fail.
    pub observe: Option<ObserveFn>,
    /// It judges by how long something took, so `grade` runs it with nothing else running.
    pub alone: bool,
    /// The order service's stats file is on a slow disk the check controls
    /// ([`disk::Disk`]).
    pub disk: bool,
    /// Not run when one of these bugs is graded too: that bug runs the same check, and
    /// judges what it finds.
    pub unless_graded: &'static [&'static str],
}

impl Scenario {
    pub fn kind(&self) -> Kind {
        if self.public {
            Kind::Scenario
        } else {
            Kind::HeldBackScenario
        }
    }
}

/// A scenario named after its check function, with a minute to run.
macro_rules! scenario {
    ($role:expr, public, $setup:expr, $check:path) => {
        $crate::catalog::scenario!(@ true, $role, $setup, $check)
    };
    ($role:expr, held_back, $setup:expr, $check:path) => {
        $crate::catalog::scenario!(@ false, $role, $setup, $check)
    };
    (@ $public:literal, $role:expr, $setup:expr, $check:path) => {
        $crate::catalog::Scenario {
            name: stringify!($check).rsplit("::").next().unwrap_or(""),
            role: $role,
            public: $public,
            setup: $setup,
            check: |app| Box::pin($check(app)),
            timeout: std::time::Duration::from_secs(60),
            seeded: false,
            repro: false,
            observe: None,
            alone: false,
            disk: false,
            unless_graded: &[],
        }
    };
}
pub(crate) use scenario;

/// Where a white-box check lives in the copy of the candidate's crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `variants/<bug>/probes.rs`, added as `tests/grade_probes_<bug>.rs`.
    Probe,
    /// `tests/loom.rs`, built with `--cfg orders_loom`.
    Loom,
}

/// A white-box check: one test function of a probe file or of the loom models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhiteBox {
    /// The test function's name.
    pub test: &'static str,
    pub target: Target,
    pub role: Role,
    /// The files between a customer and the call the check starts from, which it does not
    /// run (`src/orders/intake.rs` for a model that calls `place` directly). A fix may put
    /// its remedy in one of them; when the candidate changed one, a failure of the check says
    /// nothing of their fix, and is inconclusive.
    pub skips: &'static [&'static str],
}

impl WhiteBox {
    pub fn probe(test: &'static str, role: Role) -> Self {
        WhiteBox {
            test,
            target: Target::Probe,
            role,
            skips: &[],
        }
    }

    pub fn loom(test: &'static str, role: Role) -> Self {
        WhiteBox {
            test,
            target: Target::Loom,
            role,
            skips: &[],
        }
    }

    /// This check, starting below `files`: see [`WhiteBox::skips`].
    pub fn skipping(self, files: &'static [&'static str]) -> Self {
        WhiteBox {
            skips: files,
            ..self
        }
    }

    pub fn kind(&self) -> Kind {
        match self.target {
            Target::Probe => Kind::Probe,
            Target::Loom => Kind::LoomModel,
        }
    }

    /// Its name as libtest reports it under its target: `loom::concurrent_sales_are_all_counted`.
    pub fn full_name(&self, bug: &str) -> String {
        match self.target {
            Target::Probe => format!("{}::{}", probe_target(bug), self.test),
            Target::Loom => format!("loom::{}", self.test),
        }
    }
}

/// The test target a bug's probes are added as: `grade_probes_lost_update`.
pub fn probe_target(bug: &str) -> String {
    format!("grade_probes_{}", bug.replace('-', "_"))
}

/// A bug's checks, as its `checks.rs` declares them.
#[derive(Default)]
pub struct Checks {
    pub scenarios: Vec<Scenario>,
    pub white_box: Vec<WhiteBox>,
}

impl Checks {
    /// Whether the bug's triggering tests are graded too, as the reference wrote them: when
    /// none of its public tests is a scenario here, they are the only public evidence.
    pub fn grades_public_tests(&self) -> bool {
        !self.scenarios.iter().any(|s| s.public)
    }

    /// Every check's name and role: scenarios by function name, white-box checks by test name.
    pub fn names_and_roles(&self) -> Vec<(&'static str, Role)> {
        self.scenarios
            .iter()
            .map(|s| (s.name, s.role))
            .chain(self.white_box.iter().map(|w| (w.test, w.role)))
            .collect()
    }
}

/// A bug whose checks the harness holds.
pub struct Registered {
    /// Its id, as its folder and `bug.toml` name it: the module's name with dashes.
    pub id: String,
    pub checks: fn() -> Checks,
}

// The registry: each bug with a `checks.rs` is a module here, and a name in the list below.
// (Declared outside the macro, so that rustfmt and rust-analyzer see them.)
#[path = "../../../variants/batch-priority/checks.rs"]
mod batch_priority;
#[path = "../../../variants/blocking-save/checks.rs"]
mod blocking_save;
#[path = "../../../variants/cancelled-request/checks.rs"]
mod cancelled_request;
#[path = "../../../variants/double-charge/checks.rs"]
mod double_charge;
#[path = "../../../variants/futurelock/checks.rs"]
mod futurelock;
#[path = "../../../variants/lost-update/checks.rs"]
mod lost_update;

macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        /// Every bug with checks of its own, in id order.
        pub fn registered() -> Vec<Registered> {
            vec![$(Registered {
                id: stringify!($module).replace('_', "-"),
                checks: $module::checks,
            }),*]
        }
    };
}

registry![
    batch_priority,
    blocking_save,
    cancelled_request,
    double_charge,
    futurelock,
    lost_update
];

/// The checks of `bug`; none for a bug graded by its triggering tests alone.
pub fn checks_of(bug: &str) -> Checks {
    registered()
        .into_iter()
        .find(|registered| registered.id == bug)
        .map(|registered| (registered.checks)())
        .unwrap_or_default()
}
