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
//! method label and status. Kept rather than switched because
//! prometheus-client writes OpenMetrics, where a counter's `# HELP`/`# TYPE`
//! lines name `http_requests`, not `http_requests_total`, and the text ends
//! with `# EOF`: scrapers and dashboards reading these lines would change.

use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ports::{PoolMonitor, PoolStats};
use dashmap::DashMap;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// FNV-1a, for the counters' maps: their keys are labels from bounded
/// sets (route templates, method labels, statuses), never a client's
/// bytes, so the keyed hash DashMap uses by default (SipHash, a few
/// hundred instructions per request for the two look-ups) buys nothing.
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

#[derive(Default)]
struct Histogram {
    /// Requests by the smallest bucket that holds their latency.
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// One route's counters: requests by method label and status, latency.
#[derive(Default)]
struct RouteStats {
    requests: DashMap<(&'static str, u16), AtomicU64, Labels>,
    latency: Histogram,
}

impl RouteStats {
    fn count(&self, method: &'static str, status: u16, seconds: f64) {
        match self.requests.get(&(method, status)) {
            Some(n) => n.fetch_add(1, Ordering::Relaxed),
            None => self
                .requests
                .entry((method, status))
                .or_default()
                .fetch_add(1, Ordering::Relaxed),
        };
        let hist = &self.latency;
        // Only the smallest bucket that holds it: one atomic add, not one
        // per bucket above it (`render` sums them into Prometheus's
        // cumulative buckets).
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            hist.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        hist.count.fetch_add(1, Ordering::Relaxed);
        hist.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

/// The counters, shared by the middleware and the `/metrics` endpoint.
#[derive(Default, Clone)]
pub struct Metrics {
    /// By route label (bounded: the documented routes and a few more).
    routes: Arc<DashMap<String, RouteStats, Labels>>,
    login_failures: Arc<AtomicU64>,
    login_throttled: Arc<AtomicU64>,
    /// The store's connection pool, if it has one.
    pool: Option<Arc<dyn PoolMonitor>>,
}

impl Metrics {
    /// Empty counters, and the gauges of `pool` (none on the memory store).
    pub fn with_pool(pool: Option<Arc<dyn PoolMonitor>>) -> Self {
        Self {
            pool,
            ..Self::default()
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
        match self.routes.get(route) {
            Some(stats) => stats.count(method, status, seconds),
            None => self
                .routes
                .entry(route.to_owned())
                .or_default()
                .count(method, status, seconds),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP http_requests_total Requests answered, by method, route and status.\n",
        );
        out.push_str("# TYPE http_requests_total counter\n");
        let mut rows: Vec<((&str, String, u16), u64)> = self
            .routes
            .iter()
            .flat_map(|route| {
                route
                    .requests
                    .iter()
                    .map(|e| {
                        let (method, status) = *e.key();
                        let n = e.value().load(Ordering::Relaxed);
                        ((method, route.key().clone(), status), n)
                    })
                    .collect::<Vec<_>>()
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
        let mut routes: Vec<String> = self.routes.iter().map(|e| e.key().clone()).collect();
        routes.sort();
        for route in routes {
            let Some(stats) = self.routes.get(&route) else {
                continue;
            };
            let h = &stats.latency;
            let mut n = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                n += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
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
