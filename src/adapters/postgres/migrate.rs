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

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_is_embedded_in_order() {
        let names: Vec<String> = super::embedded::migrations::runner()
            .get_migrations()
            .iter()
            .map(|m| format!("V{}__{}", m.version(), m.name()))
            .collect();
        assert_eq!(
            names,
            [
                "V1__users",
                "V2__posts",
                "V3__votes",
                "V4__revoked_tokens",
                "V5__login_failures",
                "V6__admins_index",
                "V7__sessions",
                "V8__drafts_index",
                "V9__search_index"
            ]
        );
    }
}
