//! The routes of the generated OpenAPI document, read once: the `Allow`
//! header of a 405 answer (RFC 9110 15.5.6), and the path template a
//! request matched, for logs and metrics.

/// Path templates and their methods.
#[derive(Debug, Default)]
pub struct AllowTable {
    /// Segments, comma-separated methods, the template as documented.
    routes: Vec<(Vec<Segment>, String, String)>,
}

/// Ordered literal first: a route with a literal where another has a
/// parameter sorts (and is matched) before it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Literal(String),
    Param,
}

impl AllowTable {
    /// The table of an OpenAPI document (`paths` keys like `/posts/{id}`).
    pub fn from_spec(spec: &str) -> Self {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(spec) else {
            return Self::default();
        };
        let Some(paths) = doc["paths"].as_object() else {
            return Self::default();
        };
        let mut routes = paths
            .iter()
            .map(|(path, ops)| {
                let segments = split(path)
                    .map(|s| {
                        if s.starts_with('{') {
                            Segment::Param
                        } else {
                            Segment::Literal(s.to_owned())
                        }
                    })
                    .collect();
                let mut methods: Vec<String> = ops
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .map(|m| m.to_uppercase())
                    .collect();
                methods.sort();
                (segments, methods.join(", "), path.clone())
            })
            .collect::<Vec<(Vec<Segment>, String, String)>>();
        // `/users/me` before `/users/{id}`, as poem's router prefers it.
        routes.sort();
        for (segments, _, path) in &routes {
            assert!(segments.len() < MAX_SEGMENTS, "{path}: too deep");
        }
        Self { routes }
    }

    /// Every method some route takes (`DELETE`, `GET`, ...), sorted: what
    /// a CORS preflight may be granted, and nothing more.
    pub fn methods(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .routes
            .iter()
            .flat_map(|(_, methods, _)| methods.split(", "))
            .map(str::to_owned)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The documented template (`/posts/{id}`) a request path (`/posts/7`)
    /// falls under and the methods it takes, if it is a documented path.
    pub fn of_path(&self, path: &str) -> Option<(&str, &str)> {
        self.find(path)
            .map(|(_, methods, template)| (template.as_str(), methods.as_str()))
    }

    /// The route whose segments fit `path`, a literal segment preferred to
    /// a parameter (`/users/me` over `/users/{id}`). Allocates nothing: it runs
    /// on every request. The path is split once, and a route of another
    /// length is passed over without comparing a segment.
    fn find(&self, path: &str) -> Option<&(Vec<Segment>, String, String)> {
        let mut parts = [""; MAX_SEGMENTS];
        let mut n = 0;
        for part in split(path) {
            // Deeper than any route (all are shallower than the array).
            let slot = parts.get_mut(n)?;
            *slot = part;
            n += 1;
        }
        let parts = &parts[..n];
        self.routes.iter().find(|(segments, _, _)| {
            segments.len() == n
                && segments.iter().zip(parts).all(|(s, p)| match s {
                    Segment::Param => true,
                    Segment::Literal(l) => l == p,
                })
        })
    }
}

/// More path segments than any documented route has (`from_spec`
/// asserts it).
const MAX_SEGMENTS: usize = 8;

/// The non-empty segments of `path`. A plain byte loop: `str::split`
/// with its searcher cost some 200 instructions a request here.
fn split(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        loop {
            let (segment, after) = match rest.bytes().position(|b| b == b'/') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None if rest.is_empty() => return None,
                None => (rest, ""),
            };
            rest = after;
            if !segment.is_empty() {
                return Some(segment);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_the_non_empty_segments() {
        let parts = |path| split(path).collect::<Vec<_>>();
        assert_eq!(parts("/posts/7"), ["posts", "7"]);
        assert_eq!(parts("//a///b/"), ["a", "b"]);
        assert_eq!(parts("a"), ["a"]);
        assert!(parts("/").is_empty());
        assert!(parts("").is_empty());
    }

    #[test]
    fn matches_templates() {
        let table = AllowTable::from_spec(&crate::http::openapi_json());
        let allowed = |path| table.of_path(path).map(|(_, methods)| methods);
        assert_eq!(allowed("/posts"), Some("GET, POST"));
        assert_eq!(allowed("/posts/7/"), Some("DELETE, GET, PUT"));
        assert_eq!(allowed("/users/7/role"), Some("PATCH"));
        assert_eq!(allowed("/"), Some("GET"));
        assert_eq!(allowed("/nope"), None);
        let template = |path| table.of_path(path).map(|(template, _)| template);
        assert_eq!(template("/users/me"), Some("/users/me"));
        assert_eq!(template("/users/7"), Some("/users/{id}"));
        assert_eq!(template("/users/7/sessions"), Some("/users/{id}/sessions"));
    }
}
