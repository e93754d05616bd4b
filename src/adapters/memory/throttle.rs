//! `LoginThrottle` in process memory: sliding windows of failure times.

use std::collections::VecDeque;
use std::hash::Hash;
use std::net::IpAddr;

use async_trait::async_trait;
use dashmap::DashMap;
use time::{Duration, OffsetDateTime};

use crate::domain::StoreError;
use crate::ports::{LoginThrottle, ThrottleKey, ThrottleLimits};

/// Failure times per email and address, and per address, in this process.
pub struct MemoryThrottle {
    limits: ThrottleLimits,
    pairs: DashMap<ThrottleKey, VecDeque<OffsetDateTime>>,
    addrs: DashMap<IpAddr, VecDeque<OffsetDateTime>>,
}

impl MemoryThrottle {
    /// Empty counters with these limits.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            pairs: DashMap::new(),
            addrs: DashMap::new(),
        }
    }

    fn window(&self) -> Duration {
        Duration::seconds(i64::try_from(self.limits.window_seconds).unwrap_or(i64::MAX))
    }
}

/// Seconds until `times` drops below `max` failures, if it is at `max`.
fn wait<K: Eq + Hash>(
    map: &DashMap<K, VecDeque<OffsetDateTime>>,
    key: &K,
    max: u32,
    window: Duration,
    now: OffsetDateTime,
) -> Option<u64> {
    if max == 0 {
        return None;
    }
    let mut times = map.get_mut(key)?;
    while times.front().is_some_and(|t| *t + window <= now) {
        times.pop_front();
    }
    if times.len() < max as usize {
        return None;
    }
    // The failure that must expire for the count to fall below the limit.
    let release = times[times.len() - max as usize] + window;
    let secs = (release - now).as_seconds_f64().ceil();
    Some((secs as u64).max(1))
}

fn record<K: Eq + Hash>(
    map: &DashMap<K, VecDeque<OffsetDateTime>>,
    key: K,
    max: u32,
    window: Duration,
    now: OffsetDateTime,
) {
    if max == 0 {
        return;
    }
    let mut times = map.entry(key).or_default();
    while times.front().is_some_and(|t| *t + window <= now) {
        times.pop_front();
    }
    times.push_back(now);
    // Only the newest `max` failures can matter.
    while times.len() > max as usize {
        times.pop_front();
    }
}

/// Drops keys whose failures have all expired, once the map is large.
fn sweep<K: Eq + Hash>(
    map: &DashMap<K, VecDeque<OffsetDateTime>>,
    window: Duration,
    now: OffsetDateTime,
) {
    if map.len() > 10_000 {
        map.retain(|_, times| times.back().is_some_and(|t| *t + window > now));
    }
}

#[async_trait]
impl LoginThrottle for MemoryThrottle {
    async fn retry_after(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError> {
        let window = self.window();
        let pair = wait(&self.pairs, key, self.limits.max_failures, window, now);
        let addr = wait(
            &self.addrs,
            &key.addr,
            self.limits.max_failures_per_addr,
            window,
            now,
        );
        Ok(pair.max(addr))
    }

    async fn record_failure(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let window = self.window();
        sweep(&self.pairs, window, now);
        sweep(&self.addrs, window, now);
        record(
            &self.pairs,
            key.clone(),
            self.limits.max_failures,
            window,
            now,
        );
        record(
            &self.addrs,
            key.addr,
            self.limits.max_failures_per_addr,
            window,
            now,
        );
        Ok(())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.pairs.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(email: &str) -> ThrottleKey {
        ThrottleKey {
            email: email.into(),
            addr: "127.0.0.1".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn limits_per_pair_and_window() {
        let limits = ThrottleLimits {
            max_failures: 2,
            max_failures_per_addr: 3,
            window_seconds: 60,
        };
        let t = MemoryThrottle::new(limits);
        let at = |s: i64| OffsetDateTime::UNIX_EPOCH + Duration::seconds(s);
        let (a, b) = (key("a@x.io"), key("b@x.io"));
        t.record_failure(&a, at(0)).await.unwrap();
        assert_eq!(t.retry_after(&a, at(0)).await.unwrap(), None);
        t.record_failure(&a, at(10)).await.unwrap();
        assert_eq!(
            t.retry_after(&a, at(10)).await.unwrap(),
            Some(50),
            "pair limit"
        );
        assert_eq!(
            t.retry_after(&b, at(10)).await.unwrap(),
            None,
            "another email is free"
        );
        // A third failure from the address, for another email: address limit.
        t.record_failure(&b, at(20)).await.unwrap();
        assert_eq!(
            t.retry_after(&b, at(20)).await.unwrap(),
            Some(40),
            "address limit"
        );
        t.clear(&a).await.unwrap();
        assert_eq!(
            t.retry_after(&a, at(20)).await.unwrap(),
            Some(40),
            "the address count stays"
        );
        // Once the first failure leaves the window, both are free again.
        assert_eq!(t.retry_after(&b, at(60)).await.unwrap(), None);
        assert_eq!(t.retry_after(&a, at(60)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn zero_turns_it_off() {
        let t = MemoryThrottle::new(ThrottleLimits {
            max_failures: 0,
            max_failures_per_addr: 0,
            window_seconds: 60,
        });
        let now = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..100 {
            t.record_failure(&key("a@x.io"), now).await.unwrap();
        }
        assert_eq!(t.retry_after(&key("a@x.io"), now).await.unwrap(), None);
    }
}
