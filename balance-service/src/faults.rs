//! Deterministic network faults for the balance service, in the spirit of Toxiproxy.
//!
//! A [`FaultPlan`] decides, for each deduction request the service receives, what goes
//! wrong with it: nothing, a failure before the deduction is applied, a response lost after
//! it was applied, or extra delay. The first requests, in arrival order, follow the plan's
//! `script`, one step each; after that, `seed` and the two probabilities decide, from the
//! request's reference and how many requests with that reference came before it. So the same
//! plan always gives each order the same faults on its first attempt, its second and so on,
//! however the requests of many clients interleave.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::random::{mix, unit};

/// What happens to one deduction request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Processed and answered normally.
    Ok,
    /// Answered 503 before anything is applied.
    FailBeforeApply,
    /// Applied, then the response is withheld until the client gives up.
    DropResponse,
    /// Processed normally after this many extra milliseconds.
    Delay(u64),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Ok => f.write_str("ok"),
            Fault::FailBeforeApply => f.write_str("fail_before_apply"),
            Fault::DropResponse => f.write_str("drop_response"),
            Fault::Delay(ms) => write!(f, "delay({ms})"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "ok" => Ok(Fault::Ok),
            "fail_before_apply" => Ok(Fault::FailBeforeApply),
            "drop_response" => Ok(Fault::DropResponse),
            other => other
                .strip_prefix("delay(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|ms| ms.trim().parse().ok())
                .map(Fault::Delay)
                .ok_or_else(|| {
                    format!(
                        "unknown fault {other:?}: expected ok, fail_before_apply, drop_response or delay(MS)"
                    )
                }),
        }
    }
}

impl Serialize for Fault {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How the balance service misbehaves. See the module docs for how a decision is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// One step for each of the first requests, in arrival order.
    #[serde(default)]
    pub script: Vec<Fault>,
    /// Seeds the decisions after the script.
    #[serde(default)]
    pub seed: u64,
    /// Probability that a request after the script fails before applying.
    #[serde(default)]
    pub fail_before_apply: f64,
    /// Probability that a request after the script is applied and its response lost.
    #[serde(default)]
    pub drop_response: f64,
    /// Processing time of every request, drawn uniformly from this range (inclusive).
    #[serde(default)]
    pub latency_ms: [u64; 2],
    /// How long a lost response is withheld before the service gives up on it.
    #[serde(default = "default_hold_ms")]
    pub hold_ms: u64,
    /// How long the answer to every account lookup (`GET /accounts/{id}`) takes to come
    /// back. The balance is read when the lookup arrives: a slow answer is an old one.
    #[serde(default)]
    pub lookup_ms: u64,
}

fn default_hold_ms() -> u64 {
    30_000
}

/// One decision: the fault and the processing time of that request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// How many deduction requests the service received before this one.
    pub sequence: u64,
    /// How many requests with this one's reference it received before this one.
    pub attempt: u64,
    pub fault: Fault,
    pub latency: Duration,
}

impl FaultPlan {
    /// No faults and no latency.
    pub fn none() -> Self {
        FaultPlan {
            script: Vec::new(),
            seed: 0,
            fail_before_apply: 0.0,
            drop_response: 0.0,
            latency_ms: [0, 0],
            hold_ms: default_hold_ms(),
            lookup_ms: 0,
        }
    }

    /// Like the original exercise's stub: 10-50 ms per request and about 10% faults, half
    /// failing before the deduction is applied, half losing the response after it.
    pub fn default_profile(seed: u64) -> Self {
        FaultPlan {
            seed,
            fail_before_apply: 0.05,
            drop_response: 0.05,
            latency_ms: [10, 50],
            ..FaultPlan::none()
        }
    }

