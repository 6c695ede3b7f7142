//! A suite's Release file: its OpenPGP signature checked against a keyring (failing
//! closed), then the fields a client trusts it for: Suite/Codename, Date, Valid-Until
//! and the SHA256 of every index file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use pgp::composed::{
    CleartextSignedMessage, Deserializable as _, DetachedSignature, PublicOrSecret, SignedPublicKey,
};

use super::control;

/// Public keys a Release must be signed by (one of them).
pub struct Keyring {
    /// Primary keys with the subkeys whose binding signature by the primary verifies.
    keys: Vec<(SignedPublicKey, Vec<usize>)>,
    /// Where the keys came from, for messages.
    pub origin: String,
}

impl Keyring {
    /// The keys in `files` (binary `.gpg` keyrings or armored `.asc`); keys whose
    /// self-signatures do not verify are left out, as gpgv does.
    pub fn from_files(files: &[PathBuf]) -> Result<Keyring> {
        let mut keys = Vec::new();
        for file in files {
            let bytes = crate::fsutil::read_bounded(file, 64 << 20)?;
            keys.extend(
                parse_keys(&bytes)
                    .with_context(|| format!("{}: not an OpenPGP keyring", file.display()))?,
            );
        }
        let origin = match files {
            [one] => one.display().to_string(),
            _ => format!("{} keyring files", files.len()),
        };
        Ok(Keyring { keys, origin })
    }

    /// An armored key block given inline (deb822's multi-line `Signed-By`).
    pub fn from_armored(text: &str) -> Result<Keyring> {
        Ok(Keyring {
            keys: parse_keys(text.as_bytes())
                .context("the inline Signed-By key is not an OpenPGP key")?,
            origin: "the source's inline Signed-By key".to_string(),
        })
    }

    /// The host's trusted keys: `/usr/share/keyrings/*.gpg` and
    /// `/etc/apt/trusted.gpg.d/*.{gpg,asc}`.
    pub fn host_default(ctx: &crate::context::Context) -> Result<Keyring> {
        let mut files = Vec::new();
        for (dir, exts) in [
            ("/usr/share/keyrings", &["gpg"][..]),
            ("/etc/apt/trusted.gpg.d", &["gpg", "asc"][..]),
        ] {
            let Ok(entries) = std::fs::read_dir(ctx.host_path(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path
                    .extension()
                    .is_some_and(|e| exts.iter().any(|x| e == *x))
                    && path.is_file()
                {
                    files.push(path);
                }
            }
        }
        files.sort();
        let mut ring = Keyring::from_files(&files)?;
        ring.origin = "the host's keyrings (/usr/share/keyrings, /etc/apt/trusted.gpg.d)".into();
        Ok(ring)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `sig` over `data` verifies with a primary key or a subkey of the ring.
    fn verifies(&self, sig: &pgp::packet::Signature, data: &[u8]) -> bool {
        self.keys.iter().any(|(key, subkeys)| {
            sig.verify(key, data).is_ok()
                || subkeys
                    .iter()
                    .any(|&i| sig.verify(&key.public_subkeys[i], data).is_ok())
        })
    }
}

/// Keys and their bound subkeys. User-ID certifications are not checked: archive keys
/// carry third-party certifications no keyring here can verify (rPGP's
/// `verify_bindings` would reject every Debian key for them), and the keyring file is
/// the trust anchor; a subkey counts only with a valid binding by its primary.
fn parse_keys(bytes: &[u8]) -> Result<Vec<(SignedPublicKey, Vec<usize>)>> {
    let (iter, _) = PublicOrSecret::from_reader_many(bytes).map_err(|e| anyhow!("{e}"))?;
    let mut keys = Vec::new();
    for key in iter {
        let key = match key.map_err(|e| anyhow!("{e}"))? {
            PublicOrSecret::Public(k) => k,
            PublicOrSecret::Secret(k) => k.to_public_key(),
        };
        let bound = (0..key.public_subkeys.len())
            .filter(|&i| {
                key.public_subkeys[i]
                    .verify_bindings(&key.primary_key)
                    .is_ok()
            })
            .collect();
        keys.push((key, bound));
    }
    Ok(keys)
}

/// The signed text of an `InRelease` file, once its signature verified. Nothing outside
/// the signed part is ever returned.
pub fn verify_inline(bytes: &[u8], keys: &Keyring) -> Result<String> {
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("InRelease is not UTF-8 text"))?;
    let (message, _) = CleartextSignedMessage::from_string(text)
        .map_err(|e| anyhow!("InRelease is not an OpenPGP signed message ({e})"))?;
    let signed = message.signed_text();
    if !message
        .signatures()
        .iter()
        .any(|s| keys.verifies(s, signed.as_bytes()))
    {
        bail!("InRelease: no valid signature by a key in {}", keys.origin);
    }
    Ok(signed.replace("\r\n", "\n"))
}

/// The text of an `InRelease` whose signature is not checked (`--allow-unsigned`).
pub fn signed_text_unverified(bytes: &[u8]) -> Result<String> {
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("InRelease is not UTF-8 text"))?;
    let (message, _) = CleartextSignedMessage::from_string(text)
        .map_err(|e| anyhow!("InRelease is not an OpenPGP signed message ({e})"))?;
    Ok(message.signed_text().replace("\r\n", "\n"))
}

