//! The API's routes: poem-openapi's operations served without the layers
//! its own endpoint puts around each request ([`api_routes`]), and their
//! operation ids ([`Named`]).

use std::collections::{HashMap, HashSet};

use futures_util::future::Either;
use poem::endpoint::{BoxEndpoint, DynEndpoint};
use poem::http::Method;
use poem::{Endpoint, Route};
// Reachable only through `__private` (what its derive macros name): the
// type the operations read their query parameters from.
use poem_openapi::__private::UrlQuery;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, MetaParamIn, Registry};

/// Every operation's id in the document, by method and path. Kept here
/// rather than as `operation_id` in each `#[oai]`: poem-openapi wraps an
/// operation that names its id in one more layer, run on every request,
/// that only stores the id in the response's extensions (one async layer
/// and an allocation per request; nothing reads it). [`Named`] writes them
/// into the document; it refuses an operation without one, an id twice,
/// or an entry that names no operation.
const OPERATION_IDS: [(Method, &str, &str); 23] = [
    (Method::POST, "/login", "login"),
    (Method::POST, "/logout", "logout"),
    (Method::POST, "/logout/all", "logout_all"),
    (Method::POST, "/users", "create_user"),
    (Method::GET, "/users", "list_users"),
    (Method::GET, "/profile", "profile"),
    (Method::GET, "/users/me", "get_me"),
    (Method::PUT, "/users/me/password", "change_password"),
    (Method::GET, "/users/{id}", "get_user"),
    (Method::DELETE, "/users/{id}", "delete_user"),
    (Method::PATCH, "/users/{id}/role", "set_user_role"),
    (Method::GET, "/sessions", "list_sessions"),
    (Method::DELETE, "/sessions/{id}", "end_session"),
    (Method::DELETE, "/users/{id}/sessions", "end_user_sessions"),
    (Method::GET, "/posts", "list_posts"),
    (Method::POST, "/posts", "create_post"),
    (Method::GET, "/posts/{id}", "get_post"),
    (Method::PUT, "/posts/{id}", "update_post"),
    (Method::DELETE, "/posts/{id}", "delete_post"),
    (Method::POST, "/vote", "vote"),
    (Method::GET, "/", "root"),
    (Method::GET, "/healthz", "healthz"),
    (Method::GET, "/readyz", "readyz"),
];

/// The operations of `A` with their ids from [`OPERATION_IDS`] in the
/// document; the routes are `A`'s own.
#[derive(Default)]
pub(super) struct Named<A>(pub A);

impl<A: OpenApi> OpenApi for Named<A> {
    fn meta() -> Vec<MetaApi> {
        let mut meta = A::meta();
        let mut named = HashSet::new();
        for path in meta.iter_mut().flat_map(|api| api.paths.iter_mut()) {
            for operation in &mut path.operations {
                let (i, id) = OPERATION_IDS
                    .iter()
                    .enumerate()
                    .find(|(_, (method, at, _))| *method == operation.method && *at == path.path)
                    .map(|(i, (_, _, id))| (i, *id))
                    .unwrap_or_else(|| {
                        panic!("no operation id for {} {}", operation.method, path.path)
                    });
                assert!(
                    operation.operation_id.is_none(),
                    "{id}: named in OPERATION_IDS only"
                );
                operation.operation_id = Some(id);
                named.insert(i);
            }
        }
        assert_eq!(named.len(), OPERATION_IDS.len(), "an id names no operation");
        let ids: HashSet<_> = OPERATION_IDS.iter().map(|(_, _, id)| id).collect();
        assert_eq!(ids.len(), OPERATION_IDS.len(), "an operation id twice");
        meta
    }

