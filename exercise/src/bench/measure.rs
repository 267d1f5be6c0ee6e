//! The service rounds: each build in front of a balance stub, and stage two's replicas.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::Options;
use super::report::{Memory, Report, Row, Subject};
use super::services::{self, LATENCY_MS, Pair, Profile, resident_kib};
use super::wrk::{self, Round};

/// A warm-up before the measured rounds of each service.
const WARM_UP: Duration = Duration::from_secs(2);

/// What every measurement needs: the stub's binary, wrk's script, where logs go.
pub struct Bench {
    pub balance: PathBuf,
    /// The wrk script that sends a unique order per request (`exercise/bench/orders.lua`).
    pub script: PathBuf,
    pub options: Options,
    pub logs: PathBuf,
    pub http: reqwest::Client,
}

impl Bench {
    /// A warm-up, then `rounds` measured rounds of `script`'s requests (plain GETs without
    /// one) to `url`, named `name` in the progress lines; with `reset`, each after
    /// `POST /reset` to that service.
    async fn rounds(
        &self,
        name: &str,
        url: &str,
        script: Option<&Path>,
        reset: Option<&str>,
    ) -> Result<Vec<Round>> {
        if let Some(service) = reset {
            services::reset(&self.http, service).await?;
        }
        eprintln!("==> {name}: warming up");
        wrk::round(url, script, &self.options, WARM_UP).await?;
        let mut rounds = Vec::new();
        for round in 1..=self.options.rounds {
            eprintln!("==> {name}: round {round}/{}", self.options.rounds);
            if let Some(service) = reset {
                services::reset(&self.http, service).await?;
            }
            rounds.push(wrk::round(url, script, &self.options, self.options.duration).await?);
        }
        Ok(rounds)
    }

    /// [`Bench::rounds`] of orders against the order service at `url`.
    async fn order_rounds(&self, url: &str, name: &str) -> Result<Vec<Round>> {
        self.rounds(name, url, Some(&self.script), Some(url)).await
    }

    /// The balance stub alone, `GET /health`, then each build under the stub's latency and
    /// with none, `rounds` times each, interleaved so drift hits every row alike.
    pub async fn services(&self, builds: &[(String, PathBuf)]) -> Result<Report> {
        let mean_latency = (LATENCY_MS.0 + LATENCY_MS.1) as f64 / 2.0 / 1e3;
        let mut report = Report {
            limit: f64::from(self.options.connections) / mean_latency,
            ..Report::default()
        };
        let (last_name, last_binary) = builds.last().context("no builds to measure")?;
        {
            // What the stub serves on its own under the same latency: the most any build
            // in front of it can reach on this machine.
            let profile = Profile::Latency;
            eprintln!("==> the balance service alone, {}", profile.label());
            let pair = self.pair(last_binary, profile, "alone").await?;
            let deductions = self.script.with_file_name("deductions.lua");
            let rounds = self
                .rounds(
                    "the balance service alone",
                    &pair.balance.url(),
                    Some(&deductions),
                    None,
                )
                .await?;
            report.rows.push(Row {
                subject: Subject::BalanceAlone,
                profile: Some(profile),
                rounds,
            });
        }
        {
            eprintln!("==> GET /health on the {last_name} build");
            let pair = self.pair(last_binary, Profile::NoLatency, "health").await?;
            let url = format!("{}/health", pair.orders.url());
            let rounds = self.rounds("GET /health", &url, None, None).await?;
            report.rows.push(Row {
                subject: Subject::Health {
                    build: last_name.clone(),
                },
                profile: None,
                rounds,
            });
        }
        for profile in Profile::ALL {
            self.builds_under(builds, profile, &mut report).await?;
        }
        Ok(report)
    }

    async fn pair(&self, binary: &Path, profile: Profile, name: &str) -> Result<Pair> {
        Pair::start(
            binary,
            &self.balance,
            &profile.faults(),
            &self.options,
            &self.logs,
            name,
        )
        .await
    }

    /// Every build under one profile, round by round in turn.
    async fn builds_under(
        &self,
        builds: &[(String, PathBuf)],
        profile: Profile,
        report: &mut Report,
    ) -> Result<()> {
        let label = profile.label();
        let mut pairs = Vec::new();
        for (name, binary) in builds {
            let pair = self.pair(binary, profile, name).await?;
            let before = resident_kib(&pair.orders)?;
            pairs.push((name, pair, before, 0u64));
        }
        let mut rows: Vec<Vec<Round>> = vec![Vec::new(); pairs.len()];
        for round in 0..=self.options.rounds {
            for (index, (name, pair, _, served)) in pairs.iter_mut().enumerate() {
                let url = pair.orders.url();
                services::reset(&self.http, &url).await?;
                if round == 0 {
                    eprintln!("==> {name}, {label}: warming up");
                    wrk::round(&url, Some(&self.script), &self.options, WARM_UP).await?;
                    continue;
                }
                eprintln!("==> {name}, {label}: round {round}/{}", self.options.rounds);
                let result = wrk::round(
                    &url,
                    Some(&self.script),
                    &self.options,
                    self.options.duration,
                )
                .await?;
                *served += services::order_count(&self.http, &url).await?;
                rows[index].push(result);
            }
        }
        for ((name, pair, before, served), rounds) in pairs.into_iter().zip(rows) {
            let after = resident_kib(&pair.orders)?;
            report.rows.push(Row {
                subject: Subject::Build {
                    build: name.clone(),
                },
                profile: Some(profile),
                rounds,
            });
            if profile == Profile::NoLatency {
                report.memory.push(Memory {
                    build: name.clone(),
                    after_start_kib: before,
                    after_rounds_kib: after,
                    served,
                });
            }
        }
        Ok(())
    }

    /// Stage two's cost: the fixed build with the memory store, one process, against the
    /// fixed build with the Postgres store, `count` processes behind nginx, under the stub's
    /// latency and with none. Rows are added to `report`.
    pub async fn replicas(
        &self,
        memory_binary: &Path,
        postgres_binary: &Path,
        database_url: &str,
        count: usize,
        report: &mut Report,
    ) -> Result<()> {
        for profile in Profile::ALL {
            let memory = self.pair(memory_binary, profile, "memory").await?;
            let name = format!("fixed, memory store, 1 process, {}", profile.label());
            let rounds = self.order_rounds(&memory.orders.url(), &name).await?;
            report.rows.push(Row {
                subject: Subject::MemoryOneProcess,
                profile: Some(profile),
                rounds,
            });
            drop(memory);

            let balance = services::balance(
                &self.balance,
                &profile.faults(),
                &self.options,
                &self.logs.join("balance-postgres.log"),
                &[],
            )
            .await?;
            let store = [
                ("ORDERS_STORE".to_owned(), "postgres".to_owned()),
                ("DATABASE_URL".to_owned(), database_url.to_owned()),
            ];
            let mut replicas = Vec::new();
            for n in 1..=count {
                replicas.push(
                    services::order_service(
                        postgres_binary,
                        &balance.url(),
                        &self.logs.join(format!("order-service-postgres-{n}.log")),
                        &store,
                    )
                    .await?,
                );
            }
            let urls: Vec<String> = replicas.iter().map(|s| s.url()).collect();
            let nginx = crate::lb::start(&self.logs.join("nginx"), &urls).await?;
            let name = format!(
                "fixed, postgres store, {count} behind nginx, {}",
                profile.label()
            );
            let rounds = self.order_rounds(&nginx.url, &name).await?;
            report.rows.push(Row {
                subject: Subject::Replicas { count },
                profile: Some(profile),
                rounds,
            });
            nginx.stop().await?;
        }
        Ok(())
    }
}
