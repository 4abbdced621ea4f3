//! Guards: what an authenticated identity must have for a route (checked in Rust unless
//! the guard is a Python `BaseGuard`).

use crate::auth::identity::Identity;

pub enum Guard {
    AllowAny,
    Authenticated,
    Superuser,
    Staff,
    AllPermissions(Vec<String>),
    AnyPermission(Vec<String>),
    AnyRole(Vec<String>),
    /// Authenticated by this backend ("jwt" or "api_key").
    Backend(String),
    /// A Python `BaseGuard`: evaluated in Python after the Rust guards pass.
    Python,
}

/// What Rust decides for one guard.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
    /// The credential does not state what the guard needs (a token without a
    /// `permissions` claim): Python decides from Django's permission tables and groups.
    Python,
}

/// The decision of `guard` for `id`. A refusal the credential cannot settle, because it
/// leaves out the grant the guard reads, is left to Python.
pub fn decide(guard: &Guard, id: &Identity) -> Decision {
    let Some(detail) = denial(guard, id) else {
        return Decision::Allow;
    };
    let u = id.unstated();
    let unsettled = match guard {
        Guard::Superuser => u.superuser,
        Guard::Staff => u.staff,
        Guard::AllPermissions(_) | Guard::AnyPermission(_) => u.permissions,
        Guard::AnyRole(_) => u.roles,
        _ => false,
    };
    if unsettled {
        Decision::Python
    } else {
        Decision::Deny(detail)
    }
}

/// Why `guard` refuses `id`, or None when it allows.
fn denial(guard: &Guard, id: &Identity) -> Option<String> {
    match guard {
        Guard::AllowAny | Guard::Authenticated | Guard::Python => None,
        Guard::Superuser => (!id.is_superuser).then(|| "Superuser access required".into()),
        Guard::Staff => (!id.is_staff && !id.is_superuser).then(|| "Staff access required".into()),
        Guard::AllPermissions(perms) => perms
            .iter()
            .find(|p| !id.has_permission(p))
            .map(|p| format!("Permission {p:?} required")),
        Guard::AnyPermission(perms) => (!perms.iter().any(|p| id.has_permission(p)))
            .then(|| format!("One of the permissions {} required", quoted(perms))),
        Guard::AnyRole(roles) => (!roles.iter().any(|r| id.has_role(r)))
            .then(|| format!("Role {} required", quoted(roles))),
        Guard::Backend(name) => {
            (id.backend != name).then(|| format!("{name} authentication required"))
        }
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::identity::identity_from_claims;

    #[test]
    fn guards_deny_with_reasons() {
        let id = Identity {
            backend: "jwt",
            permissions: vec!["a.view".into()],
            roles: vec!["editor".into()],
            ..Identity::default()
        };
        assert!(denial(&Guard::AllPermissions(vec!["a.view".into()]), &id).is_none());
        assert!(denial(
            &Guard::AllPermissions(vec!["a.view".into(), "a.edit".into()]),
            &id
        )
        .is_some());
        assert!(denial(
            &Guard::AnyPermission(vec!["x".into(), "a.view".into()]),
            &id
        )
        .is_none());
        assert!(denial(&Guard::AnyRole(vec!["admin".into()]), &id).is_some());
        assert!(denial(&Guard::Staff, &id).is_some());
        let admin = Identity {
            is_superuser: true,
            ..Identity::default()
        };
        assert!(denial(&Guard::Staff, &admin).is_none());
        assert!(denial(&Guard::AllPermissions(vec!["any.thing".into()]), &admin).is_none());
    }

    #[test]
    fn refusals_a_token_cannot_settle_go_to_python() {
        let claims = |json: &str| match serde_json::from_str(json).unwrap() {
            serde_json::Value::Object(map) => identity_from_claims(map),
            _ => unreachable!(),
        };
        let bare = claims(r#"{"sub": "7"}"#);
        let perm = Guard::AllPermissions(vec!["shop.add_article".into()]);
        assert_eq!(decide(&perm, &bare), Decision::Python);
        assert_eq!(
            decide(&Guard::AnyRole(vec!["editor".into()]), &bare),
            Decision::Python
        );
        assert_eq!(decide(&Guard::Staff, &bare), Decision::Python);
        assert_eq!(decide(&Guard::Authenticated, &bare), Decision::Allow);
        // A token that states its grants is decided here, either way.
        let stated = claims(
            r#"{"sub": "7", "permissions": ["shop.view_article"], "roles": [],
                "is_staff": false, "is_superuser": false}"#,
        );
        assert_eq!(
            decide(&perm, &stated),
            Decision::Deny("Permission \"shop.add_article\" required".into())
        );
        assert!(matches!(
            decide(&Guard::AnyRole(vec!["editor".into()]), &stated),
            Decision::Deny(_)
        ));
        assert!(matches!(decide(&Guard::Staff, &stated), Decision::Deny(_)));
        // A superuser flag settles permissions even without the claim.
        let admin = claims(r#"{"sub": "1", "is_superuser": true}"#);
        assert_eq!(decide(&perm, &admin), Decision::Allow);
        // An API key states everything it grants.
        let key = Identity {
            backend: "api_key",
            ..Identity::default()
        };
        assert!(matches!(decide(&perm, &key), Decision::Deny(_)));
    }
}
