//! `LoginThrottle` in process memory: per email and address, and per
//! address, the attempts inside the window.
//!
//! One mutex guards both tables, so checking the two counts and counting
//! the attempt is one atomic step (a login costs a bcrypt verify, so the
//! lock is never contended enough to matter). Keys are fixed-size hashes
//! and each list holds at most its limit, so memory stays bounded by the
//! number of distinct keys in one window; expired keys are swept.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::StoreError;
use crate::ports::{Admission, Attempt, LoginThrottle, ThrottleKey, ThrottleLimits};

/// Counted attempts: when, and which.
type Attempts = VecDeque<(OffsetDateTime, i64)>;

#[derive(Default)]
struct Tables {
    pairs: HashMap<ThrottleKey, Attempts>,
    addrs: HashMap<IpAddr, Attempts>,
    next_attempt: i64,
    /// Keys held after the last sweep: the next sweep waits until the
    /// tables have doubled, so sweeping costs O(1) per attempt amortised.
    after_sweep: usize,
}

/// Attempts per email and address, and per address, in this process.
pub struct MemoryThrottle {
    limits: ThrottleLimits,
    tables: Mutex<Tables>,
}

impl MemoryThrottle {
    /// Empty counts with these limits.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            tables: Mutex::default(),
        }
    }
}

/// Drops the attempts of `list` that left the window; then, if `max`
/// attempts still count, the seconds to wait.
fn over(
    limits: &ThrottleLimits,
    list: Option<&mut Attempts>,
    max: u32,
    now: OffsetDateTime,
) -> Option<u64> {
    let list = list.filter(|_| max > 0)?;
    while list.front().is_some_and(|(at, _)| !limits.counts(*at, now)) {
        list.pop_front();
    }
    let max = max as usize;
    // The attempt that must leave the window for the count to drop.
    (list.len() >= max).then(|| limits.wait(list[list.len() - max].0, now))
}

/// Drops the keys none of whose attempts count any more.
fn sweep<K: Eq + Hash>(
    map: &mut HashMap<K, Attempts>,
    limits: &ThrottleLimits,
    now: OffsetDateTime,
) {
    map.retain(|_, list| list.back().is_some_and(|(at, _)| limits.counts(*at, now)));
}

