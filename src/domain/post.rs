//! Posts: validated title and content, commands, the read model and the
//! list filter.

use time::OffsetDateTime;

use super::{PostId, User, UserId, error::FieldError, policy::Visibility};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest content, in characters.
pub const MAX_CONTENT_CHARS: usize = 50_000;
/// Largest page size for lists.
pub const MAX_LIMIT: i64 = 100;

/// A post title: trimmed, 1 to 300 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTitle(String);

impl PostTitle {
    /// Trims and validates a title.
    ///
    /// # Errors
    /// A [`FieldError`] naming `title`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let title = raw.trim();
        if title.contains('\0') {
            return Err(FieldError::nul("title"));
        }
        if title.is_empty() {
            return Err(FieldError::new("title", "must not be empty"));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(FieldError::new(
                "title",
                "must be at most 300 characters long",
            ));
        }
        Ok(Self(title.to_owned()))
    }

    /// Wraps a value read back from a store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The title, given up: no copy where it is written out.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Post content: 1 to 50,000 characters, not only white space, no NUL.
/// Kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent(String);

impl PostContent {
    /// Validates content.
    ///
    /// # Errors
    /// A [`FieldError`] naming `content`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.contains('\0') {
            return Err(FieldError::nul("content"));
        }
        if raw.trim().is_empty() {
            return Err(FieldError::new("content", "must not be empty"));
        }
        if raw.chars().count() > MAX_CONTENT_CHARS {
            return Err(FieldError::new(
                "content",
                "must be at most 50000 characters long",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps a value read back from a store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// The content.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The content, given up: no copy where it is written out.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A post to be created.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// The caller, who owns the post for good.
    pub owner_id: UserId,
    /// Validated title.
    pub title: PostTitle,
    /// Validated content.
    pub content: PostContent,
    /// `false` makes a draft.
    pub published: bool,
}

/// The replacement of a post's editable fields (`PUT`).
#[derive(Debug, Clone)]
pub struct PostUpdate {
    /// New title.
    pub title: PostTitle,
    /// New content.
    pub content: PostContent,
    /// New published flag.
    pub published: bool,
}

/// A post as readers see it: with its owner and its current vote count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    /// Store-assigned id.
    pub id: PostId,
    /// Title.
    pub title: PostTitle,
    /// Content.
    pub content: PostContent,
    /// `false` for a draft.
    pub published: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// The owner.
    pub owner: User,
    /// Number of votes now.
    pub votes: i64,
}

/// The rule of a page's `limit` ([`MAX_LIMIT`]), as clients read it.
pub const LIMIT_RULE: &str = "must be an integer between 1 and 100";
/// The rule of a page's `skip`, as clients read it.
pub const SKIP_RULE: &str = "must be a non-negative integer";

/// A page: `limit` in `1..=100`, `skip` non-negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: i64,
    skip: i64,
}

impl Page {
    /// Validates paging parameters.
    ///
    /// # Errors
    /// A [`FieldError`] naming `limit` or `skip`.
    pub fn new(limit: i64, skip: i64) -> Result<Self, FieldError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new("limit", LIMIT_RULE));
        }
        if skip < 0 {
            return Err(FieldError::new("skip", SKIP_RULE));
        }
        Ok(Self { limit, skip })
    }

    /// Page size.
    pub fn limit(self) -> i64 {
        self.limit
    }

    /// Rows to skip.
    pub fn skip(self) -> i64 {
        self.skip
    }
}

/// A title search: a literal substring, matched without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search(String);

impl Search {
    /// Validates a search; an empty search is no search.
    ///
    /// # Errors
    /// A [`FieldError`] naming `search` for a NUL character.
    pub fn parse(raw: &str) -> Result<Option<Self>, FieldError> {
        if raw.contains('\0') {
            return Err(FieldError::nul("search"));
        }
        Ok((!raw.is_empty()).then(|| Self(raw.to_owned())))
    }

    /// The substring as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `title` contains this search, without regard to case.
    pub fn matches(&self, title: &str) -> bool {
        contains_ignore_case(title, &self.0)
    }
}

/// Title text as search compares it: Rust's lower case, whatever a
/// database's locale says. The one home of the rule: the memory store
/// matches with it and the PostgreSQL store stores and searches its output.
pub fn fold_title(text: &str) -> String {
    text.to_lowercase()
}

/// Case-insensitive substring test ([`fold_title`] on both sides) that
/// avoids allocating for ASCII text, where it is ASCII case folding.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    fold_title(haystack).contains(&fold_title(needle))
}

/// Which posts to list: what the viewer may see, a search, a cursor and a
/// page.
#[derive(Debug, Clone)]
pub struct PostFilter {
    /// The visibility rule for the viewer.
    pub visibility: Visibility,
    /// Optional title search.
    pub search: Option<Search>,
    /// The cursor: only posts with an id below it (the page's `skip`
    /// applies after it). A store seeks to it rather than walking to it,
    /// so a page costs the same wherever the cursor is.
    pub before: Option<PostId>,
    /// The page.
    pub page: Page,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_trimmed_and_bounded() {
        assert_eq!(PostTitle::parse("  Hi  ").unwrap().as_str(), "Hi");
        assert_eq!(PostTitle::parse("   ").unwrap_err().field, "title");
        assert!(PostTitle::parse(&"é".repeat(300)).is_ok());
        assert!(PostTitle::parse(&"a".repeat(301)).is_err());
        assert!(PostTitle::parse("a\0b").is_err());
    }

    #[test]
    fn content_is_kept_and_bounded() {
        assert_eq!(PostContent::parse(" x ").unwrap().as_str(), " x ");
        assert!(PostContent::parse("").is_err());
        assert!(PostContent::parse(" \n").is_err());
        assert!(PostContent::parse(&"a".repeat(50_000)).is_ok());
        assert!(PostContent::parse(&"a".repeat(50_001)).is_err());
        assert!(PostContent::parse("\0").is_err());
    }

    #[test]
    fn page_bounds() {
        assert!(Page::new(1, 0).is_ok());
        assert!(Page::new(100, 0).is_ok());
        assert_eq!(Page::new(0, 0).unwrap_err().field, "limit");
        assert_eq!(Page::new(101, 0).unwrap_err().field, "limit");
        assert_eq!(Page::new(10, -1).unwrap_err().field, "skip");
    }

    #[test]
    fn search_is_literal_and_case_insensitive() {
        let s = Search::parse("50%_A").unwrap().unwrap();
        assert!(s.matches("get 50%_all now"));
        assert!(!s.matches("get 50 percent all"));
        assert!(Search::parse("").unwrap().is_none());
        assert!(Search::parse("a\0").is_err());
        let s = Search::parse("ÉTÉ").unwrap().unwrap();
        assert!(s.matches("un été chaud"));
    }
}
