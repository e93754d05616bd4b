//! The checked changes over PostgreSQL: a post's update or deletion and a
//! vote, each one statement that checks the actor's permission with the
//! change and answers its `outcome` (see `queries::checked`).

use super::queries::{self, Sql};
use super::{PgStore, errors::bad_row, rows};
use crate::domain::{PostId, PostUpdate, PostView, StoreError, User, fold_title};
use crate::ports::{PostChange, Voted};

/// The `outcome` column of a checked change.
fn outcome(row: &tokio_postgres::Row) -> Result<&str, StoreError> {
    row.try_get("outcome")
        .map_err(|e| bad_row("a checked change", e))
}

/// A change's outcome: `done` with `then`'s value, `forbidden`,
/// `not_found`.
fn change<T>(
    row: &tokio_postgres::Row,
    then: impl FnOnce() -> Result<T, StoreError>,
) -> Result<PostChange<T>, StoreError> {
    match outcome(row)? {
        "done" => Ok(PostChange::Done(then()?)),
        "forbidden" => Ok(PostChange::Forbidden),
        "not_found" => Ok(PostChange::NotFound),
        other => Err(bad_row("a checked change", format!("outcome {other:?}"))),
    }
}

impl PgStore {
    /// The one row a checked statement answers.
    async fn checked_row(
        &self,
        sql: Sql,
        params: super::Params<'_>,
        what: &str,
    ) -> Result<tokio_postgres::Row, StoreError> {
        self.query_opt(sql, params)
            .await
            .map_err(|e| e.into_store(what))?
            .ok_or_else(|| StoreError::Unavailable(format!("{what}: no row")))
    }

    /// `PostStore::update_as`.
    pub(super) async fn update_checked(
        &self,
        actor: &User,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostChange<PostView>, StoreError> {
        let title = update.title.as_str();
        let folded = fold_title(title);
        let row = self
            .checked_row(
                queries::UPDATE_POST_AS,
                &[
                    &id.get(),
                    &title,
                    &folded,
                    &update.content.as_str(),
                    &update.published,
                    &actor.id.get(),
                    &actor.is_admin(),
                ],
                "update post",
            )
            .await?;
        // Done without a view (its owner gone in the same instant, which
        // the cascade makes all but impossible) is a post that is gone.
        match change(&row, || rows::optional_post_view(&row))? {
            PostChange::Done(Some(view)) => Ok(PostChange::Done(view)),
            PostChange::Done(None) | PostChange::NotFound => Ok(PostChange::NotFound),
            PostChange::Forbidden => Ok(PostChange::Forbidden),
        }
    }

    /// `PostStore::delete_as`.
    pub(super) async fn delete_checked(
        &self,
        actor: &User,
        id: PostId,
    ) -> Result<PostChange<()>, StoreError> {
        let row = self
            .checked_row(
                queries::DELETE_POST_AS,
                &[&id.get(), &actor.id.get(), &actor.is_admin()],
                "delete post",
            )
            .await?;
        change(&row, || Ok(()))
    }

    /// `VoteStore::vote_as`. A voter deleted meanwhile fails the foreign
    /// key: unavailable, as in the memory store.
    pub(super) async fn vote_checked(
        &self,
        voter: &User,
        post: PostId,
        up: bool,
    ) -> Result<Voted, StoreError> {
        let now = self.clock.now();
        let row = self
            .checked_row(
                queries::VOTE_AS,
                &[&post.get(), &voter.id.get(), &voter.is_admin(), &up, &now],
                "vote",
            )
            .await?;
        match outcome(&row)? {
            "added" => Ok(Voted::Added),
            "removed" => Ok(Voted::Removed),
            "post_not_found" => Ok(Voted::PostNotFound),
            "already_voted" => Ok(Voted::AlreadyVoted),
            "no_vote" => Ok(Voted::NoVote),
            other => Err(bad_row("votes", format!("outcome {other:?}"))),
        }
    }
}
