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

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::domain::{MAX_PASSWORD_BYTES, Password, PasswordHash};
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

    /// Runs `work` on the blocking pool once a slot is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        // The semaphore is never closed, so acquiring cannot fail.
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("open semaphore");
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
}

/// Lowers the calling thread's CPU priority to `SCHED_IDLE` (else nice
/// 19), once per thread. Linux keeps the policy per thread; the blocking
/// pool's threads are otherwise only used to resolve database host names,
/// which is rare and may as well wait for an idle core.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use std::cell::Cell;
        thread_local!(static LOWERED: Cell<bool> = const { Cell::new(false) });
        LOWERED.with(|lowered| {
            if !lowered.get() {
                let param = libc::sched_param { sched_priority: 0 };
                // SAFETY: both calls only read their arguments; pid/`who` 0
                // is the calling thread. A failure leaves the priority as
                // is; lowering one's own priority needs no privilege.
                unsafe {
                    if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
                        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                    }
                }
                lowered.set(true);
            }
        });
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> PasswordHash {
        let (password, cost) = (password.clone(), self.cost);
        let hashed = self
            .run(move || bcrypt::hash(password.expose(), cost))
            .await;
        // The cost was checked at start-up and the password is at most 72
        // bytes, so bcrypt cannot fail.
        PasswordHash::new(hashed.expect("bcrypt hash"))
    }

    async fn verify(&self, candidate: &str, hash: Option<&PasswordHash>) -> bool {
        // Over 72 bytes bcrypt would compare a truncated prefix: never a
        // match, but still spend the time, so the answer says nothing.
        let acceptable = candidate.len() <= MAX_PASSWORD_BYTES && hash.is_some();
        let hash = hash.unwrap_or(&self.dummy).clone();
        let candidate = SecretString::from(candidate);
        let matched = self
            .run(move || bcrypt::verify(candidate.expose_secret(), hash.expose()).unwrap_or(false))
            .await;
        acceptable && matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_never_truncates() {
        let hasher = BcryptHasher::new(4).unwrap();
        let exact = "a".repeat(72);
        let hash = hasher.hash(&Password::parse(&exact).unwrap()).await;
        assert!(hasher.verify(&exact, Some(&hash)).await);
        assert!(
            !hasher.verify(&format!("{exact}b"), Some(&hash)).await,
            "73 bytes must not match"
        );
        assert!(!hasher.verify("wrong password", Some(&hash)).await);
        assert!(!hasher.verify(&exact, None).await);
        assert!(!hash.expose().contains(&exact));
    }

    #[test]
    fn rejects_bad_costs() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
    }
}
