//! Continuous writers for the failover tests: clients that create posts
//! without pause on several instances and keep every answer (status, body,
//! when it was asked and answered), so that the test can check each one
//! and compare the acknowledged posts with what the database kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::topology::Instance;

/// One `POST /posts` and its answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which instance (index in the list given to [`Writers::start`]).
    pub instance: usize,
    /// The title sent (unique).
    pub title: String,
    pub status: StatusCode,
    pub body: Value,
    pub started: Instant,
    pub finished: Instant,
    pub took: Duration,
}

/// Writers running until [`Writers::finish`].
pub struct Writers {
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Writers {
    /// `per_instance` writers on each of `instances`, posting as `token`.
    pub fn start<const N: usize>(
        http: &reqwest::Client,
        instances: [&Instance; N],
        token: &str,
        per_instance: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut tasks = Vec::new();
        for (instance, target) in instances.iter().enumerate() {
            for writer in 0..per_instance {
                let (http, stop, outcomes) = (http.clone(), stop.clone(), outcomes.clone());
                let url = format!("{}/posts", target.base);
                let token = token.to_owned();
                let prefix = format!("{run} i{instance} w{writer}");
                tasks.push(tokio::spawn(async move {
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let title = format!("{prefix} #{n}");
                        let started = Instant::now();
                        let answer = http
                            .post(&url)
                            .bearer_auth(&token)
                            .json(&json!({ "title": title, "content": "failover" }))
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("{url} did not answer: {e}"));
                        let status = answer.status();
                        let body = answer.json().await.unwrap_or(Value::Null);
                        let finished = Instant::now();
                        outcomes.lock().await.push(Outcome {
                            instance,
                            title,
                            status,
                            body,
                            started,
                            finished,
                            took: finished - started,
                        });
                        if status != StatusCode::CREATED {
                            // Do not spin on a refusal.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }));
            }
        }
        Self {
            stop,
            outcomes,
            tasks,
        }
    }

    /// Waits until `n` writes were answered 201 in all.
    pub async fn wait_for_acks(&self, n: usize) {
        self.wait_until("acknowledged writes", |all| {
            all.iter()
                .filter(|o| o.status == StatusCode::CREATED)
                .count()
                >= n
        })
        .await;
    }

    /// Waits until every instance had `n` writes asked after `after`
    /// answered 201.
    pub async fn wait_for_acks_after(&self, after: Instant, n: usize) {
        self.wait_until("writes after the failover on every instance", |all| {
            let instances = all.iter().map(|o| o.instance).max().unwrap_or(0) + 1;
            (0..instances).all(|i| {
                all.iter()
                    .filter(|o| {
                        o.instance == i && o.started > after && o.status == StatusCode::CREATED
                    })
                    .count()
                    >= n
            })
        })
        .await;
    }

    /// Waits until a write was answered 503.
    pub async fn wait_for_unavailable(&self) {
        self.wait_until("a 503 during the outage", |all| {
            all.iter()
                .any(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        })
        .await;
    }

    async fn wait_until(&self, what: &str, done: impl Fn(&[Outcome]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if done(&self.outcomes.lock().await) {
                return;
            }
            assert!(Instant::now() < deadline, "waited 30 s for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the writers and returns every outcome.
    pub async fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a writer");
        }
        let outcomes = self.outcomes.lock().await;
        outcomes.clone()
    }
}
