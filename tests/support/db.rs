//! A fresh PostgreSQL database per test, on the server at `DATABASE_URL`:
//! the one place that creates, names and drops test databases, and that
//! decides whether a Postgres test runs at all.
//!
//! Without `DATABASE_URL` a Postgres test prints "skipped: DATABASE_URL not
//! set" and passes, so that `cargo test` works on a machine without a
//! database; with `REQUIRE_POSTGRES=1` (CI) it fails instead, so that a
//! missing database can never pass for a green run.

/// A fresh database on the test server. Drop it with [`TestDb::drop`]
/// (nothing drops it implicitly: `Drop` cannot wait for the server).
#[derive(Debug, Clone)]
pub struct TestDb {
    /// The server's URL (`DATABASE_URL`), used to create and drop.
    pub admin_url: String,
    /// The database's name.
    pub name: String,
    /// The database's own URL.
    pub url: String,
}

impl TestDb {
    /// Creates `posts_test_<uuid>`; `None` (skip) without `DATABASE_URL`.
    pub async fn create() -> Option<Self> {
        Self::create_with_prefix("posts_test").await
    }

    /// Creates `<prefix>_<uuid>`; `None` (skip) without `DATABASE_URL`.
    /// A uuid, so that test binaries running at once never collide.
    pub async fn create_with_prefix(prefix: &str) -> Option<Self> {
        let admin_url = server_url()?;
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        execute(&admin_url, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// A direct connection to this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Drops the database, disconnecting whoever is still connected (a
    /// pool of an app that is still shutting down), and ignoring failures:
    /// it runs after the test has decided its outcome.
    pub async fn drop(&self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = execute(&self.admin_url, &sql).await;
    }
}

/// `DATABASE_URL`, or `None` (after saying so) when it is not set and
/// `REQUIRE_POSTGRES` is not `1`.
///
/// # Panics
/// When `REQUIRE_POSTGRES=1` and `DATABASE_URL` is not set.
pub fn server_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
            );
            println!("skipped: DATABASE_URL not set");
            None
        }
    }
}

/// A connection to `url` whose driver task runs in the background.
///
/// # Panics
/// When the server cannot be reached.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    tokio::spawn(connection);
    client
}

/// Runs `sql` over a connection of its own to `url`, closed before this
/// returns: CREATE and DROP DATABASE run from the server's URL (nobody can
/// drop the database they are connected to), and a lingering connection
/// would count against the server's limit while many tests run.
async fn execute(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = connection.await;
    result
}

/// `url` with its database name replaced by `database` (user, host, port
/// and query kept).
///
/// # Panics
/// When `url` has no `scheme://`.
pub fn with_database(url: &str, database: &str) -> String {
    let start = url
        .find("://")
        .map(|i| i + 3)
        .expect("DATABASE_URL must be a URL, e.g. postgres://postgres@127.0.0.1:5432/posts");
    let rest = &url[start..];
    let (location, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    let authority = location.split('/').next().unwrap_or(location);
    format!("{}{authority}/{database}{query}", &url[..start])
}
