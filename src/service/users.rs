//! User administration: look-ups, the admin list, roles, deletion.

use super::{Caller, Service};
use crate::domain::{Page, Role, User, UserError, UserId, policy};

impl Service {
    /// Any user, by id.
    ///
    /// # Errors
    /// [`UserError::NotFound`].
    pub async fn get_user(&self, _caller: &Caller, id: UserId) -> Result<User, UserError> {
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
    pub async fn list_users(&self, caller: &Caller, page: Page) -> Result<Vec<User>, UserError> {
        if !policy::can_manage_users(&caller.user) {
            return Err(UserError::Forbidden);
        }
        Ok(self.ports.users.list(page).await?)
    }

    /// Changes a user's role, for admins.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`].
    pub async fn set_role(
        &self,
        caller: &Caller,
        id: UserId,
        role: Role,
    ) -> Result<User, UserError> {
        if !policy::can_manage_users(&caller.user) {
            return Err(UserError::Forbidden);
        }
        self.ports
            .users
            .set_role(id, role)
            .await?
            .ok_or(UserError::NotFound(id))
    }

    /// Deletes a user (themself, or anyone for an admin) with their posts
    /// and votes; their tokens stop working because the user is gone.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for anyone else, whether the id exists or
    /// not; [`UserError::NotFound`].
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<(), UserError> {
        if !policy::can_delete_user(&caller.user, id) {
            return Err(UserError::Forbidden);
        }
        if self.ports.users.delete(id).await? {
            Ok(())
        } else {
            Err(UserError::NotFound(id))
        }
    }
}