#[async_trait]
impl LoginThrottle for MemoryThrottle {
    async fn admit(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<Admission, StoreError> {
        let limits = &self.limits;
        if limits.is_off() {
            return Ok(Admission::Admitted(Attempt(0)));
        }
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let t = &mut *tables;
        if t.pairs.len() + t.addrs.len() > 2 * t.after_sweep.max(512) {
            sweep(&mut t.pairs, limits, now);
            sweep(&mut t.addrs, limits, now);
            t.after_sweep = t.pairs.len() + t.addrs.len();
        }
        let pair = over(limits, t.pairs.get_mut(key), limits.max_failures, now);
        let addr = over(
            limits,
            t.addrs.get_mut(&key.addr),
            limits.max_failures_per_addr,
            now,
        );
        if let Some(retry_after_secs) = pair.max(addr) {
            return Ok(Admission::Throttled { retry_after_secs });
        }
        t.next_attempt += 1;
        let attempt = (now, t.next_attempt);
        if limits.max_failures > 0 {
            t.pairs.entry(*key).or_default().push_back(attempt);
        }
        if limits.max_failures_per_addr > 0 {
            t.addrs.entry(key.addr).or_default().push_back(attempt);
        }
        Ok(Admission::Admitted(Attempt(t.next_attempt)))
    }

    async fn release(&self, key: &ThrottleKey, attempt: Attempt) -> Result<(), StoreError> {
        if self.limits.is_off() {
            return Ok(());
        }
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        tables.pairs.remove(key);
        if let Some(list) = tables.addrs.get_mut(&key.addr) {
            list.retain(|(_, id)| *id != attempt.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    fn key(email: &str) -> ThrottleKey {
        ThrottleKey::new(email, "127.0.0.1".parse().unwrap())
    }

    fn limits(max_failures: u32, max_failures_per_addr: u32) -> ThrottleLimits {
        ThrottleLimits {
            max_failures,
            max_failures_per_addr,
            window_seconds: 60,
        }
    }

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(1) + Duration::seconds(s)
    }

    async fn admitted(t: &MemoryThrottle, key: &ThrottleKey, now: OffsetDateTime) -> Attempt {
        match t.admit(key, now).await.unwrap() {
            Admission::Admitted(attempt) => attempt,
            other => panic!("expected an admission, got {other:?}"),
        }
    }

    /// `None` when admitted (and so counted), else the wait.
    async fn wait(t: &MemoryThrottle, key: &ThrottleKey, now: OffsetDateTime) -> Option<u64> {
        match t.admit(key, now).await.unwrap() {
            Admission::Throttled { retry_after_secs } => Some(retry_after_secs),
            Admission::Admitted(_) => None,
        }
    }

    #[tokio::test]
    async fn limits_per_pair_and_address_and_window() {
        let t = MemoryThrottle::new(limits(2, 3));
        let (a, b) = (key("a@x.io"), key("b@x.io"));
        admitted(&t, &a, at(0)).await;
        admitted(&t, &a, at(10)).await;
        assert_eq!(wait(&t, &a, at(10)).await, Some(50), "pair limit");
        admitted(&t, &b, at(20)).await;
        assert_eq!(wait(&t, &b, at(20)).await, Some(40), "address limit");
        // The first attempt leaves the window: a slot for the address.
        admitted(&t, &b, at(60)).await;
        assert_eq!(wait(&t, &b, at(60)).await, Some(20), "b's pair, 20 and 60");
    }

    #[tokio::test]
    async fn a_success_releases_its_attempt_and_clears_the_pair() {
        let t = MemoryThrottle::new(limits(2, 3));
        let (a, b) = (key("a@x.io"), key("b@x.io"));
        admitted(&t, &a, at(0)).await;
        let ok = admitted(&t, &a, at(1)).await;
        t.release(&a, ok).await.unwrap();
        // The pair is clear; the address keeps the failure at 0 only.
        admitted(&t, &a, at(2)).await;
        admitted(&t, &a, at(3)).await;
        assert_eq!(
            wait(&t, &a, at(4)).await,
            Some(58),
            "the pair counts from 2"
        );
        assert_eq!(wait(&t, &b, at(4)).await, Some(56), "the address: 0, 2, 3");
    }

    #[tokio::test]
    async fn concurrent_attempts_never_pass_the_limit() {
        let t = std::sync::Arc::new(MemoryThrottle::new(limits(5, 50)));
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let t = t.clone();
                tokio::spawn(async move {
                    let email = if i % 2 == 0 {
                        "a@x.io".to_owned()
                    } else {
                        format!("{i}@x.io")
                    };
                    let admission = t.admit(&key(&email), at(0)).await.unwrap();
                    matches!(admission, Admission::Admitted(_))
                })
            })
            .collect();
        let mut admitted = 0;
        for task in tasks {
            admitted += usize::from(task.await.unwrap());
        }
        assert_eq!(admitted, 50, "the address limit, exactly");
    }

    #[tokio::test]
    async fn zero_turns_it_off_and_keeps_nothing() {
        let t = MemoryThrottle::new(limits(0, 0));
        for _ in 0..100 {
            admitted(&t, &key("a@x.io"), at(0)).await;
        }
        let tables = t.tables.lock().unwrap();
        assert!(tables.pairs.is_empty() && tables.addrs.is_empty());
    }

    #[tokio::test]
    async fn expired_keys_are_swept() {
        let t = MemoryThrottle::new(limits(5, 50));
        // Four windows of 3,000 one-off addresses: 6,000 live keys at most.
        for round in 0..4u8 {
            for i in 0..3_000u16 {
                let [hi, lo] = i.to_be_bytes();
                let addr = IpAddr::from([10, round, hi, lo]);
                admitted(
                    &t,
                    &ThrottleKey::new("a@x.io", addr),
                    at(i64::from(round) * 120),
                )
                .await;
            }
        }
        let tables = t.tables.lock().unwrap();
        let held = tables.pairs.len() + tables.addrs.len();
        assert!(held <= 12_002, "at most twice the live keys, held {held}");
    }
}
