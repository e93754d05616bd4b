//! The domain: entities, validated newtypes, commands, errors and the access
//! policy. It knows nothing of HTTP, databases or maps.

pub mod error;
pub mod ids;
pub mod policy;
pub mod post;
pub mod session;
pub mod user;

pub use error::*;
pub use ids::{ID_RULE, PostId, SessionId, UserId};
pub use post::*;
pub use session::*;
pub use user::*;
