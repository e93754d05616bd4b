//! The migrations runner: the plain SQL files of `migrations/`, embedded
//! at build time (`build.rs` rebuilds when one changes) and applied by
//! refinery, which records them in `refinery_schema_history` and refuses
//! to start when an applied file was edited (divergent checksum).

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The advisory lock key instances take while migrating ("posts-ap").
const MIGRATION_LOCK: i64 = 0x706f_7374_732d_6170;

/// Applies the pending migrations on `client`; the names applied. Holds a
/// session advisory lock meanwhile, so that instances starting together
/// migrate one after the other instead of racing.
pub(super) async fn run(client: &mut tokio_postgres::Client) -> Result<Vec<String>, String> {
    run_to(client, refinery::Target::Latest).await
}

/// Applies the migrations up to `version` included, and no further, on
/// `client`; the names applied. For tests only: they build a database as
/// an older release left it, to check that the service upgrades it (the
/// service itself always migrates to the latest, [`run`]).
pub async fn migrate_to(
    client: &mut tokio_postgres::Client,
    version: i32,
) -> Result<Vec<String>, String> {
    run_to(client, refinery::Target::Version(version)).await
}

/// [`run`], up to `target`.
async fn run_to(
    client: &mut tokio_postgres::Client,
    target: refinery::Target,
) -> Result<Vec<String>, String> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| format!("cannot take the migration lock: {e}"))?;
    let report = embedded::migrations::runner()
        .set_target(target)
        .run_async(client)
        .await;
    // The lock dies with the session anyway; unlocking keeps the pooled
    // connection clean.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    let report = report.map_err(|e| e.to_string())?;
    unlocked.map_err(|e| format!("cannot release the migration lock: {e}"))?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect())
}

/// The applied migrations, as `refinery_schema_history` records them.
/// Read (not created: a check writes nothing) as the unnamed statement.
pub(super) const APPLIED: &str =
    "SELECT version, name, checksum FROM refinery_schema_history ORDER BY version";

/// An applied migration: version, name and checksum (as refinery writes
/// it, the decimal of a `u64`).
pub(super) type Applied = (i32, String, String);

/// The embedded migrations' names (`V{version}__{name}`), in the order
/// they apply.
pub fn embedded_names() -> Vec<String> {
    let mut migrations = embedded::migrations::runner().get_migrations().clone();
    migrations.sort_by_key(refinery::Migration::version);
    migrations
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect()
}

/// Whether the applied migrations are exactly the embedded ones, as
/// refinery's runner would find them (none pending, none edited, none
/// unknown to this release); why not otherwise.
pub(super) fn check(applied: &[Applied]) -> Result<(), String> {
    // In version order: refinery lists them by file name (V10 before V2).
    let mut embedded = embedded::migrations::runner().get_migrations().clone();
    embedded.sort_by_key(refinery::Migration::version);
    let name = |m: &refinery::Migration| format!("V{}__{}", m.version(), m.name());
    for (version, applied_name, checksum) in applied {
        match embedded
            .iter()
            .find(|m| i64::from(m.version()) == i64::from(*version))
        {
            None => {
                return Err(format!(
                    "migration V{version}__{applied_name} was applied but this release does not know it"
                ));
            }
            Some(m) if m.checksum().to_string() != *checksum || m.name() != applied_name => {
                return Err(format!(
                    "migration {} was edited since it was applied",
                    name(m)
                ));
            }
            Some(_) => {}
        }
    }
    let pending: Vec<String> = embedded
        .iter()
        .filter(|m| {
            !applied
                .iter()
                .any(|(v, _, _)| i64::from(*v) == i64::from(m.version()))
        })
        .map(name)
        .collect();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(format!("pending migrations {}", pending.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_is_embedded_in_order() {
        // The directory's files, ordered by their version number.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<(u32, String)> = std::fs::read_dir(dir)
            .expect("migrations/")
            .map(|entry| entry.expect("an entry").file_name())
            .filter_map(|name| name.to_str()?.strip_suffix(".sql").map(str::to_owned))
            .map(|name| {
                let version = name[1..name.find("__").expect("V{n}__{name}")]
                    .parse()
                    .expect("a version number");
                (version, name)
            })
            .collect();
        files.sort();
        let files: Vec<String> = files.into_iter().map(|(_, name)| name).collect();
        assert_eq!(super::embedded_names(), files);
        assert_eq!(files[..3], ["V1__users", "V2__posts", "V3__votes"]);
    }

    #[test]
    fn the_check_names_what_is_pending_or_edited() {
        let mut migrations = super::embedded::migrations::runner()
            .get_migrations()
            .clone();
        migrations.sort_by_key(refinery::Migration::version);
        let all: Vec<super::Applied> = migrations
            .iter()
            .map(|m| (m.version(), m.name().to_owned(), m.checksum().to_string()))
            .collect();
        assert_eq!(super::check(&all), Ok(()));
        let reason = super::check(&all[..7]).unwrap_err();
        assert!(reason.starts_with("pending migrations V8__drafts_index, V9__search_index, "));
        assert_eq!(
            reason,
            format!(
                "pending migrations {}",
                super::embedded_names()[7..].join(", ")
            )
        );
        assert!(
            super::check(&[])
                .unwrap_err()
                .starts_with("pending migrations V1__users, ")
        );
        let mut edited = all.clone();
        edited[2].2 = "1".into();
        let reason = super::check(&edited).unwrap_err();
        assert_eq!(
            reason,
            "migration V3__votes was edited since it was applied"
        );
        let mut newer = all;
        newer.push((99, "future".into(), "1".into()));
        assert!(super::check(&newer).unwrap_err().contains("V99__future"));
    }
}
