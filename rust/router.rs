//! Route table compiled once at start-up: one matchit tree per method, plus a
//! method-agnostic tree that answers "which methods does this path allow" for 405s.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use matchit::Router;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

use crate::policy::gate::PolicyCore;

/// A route path or registration the table refuses (ValueError).
#[derive(Debug)]
pub enum RouteError {
    Unclosed {
        path: String,
    },
    ParamName {
        name: String,
        path: String,
    },
    PathNotLast {
        name: String,
        path: String,
    },
    Converter {
        converter: String,
        path: String,
    },
    Conflict {
        method: String,
        path: String,
        error: matchit::InsertError,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unclosed { path } => write!(f, "unclosed '{{' in route path {path:?}"),
            Self::ParamName { name, path } => {
                write!(f, "invalid parameter name {name:?} in route path {path:?}")
            }
            Self::PathNotLast { name, path } => write!(
                f,
                "a {{{name}:path}} parameter must end the route path {path:?}"
            ),
            Self::Converter { converter, path } => write!(
                f,
                "unknown parameter converter {converter:?} in route path {path:?}"
            ),
            Self::Conflict {
                method,
                path,
                error,
            } => write!(f, "cannot add route {method} {path}: {error}"),
        }
    }
}

impl std::error::Error for RouteError {}

