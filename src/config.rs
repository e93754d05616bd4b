//! Configuration: environment variables, each also a command-line flag of
//! the same name in kebab case (the command line wins), and subcommands.

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

/// A secret setting: kept in a `SecretString`, so that it never shows in
/// a `Debug` print of the configuration and is wiped from memory on drop.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(value.into())
}

/// Which store backs the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// In process memory: demos and tests; nothing survives a restart.
    Memory,
    /// PostgreSQL at `DATABASE_URL`.
    Postgres,
}

/// What `DATABASE_URL` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatabasePooler {
    /// The database itself (or a session-mode pooler): statements are
    /// prepared once per connection, and the service migrates at start-up.
    None,
    /// A transaction-pooling proxy (PgBouncer in `pool_mode=transaction`,
    /// a cloud provider's pooler): no named prepared statements and no
    /// session state survive a transaction; the service does not migrate
    /// but checks the schema is current (`posts-api migrate` migrates,
    /// over a direct connection).
    Transaction,
}

/// Where the `serve` command computes password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PasswordHashing {
    /// In a child process of the service (`posts-api hash-worker`), in a
    /// session and so a scheduling group of its own at the lowest
    /// priority: a login storm does not slow the reads or the database.
    /// Falls back to `in-process` (logged) where the child cannot start.
    Worker,
    /// On the service's own blocking threads.
    InProcess,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "posts-api",
    version,
    about = "A posts API with users, JWT login, posts, drafts and votes."
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create an admin, or promote an existing user to admin.
    CreateAdmin {
        /// The admin's email.
        #[arg(long)]
        email: String,
        /// The admin's password: the new account's, or the existing one's
        /// (an account is promoted only with its own password).
        #[arg(long)]
        password: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Apply pending database migrations to `DATABASE_URL`, then exit.
    Migrate,
    /// The password hashing worker that `serve` starts (internal: speaks a
    /// binary protocol on stdin and stdout).
    #[command(hide = true)]
    HashWorker,
}

/// Every setting, from flags and environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// `memory` or `postgres`.
    #[arg(
        long,
        env = "STORE",
        value_enum,
        default_value = "memory",
        global = true
    )]
    pub store: StoreKind,
    /// PostgreSQL URL, required with `--store postgres`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret, global = true)]
    pub database_url: Option<SecretString>,
    /// Largest number of database connections, 1 to 1000.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub database_pool_size: u32,
    /// Seconds a store call may wait for a connection and its answer (then
    /// 503), 1 to 3600.
    #[arg(long, env = "DATABASE_TIMEOUT_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub database_timeout_seconds: u64,
    /// `none`, or `transaction` when `DATABASE_URL` is a transaction-pooling
    /// proxy.
    #[arg(
        long,
        env = "DATABASE_POOLER",
        value_enum,
        default_value = "none",
        global = true
    )]
    pub database_pooler: DatabasePooler,
    /// Address and port to listen on (port 0: any free port).
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind_addr: String,
    /// The signing key, at least 32 bytes; random when omitted with the
    /// memory store.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, value_parser = secret, global = true)]
    pub jwt_secret: Option<SecretString>,
    /// Comma-separated older keys that still verify.
    #[arg(
        long,
        env = "JWT_PREVIOUS_SECRETS",
        hide_env_values = true,
        value_delimiter = ',',
        value_parser = secret,
        global = true
    )]
    pub jwt_previous_secrets: Vec<SecretString>,
    /// Token lifetime in minutes, 1 to 525600 (a year).
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=525_600), global = true)]
    pub access_token_expire_minutes: u32,
    /// Refresh token lifetime in days, 1 to 365: a session idle for
    /// longer must log in again.
    #[arg(long, env = "REFRESH_TOKEN_EXPIRE_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=365), global = true)]
    pub refresh_token_expire_days: u32,
    /// bcrypt cost, 4 to 31.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31), global = true)]
    pub bcrypt_cost: u32,
    /// Where `serve` computes password hashes: `worker` (a child process at
    /// the lowest priority) or `in-process`.
    #[arg(
        long,
        env = "PASSWORD_HASHING",
        value_enum,
        default_value = "worker",
        global = true
    )]
    pub password_hashing: PasswordHashing,
    /// Create or promote this admin at start-up.
    #[arg(long, env = "ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,
    /// The start-up admin's password.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true, value_parser = secret, global = true)]
    pub admin_password: Option<SecretString>,
    /// Comma-separated allowed CORS origins; `*` allows all.
    #[arg(
        long,
        env = "CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "*",
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// Failed logins allowed per email and address in the window, 0 to
    /// 1000000 (0: off).
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub login_max_failures: u32,
    /// Failed logins allowed per address in the window, 0 to 1000000 (0: off).
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_ADDR", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub login_max_failures_per_addr: u32,
    /// The throttling window in seconds, 1 to 2592000 (30 days).
    #[arg(long, env = "LOGIN_WINDOW_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=2_592_000), global = true)]
    pub login_window_seconds: u64,
    /// Seconds a request may take before it is answered: 408 while its
    /// body is still arriving, else 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub request_timeout_seconds: u64,
    /// Log format: `text` or `json` (one JSON object per line).
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Log filter (tracing's EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub rust_log: String,
    /// Seed this many generated posts (200-byte content) at start-up, owned
    /// by `seed@example.com`: for load tests and benches; 0 to 10000000.
    #[arg(long, env = "SEED_POSTS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000_000), global = true)]
    pub seed_posts: u64,
    /// Seed demo users and posts in memory and print their credentials.
    #[arg(long, env = "DEMO", global = true, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub demo: bool,
    /// Open client connections at most; past it new connections wait in
    /// the listen queue.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_connections: u32,
    /// Seconds a client may take to send a request's headers, from the
    /// connection's start or from the request's first byte (then closed).
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub header_read_timeout_seconds: u64,
    /// Seconds a keep-alive connection may stay idle between requests, and
    /// a response write may make no progress (then closed).
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub keep_alive_timeout_seconds: u64,
}

