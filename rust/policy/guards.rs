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

/// Why `guard` refuses `id`, or None when it allows.
pub fn denial(guard: &Guard, id: &Identity) -> Option<String> {
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
}
