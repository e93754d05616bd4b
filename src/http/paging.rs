//! The `Link` header (RFC 8288) from a full page to the next one: the same
//! query with the cursor set to the page's last id and `skip` dropped.

use std::fmt::Write;

/// The `Link: <...>; rel="next"` value for a list at `path` (the route's
/// documented path) whose page of `limit` came back full, ending at
/// `last`: `limit` and `search` (if any) kept, then `cursor=last`. `None`
/// for a short page, which has no next one.
pub fn next_link(
    path: &str,
    limit: i64,
    returned: usize,
    search: Option<&str>,
    cursor: &str,
    last: Option<i64>,
) -> Option<String> {
    let last = last.filter(|_| i64::try_from(returned).is_ok_and(|n| n >= limit))?;
    let mut link = format!("<{path}?limit={limit}");
    if let Some(search) = search.filter(|s| !s.is_empty()) {
        link.push_str("&search=");
        push_encoded(&mut link, search);
    }
    let _ = write!(link, "&{cursor}={last}>; rel=\"next\"");
    Some(link)
}

/// Appends `value` percent-encoded as a URL query value: every byte of its
/// UTF-8 but the unreserved characters of RFC 3986 as `%XX`.
fn push_encoded(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_links_to_the_next() {
        assert_eq!(
            next_link("/posts", 10, 10, Some("rust"), "before", Some(4711)).as_deref(),
            Some("</posts?limit=10&search=rust&before=4711>; rel=\"next\"")
        );
        assert_eq!(
            next_link("/users", 2, 2, None, "after", Some(7)).as_deref(),
            Some("</users?limit=2&after=7>; rel=\"next\"")
        );
        assert_eq!(
            next_link("/posts", 3, 3, Some(""), "before", Some(5)).as_deref(),
            Some("</posts?limit=3&before=5>; rel=\"next\""),
            "an empty search is no search"
        );
    }

    #[test]
    fn a_short_page_has_no_next() {
        assert_eq!(next_link("/posts", 10, 9, None, "before", Some(3)), None);
        assert_eq!(next_link("/posts", 1, 0, None, "before", None), None);
    }

    #[test]
    fn search_is_percent_encoded() {
        let link = next_link("/posts", 1, 1, Some("a b%&é=+<>"), "before", Some(2)).unwrap();
        assert_eq!(
            link,
            "</posts?limit=1&search=a%20b%25%26%C3%A9%3D%2B%3C%3E&before=2>; rel=\"next\""
        );
    }
}