impl Default for Config {
    /// The documented defaults: the `default_value`s above (each written
    /// once, there), ignoring the environment.
    fn default() -> Self {
        use clap::{Args, FromArgMatches};
        let command = Self::augment_args(clap::Command::new("posts-api")).mut_args(|a| a.env(None));
        let parsed = command
            .try_get_matches_from(["posts-api"])
            .and_then(|matches| Self::from_arg_matches(&matches));
        // Only a setting without a default could fail here; the unit test
        // `defaults_match_the_documented_table` runs this.
        parsed.expect("every setting has a default or is optional")
    }
}

impl Config {
    /// The older keys, trimmed, without empty entries (an empty variable
    /// is none).
    pub fn previous_secrets(&self) -> Vec<SecretString> {
        self.jwt_previous_secrets
            .iter()
            .map(|s| s.expose_secret().trim())
            .filter(|s| !s.is_empty())
            .map(SecretString::from)
            .collect()
    }

    /// The allowed origins, or `None` for all.
    pub fn cors_allowed(&self) -> Option<Vec<String>> {
        let origins: Vec<String> = self
            .cors_origins
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        (!origins.iter().any(|o| o == "*") && !origins.is_empty()).then_some(origins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_table() {
        let cli = Cli::try_parse_from(["posts-api"]).unwrap();
        assert!(cli.command.is_none());
        let c = Config::default();
        assert_eq!(c.bind_addr, "127.0.0.1:8000");
        assert_eq!((c.access_token_expire_minutes, c.bcrypt_cost), (30, 12));
        assert_eq!(
            (
                c.login_max_failures,
                c.login_max_failures_per_addr,
                c.login_window_seconds
            ),
            (5, 50, 900)
        );
        assert_eq!(c.cors_allowed(), None);
        assert_eq!(
            (c.store, c.log_format),
            (StoreKind::Memory, LogFormat::Text)
        );
        assert_eq!((c.max_connections, c.request_timeout_seconds), (10_000, 30));
        assert!(c.jwt_secret.is_none() && c.database_url.is_none());
        assert_eq!(c.database_pooler, DatabasePooler::None);
        assert_eq!(c.password_hashing, PasswordHashing::Worker);
    }

    #[test]
    fn hashing_is_worker_or_in_process() {
        let parse = |value| Cli::try_parse_from(["posts-api", "--password-hashing", value]);
        let hashing = parse("in-process").unwrap().config.password_hashing;
        assert_eq!(hashing, PasswordHashing::InProcess);
        assert!(parse("threads").is_err());
        let worker = Cli::try_parse_from(["posts-api", "hash-worker"]).unwrap();
        assert!(matches!(worker.command, Some(Command::HashWorker)));
    }

    #[test]
    fn the_pooler_is_none_or_transaction() {
        let parse = |value| Cli::try_parse_from(["posts-api", "--database-pooler", value]);
        let pooler = parse("transaction").unwrap().config.database_pooler;
        assert_eq!(pooler, DatabasePooler::Transaction);
        let err = parse("session").unwrap_err().to_string();
        assert!(err.contains("DATABASE_POOLER"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let cli = Cli::try_parse_from([
            "posts-api",
            "--jwt-secret",
            "a-very-secret-signing-key-0123456789",
            "--admin-password",
            "hunter2-hunter2",
            "--database-url",
            "postgres://u:pw-in-url@db/posts",
        ])
        .unwrap();
        let printed = format!("{:?}", cli.config);
        for secret in ["a-very-secret", "hunter2", "pw-in-url"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn flags_parse_in_kebab_case() {
        let cli = Cli::try_parse_from([
            "posts-api",
            "serve",
            "--bcrypt-cost",
            "4",
            "--cors-origins",
            "http://a.io,http://b.io",
            "--jwt-previous-secrets",
            "x,,y",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.config.bcrypt_cost, 4);
        assert_eq!(
            cli.config.cors_allowed(),
            Some(vec!["http://a.io".to_owned(), "http://b.io".to_owned()])
        );
        let previous: Vec<&str> = cli
            .config
            .jwt_previous_secrets
            .iter()
            .map(ExposeSecret::expose_secret)
            .collect();
        assert_eq!(previous, ["x", "", "y"]);
        let kept = cli.config.previous_secrets();
        let kept: Vec<&str> = kept.iter().map(ExposeSecret::expose_secret).collect();
        assert_eq!(kept, ["x", "y"]);
        assert!(Cli::try_parse_from(["posts-api", "--bcrypt-cost", "3"]).is_err());
        assert!(Cli::try_parse_from(["posts-api", "--store", "sqlite"]).is_err());
    }

    #[test]
    fn migrate_takes_the_database_flags() {
        let cli = Cli::try_parse_from([
            "posts-api",
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1/posts",
            "--database-timeout-seconds",
            "2",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Migrate)));
        assert_eq!(
            cli.config
                .database_url
                .as_ref()
                .map(ExposeSecret::expose_secret),
            Some("postgres://postgres@127.0.0.1/posts")
        );
        assert_eq!(cli.config.database_timeout_seconds, 2);
    }

    #[test]
    fn connection_settings_have_defaults_and_ranges() {
        let c = Cli::try_parse_from(["posts-api"]).unwrap().config;
        assert_eq!(
            (
                c.max_connections,
                c.header_read_timeout_seconds,
                c.keep_alive_timeout_seconds
            ),
            (10_000, 10, 60)
        );
        let d = Config::default();
        assert_eq!(
            (
                d.max_connections,
                d.header_read_timeout_seconds,
                d.keep_alive_timeout_seconds
            ),
            (10_000, 10, 60)
        );
        for (flag, ok, refused) in [
            ("--max-connections", ["1", "1000000"], ["0", "1000001"]),
            (
                "--header-read-timeout-seconds",
                ["1", "3600"],
                ["0", "3601"],
            ),
            ("--keep-alive-timeout-seconds", ["1", "3600"], ["0", "3601"]),
        ] {
            for value in ok {
                assert!(
                    Cli::try_parse_from(["posts-api", flag, value]).is_ok(),
                    "{flag} {value}"
                );
            }
            for value in refused {
                let err = Cli::try_parse_from(["posts-api", flag, value]).unwrap_err();
                assert!(err.to_string().contains(flag), "{flag} {value}: {err}");
            }
        }
    }
}