    /// Follows `script`, then runs fault-free with no latency.
    pub fn script(steps: impl IntoIterator<Item = Fault>) -> Self {
        FaultPlan {
            script: steps.into_iter().collect(),
            ..FaultPlan::none()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let p = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be a probability between 0 and 1, got {value}"
                ))
            }
        };
        p("fail_before_apply", self.fail_before_apply)?;
        p("drop_response", self.drop_response)?;
        if self.fail_before_apply + self.drop_response > 1.0 {
            return Err("fail_before_apply + drop_response must be at most 1".into());
        }
        let [low, high] = self.latency_ms;
        if low > high {
            return Err(format!("latency_ms [{low}, {high}] is not a range"));
        }
        Ok(())
    }

    /// Whether a decision past the script depends on a draw: a fault probability, or a
    /// latency range wider than one value. A plan that draws nothing decides the same for
    /// every attempt, so the service need not count them.
    pub fn draws(&self) -> bool {
        self.fail_before_apply > 0.0
            || self.drop_response > 0.0
            || self.latency_ms[0] != self.latency_ms[1]
    }

    /// The decision for a request: the `sequence`-th the service received (0 is the first),
    /// and the `attempt`-th with its `reference`.
    pub fn decide(&self, sequence: u64, reference: &str, attempt: u64) -> Decision {
        let roll = mix(self.seed ^ mix(text_hash(reference) ^ mix(attempt)));
        let fault = match usize::try_from(sequence)
            .ok()
            .and_then(|i| self.script.get(i))
        {
            Some(step) => *step,
            None => {
                let draw = unit(roll);
                if draw < self.fail_before_apply {
                    Fault::FailBeforeApply
                } else if draw < self.fail_before_apply + self.drop_response {
                    Fault::DropResponse
                } else {
                    Fault::Ok
                }
            }
        };
        let [low, high] = self.latency_ms;
        let latency = low + mix(roll) % (high - low + 1);
        Decision {
            sequence,
            attempt,
            fault,
            latency: Duration::from_millis(latency),
        }
    }
}

/// FNV-1a: a hash of a text that is the same on every machine and in every build, unlike
/// the standard library's hasher.
pub fn text_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Parses the compact form used by `--faults` and `BALANCE_FAULTS`: a profile name
/// (`default` or `none`), then `key=value` items, comma-separated:
/// `default,seed=42`, `none,script=drop_response;ok`, `seed=7,fail=0.2,drop=0.1,latency=5..20`.
/// A plan without `seed=` gets seed 0; the binaries pick and print a fresh one instead.
impl FromStr for FaultPlan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut plan = FaultPlan::default_profile(0);
        for (index, item) in text.split(',').map(str::trim).enumerate() {
            match item.split_once('=') {
                None if index == 0 && item == "default" => {}
                None if index == 0 && item == "none" => plan = FaultPlan::none(),
                None => {
                    return Err(format!(
                        "unknown profile {item:?}: expected default or none, then key=value items"
                    ));
                }
                Some((key, value)) => {
                    let bad = |what: &str| format!("{key}={value}: {what}");
                    match key.trim() {
                        "seed" => plan.seed = value.parse().map_err(|_| bad("not an integer"))?,
                        "fail" => {
                            plan.fail_before_apply =
                                value.parse().map_err(|_| bad("not a probability"))?
                        }
                        "drop" => {
                            plan.drop_response =
                                value.parse().map_err(|_| bad("not a probability"))?
                        }
                        "latency" => {
                            let (low, high) = value.split_once("..").unwrap_or((value, value));
                            plan.latency_ms = [
                                low.parse().map_err(|_| bad("expected MS or LOW..HIGH"))?,
                                high.parse().map_err(|_| bad("expected MS or LOW..HIGH"))?,
                            ];
                        }
                        "hold" => {
                            plan.hold_ms = value.parse().map_err(|_| bad("not an integer"))?
                        }
                        "lookup" => {
                            plan.lookup_ms = value.parse().map_err(|_| bad("not an integer"))?
                        }
                        "script" => {
                            plan.script = value
                                .split(';')
                                .filter(|s| !s.trim().is_empty())
                                .map(str::parse)
                                .collect::<Result<_, _>>()?
                        }
                        other => {
                            return Err(format!(
                                "unknown key {other:?}: expected seed, fail, drop, latency, hold, lookup or script"
                            ));
                        }
                    }
                }
            }
        }
        plan.validate()?;
        Ok(plan)
    }
}

