//! Metric and log labels drawn from a request: a fixed set of methods and
//! the documented route templates, never anything a client wrote, so that
//! no client can mint labels (or put an id, email or token in one).

use poem::http::Method;

use crate::http::allow::AllowTable;

/// The methods the service serves, as labels; any other method is `other`.
pub fn method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    }
}

/// Routes served outside the OpenAPI document, by poem's pattern (or its
/// prefix: Swagger UI's page and files are all `/docs`). The application
/// serves them with a router of their own (`http::Dispatch`).
const UNDOCUMENTED_ROUTES: [&str; 3] = ["/docs", "/openapi.json", "/metrics"];

/// The undocumented route `path` (a pattern or a request path) falls under.
fn undocumented(path: &str) -> Option<&'static str> {
    UNDOCUMENTED_ROUTES.into_iter().find(|r| {
        path.strip_prefix(r)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Whether a request path falls under one of the [`UNDOCUMENTED_ROUTES`].
pub fn is_undocumented(path: &str) -> bool {
    undocumented(path).is_some()
}

/// The route label of a request path: what its log lines, its access
/// line and the metrics name.
#[cfg(test)]
fn route_of_path<'a>(allow: &'a AllowTable, path: &str) -> &'a str {
    of_path(allow, path).0
}

/// The route label of a request path (the documented template it falls
/// under, one of the undocumented routes, or `unmatched`), and the methods
/// the path takes if it is documented (the `Allow` header of a 405).
/// Known before routing, so every answer is labelled alike: a CORS
/// preflight, a 431 or a 405 as well as the handler's own.
pub fn of_path<'a>(allow: &'a AllowTable, path: &str) -> (&'a str, Option<&'a str>) {
    match allow.of_path(path) {
        Some((template, methods)) => (template, Some(methods)),
        None => (undocumented(path).unwrap_or("unmatched"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_templates_and_nothing_else() {
        let table = AllowTable::from_spec(&crate::http::openapi_json());
        assert_eq!(route_of_path(&table, "/posts/42"), "/posts/{id}");
        assert_eq!(route_of_path(&table, "/docs"), "/docs");
        assert_eq!(route_of_path(&table, "/docs/oauth-receiver.html"), "/docs");
        assert_eq!(route_of_path(&table, "/docsx"), "unmatched");
        assert_eq!(route_of_path(&table, "/alice@example.com"), "unmatched");
    }
}
