//! `/vote`: add or remove the caller's vote on a post.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi};

use super::error::{ApiError, Errors, id_range, status::*};
use super::json::{JsonOut, StrictJson};
use super::models::{MessageOut, VoteBody};
use super::security::Auth;
use super::{ApiTags, post_id};
use crate::service::Service;

/// The vote route.
#[derive(Default)]
pub struct VotesApi;

/// A vote added or removed.
#[derive(ApiResponse)]
enum VoteResponse {
    /// `Successfully added vote` or `Successfully deleted vote`.
    #[oai(status = 201)]
    Created(JsonOut<MessageOut>),
}

#[OpenApi(tag = "ApiTags::Votes")]
impl VotesApi {
    /// Vote on a post
    ///
    /// `dir` 1 adds the caller's vote (one per user and post), `dir` 0
    /// removes it. Owners may vote on their own posts, drafts included.
    #[oai(path = "/vote", method = "post")]
    async fn vote(
        &self,
        auth: Auth,
        service: Data<&Service>,
        body: StrictJson<VoteBody>,
    ) -> Result<VoteResponse, Errors<{ AUTHED | NOT_FOUND | CONFLICT | BODY }>> {
        let post = post_id(body.0.post_id).map_err(|_| ApiError::invalid(id_range("post_id")))?;
        let up = match body.0.dir {
            1 => true,
            0 => false,
            _ => return Err(ApiError::invalid("dir: must be 0 or 1").into()),
        };
        service.vote(auth.caller(), post, up).await?;
        let message = if up {
            "Successfully added vote"
        } else {
            "Successfully deleted vote"
        };
        Ok(VoteResponse::Created(JsonOut(MessageOut {
            message: message.into(),
        })))
    }
}