/// The compact form again, shortest first: `default,seed=4`, `none,script=delay(300)`,
/// `none,seed=7,latency=5..25`. It parses back to the same plan.
impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = FaultPlan {
            script: self.script.clone(),
            hold_ms: self.hold_ms,
            lookup_ms: self.lookup_ms,
            ..FaultPlan::default_profile(self.seed)
        };
        let base = if *self == default {
            default
        } else {
            FaultPlan {
                script: self.script.clone(),
                seed: self.seed,
                hold_ms: self.hold_ms,
                lookup_ms: self.lookup_ms,
                ..FaultPlan::none()
            }
        };
        f.write_str(if base.fail_before_apply > 0.0 {
            "default"
        } else {
            "none"
        })?;
        if self.seed != 0 {
            write!(f, ",seed={}", self.seed)?;
        }
        if self.fail_before_apply != base.fail_before_apply {
            write!(f, ",fail={}", self.fail_before_apply)?;
        }
        if self.drop_response != base.drop_response {
            write!(f, ",drop={}", self.drop_response)?;
        }
        if self.latency_ms != base.latency_ms {
            let [low, high] = self.latency_ms;
            write!(f, ",latency={low}..{high}")?;
        }
        if self.hold_ms != default_hold_ms() {
            write!(f, ",hold={}", self.hold_ms)?;
        }
        if self.lookup_ms != 0 {
            write!(f, ",lookup={}", self.lookup_ms)?;
        }
        if !self.script.is_empty() {
            let steps: Vec<_> = self.script.iter().map(Fault::to_string).collect();
            write!(f, ",script={}", steps.join(";"))?;
        }
        Ok(())
    }
}

/// How many requests met each fault since the plan was set or the service reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounters {
    pub requests: u64,
    pub ok: u64,
    pub fail_before_apply: u64,
    pub drop_response: u64,
    pub delay: u64,
    /// Account lookups received, and answered: a lookup slowed by the plan's `lookup` is
    /// received at once and answered later.
    #[serde(default)]
    pub lookups: u64,
    #[serde(default)]
    pub lookups_answered: u64,
}

