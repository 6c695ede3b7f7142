//! `xx-go`: `go` with the target's environment, as tonistiigi/xx's xx-go. GOOS and
//! GOARCH always; GOARM, GOAMD64, GOMIPS and GOMIPS64 from the variant unless set; for
//! cgo the target's C compiler (its gcc, then xx-clang's aliases or zig), `AR` and
//! `PKG_CONFIG`; `$GOPATH/bin/<GOOS>_<GOARCH>` first on PATH. `--wrap` writes go's env
//! file (`go env GOENV`) with those values, `--unwrap` removes it. All from the table.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};

use crate::cc;
use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::Resolved;

/// What xx-go exports, in its order, and which of them its `--wrap` writes.
struct GoEnv {
    vars: Vec<(String, String)>,
    /// CC, CXX, AR, PKG_CONFIG: set by xx-go (not inherited), so written by `--wrap`.
    c_tools: Vec<&'static str>,
}

impl GoEnv {
    fn set(&mut self, name: &str, value: String) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value));
    }

    fn get<'a>(&'a self, ctx: &'a Context, name: &str) -> Option<&'a str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| ctx.var(name))
            .filter(|v| !v.is_empty())
    }

    fn set_c_tool(&mut self, name: &'static str, value: String) {
        self.set(name, value);
        if !self.c_tools.contains(&name) {
            self.c_tools.push(name);
        }
    }
}

pub fn run(ctx: &Context, args: &[OsString]) -> Result<ExitCode> {
    let r = Resolved::from_context(ctx);
    if !r.is_supported() {
        crate::output::err_line(r.unsupported_message());
        return Ok(ExitCode::FAILURE);
    }
    let env = target_env(ctx, &r)?;
    match args.first().and_then(|a| a.to_str()) {
        Some("--wrap") => return wrap(ctx, &env, true),
        Some("--unwrap") => return wrap(ctx, &env, false),
        _ => {}
    }
    let Some(mut cmd) = go_command(ctx, &env) else {
        return Ok(not_found());
    };
    cmd.args(args);
    Err(crate::proc::exec(&mut cmd))
}

/// What a shell prints for `exec go` without go, and its status.
fn not_found() -> ExitCode {
    crate::output::err_line(
        "xx-go: go: not found\nhelp: install Go (Debian: apt-get install golang-go) or put it on PATH",
    );
    ExitCode::from(127)
}

fn go_command(ctx: &Context, env: &GoEnv) -> Option<Command> {
    let go = cc::find_tool(ctx, "go")?;
    let mut cmd = Command::new(go);
    cmd.envs(env.vars.iter().map(|(n, v)| (n, v)));
    Some(cmd)
}

fn target_env(ctx: &Context, r: &Resolved) -> Result<GoEnv> {
    let row = r.target.context("no table row for the target")?;
    let mut env = GoEnv {
        vars: vec![("GOOS".to_string(), r.os.clone())],
        c_tools: Vec::new(),
    };
    for (name, value) in row.go {
        // GOARCH always (xx exports TARGETARCH); the variant's variables unless set.
        if *name == "GOARCH" || ctx.var(name).is_none_or(str::is_empty) {
            env.set(name, value.to_string());
        }
    }
    if let Some(name) = row.go_variant.filter(|_| !r.variant.is_empty()) {
        if ctx.var(name).is_none_or(str::is_empty) {
            env.set(name, r.variant.clone());
        }
    }
    c_toolchain(ctx, r, &mut env)?;
    let goos = r.os.clone();
    let goarch = env.get(ctx, "GOARCH").unwrap_or_default().to_string();
    if ctx.var(ev::GOBIN).is_none_or(str::is_empty) {
        if let Some(gopath) = ctx.var(ev::GOPATH).filter(|p| !p.is_empty()) {
            let path = ctx.var("PATH").unwrap_or_default();
            env.set("PATH", format!("{gopath}/bin/{goos}_{goarch}:{path}"));
        }
    }
    Ok(env)
}

