//! A Debian archive on 127.0.0.1 for the sysroot tests: real `.deb` files (downloaded by
//! scripts/fetch-test-debs with `apt-get download`), Packages indexes made from their
//! control data (`dpkg-deb -f`), a Release signed into InRelease by gpg with a key made
//! for this test run, served by Python's http.server. Tests tamper with copies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::Digest as _;

use crate::util::{require_tools, skip};

/// Where scripts/fetch-test-debs put the real packages of `arch`, if it ran.
pub fn real_debs(arch: &str) -> Option<PathBuf> {
    let base = std::env::var("XX_TEST_DEBS").unwrap_or_else(|_| "/var/cache/xx-test-debs".into());
    let dir = Path::new(&base).join(arch);
    if dir.join(".complete").exists() {
        return Some(dir);
    }
    skip(&format!(
        "no real {arch} .deb files in {} (run scripts/fetch-test-debs)",
        dir.display()
    ));
    None
}

/// A gpg home with one signing key, made once per test process.
pub struct Signer {
    home: PathBuf,
    /// The public key, binary (what `--keyring` and Signed-By take).
    pub keyring: PathBuf,
}

fn make_signer(name: &str) -> Signer {
    let home = std::env::temp_dir().join(format!("xx-test-gpg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let uid = format!("xx test archive {name} <{name}@xx.invalid>");
    gpg(&["--quick-gen-key", &uid, "rsa2048", "sign", "never"]);
    // Outside the 0700 gpg home: the unprivileged runs read it.
    let keyring =
        std::env::temp_dir().join(format!("xx-test-key-{name}-{}.gpg", std::process::id()));
    std::fs::write(&keyring, gpg(&["--export", &uid])).unwrap();
    Signer { home, keyring }
}

/// The archive's key, and a second key nobody trusts.
pub fn signer(trusted: bool) -> &'static Signer {
    static GOOD: OnceLock<Signer> = OnceLock::new();
    static OTHER: OnceLock<Signer> = OnceLock::new();
    if trusted {
        GOOD.get_or_init(|| make_signer("good"))
    } else {
        OTHER.get_or_init(|| make_signer("other"))
    }
}

impl Signer {
    fn clearsign(&self, text: &Path, out: &Path) {
        let status = Command::new("gpg")
            .arg("--homedir")
            .arg(&self.home)
            .args([
                "--batch",
                "--quiet",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(["--digest-algo", "SHA256", "--clearsign", "-o"])
            .arg(out)
            .arg(text)
            .status()
            .expect("gpg --clearsign");
        assert!(status.success());
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// InRelease signed by the trusted key.
    Good,
    /// InRelease signed by a key not in the keyring.
    OtherKey,
    /// Only a Release, no signature at all.
    Unsigned,
}

pub struct Archive {
    pub dir: tempfile::TempDir,
    pub suite: String,
    /// arch → package name → stanza (fields in order).
    stanzas: BTreeMap<String, BTreeMap<String, Vec<(String, String)>>>,
}

fn control_of(deb: &Path) -> Vec<(String, String)> {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .output()
        .expect("dpkg-deb -f");
    assert!(out.status.success(), "dpkg-deb -f {}", deb.display());
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.to_string(), v.trim().to_string()));
        }
    }
    fields
}

/// Each real `.deb` with its control fields.
type Stanzas = Vec<(PathBuf, Vec<(String, String)>)>;

/// The control fields of every real package of `arch`, read once per test process.
fn real_stanzas(arch: &str, dir: &Path) -> &'static Stanzas {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<String, &'static Stanzas>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    cache.entry(arch.to_string()).or_insert_with(|| {
        let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        debs.sort();
        Box::leak(Box::new(
            debs.into_iter()
                .map(|d| {
                    let c = control_of(&d);
                    (d, c)
                })
                .collect(),
        ))
    })
}

impl Archive {
    /// The real packages of `arches`; None after a skip when a tool or the debs are missing.
    pub fn with_real(arches: &[&str]) -> Option<Archive> {
        if !require_tools(&["gpg", "dpkg-deb", "python3", "xz"]) {
            return None;
        }
        let mut archive = Archive {
            dir: tempfile::tempdir().unwrap(),
            suite: "xx-test".into(),
            stanzas: BTreeMap::new(),
        };
        for arch in arches {
            let dir = real_debs(arch)?;
            for (deb, fields) in real_stanzas(arch, &dir) {
                // apt-get download spells an epoch's colon `%3a`; archives have none.
                let name = deb
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace("%3a", "-e");
                let pool = archive.dir.path().join("pool/main").join(&name);
                std::fs::create_dir_all(pool.parent().unwrap()).unwrap();
                if !pool.exists() {
                    // Architecture: all packages come once per arch.
                    std::os::unix::fs::symlink(deb, &pool).unwrap();
                }
                let bytes = std::fs::read(deb).unwrap();
                archive.insert(arch, fields.clone(), &format!("pool/main/{name}"), &bytes);
            }
        }
        Some(archive)
    }

    fn insert(
        &mut self,
        arch: &str,
        mut fields: Vec<(String, String)>,
        filename: &str,
        bytes: &[u8],
    ) {
        fields.retain(|(k, _)| !["Filename", "Size", "SHA256"].contains(&k.as_str()));
        fields.push(("Filename".into(), filename.into()));
        fields.push(("Size".into(), bytes.len().to_string()));
        fields.push(("SHA256".into(), hex(&sha2::Sha256::digest(bytes))));
        let name = fields
            .iter()
            .find(|(k, _)| k == "Package")
            .expect("Package field")
            .1
            .clone();
        self.stanzas
            .entry(arch.into())
            .or_default()
            .insert(name, fields);
    }