/// A `Release` file checked against its detached `Release.gpg`.
pub fn verify_detached(release: &[u8], signature: &[u8], keys: &Keyring) -> Result<String> {
    let sig = match DetachedSignature::from_armor_single(signature) {
        Ok((sig, _)) => sig,
        Err(_) => DetachedSignature::from_bytes(signature)
            .map_err(|e| anyhow!("Release.gpg is not an OpenPGP signature ({e})"))?,
    };
    if !keys.verifies(&sig.signature, release) {
        bail!(
            "Release: no valid signature in Release.gpg by a key in {}",
            keys.origin
        );
    }
    String::from_utf8(release.to_vec()).map_err(|_| anyhow!("Release is not UTF-8 text"))
}

/// The fields of a verified Release file.
#[derive(Debug)]
pub struct Release {
    pub suite: String,
    pub codename: String,
    pub date: String,
    /// Seconds since the epoch, where the file says.
    pub valid_until: Option<i64>,
    pub components: Vec<String>,
    /// Index path (`main/binary-arm64/Packages.xz`) → (sha256 hex, size).
    pub sha256: HashMap<String, (String, u64)>,
}

impl Release {
    pub fn parse(text: &str) -> Result<Release> {
        let p = control::paragraphs(text)
            .next()
            .ok_or_else(|| anyhow!("the Release file is empty"))?;
        let mut sha256 = HashMap::new();
        for line in p.get("SHA256").unwrap_or("").lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [hex, size, path] = words[..] {
                let size = size
                    .parse()
                    .map_err(|_| anyhow!("Release: bad size in SHA256 line {line:?}"))?;
                sha256.insert(path.to_string(), (hex.to_ascii_lowercase(), size));
            }
        }
        if sha256.is_empty() {
            bail!("the Release file lists no SHA256 index hashes (refusing weaker ones)");
        }
        let valid_until = match p.get("Valid-Until") {
            Some(v) => {
                Some(parse_date(v).ok_or_else(|| anyhow!("Release: bad Valid-Until {v:?}"))?)
            }
            None => None,
        };
        Ok(Release {
            suite: p.get("Suite").unwrap_or("").to_string(),
            codename: p.get("Codename").unwrap_or("").to_string(),
            date: p.get("Date").unwrap_or("").to_string(),
            valid_until,
            components: p
                .get("Components")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            sha256,
        })
    }

    /// The checks apt makes before trusting the indexes: the suite asked for, and a
    /// file not past its Valid-Until (unless told to ignore it, for snapshot archives).
    pub fn check(&self, asked: &str, now: i64, ignore_valid_until: bool) -> Result<()> {
        if asked != self.suite && asked != self.codename {
            bail!(
                "the Release file is for suite {:?} (codename {:?}), not {asked:?}: refusing a mix-up or a replayed Release",
                self.suite,
                self.codename
            );
        }
        if let (Some(until), false) = (self.valid_until, ignore_valid_until) {
            if now > until {
                bail!(
                    "the Release file of {asked} expired (Valid-Until in the past): a stale mirror or a replay\n\
                     help: for a snapshot archive pass --ignore-valid-until"
                );
            }
        }
        Ok(())
    }
}

/// An RFC 2822 date as Release files write it (`Sat, 10 Jun 2023 08:53:05 UTC`).
pub fn parse_date(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let words = match words.first() {
        Some(w) if w.ends_with(',') => &words[1..],
        _ => &words[..],
    };
    let [day, month, year, time, zone @ ..] = words else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(month))? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms[..] else { return None };
    let offset = match zone.first().copied() {
        None | Some("UTC" | "GMT" | "Z") => 0,
        Some(z) if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let n: i64 = z[1..].parse().ok()?;
            let secs = (n / 100) * 3600 + (n % 100) * 60;
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The `Signed-By` of a source: a key file, or an inline armored block.
pub fn keyring_for(
    ctx: &crate::context::Context,
    signed_by: Option<&str>,
    override_file: Option<&Path>,
) -> Result<Keyring> {
    if let Some(file) = override_file {
        return Keyring::from_files(&[file.to_path_buf()]);
    }
    match signed_by {
        Some(text) if text.contains("BEGIN PGP PUBLIC KEY BLOCK") => Keyring::from_armored(text),
        Some(paths) => {
            let files: Vec<PathBuf> = paths
                .split([',', ' '])
                .filter(|p| !p.is_empty())
                .map(|p| ctx.host_path(p))
                .collect();
            Keyring::from_files(&files)
        }
        None => Keyring::host_default(ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(
            parse_date("Sat, 10 Jun 2023 08:53:05 UTC"),
            Some(1686387185)
        );
        assert_eq!(
            parse_date("Sat, 10 Jun 2023 10:53:05 +0200"),
            Some(1686387185)
        );
        assert_eq!(parse_date("garbage"), None);
    }

    #[test]
    fn release_fields_and_checks() {
        let text = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 10 Jun 2023 08:53:05 UTC\n\
                    Valid-Until: Sat, 17 Jun 2023 08:53:05 UTC\nComponents: main contrib\nSHA256:\n \
                    0123abcd 42 main/binary-arm64/Packages.xz\n";
        let r = Release::parse(text).unwrap();
        assert_eq!(
            r.sha256["main/binary-arm64/Packages.xz"],
            ("0123abcd".to_string(), 42)
        );
        assert!(r.check("bookworm", 1686387185, false).is_ok());
        assert!(r.check("stable", 1686387185, false).is_ok());
        let wrong = r
            .check("trixie", 1686387185, false)
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("not \"trixie\""), "{wrong}");
        let expired = r
            .check("bookworm", 1786387185, false)
            .unwrap_err()
            .to_string();
        assert!(expired.contains("--ignore-valid-until"), "{expired}");
        assert!(r.check("bookworm", 1786387185, true).is_ok());
        assert!(Release::parse("Suite: x\n").is_err());
    }
}
