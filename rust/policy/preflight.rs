//! Which route's CORS policy answers a preflight on a path. The Rust server and the
//! Django view of `api.urls` both decide with `preflight_policy`, so the rule exists once.

/// What the path has for the method a preflight asks about.
pub enum Asked<P> {
    /// A route takes that method (HEAD falls back to GET), with its policy if any.
    Route(Option<P>),
    /// The path has routes, none for that method.
    OtherMethods,
    /// No route on the path.
    NoRoute,
}

/// The policy that answers: the asked route's own; when the path has no route for the
/// method, the first route on the path with a CORS policy, which refuses the method by
/// name; none when nothing on the path takes part in CORS.
pub fn preflight_policy<P>(
    asked: Asked<P>,
    others: impl IntoIterator<Item = Option<P>>,
    has_cors: impl Fn(&P) -> bool,
) -> Option<P> {
    match asked {
        Asked::Route(policy) => policy,
        Asked::OtherMethods => others.into_iter().flatten().find(|p| has_cors(p)),
        Asked::NoRoute => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_asked_route_answers_even_without_cors() {
        let chosen = preflight_policy(Asked::Route(Some(1)), [Some(2)], |p| *p == 2);
        assert_eq!(chosen, Some(1));
        let none: Option<i32> = preflight_policy(Asked::Route(None), [Some(2)], |_| true);
        assert_eq!(none, None);
    }

    #[test]
    fn another_method_with_cors_refuses_by_name() {
        let chosen = preflight_policy(Asked::OtherMethods, [None, Some(1), Some(2)], |p| *p == 2);
        assert_eq!(chosen, Some(2));
        let chosen = preflight_policy(Asked::OtherMethods, [Some(1)], |p| *p == 2);
        assert_eq!(chosen, None);
        assert_eq!(preflight_policy(Asked::NoRoute, [Some(2)], |_| true), None);
    }
}
