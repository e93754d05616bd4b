//! `/posts`: list, read, create, replace and delete posts.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, OpenApi};

use super::error::{ApiError, Errors, id_range, status::*};
use super::json::{JsonOut, StrictJson};
use super::models::{PostBody, PostOut};
use super::paging::next_link;
use super::security::{Auth, VerifiedToken, auth_first};
use super::{ApiTags, post_id};
use crate::domain::{Page, PostContent, PostId, PostTitle, PostUpdate, Search};
use crate::service::Service;

/// The post routes.
#[derive(Default)]
pub struct PostsApi;

fn default_limit() -> i64 {
    10
}

fn default_skip() -> i64 {
    0
}

/// A page of posts.
#[derive(ApiResponse)]
enum ListResponse {
    /// The posts the caller may see, newest first.
    #[oai(status = 200)]
    Ok(
        JsonOut<Vec<PostOut>>,
        /// On a full page, the next one (RFC 8288): the same query with
        /// `before` set to the page's last id and `skip` dropped, as in
        /// `</posts?limit=10&search=rust&before=4711>; rel="next"`.
        #[oai(header = "Link")]
        Option<String>,
    ),
}

/// One post.
#[derive(ApiResponse)]
enum PostResponse {
    /// The post.
    #[oai(status = 200)]
    Ok(JsonOut<PostOut>),
}

/// A created post.
#[derive(ApiResponse)]
enum CreatedResponse {
    /// The new post, owned by the caller.
    #[oai(status = 201)]
    Created(JsonOut<PostOut>),
}

/// A deletion.
#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted, with its votes.
    #[oai(status = 204)]
    NoContent,
}

fn parse_body(body: PostBody) -> Result<(PostTitle, PostContent, bool), ApiError> {
    Ok((
        PostTitle::parse(&body.title)?,
        PostContent::parse(&body.content)?,
        body.published,
    ))
}

#[OpenApi(tag = "ApiTags::Posts")]
impl PostsApi {
    /// List posts
    ///
    /// Newest first. `search` matches a substring of the title without
    /// regard to case (`%` and `_` are ordinary characters). Drafts appear
    /// only to their owner and admins. `before` is a cursor: only posts
    /// with an id below it, and `skip` applies after it. A full page
    /// carries a `Link` header to the next one.
    #[oai(path = "/posts", method = "get", transform = "auth_first")]
    async fn list(
        &self,
        // Checked in the statement that reads the page.
        token: VerifiedToken,
        service: Data<&Service>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Posts to skip.
        #[oai(default = "default_skip", validator(minimum(value = "0")))]
        skip: Query<i64>,
        /// A substring of the title; no NUL.
        #[oai(validator(pattern = r"^[^\u0000]*$"))]
        search: Query<Option<String>>,
        /// A post id: only posts with an id below it (the cursor of the
        /// `Link` header).
        #[oai(validator(minimum(value = "1")))]
        before: Query<Option<i64>>,
    ) -> Result<ListResponse, Errors<{ AUTHED | INVALID }>> {
        let page = Page::new(limit.0, skip.0)?;
        let search = match search.0 {
            Some(s) => Search::parse(&s)?,
            None => None,
        };
        let before = before
            .0
            .map(|raw| PostId::new(raw).ok_or_else(|| ApiError::invalid(id_range("before"))))
            .transpose()?;
        let posts = service
            .list_posts_for_token(token.claims(), search.clone(), before, page)
            .await?;
        let link = next_link(
            "/posts",
            page.limit(),
            posts.len(),
            search.as_ref().map(Search::as_str),
            "before",
            posts.last().map(|p| p.id.get()),
        );
        Ok(ListResponse::Ok(
            JsonOut(posts.into_iter().map(PostOut::from).collect()),
            link,
        ))
    }

    /// Read a post
    #[oai(path = "/posts/:id", method = "get", transform = "auth_first")]
    async fn get(
        &self,
        token: VerifiedToken,
        service: Data<&Service>,
        /// The post's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
    ) -> Result<PostResponse, Errors<{ AUTHED | NOT_FOUND | INVALID }>> {
        let id = post_id(id.0)?;
        let post = service.get_post_for_token(token.claims(), id).await?;
        Ok(PostResponse::Ok(JsonOut(post.into())))
    }

    /// Create a post
    #[oai(path = "/posts", method = "post")]
    async fn create(
        &self,
        auth: Auth,
        service: Data<&Service>,
        body: StrictJson<PostBody>,
    ) -> Result<CreatedResponse, Errors<{ AUTHED | BODY }>> {
        let (title, content, published) = parse_body(body.0)?;
        let post = service
            .create_post(auth.caller(), title, content, published)
            .await?;
        Ok(CreatedResponse::Created(JsonOut(post.into())))
    }

    /// Replace a post
    ///
    /// For its owner or an admin. A body without `published` publishes it.
    #[oai(path = "/posts/:id", method = "put")]
    async fn update(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// The post's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: StrictJson<PostBody>,
    ) -> Result<PostResponse, Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | BODY }>> {
        let id = post_id(id.0)?;
        let (title, content, published) = parse_body(body.0)?;
        let post = service
            .update_post(
                auth.caller(),
                id,
                PostUpdate {
                    title,
                    content,
                    published,
                },
            )
            .await?;
        Ok(PostResponse::Ok(JsonOut(post.into())))
    }

    /// Delete a post
    ///
    /// For its owner or an admin; its votes go with it.
    #[oai(path = "/posts/:id", method = "delete")]
    async fn delete(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// The post's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
    ) -> Result<DeletedResponse, Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | INVALID }>> {
        service.delete_post(auth.caller(), post_id(id.0)?).await?;
        Ok(DeletedResponse::NoContent)
    }
}
