//! Path normalisation, as poem's `NormalizePath` with `TrailingSlash::Trim`
//! did it: trailing slashes trimmed, runs of slashes merged, an empty path
//! made `/`; the query kept. Without its per-request regex and copy: a
//! path already normal (nearly all) is left as it is.

use poem::Request;
use poem::http::Uri;
use poem::http::uri::PathAndQuery;

/// The normal form of `path`, if it differs from it.
fn normal(path: &str) -> Option<String> {
    let trailing = path.len() > 1 && path.ends_with('/');
    // A byte loop: `contains("//")` runs a substring searcher (some 200
    // instructions on every request).
    let doubled = path.as_bytes().windows(2).any(|w| w == b"//");
    if !trailing && !doubled {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for c in path.trim_end_matches('/').chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    (out != path).then_some(out)
}

/// Rewrites the request's URI to its normal path.
pub fn normalize(req: &mut Request) {
    let Some(pq) = req.uri().path_and_query() else {
        return;
    };
    let Some(path) = normal(pq.path()) else {
        return;
    };
    let path_and_query = match pq.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = PathAndQuery::from_maybe_shared(path_and_query).ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_merges_as_poem_did() {
        assert_eq!(normal("/posts"), None);
        assert_eq!(normal("/"), None);
        assert_eq!(normal("/posts/").as_deref(), Some("/posts"));
        assert_eq!(normal("//posts//7///").as_deref(), Some("/posts/7"));
        assert_eq!(normal("///").as_deref(), Some("/"));
    }

    #[test]
    fn keeps_the_query() {
        let mut req = Request::builder().uri_str("/posts/?limit=2").finish();
        normalize(&mut req);
        assert_eq!(req.uri().to_string(), "/posts?limit=2");
    }
}
