//! The connection pool: settings, building the deadpool pool with its
//! timeouts, and masking the password in `DATABASE_URL` for messages.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::ConnectError;

/// How to reach the database.
#[derive(Clone)]
pub struct PgSettings {
    /// `DATABASE_URL`: a `postgres://` URL or `key=value` pairs.
    pub url: String,
    /// Largest number of connections (`DATABASE_POOL_SIZE`).
    pub pool_size: usize,
    /// How long a call may wait for a connection and for its answer
    /// (`DATABASE_TIMEOUT_SECONDS`); past it the store is unavailable.
    pub timeout: Duration,
    /// `DATABASE_POOLER=transaction`: `url` is a transaction-pooling proxy,
    /// so statements are sent unnamed and nothing outlives a transaction.
    pub transaction_pooler: bool,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &mask_password(&self.url))
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("transaction_pooler", &self.transaction_pooler)
            .finish()
    }
}

/// Builds the pool. This does no I/O: deadpool connects lazily, so a
/// dead database is only noticed at the first checkout.
pub(super) fn build(settings: &PgSettings) -> Result<Pool, ConnectError> {
    let invalid = |reason: String| ConnectError::InvalidUrl {
        url: mask_password(&settings.url),
        reason,
    };
    let mut pg: tokio_postgres::Config =
        settings.url.parse().map_err(|e| invalid(format!("{e}")))?;
    pg.connect_timeout(per_host_connect_timeout(
        settings.timeout,
        pg.get_hosts().len(),
    ));
    if pg.get_application_name().is_none() {
        pg.application_name("posts-api");
    }
    // Fast recycling: a connection whose socket has closed is dropped and
    // replaced, with no extra round trip per checkout.
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = Manager::from_config(pg, NoTls, manager_config);
    Pool::builder(manager)
        .max_size(settings.pool_size.max(1))
        .wait_timeout(Some(settings.timeout))
        .create_timeout(Some(settings.timeout))
        .recycle_timeout(Some(settings.timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| invalid(format!("{e}")))
}

/// The TCP connect timeout for each host of a multi-host `DATABASE_URL`.
/// tokio-postgres tries the hosts in turn, each with this timeout, all
/// within the pool's create timeout (`timeout`): were each host given the
/// whole of it, a first host that drops packets (a dead machine answers no
/// SYN) would use it up and the next host, the new primary, would never be
/// tried. So they share it (never below 100 ms).
fn per_host_connect_timeout(timeout: Duration, hosts: usize) -> Duration {
    let hosts = u32::try_from(hosts.max(1)).unwrap_or(u32::MAX);
    (timeout / hosts).max(Duration::from_millis(100))
}

/// `url` with its password replaced by `***`, for messages and logs.
/// Handles `postgres://user:secret@host/db`, `?password=secret` and the
/// `key=value` form (`password=secret` or `password='a secret'`).
pub fn mask_password(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let rest = match url.find("://") {
        Some(i) => {
            let (scheme, rest) = url.split_at(i + 3);
            out.push_str(scheme);
            // The password runs from the first `:` of the credentials to
            // the last `@` (masking too much beats showing a secret that
            // holds an `@`).
            match rest.rfind('@').map(|at| (at, rest[..at].find(':'))) {
                Some((at, Some(colon))) => {
                    out.push_str(&rest[..=colon]);
                    out.push_str("***");
                    &rest[at..]
                }
                _ => rest,
            }
        }
        None => url,
    };
    out.push_str(&mask_password_pairs(rest));
    out
}

/// Masks every `password=` value, up to `&`, white space or a closing quote.
fn mask_password_pairs(text: &str) -> String {
    const KEY: &str = "password=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(KEY) {
        let starts_key =
            i == 0 || matches!(rest.as_bytes()[i - 1], b'?' | b'&' | b' ' | b'\t' | b'\n');
        let value_start = i + KEY.len();
        out.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        if !starts_key {
            continue;
        }
        let end = if let Some(quoted) = rest.strip_prefix('\'') {
            // A quoted value ends at the first quote not escaped by `\`.
            let mut escaped = false;
            let close = quoted.char_indices().find(|&(_, c)| {
                let closes = c == '\'' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            });
            close.map_or(rest.len(), |(j, _)| j + 2)
        } else {
            rest.find(['&', ' ', '\t', '\n']).unwrap_or(rest.len())
        };
        out.push_str("***");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/posts",
                "postgres://app:***@db:5432/posts",
            ),
            (
                "postgresql://app:p@ss@db/posts",
                "postgresql://app:***@db/posts",
            ),
            ("postgres://app@db/posts", "postgres://app@db/posts"),
            (
                "postgres://db/posts?user=app&password=s3cret&sslmode=disable",
                "postgres://db/posts?user=app&password=***&sslmode=disable",
            ),
            (
                "host=db user=app password=s3cret dbname=posts",
                "host=db user=app password=*** dbname=posts",
            ),
            (
                "host=db password='a \\' secret' dbname=posts",
                "host=db password=*** dbname=posts",
            ),
            ("host=db oldpassword=x", "host=db oldpassword=x"),
        ];
        for (url, masked) in cases {
            assert_eq!(mask_password(url), masked, "{url}");
        }
    }

    #[test]
    fn hosts_share_the_connect_timeout() {
        let five = Duration::from_secs(5);
        assert_eq!(per_host_connect_timeout(five, 1), five);
        assert_eq!(per_host_connect_timeout(five, 0), five);
        assert_eq!(
            per_host_connect_timeout(five, 2),
            Duration::from_millis(2500)
        );
        assert_eq!(
            per_host_connect_timeout(Duration::from_secs(1), 50),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let settings = PgSettings {
            url: "postgres://a:hunter2@h/d".into(),
            pool_size: 1,
            timeout: Duration::from_secs(1),
            transaction_pooler: false,
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn a_bad_url_is_named_masked() {
        let settings = PgSettings {
            url: "postgres://a:hunter2@h:notaport/d".into(),
            pool_size: 1,
            timeout: Duration::from_secs(1),
            transaction_pooler: false,
        };
        let message = build(&settings).map(|_| ()).unwrap_err().to_string();
        assert!(
            message.contains("DATABASE_URL=postgres://a:***@h:notaport/d"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }
}
