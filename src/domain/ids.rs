//! Store-assigned identifiers: positive 64-bit integers.

use std::fmt;

/// The rule every id in a path or body follows, as clients read it.
pub const ID_RULE: &str = "must be an integer between 1 and 9223372036854775807";

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Wraps `value` if it is a valid id (`1..=i64::MAX`).
            pub fn new(value: i64) -> Option<Self> {
                (value > 0).then_some(Self(value))
            }

            /// The raw integer.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// The id of a user.
    UserId
);
id_type!(
    /// The id of a post.
    PostId
);
id_type!(
    /// The id of a session (a login and its refreshes).
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive() {
        assert!(UserId::new(0).is_none());
        assert!(UserId::new(-1).is_none());
        assert_eq!(UserId::new(1).map(UserId::get), Some(1));
        assert_eq!(PostId::new(i64::MAX).map(PostId::get), Some(i64::MAX));
    }
}
