//! The API's one route table: method, path template and who may call it.
//!
//! Everything that knows the API's routes reads them from [`ROUTES`]: the API function's router,
//! the local stack's edge (which selects the route and builds the event's `routeKey` and
//! `pathParameters` as API Gateway does) and Terraform's `aws_apigatewayv2_route`s (exported by
//! `cargo xtask tfvars` as the `api_routes` variable, each with its authorization).
//!
//! Path templates use API Gateway's syntax: `{name}` matches one non-empty segment, `{name+}`
//! (greedy, last segment only) matches the non-empty rest of the path.

use std::collections::BTreeMap;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: no token is checked.
    Public,
    /// A signed-in user: the JWT authorizer must accept the request's access token first.
    SignedIn,
}

/// What a route does in the API function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/uploads`: a pre-signed upload.
    CreateUpload,
    /// `GET /api/images`: the caller's images, newest first.
    ListImages,
    /// `GET /api/images/{id}`: one image's status.
    GetImage,
    /// `PATCH /api/images/{id}`: the image's title, description and tags.
    EditImage,
    /// `DELETE /api/images/{id}`: the image's item goes at once; the table's stream then has
    /// its upload (every version) and renditions removed.
    DeleteImage,
    /// `GET /api/images/{id}/content?size&format`: a `302` to the rendition of a named size, or
    /// to a short-lived pre-signed download of the original.
    ImageContent,
    /// `POST /api/albums`: a new album.
    CreateAlbum,
    /// `GET /api/albums`: the caller's albums with their counts and covers.
    ListAlbums,
    /// `GET /api/albums/{id}`: one album.
    GetAlbum,
    /// `PATCH /api/albums/{id}`: renames an album.
    EditAlbum,
    /// `DELETE /api/albums/{id}`: the album goes; its photos stay.
    DeleteAlbum,
    /// `PUT /api/albums/{id}/photos/{imageId}`: adds a photo to an album (idempotent).
    AddToAlbum,
    /// `DELETE /api/albums/{id}/photos/{imageId}`: takes a photo out of an album (idempotent).
    RemoveFromAlbum,
    /// `GET /api/account`: the caller's totals, or how far their account's deletion is.
    GetAccount,
    /// `GET /api/account/export`: everything stored about the caller, as one JSON document.
    ExportAccount,
    /// `DELETE /api/account`: `202`, then every item, object and rendition of the caller goes,
    /// and their sign-in account with them.
    DeleteAccount,
    /// `GET /api/config`: the limits the page checks files against.
    Config,
    /// `ANY /api/{proxy+}`: anything else under `/api/`, answered by the function with its JSON
    /// `404` or `405` rather than API Gateway's bare `404`.
    Fallback,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`…, or `ANY`.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// Whether the authorizer runs first.
    pub access: Access,
    /// What the function does with it.
    pub endpoint: Endpoint,
}

/// Every route of the API. Route keys are unique; the function serves them all.
pub const ROUTES: [Route; 18] = [
    Route {
        method: "POST",
        path: "/api/uploads",
        access: Access::SignedIn,
        endpoint: Endpoint::CreateUpload,
    },
    Route { method: "GET", path: "/api/images", access: Access::SignedIn, endpoint: Endpoint::ListImages },
    Route { method: "GET", path: "/api/images/{id}", access: Access::SignedIn, endpoint: Endpoint::GetImage },
    Route {
        method: "PATCH",
        path: "/api/images/{id}",
        access: Access::SignedIn,
        endpoint: Endpoint::EditImage,
    },
    Route {
        method: "DELETE",
        path: "/api/images/{id}",
        access: Access::SignedIn,
        endpoint: Endpoint::DeleteImage,
    },
    Route {
        method: "GET",
        path: "/api/images/{id}/content",
        access: Access::SignedIn,
        endpoint: Endpoint::ImageContent,
    },
    Route { method: "POST", path: "/api/albums", access: Access::SignedIn, endpoint: Endpoint::CreateAlbum },
    Route { method: "GET", path: "/api/albums", access: Access::SignedIn, endpoint: Endpoint::ListAlbums },
    Route { method: "GET", path: "/api/albums/{id}", access: Access::SignedIn, endpoint: Endpoint::GetAlbum },
    Route {
        method: "PATCH",
        path: "/api/albums/{id}",
        access: Access::SignedIn,
        endpoint: Endpoint::EditAlbum,
    },
    Route {
        method: "DELETE",
        path: "/api/albums/{id}",
        access: Access::SignedIn,
        endpoint: Endpoint::DeleteAlbum,
    },
    Route {
        method: "PUT",
        path: "/api/albums/{id}/photos/{imageId}",
        access: Access::SignedIn,
        endpoint: Endpoint::AddToAlbum,
    },
    Route {
        method: "DELETE",
        path: "/api/albums/{id}/photos/{imageId}",
        access: Access::SignedIn,
        endpoint: Endpoint::RemoveFromAlbum,
    },
    Route { method: "GET", path: "/api/account", access: Access::SignedIn, endpoint: Endpoint::GetAccount },
    Route {
        method: "GET",
        path: "/api/account/export",
        access: Access::SignedIn,
        endpoint: Endpoint::ExportAccount,
    },
    Route {
        method: "DELETE",
        path: "/api/account",
        access: Access::SignedIn,
        endpoint: Endpoint::DeleteAccount,
    },
    Route { method: "GET", path: "/api/config", access: Access::Public, endpoint: Endpoint::Config },
    Route { method: "ANY", path: "/api/{proxy+}", access: Access::SignedIn, endpoint: Endpoint::Fallback },
];

/// A route selected for a request, with the path parameters it bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The route.
    pub route: Route,
    /// `{name}` → the segment it matched, exactly as it appears in the path (not decoded).
    pub parameters: BTreeMap<&'static str, String>,
}

impl Route {
    /// `METHOD /path`, API Gateway's route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters when `path` matches this route's template; `None` otherwise.
    pub fn bind(&self, path: &str) -> Option<BTreeMap<&'static str, String>> {
        let mut rest = path.strip_prefix('/')?;
        let mut parameters = BTreeMap::new();
        let mut templates = self.path.strip_prefix('/')?.split('/').peekable();
        while let Some(template) = templates.next() {
            let greedy = template.strip_prefix('{').and_then(|t| t.strip_suffix("+}"));
            if let Some(name) = greedy {
                if rest.is_empty() || templates.peek().is_some() {
                    return None;
                }
                parameters.insert(name, rest.to_owned());
                return Some(parameters);
            }
            let (segment, after) = match rest.split_once('/') {
                Some((segment, after)) => (segment, Some(after)),
                None => (rest, None),
            };
            match template.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => {
                    parameters.insert(name, segment.to_owned());
                }
                Some(_) => return None,
                None if template == segment => {}
                None => return None,
            }
            match (after, templates.peek()) {
                (None, None) => return Some(parameters),
                (Some(after), Some(_)) => rest = after,
                _ => return None,
            }
        }
        None
    }

    /// How specific the template is, for API Gateway's "most specific route wins": literal
    /// segments beat parameters, which beat a greedy parameter.
    fn specificity(&self) -> (bool, usize, usize) {
        let segments: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let greedy = segments.iter().any(|s| s.ends_with("+}"));
        let literal = segments.iter().filter(|s| !s.starts_with('{')).count();
        (!greedy, segments.len(), literal)
    }
}

/// The route API Gateway selects for `method` and `path`: the most specific template that
/// matches, and among equally specific ones a route for the method itself over `ANY`. `None`
/// when no route matches (API Gateway then answers `404 {"message":"Not Found"}` itself).
pub fn select(method: &str, path: &str) -> Option<Selected> {
    ROUTES
        .iter()
        .filter(|route| route.method == method || route.method == "ANY")
        .filter_map(|route| route.bind(path).map(|parameters| (route, parameters)))
        .max_by_key(|(route, _)| (route.specificity(), route.method != "ANY"))
        .map(|(route, parameters)| Selected { route: *route, parameters })
}

/// What the function makes of a request, whatever route API Gateway selected: the endpoint
/// route for the method and path, or the methods the path allows (for a `405`), or nothing (a
/// `404`). The fallback route is never an answer here: it is how such requests reach the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A route serves this method and path.
    Found(Selected),
    /// The path exists, not with this method; these are the methods it has, in table order.
    MethodNotAllowed(Vec<&'static str>),
    /// No route has this path.
    NotFound,
}

/// Resolves a request against the endpoint routes (every route but [`Endpoint::Fallback`]).
pub fn resolve(method: &str, path: &str) -> Resolution {
    let mut allowed = Vec::new();
    let mut best: Option<Selected> = None;
    for route in ROUTES.iter().filter(|r| r.endpoint != Endpoint::Fallback) {
        let Some(parameters) = route.bind(path) else { continue };
        if route.method == method || route.method == "ANY" {
            let better = best.as_ref().is_none_or(|b| route.specificity() > b.route.specificity());
            if better {
                best = Some(Selected { route: *route, parameters });
            }
        } else if !allowed.contains(&route.method) {
            allowed.push(route.method);
        }
    }
    match best {
        Some(selected) => Resolution::Found(selected),
        None if allowed.is_empty() => Resolution::NotFound,
        None => Resolution::MethodNotAllowed(allowed),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn selected(method: &str, path: &str) -> Option<(String, Vec<(&'static str, String)>)> {
        select(method, path).map(|s| (s.route.key(), s.parameters.into_iter().collect()))
    }

    #[test]
    fn route_keys_are_unique_and_well_formed() {
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTES.len());
        for route in ROUTES {
            assert!(route.path.starts_with("/api/"), "{}", route.key());
            assert!(["GET", "POST", "DELETE", "PUT", "PATCH", "ANY"].contains(&route.method));
        }
        // Only the page's configuration is public: it is what the page reads before sign-in.
        let public: Vec<String> =
            ROUTES.iter().filter(|r| r.access == Access::Public).map(Route::key).collect();
        assert_eq!(public, ["GET /api/config"]);
    }

    #[test]
    fn templates_bind_segments_as_api_gateway_does() {
        let image = ROUTES.iter().find(|r| r.endpoint == Endpoint::GetImage).unwrap();
        assert_eq!(image.bind("/api/images/abc").unwrap()["id"], "abc");
        assert_eq!(image.bind("/api/images/a%2Fb").unwrap()["id"], "a%2Fb");
        for path in ["/api/images/", "/api/images", "/api/images/a/b", "/api/images//", "api/images/a"] {
            assert_eq!(image.bind(path), None, "{path}");
        }
        let fallback = ROUTES.iter().find(|r| r.endpoint == Endpoint::Fallback).unwrap();
        assert_eq!(fallback.bind("/api/a/b/c").unwrap()["proxy"], "a/b/c");
        assert_eq!(fallback.bind("/api/images/").unwrap()["proxy"], "images/");
        assert_eq!(fallback.bind("/api/"), None);
        assert_eq!(fallback.bind("/api"), None);
        assert_eq!(fallback.bind("/apis/x"), None);
    }

    #[test]
    fn the_most_specific_route_is_selected() {
        assert_eq!(selected("POST", "/api/uploads"), Some(("POST /api/uploads".into(), vec![])));
        assert_eq!(selected("GET", "/api/images"), Some(("GET /api/images".into(), vec![])));
        assert_eq!(
            selected("GET", "/api/images/0190"),
            Some(("GET /api/images/{id}".into(), vec![("id", "0190".into())]))
        );
        assert_eq!(selected("GET", "/api/config"), Some(("GET /api/config".into(), vec![])));
        // Another method on a known path, or an unknown path: the greedy fallback.
        assert_eq!(
            selected("PUT", "/api/uploads"),
            Some(("ANY /api/{proxy+}".into(), vec![("proxy", "uploads".into())]))
        );
        assert_eq!(
            selected("GET", "/api/images/a/b"),
            Some(("ANY /api/{proxy+}".into(), vec![("proxy", "images/a/b".into())]))
        );
        // Nothing at all under /api itself.
        assert_eq!(selected("GET", "/api"), None);
        assert_eq!(selected("GET", "/api/"), None);
        assert_eq!(selected("GET", "/"), None);
    }

    #[test]
    fn the_function_resolves_methods_and_paths() {
        let found = |method: &str, path: &str| match resolve(method, path) {
            Resolution::Found(s) => Some(s.route.endpoint),
            _ => None,
        };
        assert_eq!(found("POST", "/api/uploads"), Some(Endpoint::CreateUpload));
        assert_eq!(found("GET", "/api/images"), Some(Endpoint::ListImages));
        assert_eq!(found("GET", "/api/images/x"), Some(Endpoint::GetImage));
        assert_eq!(found("DELETE", "/api/images/x"), Some(Endpoint::DeleteImage));
        assert_eq!(found("PATCH", "/api/images/x"), Some(Endpoint::EditImage));
        assert_eq!(found("GET", "/api/config"), Some(Endpoint::Config));
        assert_eq!(resolve("GET", "/api/uploads"), Resolution::MethodNotAllowed(vec!["POST"]));
        assert_eq!(
            resolve("POST", "/api/images/x"),
            Resolution::MethodNotAllowed(vec!["GET", "PATCH", "DELETE"])
        );
        assert_eq!(resolve("DELETE", "/api/images"), Resolution::MethodNotAllowed(vec!["GET"]));
        for path in ["/api/nothing", "/api/images/a/b", "/api/uploads/", "/API/uploads", "/api//images", "/"]
        {
            assert_eq!(resolve("GET", path), Resolution::NotFound, "{path}");
        }
    }
}
