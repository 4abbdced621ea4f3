//! Who a request authenticated as, and what its credential grants.

use serde_json::{Map, Value};

use super::errors::Rejection;

/// Who a request authenticated as, and what the credential grants.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub backend: &'static str,
    pub user_id: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    /// The JWT claims, or None for API keys.
    pub claims: Option<Map<String, Value>>,
    /// The API key's name (never the key itself).
    pub key_name: Option<String>,
}

/// Which grants a token leaves out. API keys state everything they grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unstated {
    pub permissions: bool,
    pub roles: bool,
    pub staff: bool,
    pub superuser: bool,
}

impl Identity {
    /// Grants the credential does not state (a token without a `permissions` claim, say):
    /// guards on them are decided in Python from Django's own tables. Read from the
    /// claims only when a guard would refuse, so allowed requests never pay for it.
    pub fn unstated(&self) -> Unstated {
        let Some(claims) = &self.claims else {
            return Unstated::default(); // an API key states everything it grants
        };
        let absent = |names: &[&str]| names.iter().all(|n| !claims.contains_key(*n));
        Unstated {
            permissions: absent(&["permissions", "perms"]),
            roles: absent(&["roles", "role"]),
            staff: absent(&["is_staff"]),
            superuser: absent(&["is_superuser"]),
        }
    }

    pub fn has_permission(&self, perm: &str) -> bool {
        self.is_superuser || self.permissions.iter().any(|p| p == perm || p == "*")
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug)]
pub enum Outcome {
    Absent,
    Valid(Identity),
    Invalid(Rejection),
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn scalar_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the user id (`sub`, else `user_id`), staff/superuser flags, permissions
/// (`permissions` or `perms`) and roles (`roles` or `role`) embedded at token creation.
pub fn identity_from_claims(claims: Map<String, Value>) -> Identity {
    let user_id = scalar_string(claims.get("sub")).or_else(|| scalar_string(claims.get("user_id")));
    let flag = |name: &str| claims.get(name).and_then(Value::as_bool).unwrap_or(false);
    let mut permissions = string_list(claims.get("permissions"));
    permissions.extend(string_list(claims.get("perms")));
    let mut roles = string_list(claims.get("roles"));
    roles.extend(string_list(claims.get("role")));
    Identity {
        backend: "jwt",
        user_id,
        is_staff: flag("is_staff"),
        is_superuser: flag("is_superuser"),
        permissions,
        roles,
        claims: Some(claims),
        key_name: None,
    }
}
