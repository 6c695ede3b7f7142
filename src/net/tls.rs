//! Which CAs servers are checked against.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::env_vars as ev;

/// The system's CA bundle (`SSL_CERT_FILE`, else Debian's ca-certificates file), so a
/// server signed by a CA added with update-ca-certificates is trusted; the bundled
/// Mozilla roots when neither is there.
pub fn config(ctx: &Context) -> ureq::tls::TlsConfig {
    let chosen = ctx.var(ev::SSL_CERT_FILE);
    let file = chosen
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    let (tls, found) = config_from(&file);
    if chosen.is_some() && !found {
        crate::output::err_line(format!(
            "xx: warning: SSL_CERT_FILE={} holds no readable certificate; using Mozilla's roots",
            file.display()
        ));
    }
    tls
}

/// The roots from a PEM bundle (through a link too: it is configuration, not input),
/// and whether it had any; Mozilla's roots when not.
fn config_from(file: &Path) -> (ureq::tls::TlsConfig, bool) {
    use std::io::Read as _;
    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
    let read = || -> std::io::Result<Vec<u8>> {
        let f = std::fs::File::open(file)?;
        if !f.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut pem = Vec::new();
        f.take(64 << 20).read_to_end(&mut pem)?;
        Ok(pem)
    };
    let certs: Vec<_> = read()
        .map(|pem| {
            parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let found = !certs.is_empty();
    let roots = if found {
        RootCerts::from(certs)
    } else {
        RootCerts::WebPki
    };
    (TlsConfig::builder().root_certs(roots).build(), found)
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
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&pem, &link).unwrap();
        match config_from(&link).0.root_certs() {
            RootCerts::Specific(certs) => assert_eq!(certs.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            config_from(&dir.path().join("missing")).0.root_certs(),
            RootCerts::WebPki
        ));
    }
}
