//! JWT algorithm names and the key family each needs.

use jsonwebtoken::Algorithm;

use super::errors::AuthError;

/// The minimum HMAC secret length we accept (RFC 7518 asks for at least the hash size).
pub const MIN_HS_SECRET: usize = 32;

/// A JWT algorithm: one `jsonwebtoken` implements, or ES512 (ECDSA on P-521 with
/// SHA-512), which it does not and we sign and verify with the `p521` crate.
#[derive(PartialEq, Eq, Debug, Clone, Copy)]
pub enum Alg {
    Std(Algorithm),
    Es512,
}

impl Alg {
    /// The `jsonwebtoken` algorithm, None for ES512.
    pub fn standard(self) -> Option<Algorithm> {
        match self {
            Alg::Std(a) => Some(a),
            Alg::Es512 => None,
        }
    }
}

/// Parses an algorithm name; `none` in any spelling is not one.
pub fn parse_algorithm(name: &str) -> Result<Alg, AuthError> {
    if name.eq_ignore_ascii_case("ES512") {
        return Ok(Alg::Es512);
    }
    let alg = match name.to_ascii_uppercase().as_str() {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EDDSA" => Algorithm::EdDSA,
        _ => return Err(AuthError::UnsupportedAlgorithm(name.to_owned())),
    };
    Ok(Alg::Std(alg))
}

#[derive(PartialEq, Eq, Debug, Clone, Copy)]
pub enum Family {
    Hmac,
    Rsa,
    Ec,
    /// ES512: a P-521 key, which the other EC algorithms cannot share.
    P521,
    Ed,
}

pub fn family(alg: Alg) -> Family {
    match alg {
        Alg::Es512 => Family::P521,
        Alg::Std(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) => Family::Hmac,
        Alg::Std(Algorithm::ES256 | Algorithm::ES384) => Family::Ec,
        Alg::Std(Algorithm::EdDSA) => Family::Ed,
        Alg::Std(_) => Family::Rsa,
    }
}

/// The algorithms, which must all take the same kind of key.
pub fn one_family(algorithms: &[String]) -> Result<(Vec<Alg>, Family), AuthError> {
    if algorithms.is_empty() {
        return Err(AuthError::NoAlgorithm);
    }
    let algs = algorithms
        .iter()
        .map(|a| parse_algorithm(a))
        .collect::<Result<Vec<_>, _>>()?;
    let fam = family(algs[0]);
    if algs.iter().any(|a| family(*a) != fam) {
        return Err(AuthError::MixedFamilies(algorithms.to_vec()));
    }
    Ok((algs, fam))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_none_and_mixed_families() {
        assert!(one_family(&["HS256".into(), "RS256".into()]).is_err());
        assert!(parse_algorithm("none").is_err());
        assert!(parse_algorithm("NoNe").is_err());
        assert_eq!(parse_algorithm("es512").unwrap(), Alg::Es512);
        assert!(one_family(&["ES256".into(), "ES512".into()]).is_err());
    }
}
