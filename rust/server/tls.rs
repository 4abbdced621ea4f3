//! TLS for the listening socket (`--ssl-certfile` / `--ssl-keyfile`): rustls with the ring
//! provider, HTTP/2 offered by ALPN beside HTTP/1.1. The files are read when a server
//! starts, so new worker processes (SIGHUP) take renewed certificates.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The server's TLS configuration from a PEM certificate chain and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1). The error says which file is wrong and why.
pub fn load(certfile: &str, keyfile: &str) -> Result<ServerConfig, String> {
    let chain = CertificateDer::pem_file_iter(certfile)
        .map_err(|e| format!("cannot read the certificate file {certfile}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{certfile} is not a PEM certificate chain: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{certfile} holds no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(e) => {
            format!("cannot read the key file {keyfile}: {e}")
        }
        e => format!("{keyfile} holds no PEM private key: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("{certfile} and {keyfile} do not make a TLS identity: {e}"))?;
    // ALPN ("h2", "http/1.1") is added by the listener.
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_files_name_the_file() {
        let err = load("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let empty = empty.to_str().unwrap();
        let err = load(empty, empty).unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
    }
}