/// xx's order: the target's gcc if there is one; then, by XX_GO_PREFER_C_COMPILER,
/// xx-clang's aliases (with AR and PKG_CONFIG) or `zig cc`.
fn c_toolchain(ctx: &Context, r: &Resolved, env: &mut GoEnv) -> Result<()> {
    let prefix = cc::prefix_dir(ctx);
    for (var, tool) in [("CC", "gcc"), ("CXX", "g++")] {
        if let Some(v) = command_v(ctx, &prefix, &format!("{}-{tool}", r.triple)) {
            env.set_c_tool(var, v);
        }
    }
    match ctx.var(ev::XX_GO_PREFER_C_COMPILER).unwrap_or("clang") {
        "clang" => {
            if cc::find_tool(ctx, "clang").is_some() {
                // `xx-clang --print-target-triple || true`: a target clang cannot set up
                // keeps the gcc (or nothing). The sysroot waits for cgo's first compile.
                if let Ok(t) = cc::Target::new(ctx, None) {
                    if cc::ensure_aliases(ctx, &t).is_ok() {
                        for (var, tool) in [("CC", "clang"), ("CXX", "clang++")] {
                            let alias = format!("{}-{tool}", t.name);
                            env.set_c_tool(var, in_prefix(ctx, &prefix, &alias));
                        }
                    }
                }
            }
            for (var, tool) in [("AR", "ar"), ("PKG_CONFIG", "pkg-config")] {
                if let Some(v) = command_v(ctx, &prefix, &format!("{}-{tool}", r.triple)) {
                    env.set_c_tool(var, v);
                }
            }
        }
        "zig" => {
            if let Some(zig) = cc::find_tool(ctx, "zig") {
                let zig = shown(ctx, &zig, "zig");
                let target = crate::info::zig_target(ctx, r)?;
                env.set_c_tool("CC", format!("{zig} cc -target {target}"));
                env.set_c_tool("CXX", format!("{zig} c++ -target {target}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `command -v NAME` as xx's script asks it, xx-cc's prefix first (xx's is /usr/bin, on
/// PATH): the prefix's alias, else the bare name where PATH finds it.
fn command_v(ctx: &Context, prefix: &Path, name: &str) -> Option<String> {
    if prefix.join(name).is_file() {
        return Some(in_prefix(ctx, prefix, name));
    }
    cc::on_path(ctx, name).map(|_| name.to_string())
}

/// An alias in xx-cc's prefix as CC takes it: its bare name, as xx writes it, where
/// the prefix is on PATH; else its path (a per-user prefix need not be on PATH).
fn in_prefix(ctx: &Context, prefix: &Path, name: &str) -> String {
    let on_path = ctx
        .var("PATH")
        .is_some_and(|p| std::env::split_paths(p).any(|d| d == prefix));
    if on_path {
        name.to_string()
    } else {
        prefix.join(name).display().to_string()
    }
}

/// A tool's name as a command line gives it: bare where PATH finds that one.
fn shown(ctx: &Context, found: &Path, name: &str) -> String {
    match cc::on_path(ctx, name) {
        Some(p) if p == found => name.to_string(),
        _ => found.display().to_string(),
    }
}

/// `--wrap` / `--unwrap`: go's env file, which every later `go` reads.
fn wrap(ctx: &Context, env: &GoEnv, write: bool) -> Result<ExitCode> {
    let Some(mut cmd) = go_command(ctx, env) else {
        return Ok(not_found());
    };
    let out = crate::proc::run_captured(cmd.args(["env", "GOENV"]))?;
    let file = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if file.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let file = Path::new(&file);
    if !write {
        if file.is_file() {
            std::fs::remove_file(file)
                .with_context(|| format!("cannot remove {}", file.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::fsutil::write_atomic(file, env_file(ctx, env).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The file xx's `--wrap` writes, line for line.
fn env_file(ctx: &Context, env: &GoEnv) -> String {
    let mut text = String::new();
    for name in ["GOOS", "GOARCH", "GOAMD64", "GOARM"] {
        if let Some(v) = env.get(ctx, name) {
            text.push_str(&format!("{name}={v}\n"));
        }
    }
    for name in ["CC", "CXX", "AR", "PKG_CONFIG"] {
        if env.c_tools.contains(&name) {
            let v = env.get(ctx, name).unwrap_or_default();
            text.push_str(&format!("{name}={v}\n"));
        }
    }
    text
}
