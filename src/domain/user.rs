//! Users: validated email and password, roles, the user entity.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::{Page, UserId, error::FieldError};

/// A trimmed, lower-cased, syntactically plausible email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// An email as compared and stored: trimmed and lower-cased. The one
/// home of that rule: parsing uses it, and so does the login throttle's
/// key for text that is not a valid address.
pub fn fold_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

impl EmailAddress {
    /// Normalises ([`fold_email`]) and validates an email address.
    ///
    /// # Errors
    /// A [`FieldError`] naming `email` when the value is not an address.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = fold_email(raw);
        let invalid = |why: &str| {
            FieldError::new(
                "email",
                format!("value is not a valid email address: {why}"),
            )
        };
        if email.contains('\0') {
            return Err(FieldError::nul("email"));
        }
        if email.is_empty() {
            return Err(invalid("it is empty"));
        }
        if email.len() > MAX_EMAIL_LEN {
            return Err(invalid("it is longer than 254 bytes"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains white space"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("it has no @-sign"));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(invalid(
                "it must have exactly one @-sign with text on both sides",
            ));
        }
        let labels_ok = domain.split('.').all(|label| !label.is_empty());
        if !domain.contains('.') || !labels_ok {
            return Err(invalid("the part after the @-sign is not a domain name"));
        }
        Ok(Self(email))
    }

    /// Wraps a value read back from a store, which only holds parsed addresses.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address, given up: no copy where it is written out.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password acceptable at registration: 8 or more characters, at most 72
/// bytes of UTF-8 (bcrypt's limit, never silently truncated), no NUL.
/// Kept as a secret: redacted in `Debug`, wiped from memory on drop.
#[derive(Clone, Debug)]
pub struct Password(SecretString);

/// bcrypt reads at most this many bytes.
pub const MAX_PASSWORD_BYTES: usize = 72;
/// Shortest password accepted at registration, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

impl Password {
    /// Validates a new password.
    ///
    /// # Errors
    /// A [`FieldError`] naming `password`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(FieldError::new(
                "password",
                "must be at least 8 characters long",
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(FieldError::new(
                "password",
                "must be at most 72 bytes of UTF-8",
            ));
        }
        if raw.contains('\0') {
            return Err(FieldError::nul("password"));
        }
        Ok(Self(raw.into()))
    }

    /// The password in clear, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A password hash in the hasher's own format (bcrypt's `$2b$...`), kept
/// as a secret like the password: redacted in `Debug`, wiped on drop.
#[derive(Clone, Debug)]
pub struct PasswordHash(SecretString);

impl PasswordHash {
    /// Wraps a hash the hasher made or the store kept.
    pub fn new(hash: String) -> Self {
        Self(hash.into())
    }

    /// The hash as stored.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// What a user may do beyond their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The default role.
    User,
    /// May manage users and change or see any post.
    Admin,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Parses a wire name (`user` or `admin`).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A registered user, as every response shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Store-assigned id.
    pub id: UserId,
    /// Normalised email, unique without regard to case.
    pub email: EmailAddress,
    /// The user's role, read from the store on every request.
    pub role: Role,
    /// When the user registered.
    pub created_at: OffsetDateTime,
}

impl User {
    /// Whether this user has admin rights.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A user to be stored.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Normalised email.
    pub email: EmailAddress,
    /// The bcrypt hash of the password.
    pub password_hash: PasswordHash,
    /// The initial role.
    pub role: Role,
}

/// Which users to list (admins): a cursor and a page, in ascending id
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPage {
    /// The cursor: only users with an id above it (the page's `skip`
    /// applies after it). A store seeks to it rather than walking to it,
    /// so a page costs the same wherever the cursor is.
    pub after: Option<UserId>,
    /// The page.
    pub page: Page,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let email = EmailAddress::parse("  Alice@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "alice@example.com");
    }

    #[test]
    fn bad_emails_are_rejected() {
        for bad in [
            "",
            "   ",
            "alice",
            "@example.com",
            "alice@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a\0@b.com",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn password_limits() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        // 8 characters of 2 bytes each are fine; the minimum counts characters.
        assert!(Password::parse("éééééééé").is_ok());
        assert!(Password::parse(&"a".repeat(72)).is_ok());
        assert!(Password::parse(&"a".repeat(73)).is_err());
        // 37 two-byte characters are 74 bytes: over the limit.
        assert!(Password::parse(&"é".repeat(37)).is_err());
        assert!(Password::parse("abcd\0efgh").is_err());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse("root"), None);
    }
}
