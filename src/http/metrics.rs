//! Prometheus metrics: requests by method, route and status, and a latency
//! histogram, served as text at `/metrics`. Labels never carry ids, emails
//! or tokens: the route is the template (`/posts/:id`). [`super::observe`]
//! feeds them. With a database, the connection pool's gauges follow, read
//! through the `PoolMonitor` port at each scrape.
//!
//! Hand-written, measured against `prometheus-client` 0.26 used the same
//! way (`cargo bench --bench micro -- metrics/`): see `benches/RESULTS.md`.
//! Counting keys its counters by route first (a `&str` look-up, no
//! allocation once a route has been seen) and then by a `Copy` key of the
//! method label and status, in the calling thread's own shard (a scrape
//! sums them). Kept rather than switched because
//! prometheus-client writes OpenMetrics, where a counter's `# HELP`/`# TYPE`
//! lines name `http_requests`, not `http_requests_total`, and the text ends
//! with `# EOF`: scrapers and dashboards reading these lines would change.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::ports::{PoolMonitor, PoolStats};

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Shards of the request counters. A thread counts in its own shard (see
/// [`shard_of_this_thread`]), so the cores serving requests never write
/// the same cache line: with one shared set, the two cores of this
/// machine passed each counter's line (and the map's lock) back and forth
/// on every request. More shards than cores, so that the runtime's worker
/// threads each get one of their own.
const SHARDS: usize = 16;

/// FNV-1a, for the counters' maps: their keys are labels from bounded
/// sets (route templates), never a client's bytes, so a keyed hash
/// (SipHash, a few hundred instructions per request) buys nothing.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Labels = BuildHasherDefault<Fnv>;

/// One route's counters in one shard: requests by method label and
/// status, and the latency histogram.
#[derive(Default, Clone)]
struct RouteStats {
    /// A handful of (method, status) pairs per route: a short list beats
    /// a map.
    requests: Vec<((&'static str, u16), u64)>,
    /// Requests by the smallest bucket that holds their latency
    /// (`render` sums them into Prometheus's cumulative buckets).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

impl RouteStats {
    /// Adds `n` requests answered `key` (method label, status).
    fn add_requests(&mut self, key: (&'static str, u16), n: u64) {
        match self.requests.iter_mut().find(|(k, _)| *k == key) {
            Some((_, total)) => *total += n,
            None => self.requests.push((key, n)),
        }
    }

    fn count(&mut self, method: &'static str, status: u16, seconds: f64) {
        self.add_requests((method, status), 1);
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_micros += (seconds * 1e6) as u64;
    }

    /// Adds `other`'s counts to these.
    fn merge(&mut self, other: &Self) {
        for &(key, n) in &other.requests {
            self.add_requests(key, n);
        }
        for (total, n) in self.buckets.iter_mut().zip(other.buckets) {
            *total += n;
        }
        self.count += other.count;
        self.sum_micros += other.sum_micros;
    }
}

/// One shard: the counters by route label, behind a lock that only the
/// threads of this shard take (and a scrape), so it is nearly always
/// free and its line already this core's. Aligned to keep two shards off
/// one cache line.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<HashMap<String, RouteStats, Labels>>);

/// The shard of the calling thread: threads are numbered in the order
/// they first count, so the runtime's workers get shards of their own.
fn shard_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
    }
    SHARD.with(|shard| {
        shard.get().unwrap_or_else(|| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(Some(n));
            n
        })
    })
}

/// The counters, shared by the middleware and the `/metrics` endpoint.
#[derive(Clone)]
pub struct Metrics {
    /// By route label (bounded: the documented routes and a few more).
    shards: Arc<[Shard]>,
    login_failures: Arc<AtomicU64>,
    login_throttled: Arc<AtomicU64>,
    /// The store's connection pool, if it has one.
    pool: Option<Arc<dyn PoolMonitor>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::with_pool(None)
    }
}

impl Metrics {
    /// Empty counters, and the gauges of `pool` (none on the memory store).
    pub fn with_pool(pool: Option<Arc<dyn PoolMonitor>>) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            login_failures: Arc::default(),
            login_throttled: Arc::default(),
            pool,
        }
    }

    /// Counts a failed login (wrong credentials).
    pub fn login_failed(&self) {
        self.login_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a login refused by throttling.
    pub fn login_throttled(&self) {
        self.login_throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answered request; `method` and `route` are labels from
    /// bounded sets (see `observe::labels`).
    pub fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let shard = &self.shards[shard_of_this_thread()];
        // Nothing panics while the lock is held; a poisoned lock's counts
        // are still counts.
        let mut routes = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
        match routes.get_mut(route) {
            Some(stats) => stats.count(method, status, seconds),
            None => routes
                .entry(route.to_owned())
                .or_default()
                .count(method, status, seconds),
        }
    }

    /// Every shard's counts summed, by route label in order.
    fn totals(&self) -> BTreeMap<String, RouteStats> {
        let mut totals = BTreeMap::<String, RouteStats>::new();
        for shard in self.shards.iter() {
            let routes = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            for (route, stats) in routes.iter() {
                match totals.get_mut(route) {
                    Some(total) => total.merge(stats),
                    None => {
                        totals.insert(route.clone(), stats.clone());
                    }
                }
            }
        }
        totals
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let totals = self.totals();
        let mut out = String::new();
        out.push_str(
            "# HELP http_requests_total Requests answered, by method, route and status.\n",
        );
        out.push_str("# TYPE http_requests_total counter\n");
        let mut rows: Vec<((&str, &str, u16), u64)> = totals
            .iter()
            .flat_map(|(route, stats)| {
                stats
                    .requests
                    .iter()
                    .map(move |((method, status), n)| ((*method, route.as_str(), *status), *n))
            })
            .collect();
        rows.sort();
        for ((method, route, status), n) in rows {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let failures = self.login_failures.load(Ordering::Relaxed);
        let throttled = self.login_throttled.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP login_failures_total Logins refused for wrong credentials."
        );
        let _ = writeln!(
            out,
            "# TYPE login_failures_total counter\nlogin_failures_total {failures}"
        );
        let _ = writeln!(
            out,
            "# HELP login_throttled_total Logins refused by throttling."
        );
        let _ = writeln!(
            out,
            "# TYPE login_throttled_total counter\nlogin_throttled_total {throttled}"
        );
        out.push_str("# HELP http_request_duration_seconds Request latency, by route.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, h) in &totals {
            let mut n = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                n += h.buckets[i];
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let count = h.count;
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_micros as f64 / 1e6;
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        if let Some(pool) = &self.pool {
            out.push_str(&render_pool(&pool.stats()));
        }
        out
    }
}

/// The pool's gauges in the text exposition format.
pub fn render_pool(stats: &PoolStats) -> String {
    let PoolStats {
        in_use,
        idle,
        waiting,
        max_size,
    } = *stats;
    let mut out = String::new();
    out.push_str("# HELP db_pool_connections Database connections open, by state.\n");
    out.push_str("# TYPE db_pool_connections gauge\n");
    let _ = writeln!(out, "db_pool_connections{{state=\"idle\"}} {idle}");
    let _ = writeln!(out, "db_pool_connections{{state=\"in_use\"}} {in_use}");
    out.push_str("# HELP db_pool_max_connections The most database connections the pool opens.\n");
    out.push_str("# TYPE db_pool_max_connections gauge\n");
    let _ = writeln!(out, "db_pool_max_connections {max_size}");
    out.push_str("# HELP db_pool_waiting Requests waiting for a database connection.\n");
    out.push_str("# TYPE db_pool_waiting gauge\n");
    let _ = writeln!(out, "db_pool_waiting {waiting}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_cumulative() {
        let m = Metrics::default();
        for seconds in [0.0001, 0.002, 0.002, 0.3, 9.0] {
            m.observe("GET", "/posts", 200, seconds);
        }
        let text = m.render();
        let bucket = |le: &str| {
            let line =
                format!("http_request_duration_seconds_bucket{{route=\"/posts\",le=\"{le}\"}} ");
            let at = text
                .find(&line)
                .unwrap_or_else(|| panic!("{line} in {text}"));
            text[at + line.len()..].lines().next().unwrap().to_owned()
        };
        assert_eq!(bucket("0.0005"), "1");
        assert_eq!(bucket("0.001"), "1");
        assert_eq!(bucket("0.0025"), "3");
        assert_eq!(bucket("0.25"), "3");
        assert_eq!(bucket("0.5"), "4");
        assert_eq!(bucket("2.5"), "4");
        assert_eq!(bucket("+Inf"), "5");
    }

    #[test]
    fn counts_from_every_thread_are_summed() {
        let m = Metrics::default();
        std::thread::scope(|scope| {
            for _ in 0..(SHARDS + 3) {
                scope.spawn(|| {
                    for _ in 0..10 {
                        m.observe("GET", "/posts", 200, 0.0001);
                    }
                    m.observe("POST", "/posts", 201, 0.3);
                });
            }
        });
        let text = m.render();
        let n = SHARDS + 3;
        for line in [
            format!(
                "http_requests_total{{method=\"GET\",route=\"/posts\",status=\"200\"}} {}",
                10 * n
            ),
            format!("http_requests_total{{method=\"POST\",route=\"/posts\",status=\"201\"}} {n}"),
            format!(
                "http_request_duration_seconds_bucket{{route=\"/posts\",le=\"0.0005\"}} {}",
                10 * n
            ),
            format!(
                "http_request_duration_seconds_count{{route=\"/posts\"}} {}",
                11 * n
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }

    #[test]
    fn pool_gauges_are_prometheus_text() {
        let text = render_pool(&PoolStats {
            in_use: 3,
            idle: 1,
            waiting: 2,
            max_size: 4,
        });
        assert_eq!(
            text,
            "# HELP db_pool_connections Database connections open, by state.\n\
             # TYPE db_pool_connections gauge\n\
             db_pool_connections{state=\"idle\"} 1\n\
             db_pool_connections{state=\"in_use\"} 3\n\
             # HELP db_pool_max_connections The most database connections the pool opens.\n\
             # TYPE db_pool_max_connections gauge\n\
             db_pool_max_connections 4\n\
             # HELP db_pool_waiting Requests waiting for a database connection.\n\
             # TYPE db_pool_waiting gauge\n\
             db_pool_waiting 2\n"
        );
    }
}