    /// Adds (or replaces) a package made by the test.
    pub fn add(&mut self, arch: &str, name: &str, version: &str, depends: &str, deb: &[u8]) {
        let filename = format!("pool/main/{name}_{version}_{arch}.deb");
        let path = self.dir.path().join(&filename);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, deb).unwrap();
        let mut fields = vec![
            ("Package".to_string(), name.to_string()),
            ("Version".into(), version.into()),
            ("Architecture".into(), arch.into()),
            ("Multi-Arch".into(), "same".into()),
        ];
        if !depends.is_empty() {
            fields.push(("Depends".into(), depends.into()));
        }
        self.insert(arch, fields, &filename, deb);
    }

    /// Sets a field of a package's stanza (the file stays as it is).
    pub fn set_field(&mut self, arch: &str, package: &str, field: &str, value: &str) {
        let fields = self
            .stanzas
            .get_mut(arch)
            .and_then(|s| s.get_mut(package))
            .expect("package in archive");
        match fields.iter_mut().find(|(k, _)| k == field) {
            Some(f) => f.1 = value.to_string(),
            None => fields.push((field.into(), value.into())),
        }
    }

    /// The pool file of a package.
    pub fn pool_file(&self, arch: &str, package: &str) -> PathBuf {
        let fields = &self.stanzas[arch][package];
        let filename = &fields.iter().find(|(k, _)| k == "Filename").unwrap().1;
        self.dir.path().join(filename)
    }

    /// A package's stanza value.
    pub fn field(&self, arch: &str, package: &str, field: &str) -> String {
        self.stanzas[arch][package]
            .iter()
            .find(|(k, _)| k == field)
            .unwrap()
            .1
            .clone()
    }

    fn dists(&self) -> PathBuf {
        self.dir.path().join("dists").join(&self.suite)
    }

    /// Writes the indexes and the Release (signed or not); `release_suite` is what the
    /// Release file claims (a wrong one is a test).
    pub fn publish_as(&self, signing: Signing, release_suite: &str) {
        let dists = self.dists();
        let _ = std::fs::remove_dir_all(&dists);
        let mut sums = String::new();
        for (arch, packages) in &self.stanzas {
            let rel = format!("main/binary-{arch}/Packages");
            let file = dists.join(&rel);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            let mut text = String::new();
            for fields in packages.values() {
                for (k, v) in fields {
                    text.push_str(&format!("{k}: {v}\n"));
                }
                text.push('\n');
            }
            std::fs::write(&file, &text).unwrap();
            let status = Command::new("xz")
                .arg("-k")
                .arg("-f")
                .arg(&file)
                .status()
                .unwrap();
            assert!(status.success());
            for name in [rel.clone(), format!("{rel}.xz")] {
                let bytes = std::fs::read(dists.join(&name)).unwrap();
                sums.push_str(&format!(
                    " {} {} {name}\n",
                    hex(&sha2::Sha256::digest(&bytes)),
                    bytes.len()
                ));
            }
        }
        let arches: Vec<&str> = self.stanzas.keys().map(String::as_str).collect();
        let release = format!(
            "Origin: xx-test\nLabel: xx-test\nSuite: {release_suite}\nCodename: {release_suite}\n\
             Date: Sat, 01 Jan 2022 00:00:00 UTC\nArchitectures: {}\nComponents: main\nSHA256:\n{sums}",
            arches.join(" ")
        );
        let release_file = dists.join("Release");
        std::fs::write(&release_file, release).unwrap();
        match signing {
            Signing::Good => signer(true).clearsign(&release_file, &dists.join("InRelease")),
            Signing::OtherKey => signer(false).clearsign(&release_file, &dists.join("InRelease")),
            Signing::Unsigned => {}
        }
    }

    pub fn publish(&self) {
        self.publish_as(Signing::Good, &self.suite.clone());
    }

    /// `--mirror`, `--suite` and `--keyring` for this archive behind `server`.
    pub fn args(&self, server: &Server) -> Vec<String> {
        vec![
            "--mirror".into(),
            server.url.clone(),
            "--suite".into(),
            self.suite.clone(),
            "--keyring".into(),
            signer(true).keyring.display().to_string(),
        ]
    }
}

/// Python's http.server over a directory, on a free loopback port.
pub struct Server {
    child: std::process::Child,
    pub url: String,
    pub addr: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        for _ in 0..400 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return Server {
                    child,
                    url: format!("http://{addr}"),
                    addr,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("http.server did not listen on {addr}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One tar entry, written by hand so names the `tar` crate refuses (`../x`, `/x`) can be
/// made: `kind` is the ustar type flag (b'0' file, b'2' symlink, b'1' hardlink, b'3'
/// char device, b'5' directory).
pub fn tar_entry(name: &str, kind: u8, link: &str, data: &[u8], mode: u32) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{:0width$o}\0", value, width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], 1_640_995_200);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A `.deb` whose data.tar (uncompressed) holds `entries` (from `tar_entry`).
pub fn deb_with(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut data: Vec<u8> = entries.concat();
    data.extend_from_slice(&[0u8; 1024]);
    let control = [
        tar_entry("./control", b'0', "", b"Package: x\n", 0o644),
        vec![0u8; 1024],
    ]
    .concat();
    let mut out = b"!<arch>\n".to_vec();
    for (name, body) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control),
        ("data.tar", data),
    ] {
        out.extend_from_slice(
            format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                100644,
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&body);
        if body.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}
