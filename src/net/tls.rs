//! Which CAs servers are checked against.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::env_vars as ev;

/// The system's CA bundle (`SSL_CERT_FILE`, else Debian's ca-certificates file), so a
/// server signed by a CA added with update-ca-certificates is trusted; the bundled
/// Mozilla roots when neither is there.
pub fn config(ctx: &Context) -> ureq::tls::TlsConfig {
    let file = ctx
        .var(ev::SSL_CERT_FILE)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    config_from(&file)
}

fn config_from(file: &Path) -> ureq::tls::TlsConfig {
    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
    let certs: Vec<_> = crate::fsutil::read_bounded(file, 64 << 20)
        .map(|pem| {
            parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let roots = if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::from(certs)
    };
    TlsConfig::builder().root_certs(roots).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_from_a_pem_bundle_else_mozilla() {
        use ureq::tls::RootCerts;
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("bundle.pem");
        std::fs::write(
            &pem,
            "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        match config_from(&pem).root_certs() {
            RootCerts::Specific(certs) => assert_eq!(certs.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            config_from(&dir.path().join("missing")).root_certs(),
            RootCerts::WebPki
        ));
    }
}
