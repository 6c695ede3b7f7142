//! Test harness: runs the real `xx` binary under its personality names, in a temp dir,
//! with a clean environment and a fake host root (never the machine's own /etc).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A directory with `xx-info`, `xx-verify`, … links to the binary under test.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("xx-test-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create bin dir");
        let out = Command::new(env!("CARGO_BIN_EXE_xx"))
            .arg("install-links")
            .arg("--force")
            .arg(&dir)
            .output()
            .expect("run xx install-links");
        assert!(out.status.success(), "install-links failed: {out:?}");
        dir
    })
}

/// A fake host root holding an /etc/os-release (or none).
pub struct HostRoot {
    pub dir: tempfile::TempDir,
}

impl HostRoot {
    pub fn new(os_release: Option<&str>) -> HostRoot {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir etc");
        if let Some(text) = os_release {
            std::fs::write(dir.path().join("etc/os-release"), text).expect("write os-release");
        }
        HostRoot { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub struct Run {
    pub name: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
}

impl Run {
    /// `xx-NAME args…` with only PATH, HOME and the given variables set.
    pub fn new(name: &str, args: &[&str]) -> Run {
        Run {
            name: name.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    pub fn envs(mut self, pairs: &[(&str, &str)]) -> Run {
        for (k, v) in pairs {
            self.env.insert(k.to_string(), v.to_string());
        }
        self
    }

    pub fn root(self, root: &HostRoot) -> Run {
        let path = root.path().to_string_lossy().into_owned();
        self.env("XX_HOST_ROOT", &path)
    }

    pub fn output(&self) -> Output {
        let program = bin_dir().join(&self.name);
        // The personalities keep the real HOME: xx-cargo runs rustup and cargo, whose
        // toolchains and crate cache live there.
        let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
        let mut cmd = hermetic(&program, &home);
        cmd.args(&self.args);
        cmd.envs(&self.env);
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    pub fn describe(&self) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} {} {}", env.join(" "), self.name, self.args.join(" "))
    }
}

pub struct Checked {
    pub stdout: String,
    /// stdout as written, for binary output.
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
    pub code: i32,
}

/// A finished process as the tests read it: a death by signal is code -9.
impl From<std::process::Output> for Checked {
    fn from(out: std::process::Output) -> Checked {
        Checked {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stdout_bytes: out.stdout.clone(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-9),
        }
    }
}

/// Runs and returns stdout/stderr/exit code; panics on a signal (a crash is a failure).
pub fn run(r: &Run) -> Checked {
    let out = r.output();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("{} was killed by a signal: {:?}", r.describe(), out.status));
    Checked { code, ..out.into() }
}

/// Whether a tool exists; if not, fail under XX_TEST_STRICT=1 and skip loudly otherwise.
/// The first `tool` on PATH, as `command -v` finds it.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn require_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    found
        || skip(&format!(
            "{tool} is not installed (run scripts/setup-test-deps)"
        ))
}

/// A test that cannot run here: under XX_TEST_STRICT=1 a failure; otherwise a line on
/// the terminal (past the test harness's capture) and in the skip list that
/// scripts/test prints at the end, so a skip is never silent. Returns false.
pub fn skip(why: &str) -> bool {
    if std::env::var("XX_TEST_STRICT").as_deref() == Ok("1") {
        panic!("{why}, and XX_TEST_STRICT=1");
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let line = format!("SKIPPED {test}: {why}\n");
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(line.as_bytes());
    let list = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list)
    {
        let _ = f.write_all(line.as_bytes());
    }
    false
}

/// A list of environment variables for a case table.
pub type Env = &'static [(&'static str, &'static str)];

/// The Linux targets Debian's cross gcc serves here: (platform, gnu triple, qemu,
/// what `uname -m` prints under that qemu).
pub const CROSS_TARGETS: &[(&str, &str, &str, &str)] = &[
    (
        "linux/arm64",
        "aarch64-linux-gnu",
        "qemu-aarch64",
        "aarch64",
    ),
    ("linux/arm/v7", "arm-linux-gnueabihf", "qemu-arm", "armv7l"),
    ("linux/arm/v6", "arm-linux-gnueabi", "qemu-arm", "armv7l"),
    ("linux/386", "i686-linux-gnu", "qemu-i386", "i686"),
    (
        "linux/ppc64le",
        "powerpc64le-linux-gnu",
        "qemu-ppc64le",
        "ppc64le",
    ),
    ("linux/s390x", "s390x-linux-gnu", "qemu-s390x", "s390x"),
    (
        "linux/riscv64",
        "riscv64-linux-gnu",
        "qemu-riscv64",
        "riscv64",
    ),
];

/// `require_tool` for each; true only if all are there.
pub fn require_tools(tools: &[&str]) -> bool {
    tools.iter().all(|t| require_tool(t))
}

/// A copy of a fixture crate in a temp dir, with a private xx prefix.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(fixture: &str) -> Project {
        Project::copy_of(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(fixture),
        )
    }

