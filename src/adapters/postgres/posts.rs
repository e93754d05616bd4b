//! `PostStore` over PostgreSQL: each read returns the post with its owner
//! and vote count in one query; a page applies the visibility rule, the
//! title search, the order and the paging in SQL.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use super::{PgStore, queries, rows};
use crate::domain::policy::Visibility;
use crate::domain::{
    NewPost, PostFilter, PostId, PostUpdate, PostView, StoreError, User, fold_title,
};
use crate::ports::{PostChange, PostStore};

/// A parameter of `PgStore::query_planned` (its type is the statement's).
type Param<'a> = &'a (dyn ToSql + Sync);

#[async_trait]
impl PostStore for PgStore {
    async fn create(
        &self,
        new: NewPost,
        created_at: OffsetDateTime,
    ) -> Result<PostView, StoreError> {
        let title = new.title.as_str();
        let folded = fold_title(title);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &new.owner_id.get(),
            &title,
            &folded,
            &new.content.as_str(),
            &new.published,
            &created_at,
        ];
        // An owner deleted meanwhile fails the foreign key: unavailable,
        // as in the memory store.
        let row = self
            .query_opt(queries::INSERT_POST, &params)
            .await
            .map_err(|e| e.into_store("create post"))?;
        let row =
            row.ok_or_else(|| StoreError::Unavailable("create post: no row returned".into()))?;
        rows::post_view(&row)
    }

    async fn get(&self, id: PostId) -> Result<Option<PostView>, StoreError> {
        let row = self
            .query_opt(queries::POST_BY_ID, &[&id.get()])
            .await
            .map_err(|e| e.into_store("get post"))?;
        row.map(|r| rows::post_view(&r)).transpose()
    }

    async fn list(&self, filter: &PostFilter) -> Result<Vec<PostView>, StoreError> {
        let (limit, skip) = (filter.page.limit(), filter.page.skip());
        // `NULL` for no cursor.
        let before = filter.before.map(PostId::get);
        // The plain first page: a statement prepared per limit, on a
        // generic plan (no planning per request).
        if skip == 0 && before.is_none() && filter.search.is_none() {
            let found = match filter.visibility {
                Visibility::Everything => match queries::list_all_first(limit) {
                    Some(sql) => Some(self.query(sql, &[]).await),
                    None => None,
                },
                Visibility::PublishedOrOwnedBy(viewer) => {
                    match queries::list_visible_first(limit) {
                        Some(sql) => Some(self.query(sql, &[&viewer.get()]).await),
                        None => None,
                    }
                }
            };
            if let Some(found) = found {
                let found = found.map_err(|e| e.into_store("list posts"))?;
                return found.iter().map(rows::post_view).collect();
            }
        }
        // Each branch of the visible-posts query (and a keyed search)
        // needs at most this many rows; saturating, so a huge skip is an
        // empty page, not an error.
        let reach = limit.saturating_add(skip);
        // The same folding as the stored `title_lower` and `Search::matches`.
        let term = filter.search.as_ref().map(|s| fold_title(s.as_str()));
        // A term of 3 characters or more goes through the title index;
        // shorter ones have no key and take the `LIKE` statements. The
        // keyed statements are small calls of the search functions, whose
        // plans the server keeps (migration V14): prepared once per
        // connection like a lookup (unnamed behind a pooler), not planned
        // per request as the other pages are.
        let pieces = term.as_deref().and_then(queries::search_pieces);
        let found = match (filter.visibility, &term, &pieces) {
            (Visibility::Everything, None, _) => {
                let params = [&limit as Param, &skip, &before];
                self.query_planned(queries::LIST_ALL, &params).await
            }
            (Visibility::Everything, Some(term), Some(pieces)) => {
                let params = [&before as Param, &limit, &skip, &reach, term, pieces];
                self.query(queries::LIST_ALL_SEARCH_KEYED, &params).await
            }
            (Visibility::Everything, Some(term), None) => {
                let pattern = queries::contains_pattern(term);
                let params = [&limit as Param, &skip, &before, &pattern];
                self.query_planned(queries::LIST_ALL_SEARCH, &params).await
            }
            (Visibility::PublishedOrOwnedBy(viewer), None, _) => {
                let viewer = viewer.get();
                let params = [&viewer as Param, &limit, &skip, &reach, &before];
                self.query_planned(queries::LIST_VISIBLE, &params).await
            }
            (Visibility::PublishedOrOwnedBy(viewer), Some(term), Some(pieces)) => {
                let viewer = viewer.get();
                let params = [
                    &viewer as Param,
                    &limit,
                    &skip,
                    &reach,
                    &before,
                    term,
                    pieces,
                ];
                self.query(queries::LIST_VISIBLE_SEARCH_KEYED, &params)
                    .await
            }
            (Visibility::PublishedOrOwnedBy(viewer), Some(term), None) => {
                let viewer = viewer.get();
                let pattern = queries::contains_pattern(term);
                let params = [&viewer as Param, &limit, &skip, &before, &pattern];
                self.query_planned(queries::LIST_VISIBLE_SEARCH, &params)
                    .await
            }
        };
        let found = found.map_err(|e| e.into_store("list posts"))?;
        found.iter().map(rows::post_view).collect()
    }

    async fn update_as(
        &self,
        actor: &User,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostChange<PostView>, StoreError> {
        self.update_checked(actor, id, update).await
    }

    async fn delete_as(&self, actor: &User, id: PostId) -> Result<PostChange<()>, StoreError> {
        self.delete_checked(actor, id).await
    }

    async fn update(&self, id: PostId, update: PostUpdate) -> Result<Option<PostView>, StoreError> {
        let title = update.title.as_str();
        let folded = fold_title(title);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &id.get(),
            &title,
            &folded,
            &update.content.as_str(),
            &update.published,
        ];
        let row = self
            .query_opt(queries::UPDATE_POST, &params)
            .await
            .map_err(|e| e.into_store("update post"))?;
        row.map(|r| rows::post_view(&r)).transpose()
    }

    async fn delete(&self, id: PostId) -> Result<bool, StoreError> {
        let deleted = self
            .execute(queries::DELETE_POST, &[&id.get()])
            .await
            .map_err(|e| e.into_store("delete post"))?;
        Ok(deleted > 0)
    }
}
