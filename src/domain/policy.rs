//! The access rules, as pure functions. The memory store calls them; the
//! Postgres store mirrors [`Visibility`] in SQL; the property tests check
//! that both agree with a reference model.

use super::{User, UserId};

/// Which posts a viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every post, drafts included (admins).
    Everything,
    /// Published posts, and the drafts owned by this user.
    PublishedOrOwnedBy(UserId),
}

impl Visibility {
    /// Whether a post with this owner and flag is visible.
    pub fn allows(self, owner_id: UserId, published: bool) -> bool {
        match self {
            Visibility::Everything => true,
            Visibility::PublishedOrOwnedBy(viewer) => published || owner_id == viewer,
        }
    }
}

/// What `viewer` may see: admins see drafts too.
pub fn visibility_for(viewer: &User) -> Visibility {
    if viewer.is_admin() {
        Visibility::Everything
    } else {
        Visibility::PublishedOrOwnedBy(viewer.id)
    }
}

/// Whether `viewer` may see a post with this owner and flag.
pub fn can_view_post(viewer: &User, owner_id: UserId, published: bool) -> bool {
    visibility_for(viewer).allows(owner_id, published)
}

/// Whether `actor` may update or delete a post owned by `owner_id`.
pub fn can_change_post(actor: &User, owner_id: UserId) -> bool {
    actor.id == owner_id || actor.is_admin()
}

/// Whether `actor` may delete the user `target`.
pub fn can_delete_user(actor: &User, target: UserId) -> bool {
    actor.id == target || actor.is_admin()
}

/// Whether `actor` may list users and change roles.
pub fn can_manage_users(actor: &User) -> bool {
    actor.is_admin()
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::{EmailAddress, Role};

    fn user(id: i64, role: Role) -> User {
        User {
            id: UserId::new(id).unwrap(),
            email: EmailAddress::parse(&format!("u{id}@example.com")).unwrap(),
            role,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn drafts_are_for_owner_and_admins() {
        let owner = user(1, Role::User);
        let other = user(2, Role::User);
        let admin = user(3, Role::Admin);
        assert!(can_view_post(&owner, owner.id, false));
        assert!(!can_view_post(&other, owner.id, false));
        assert!(can_view_post(&admin, owner.id, false));
        for viewer in [&owner, &other, &admin] {
            assert!(can_view_post(viewer, owner.id, true));
        }
    }

    #[test]
    fn only_owner_or_admin_changes_a_post() {
        let owner = user(1, Role::User);
        assert!(can_change_post(&owner, owner.id));
        assert!(!can_change_post(&user(2, Role::User), owner.id));
        assert!(can_change_post(&user(3, Role::Admin), owner.id));
    }

    #[test]
    fn user_management() {
        let me = user(1, Role::User);
        let admin = user(2, Role::Admin);
        assert!(can_delete_user(&me, me.id));
        assert!(!can_delete_user(&me, admin.id));
        assert!(can_delete_user(&admin, me.id));
        assert!(!can_manage_users(&me));
        assert!(can_manage_users(&admin));
    }
}
