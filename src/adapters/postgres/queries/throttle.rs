//! The statements of login throttling: admit an attempt under the
//! address's lock, release a successful one.

use super::Sql;
use super::statement::{BYTEA, INET, INT8, TIMESTAMPTZ};

/// `$1` address, `$2` email's SHA-256, `$3` start of the window, `$4`
/// limit per pair, `$5` limit per address (0: off), `$6` now: counts one
/// login attempt unless a limit is reached. Answers the time of the
/// attempt holding each count at its limit (`pair_at`, `addr_at`; null
/// when under it) and the new attempt's id (`admitted`; null when
/// refused). Also deletes up to 100 expired
/// rows (skipping rows another instance is deleting). Run under the
/// address's advisory lock, so that concurrent attempts see each other.
pub const ADMIT_LOGIN: Sql = sql! {[INET, BYTEA, TIMESTAMPTZ, INT8, INT8, TIMESTAMPTZ]
"WITH expired AS (DELETE FROM login_failures WHERE id IN \
(SELECT id FROM login_failures WHERE failed_at <= $3 ORDER BY failed_at LIMIT 100 FOR UPDATE SKIP LOCKED)), \
releases AS (SELECT \
(SELECT f.failed_at FROM login_failures f \
WHERE $4::bigint > 0 AND f.addr = $1 AND f.email_sha256 = $2 AND NOT f.pair_cleared AND f.failed_at > $3 \
ORDER BY f.failed_at DESC OFFSET greatest($4::bigint - 1, 0) LIMIT 1) AS pair_at, \
(SELECT f.failed_at FROM login_failures f \
WHERE $5::bigint > 0 AND f.addr = $1 AND f.failed_at > $3 \
ORDER BY f.failed_at DESC OFFSET greatest($5::bigint - 1, 0) LIMIT 1) AS addr_at), \
admitted AS (INSERT INTO login_failures (addr, email_sha256, failed_at) \
SELECT $1, $2, $6 FROM releases WHERE pair_at IS NULL AND addr_at IS NULL RETURNING id) \
SELECT r.pair_at, r.addr_at, (SELECT id FROM admitted) AS admitted FROM releases r"};

/// `$1` address, `$2` email's SHA-256, `$3` the successful attempt's id:
/// the attempt stops counting, and the pair's earlier attempts stop
/// counting for the pair (they still count for the address).
pub const RELEASE_LOGIN: Sql = sql! {[INET, BYTEA, INT8]
"WITH released AS (DELETE FROM login_failures WHERE id = $3) \
UPDATE login_failures SET pair_cleared = true \
WHERE addr = $1 AND email_sha256 = $2 AND NOT pair_cleared AND id <> $3"};
