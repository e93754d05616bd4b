//! Password hashing with bcrypt, on tokio's blocking pool, on at most as
//! many threads as there are cores and at the lowest CPU priority there is
//! (`SCHED_IDLE` on Linux, nice 19 where that is refused): a storm of
//! logins uses every core the reads (and, on the same machine, the
//! database) leave idle, and yields them whenever those have work.
//! Priorities, not a cap. Under nice 19 a hash still took a share of the
//! cores from a busy service (the read p99 during a login storm was 2.9x
//! calm); a `SCHED_IDLE` thread is preempted as soon as a normal one wakes,
//! and runs only on otherwise idle cores. Logins queue for a slot, so with
//! more logins waiting than cores no core idles between two hashes.
//!
//! Only within this process's scheduling group, though: with autogroups
//! (Linux), a busy PostgreSQL backend on the same machine is a group of its
//! own that these threads do not yield to. `serve` therefore hashes in a
//! worker process of its own group ([`super::hash_worker`]), which shares
//! this hasher's slots and dummy hash and falls back to it.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::{MAX_PASSWORD_BYTES, Password, PasswordHash, StoreError};
use crate::ports::PasswordHasher;

/// bcrypt at a configured cost.
pub struct BcryptHasher {
    cost: u32,
    dummy: PasswordHash,
    /// One permit per bcrypt computation allowed to run at once.
    slots: Arc<Semaphore>,
}

/// A bcrypt cost outside `4..=31`.
#[derive(Debug, thiserror::Error)]
#[error("BCRYPT_COST {0} is outside 4..=31")]
pub struct CostOutOfRange(pub u32);

impl BcryptHasher {
    /// A hasher at `cost` (4..=31). Hashes a dummy password once, for the
    /// constant-time answer to unknown emails.
    ///
    /// # Errors
    /// [`CostOutOfRange`] when `cost` is not in bcrypt's `4..=31`.
    pub fn new(cost: u32) -> Result<Self, CostOutOfRange> {
        let dummy = bcrypt::hash("not a real password, only for timing", cost)
            .map_err(|_| CostOutOfRange(cost))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            cost,
            dummy: PasswordHash::new(dummy),
            slots: Arc::new(Semaphore::new(cores.max(1))),
        })
    }

    /// The configured cost.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Waits for one of the slots (one per core) that bound the hashes
    /// running at once, in this process or in a worker process.
    pub(crate) async fn slot(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed, so acquiring cannot fail.
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("open semaphore")
    }

    /// The hash `verify` compares a candidate with, and whether a match
    /// may count: with no hash the dummy (same time, never a match); over
    /// 72 bytes bcrypt would compare a truncated prefix (never a match,
    /// but still spend the time, so the answer says nothing).
    pub(crate) fn verify_target(
        &self,
        candidate: &str,
        hash: Option<&PasswordHash>,
    ) -> (bool, PasswordHash) {
        let acceptable = candidate.len() <= MAX_PASSWORD_BYTES && hash.is_some();
        (acceptable, hash.unwrap_or(&self.dummy).clone())
    }

    /// Hashes `password` on this process's blocking pool, holding `slot`.
    pub(crate) async fn hash_here(
        &self,
        slot: OwnedSemaphorePermit,
        password: &Password,
    ) -> PasswordHash {
        let (password, cost) = (password.clone(), self.cost);
        let hashed = run(slot, move || bcrypt::hash(password.expose(), cost)).await;
        // The cost was checked at start-up and the password is at most 72
        // bytes, so bcrypt cannot fail.
        PasswordHash::new(hashed.expect("bcrypt hash"))
    }

    /// Whether `candidate` matches `hash` (bcrypt's answer alone, see
    /// [`Self::verify_target`]), on this process's blocking pool, holding
    /// `slot`.
    pub(crate) async fn matches_here(
        &self,
        slot: OwnedSemaphorePermit,
        candidate: &str,
        hash: PasswordHash,
    ) -> bool {
        let candidate = SecretString::from(candidate);
        run(slot, move || {
            bcrypt::verify(candidate.expose_secret(), hash.expose()).unwrap_or(false)
        })
        .await
    }
}

/// Runs `work` on the blocking pool, at the lowest priority, releasing
/// `slot` when it is done (not when the caller stops waiting).
async fn run<T: Send + 'static>(
    slot: OwnedSemaphorePermit,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let done = tokio::task::spawn_blocking(move || {
        lower_priority();
        let answer = work();
        drop(slot);
        answer
    })
    .await;
    // A panicked bcrypt task is a bug, not an input error.
    done.expect("bcrypt task")
}

/// Lowers the calling thread's CPU priority (see [`idle_priority`]), once
/// per thread. The blocking pool's threads are otherwise only used to
/// resolve database host names, which is rare and may as well wait for an
/// idle core.
fn lower_priority() {
    use std::cell::Cell;
    thread_local!(static LOWERED: Cell<bool> = const { Cell::new(false) });
    LOWERED.with(|lowered| {
        if !lowered.get() {
            idle_priority();
            lowered.set(true);
        }
    });
}

/// Lowers the calling thread's CPU priority to `SCHED_IDLE` (else nice
/// 19). Linux keeps the policy per thread, and threads the caller starts
/// afterwards inherit it.
pub(crate) fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: both calls only read their arguments; pid/`who` 0 is the
        // calling thread. A failure leaves the priority as is; lowering
        // one's own priority needs no privilege.
        unsafe {
            if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
            }
        }
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        let slot = self.slot().await;
        Ok(self.hash_here(slot, password).await)
    }

    async fn verify(
        &self,
        candidate: &str,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, StoreError> {
        let (acceptable, hash) = self.verify_target(candidate, hash);
        let slot = self.slot().await;
        let matched = self.matches_here(slot, candidate, hash).await;
        Ok(acceptable && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_never_truncates() {
        let hasher = BcryptHasher::new(4).unwrap();
        let exact = "a".repeat(72);
        let hash = hasher
            .hash(&Password::parse(&exact).unwrap())
            .await
            .unwrap();
        assert!(hasher.verify(&exact, Some(&hash)).await.unwrap());
        assert!(
            !hasher
                .verify(&format!("{exact}b"), Some(&hash))
                .await
                .unwrap(),
            "73 bytes must not match"
        );
        assert!(!hasher.verify("wrong password", Some(&hash)).await.unwrap());
        assert!(!hasher.verify(&exact, None).await.unwrap());
        assert!(!hash.expose().contains(&exact));
    }

    #[test]
    fn rejects_bad_costs() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
    }
}
