//! Everything a command reads from the process: environment, host root, `uname -m`.
//! Passed down explicitly so tests can build one without touching the host.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::env_vars;

pub struct Context {
    vars: HashMap<String, String>,
    root: PathBuf,
}

impl Context {
    pub fn from_process() -> Context {
        let vars: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Context::new(vars)
    }

    pub fn new(vars: HashMap<String, String>) -> Context {
        let root = vars
            .get(env_vars::XX_HOST_ROOT)
            .filter(|r| !r.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        Context { vars, root }
    }

    /// A copy to change for one lookup (e.g. a `--target` given on the command line).
    pub fn clone_vars(&self) -> Context {
        Context::new(self.vars.clone())
    }

    /// The variable's value; unset and empty are the same, as in xx's `[ -n "$VAR" ]`.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), value.to_string());
    }

    /// A host path such as `/etc/os-release`, under `XX_HOST_ROOT` when set.
    pub fn host_path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    /// Where scratch directories go: `TMPDIR`, else `/tmp`.
    /// Root inside a container: where xx, as tonistiigi/xx does, writes system paths
    /// (`/usr/bin`, `/usr/local/share/xx`) instead of per-user ones.
    pub fn root_in_container(&self) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() == 0 };
        root && (self.var("container").is_some()
            || self.host_path("/.dockerenv").exists()
            || self.host_path("/run/.containerenv").exists())
    }

    pub fn temp_dir(&self) -> PathBuf {
        self.var("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"))
    }

    /// The host's `uname -m`, or `XX_HOST_MARCH` when set (tests, and hosts that lie).
    pub fn host_march(&self) -> String {
        if let Some(m) = self.var(env_vars::XX_HOST_MARCH) {
            return m.to_string();
        }
        uname_machine().unwrap_or_default()
    }
}

fn uname_machine() -> Option<String> {
    // SAFETY: utsname is plain old data; uname fills it and NUL-terminates each field.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = uts
        .machine
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

/// `/etc/os-release` as xx reads it: `ID` and `VERSION_ID` after the shell's quote removal.
#[derive(Debug, Default, Clone)]
pub struct OsRelease {
    pub id: String,
    pub version_id: String,
    pub version: String,
    pub codename: String,
}

impl OsRelease {
    pub fn read(ctx: &Context) -> Option<OsRelease> {
        let text = std::fs::read_to_string(ctx.host_path("/etc/os-release")).ok()?;
        Some(OsRelease::parse(&text))
    }

    pub fn parse(text: &str) -> OsRelease {
        let mut out = OsRelease::default();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = unquote(value.trim());
            match key.trim() {
                "ID" => out.id = value,
                "VERSION_ID" => out.version_id = value,
                "VERSION" => out.version = value,
                "VERSION_CODENAME" => out.codename = value,
                _ => {}
            }
        }
        out
    }
}

fn unquote(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (_, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_quotes() {
        let r = OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\nVERSION='12 (bookworm)'\n");
        assert_eq!(r.id, "debian");
        assert_eq!(r.version_id, "12");
        assert_eq!(r.version, "12 (bookworm)");
    }

    #[test]
    fn empty_var_is_unset() {
        let ctx = Context::new(HashMap::from([("A".to_string(), String::new())]));
        assert_eq!(ctx.var("A"), None);
    }
}