    fn register(registry: &mut Registry) {
        A::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

/// The API's operations as poem-openapi's `OpenApiService::into_endpoint`
/// routes them (one `Route`, per path the operations by method), minus
/// its layers around each request: the query is extracted by [`Methods`]
/// for the operations that read one, rather than for every request by a
/// `before` layer and a boxed endpoint; and [`Methods`] picks the
/// operation where poem's `RouteMethod` would box each operation's
/// (already boxed) endpoint once more.
pub(super) fn api_routes<A: OpenApi>(apis: A) -> Route {
    let mut queried = HashSet::new();
    for path in A::meta().into_iter().flat_map(|api| api.paths) {
        let key = route_key(&path.path);
        for operation in path.operations {
            let query = operation
                .params
                .iter()
                .any(|p| matches!(p.in_type, MetaParamIn::Query));
            if query {
                queried.insert((key.clone(), operation.method));
            }
        }
    }
    let mut items = HashMap::new();
    apis.add_routes(&mut items);
    for (path, method) in &queried {
        // An operation that reads its query and would not get one panics.
        assert!(
            items.get(path).is_some_and(|ops| ops.contains_key(method)),
            "no route {method} {path}"
        );
    }
    items.into_iter().fold(Route::new(), |route, (path, ops)| {
        let ops = ops
            .into_iter()
            .map(|(method, ep)| {
                let query = queried.contains(&(path.clone(), method.clone()));
                (method, Operation { ep, query })
            })
            .collect();
        route.at(path, Methods { ops })
    })
}

/// The route poem-openapi's `add_routes` gives an operation documented at
/// `path`: each `{name}` segment becomes `:param0`, `:param1`, ...
fn route_key(path: &str) -> String {
    let mut key = String::new();
    let mut params = 0;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        key.push('/');
        if segment.starts_with('{') {
            key.push_str(&format!(":param{params}"));
            params += 1;
        } else {
            key.push_str(segment);
        }
    }
    if key.is_empty() {
        key.push('/');
    }
    key
}

/// One operation's endpoint, and whether it reads the request's query.
struct Operation {
    ep: BoxEndpoint<'static>,
    query: bool,
}

impl Operation {
    /// The operation's own (boxed) future, not one more around it; the
    /// query first where it reads one (its `Query` parameters look it up,
    /// as poem-openapi's own endpoint puts it).
    #[inline]
    fn call(&self, mut req: poem::Request) -> impl Future<Output = poem::Result<poem::Response>> {
        if self.query {
            let query: Vec<(String, String)> = req.params().unwrap_or_default();
            req.extensions_mut().insert(UrlQuery(query));
        }
        // Through `DynEndpoint`: `Endpoint::call` on the box would wrap its
        // future in two async layers (`Box`, `dyn`), each moving the request.
        DynEndpoint::call(&*self.ep, req)
    }
}

/// One path's operations by method, as poem's `RouteMethod` answers: the
/// operation of the request's method; `HEAD` without one of its own is
/// the `GET` operation without its body; any other method is 405 (the
/// observation layer adds `Allow`).
struct Methods {
    ops: Vec<(Method, Operation)>,
}

impl Methods {
    fn find(&self, method: &Method) -> Option<&Operation> {
        self.ops.iter().find(|(m, _)| m == method).map(|(_, op)| op)
    }
}

impl Endpoint for Methods {
    type Output = poem::Response;

    fn call(
        &self,
        mut req: poem::Request,
    ) -> impl Future<Output = poem::Result<Self::Output>> + Send {
        // The rare answers boxed, as in `RouteMethod`: this future stays
        // the operation's, not one the size of a request beside it.
        match self.find(req.method()) {
            Some(op) => Either::Left(op.call(req)),
            None => Either::Right(Box::pin(async move {
                let get = self
                    .find(&Method::GET)
                    .filter(|_| req.method() == Method::HEAD);
                let Some(op) = get else {
                    return Err(poem::error::MethodNotAllowedError.into());
                };
                req.set_method(Method::GET);
                let mut resp = op.call(req).await?;
                resp.set_body(());
                Ok(resp)
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_keys_are_poem_openapis() {
        assert_eq!(super::route_key("/posts/{id}"), "/posts/:param0");
        assert_eq!(super::route_key("/users/{id}/role"), "/users/:param0/role");
        assert_eq!(super::route_key("/a/{x}/b/{y}"), "/a/:param0/b/:param1");
        assert_eq!(super::route_key("/"), "/");
        assert_eq!(super::route_key("/posts"), "/posts");
    }

    #[test]
    fn every_operation_is_named_once() {
        let meta = <super::Named<crate::http::Apis> as poem_openapi::OpenApi>::meta();
        let ids: Vec<_> = meta
            .iter()
            .flat_map(|api| &api.paths)
            .flat_map(|path| &path.operations)
            .map(|op| op.operation_id)
            .collect();
        assert_eq!(ids.len(), super::OPERATION_IDS.len());
        assert!(ids.iter().all(Option::is_some), "{ids:?}");
    }
}
