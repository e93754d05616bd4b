//! User administration: look-ups, the admin list, roles, deletion.

use super::{Caller, Service};
use crate::domain::{Role, User, UserError, UserId, UserPage, policy};
use crate::ports::KeepAdmin;

/// A store's answer to a change guarded by the last-admin rule.
fn kept<T>(id: UserId, outcome: KeepAdmin<T>) -> Result<T, UserError> {
    match outcome {
        KeepAdmin::Done(done) => Ok(done),
        KeepAdmin::NotFound => Err(UserError::NotFound(id)),
        KeepAdmin::LastAdmin => Err(UserError::LastAdmin),
    }
}

impl Service {
    /// Any user, by id.
    ///
    /// # Errors
    /// [`UserError::NotFound`].
    pub async fn get_user(&self, id: UserId) -> Result<User, UserError> {
        self.ports
            .users
            .get(id)
            .await?
            .ok_or(UserError::NotFound(id))
    }

    /// A page of users, for admins.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for non-admins.
    pub async fn list_users(
        &self,
        caller: &Caller,
        page: UserPage,
    ) -> Result<Vec<User>, UserError> {
        if !policy::can_manage_users(&caller.user) {
            return Err(UserError::Forbidden);
        }
        Ok(self.ports.users.list(page).await?)
    }

    /// Changes a user's role, for admins; never demotes the only admin.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`],
    /// [`UserError::LastAdmin`].
    pub async fn set_role(
        &self,
        caller: &Caller,
        id: UserId,
        role: Role,
    ) -> Result<User, UserError> {
        if !policy::can_manage_users(&caller.user) {
            return Err(UserError::Forbidden);
        }
        kept(id, self.ports.users.set_role(id, role).await?)
    }

    /// Deletes a user (themself, or anyone for an admin) with their posts
    /// and votes; their tokens stop working because the user is gone.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for anyone else, whether the id exists or
    /// not; [`UserError::NotFound`]; [`UserError::LastAdmin`] for the only
    /// admin.
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<(), UserError> {
        if !policy::can_delete_user(&caller.user, id) {
            return Err(UserError::Forbidden);
        }
        kept(id, self.ports.users.delete(id).await?)
    }
}