impl FaultCounters {
    pub fn count(&mut self, fault: Fault) {
        self.requests += 1;
        match fault {
            Fault::Ok => self.ok += 1,
            Fault::FailBeforeApply => self.fail_before_apply += 1,
            Fault::DropResponse => self.drop_response += 1,
            Fault::Delay(_) => self.delay += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first attempt of orders 0 to 199, as the order service names them.
    fn first_attempts(plan: &FaultPlan) -> Vec<Decision> {
        (0..200)
            .map(|n| plan.decide(n, &format!("order-{n}"), 0))
            .collect()
    }

    #[test]
    fn a_seed_always_gives_the_same_decisions() {
        let plan = FaultPlan::default_profile(42);
        let first = first_attempts(&plan);
        assert_eq!(first, first_attempts(&plan));
        assert_ne!(
            first,
            first_attempts(&FaultPlan::default_profile(43)),
            "seeds 42 and 43 gave the same 200 decisions"
        );
    }

    #[test]
    fn an_attempt_gets_its_decision_whenever_it_arrives() {
        let plan: FaultPlan = "none,seed=5,fail=0.3,drop=0.3,latency=0..50"
            .parse()
            .unwrap();
        for attempt in 0..20 {
            let early = plan.decide(3, "order-17", attempt);
            let late = plan.decide(9_000, "order-17", attempt);
            assert_eq!(
                (early.fault, early.latency),
                (late.fault, late.latency),
                "attempt {attempt} of order-17 decided differently as request 3 and 9000"
            );
        }
        let attempts: Vec<_> = (0..20)
            .map(|attempt| plan.decide(0, "order-17", attempt).fault)
            .collect();
        let orders: Vec<_> = (0..20)
            .map(|n| plan.decide(0, &format!("order-{n}"), 0).fault)
            .collect();
        for (what, faults) in [("attempts of one order", attempts), ("orders", orders)] {
            assert!(
                faults.iter().any(|f| *f != faults[0]),
                "20 {what} all got {}: the reference or the attempt is not in the draw",
                faults[0]
            );
        }
    }

    #[test]
    fn a_plan_that_draws_nothing_decides_alike_for_every_attempt() {
        for text in [
            "none",
            "none,latency=5..5",
            "none,seed=4,script=drop_response",
        ] {
            let plan: FaultPlan = text.parse().unwrap();
            assert!(!plan.draws(), "`{text}` should draw nothing");
            let first = plan.decide(7, "order-3", 0);
            for attempt in 1..50 {
                let later = plan.decide(7, "order-3", attempt);
                assert_eq!(
                    (later.fault, later.latency),
                    (first.fault, first.latency),
                    "`{text}`: attempt {attempt} decided otherwise than the first"
                );
            }
        }
        for text in [
            "none,fail=0.1",
            "none,drop=0.1",
            "none,latency=1..2",
            "default",
        ] {
            assert!(text.parse::<FaultPlan>().unwrap().draws(), "`{text}` draws");
        }
    }

    #[test]
    fn the_default_profile_faults_about_ten_percent_split_both_ways() {
        let plan = FaultPlan::default_profile(7);
        let mut counters = FaultCounters::default();
        for n in 0..10_000 {
            let decision = plan.decide(n, &format!("order-{}", n / 3), n % 3);
            assert!(
                (10..=50).contains(&decision.latency.as_millis()),
                "request {n}: latency {:?} outside 10..=50 ms",
                decision.latency
            );
            counters.count(decision.fault);
        }
        for (name, count) in [
            ("fail_before_apply", counters.fail_before_apply),
            ("drop_response", counters.drop_response),
        ] {
            assert!(
                (400..=600).contains(&count),
                "seed 7: {name} hit {count} of 10000 requests, expected about 500"
            );
        }
    }

    #[test]
    fn a_script_runs_first_then_the_seeded_profile() {
        let plan: FaultPlan = "none,script=drop_response;delay(200);fail_before_apply"
            .parse()
            .unwrap();
        let faults: Vec<_> = (0..5).map(|n| plan.decide(n, "order-1", n).fault).collect();
        assert_eq!(
            faults,
            [
                Fault::DropResponse,
                Fault::Delay(200),
                Fault::FailBeforeApply,
                Fault::Ok,
                Fault::Ok
            ]
        );
    }

    #[test]
    fn the_compact_form_sets_each_key_over_the_default_profile() {
        let plan: FaultPlan = "seed=9,fail=0.2,drop=0.1,latency=5..20,hold=100,lookup=250"
            .parse()
            .unwrap();
        assert_eq!(
            plan,
            FaultPlan {
                seed: 9,
                fail_before_apply: 0.2,
                drop_response: 0.1,
                latency_ms: [5, 20],
                hold_ms: 100,
                lookup_ms: 250,
                ..FaultPlan::none()
            }
        );
        assert_eq!(
            "default".parse::<FaultPlan>().unwrap(),
            FaultPlan::default_profile(0)
        );
    }

    #[test]
    fn plans_print_in_the_compact_form_and_parse_back() {
        for text in [
            "default",
            "default,seed=4",
            "none",
            "none,script=delay(300)",
            "none,seed=7,latency=5..25",
            "none,fail=0.2,drop=0.2,latency=0..10",
            "default,seed=3,hold=100,script=drop_response;ok",
            "none,lookup=2000",
        ] {
            let plan: FaultPlan = text.parse().unwrap();
            assert_eq!(plan.to_string(), text);
            assert_eq!(plan.to_string().parse::<FaultPlan>().unwrap(), plan);
        }
    }

    #[test]
    fn bad_plans_are_refused_with_the_reason() {
        for (text, reason) in [
            ("chaos", "unknown profile"),
            ("fail=2", "probability between 0 and 1"),
            ("fail=0.6,drop=0.6", "at most 1"),
            ("latency=50..10", "not a range"),
            ("script=explode", "unknown fault"),
            ("speed=3", "unknown key"),
        ] {
            let error = text.parse::<FaultPlan>().unwrap_err();
            assert!(
                error.contains(reason),
                "{text:?} gave {error:?}, expected {reason:?}"
            );
        }
    }

    #[test]
    fn faults_read_and_write_as_the_strings_of_the_api() {
        let json =
            serde_json::to_string(&[Fault::Ok, Fault::Delay(5), Fault::DropResponse]).unwrap();
        assert_eq!(json, r#"["ok","delay(5)","drop_response"]"#);
        let back: Vec<Fault> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [Fault::Ok, Fault::Delay(5), Fault::DropResponse]);
    }
}
