//! The `Allow` header of a 405 answer (RFC 9110 15.5.6): which methods the
//! path takes, read once from the generated OpenAPI document.

/// Path templates and their methods.
#[derive(Debug, Default)]
pub struct AllowTable {
    routes: Vec<(Vec<Segment>, String)>,
}

#[derive(Debug, PartialEq)]
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
        let routes = paths
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
                (segments, methods.join(", "))
            })
            .collect();
        Self { routes }
    }

    /// The methods `path` takes, if it is a known path.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = split(path).collect();
        self.routes
            .iter()
            .find(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Param => true,
                        Segment::Literal(l) => l == p,
                    })
            })
            .map(|(_, methods)| methods.as_str())
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates() {
        let table = AllowTable::from_spec(&crate::http::openapi_json());
        assert_eq!(table.allowed("/posts"), Some("GET, POST"));
        assert_eq!(table.allowed("/posts/7/"), Some("DELETE, GET, PUT"));
        assert_eq!(table.allowed("/users/7/role"), Some("PATCH"));
        assert_eq!(table.allowed("/"), Some("GET"));
        assert_eq!(table.allowed("/nope"), None);
    }
}