    /// A copy of the directory `from` in a temp dir.
    pub fn copy_of(from: &Path) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(status.success());
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cargo(&self, platform: &str, args: &[&str], env: &[(&str, &str)]) -> Checked {
        let prefix = self.path().join("xx-prefix").to_string_lossy().into_owned();
        let mut r = Run::new("xx-cargo", args)
            .env("TARGETPLATFORM", platform)
            .env("XX_PREFIX", &prefix)
            // Share the crates cache and rustup with the machine (HOME is kept by Run).
            .env(
                "CARGO_TARGET_DIR",
                &self.path().join("target").to_string_lossy(),
            )
            .envs(env);
        r.cwd = Some(self.path().to_path_buf());
        run(&r)
    }

    pub fn binary(&self, triple: &str, profile: &str, name: &str) -> PathBuf {
        self.path()
            .join("target")
            .join(triple)
            .join(profile)
            .join(name)
    }
}

/// zig for the xx-cc zig backend: from PyPI (`python3 -m ziglang`, what
/// setup-test-deps installs) or on PATH; under XX_TEST_STRICT a missing zig fails.
pub fn has_zig() -> bool {
    Command::new("python3")
        .args(["-m", "ziglang", "version"])
        .output()
        .is_ok_and(|o| o.status.success())
        || require_tool("zig")
}

/// Debian's docker-registry on 127.0.0.1 (a free port, storage in a temp dir), started
/// for one test and killed with it; optionally behind htpasswd Basic auth.
pub struct Registry {
    child: std::process::Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// None (after a loud skip, or a failure under XX_TEST_STRICT) without docker-registry.
    pub fn start(basic_auth: Option<(&str, &str)>) -> Option<Registry> {
        if !require_tools(&["docker-registry", "htpasswd"]) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = basic_auth {
            let file = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: xx-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(&registry.addr).is_ok() {
                return Some(registry);
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!(
            "docker-registry did not listen on {} within 5 s",
            registry.addr
        );
    }

    /// `docker://127.0.0.1:PORT/REPO`.
    pub fn url(&self, repo: &str) -> String {
        format!("docker://{}/{repo}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one way tests start xx: the environment cleared, then only PATH and HOME (and
/// what each test sets), so a developer's DOCKER_CONFIG, XX_REGISTRY_ENDPOINTS or
/// TARGETPLATFORM never reaches a test.
pub fn hermetic(program: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home);
    cmd
}

/// An empty home for the `xx` front end: a developer's `~/.docker/config.json` (or
/// `DOCKER_CONFIG`, `XX_REGISTRY_ENDPOINTS`, …) never reaches a test.
pub fn empty_home() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("xx-test-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create test home");
        dir
    })
}

/// `xx ARGS` with only PATH, an empty HOME and the given variables, killed after
/// `limit` (a hang is a failure, reported as exit code -9 with `timed_out`).
pub fn xx_within(
    args: &[&str],
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> (Checked, bool) {
    let mut child = hermetic(Path::new(env!("CARGO_BIN_EXE_xx")), empty_home())
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run xx");
    let start = std::time::Instant::now();
    let mut timed_out = false;
    while child.try_wait().expect("wait for xx").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            timed_out = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect xx output");
    let checked = Checked::from(out);
    (checked, timed_out)
}
