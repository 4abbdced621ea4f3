//! JWT algorithm names and the key family each needs.

use jsonwebtoken::Algorithm;

use super::errors::AuthError;

/// The minimum HMAC secret length we accept (RFC 7518 asks for at least the hash size).
pub const MIN_HS_SECRET: usize = 32;

/// Parses an algorithm name; `none` in any spelling is not one.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, AuthError> {
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
    Ok(alg)
}

#[derive(PartialEq, Eq, Debug, Clone, Copy)]
pub enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

pub fn family(alg: Algorithm) -> Family {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
        Algorithm::EdDSA => Family::Ed,
        _ => Family::Rsa,
    }
}

/// The algorithms, which must all take the same kind of key.
pub fn one_family(algorithms: &[String]) -> Result<(Vec<Algorithm>, Family), AuthError> {
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
    }
}