impl From<RouteError> for PyErr {
    fn from(e: RouteError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

/// What the Python side registered for one (method, path) pair.
#[derive(Clone)]
pub struct RouteTarget {
    pub route_id: u32,
    /// Sync handlers run on the blocking worker pool, async ones on the event loop.
    pub blocking: bool,
    /// CORS, rate limit, authentication, guards and compression for this route.
    pub policy: Option<Arc<PolicyCore>>,
}

impl PartialEq for RouteTarget {
    fn eq(&self, other: &Self) -> bool {
        self.route_id == other.route_id && self.blocking == other.blocking
    }
}

impl Eq for RouteTarget {}

impl std::fmt::Debug for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTarget")
            .field("route_id", &self.route_id)
            .field("blocking", &self.blocking)
            .field("policy", &self.policy.is_some())
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Found {
        target: &'a RouteTarget,
        params: Vec<(String, String)>,
    },
    MethodNotAllowed {
        allow: &'a str,
    },
    NotFound,
}

#[derive(Default)]
pub struct RouteTable {
    by_method: HashMap<String, Router<RouteTarget>>,
    /// Path pattern -> index into `allowed`.
    paths: Router<usize>,
    allowed: Vec<(Vec<String>, String)>,
    pattern_index: HashMap<String, usize>,
    /// Route id -> the path it was registered with (the metrics' route label).
    labels: Vec<String>,
}

/// The pseudo-method WebSocket routes are registered under.
pub const WEBSOCKET: &str = "WEBSOCKET";

/// Converts the user-facing `{name}` / `{name:path}` syntax to matchit's
/// `{name}` / `{*name}` syntax.
pub fn to_matchit_pattern(path: &str) -> Result<String, RouteError> {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| RouteError::Unclosed {
                path: path.to_owned(),
            })?
            + start;
        let inner = &rest[start + 1..end];
        let (name, kind) = match inner.split_once(':') {
            Some((n, k)) => (n, k),
            None => (inner, ""),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(RouteError::ParamName {
                name: name.to_owned(),
                path: path.to_owned(),
            });
        }
        match kind {
            "path" => {
                if end + 1 != rest.len() {
                    return Err(RouteError::PathNotLast {
                        name: name.to_owned(),
                        path: path.to_owned(),
                    });
                }
                out.push_str("{*");
                out.push_str(name);
                out.push('}');
            }
            "" | "int" | "str" | "float" | "uuid" | "bool" => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
            other => {
                return Err(RouteError::Converter {
                    converter: other.to_owned(),
                    path: path.to_owned(),
                })
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The path a route was registered with.
    pub fn label(&self, route_id: u32) -> &str {
        self.labels
            .get(route_id as usize)
            .map_or("", String::as_str)
    }

    pub fn insert(
        &mut self,
        method: &str,
        path: &str,
        target: RouteTarget,
    ) -> Result<(), RouteError> {
        let method = method.to_ascii_uppercase();
        let pattern = to_matchit_pattern(path)?;
        let id = target.route_id as usize;
        if self.labels.len() <= id {
            self.labels.resize(id + 1, String::new());
        }
        self.labels[id] = path.to_owned();
        self.by_method
            .entry(method.clone())
            .or_default()
            .insert(pattern.clone(), target)
            .map_err(|error| RouteError::Conflict {
                method: method.clone(),
                path: path.to_owned(),
                error,
            })?;
        if method == WEBSOCKET {
            // WebSocket routes answer upgrades only; HTTP methods on the path are unaffected.
            return Ok(());
        }
        let idx = match self.pattern_index.get(&pattern) {
            Some(&idx) => idx,
            None => {
                let idx = self.allowed.len();
                self.paths
                    .insert(pattern.clone(), idx)
                    .map_err(|error| RouteError::Conflict {
                        method: method.clone(),
                        path: path.to_owned(),
                        error,
                    })?;
                self.pattern_index.insert(pattern, idx);
                self.allowed.push((Vec::new(), String::new()));
                idx
            }
        };
        let (methods, header) = &mut self.allowed[idx];
        if !methods.contains(&method) {
            methods.push(method);
            let mut implied: Vec<String> = methods.clone();
            if implied.iter().any(|m| m == "GET") && !implied.iter().any(|m| m == "HEAD") {
                implied.push("HEAD".to_string());
            }
            implied.sort();
            *header = implied.join(", ");
        }
        Ok(())
    }

    pub fn lookup(&self, method: &str, path: &str) -> Lookup<'_> {
        if let Some(found) = self.find(method, path) {
            return found;
        }
        // HEAD falls back to the GET handler; the HTTP layer drops the body.
        if method == "HEAD" {
            if let Some(found) = self.find("GET", path) {
                return found;
            }
        }
        match self.paths.at(path) {
            Ok(m) => Lookup::MethodNotAllowed {
                allow: &self.allowed[*m.value].1,
            },
            Err(_) => Lookup::NotFound,
        }
    }

    fn find(&self, method: &str, path: &str) -> Option<Lookup<'_>> {
        let router = self.by_method.get(method)?;
        let m = router.at(path).ok()?;
        let params = m
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Lookup::Found {
            target: m.value,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: u32) -> RouteTarget {
        RouteTarget {
            route_id: id,
            blocking: false,
            policy: None,
        }
    }

    #[test]
    fn converts_parameter_syntax() {
        assert_eq!(to_matchit_pattern("/users/{id}").unwrap(), "/users/{id}");
        assert_eq!(to_matchit_pattern("/u/{id:int}/x").unwrap(), "/u/{id}/x");
        assert_eq!(
            to_matchit_pattern("/files/{rest:path}").unwrap(),
            "/files/{*rest}"
        );
        assert!(to_matchit_pattern("/files/{rest:path}/more").is_err());
        assert!(to_matchit_pattern("/bad/{id").is_err());
        assert!(to_matchit_pattern("/bad/{i-d}").is_err());
        assert!(to_matchit_pattern("/bad/{id:weird}").is_err());
    }

    #[test]
    fn finds_routes_and_params() {
        let mut t = RouteTable::new();
        t.insert("GET", "/api/users/{id}", target(1)).unwrap();
        t.insert("DELETE", "/api/users/{id}", target(2)).unwrap();
        t.insert("GET", "/api/files/{rest:path}", target(3))
            .unwrap();
        match t.lookup("GET", "/api/users/42") {
            Lookup::Found { target, params } => {
                assert_eq!(target.route_id, 1);
                assert_eq!(params, vec![("id".to_string(), "42".to_string())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        match t.lookup("GET", "/api/files/a/b/c.txt") {
            Lookup::Found { target, params } => {
                assert_eq!(target.route_id, 3);
                assert_eq!(params[0].1, "a/b/c.txt");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(t.lookup("GET", "/admin/"), Lookup::NotFound);
    }

    #[test]
    fn head_uses_get_and_405_lists_methods() {
        let mut t = RouteTable::new();
        t.insert("GET", "/a/{id}", target(1)).unwrap();
        t.insert("delete", "/a/{id}", target(2)).unwrap();
        assert!(
            matches!(t.lookup("HEAD", "/a/1"), Lookup::Found { target, .. } if target.route_id == 1)
        );
        assert_eq!(
            t.lookup("POST", "/a/1"),
            Lookup::MethodNotAllowed {
                allow: "DELETE, GET, HEAD"
            }
        );
    }

    #[test]
    fn rejects_duplicate_and_conflicting_routes() {
        let mut t = RouteTable::new();
        t.insert("GET", "/a/{id}", target(1)).unwrap();
        assert!(t.insert("GET", "/a/{id}", target(2)).is_err());
        assert!(t.insert("GET", "/a/{other}", target(3)).is_err());
    }
}
