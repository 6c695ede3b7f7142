//! Windows targets with Debian's mingw-w64: xx-windres as xx's own tests check it (dry
//! run) and for real (a `.rc` compiled to a `.syso` that links into a C and a Go
//! program), xx-clang/xx-clang++ for windows/amd64 and windows/386, xx-cargo for
//! x86_64-pc-windows-gnu, all checked with xx-verify; the amd64 programs run under wine.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{require_tools, run, skip, which, Checked, Project, Run};

const RC: &str = "1 VERSIONINFO\nFILEVERSION 1,2,3,4\nPRODUCTVERSION 1,2,3,4\nBEGIN\n  \
    BLOCK \"StringFileInfo\"\n  BEGIN\n    BLOCK \"040904b0\"\n    BEGIN\n      \
    VALUE \"ProductName\", \"xx windres test\"\n    END\n  END\nEND\n\
    STRINGTABLE\nBEGIN\n  1 \"hello from a resource\"\nEND\n";

/// Prints string resource 1: proves the `.syso` was linked in.
const RESOURCE_C: &str = "#include <stdio.h>\n#include <windows.h>\n\
    int main(void) { char buf[64]; int n = LoadStringA(GetModuleHandleA(NULL), 1, buf, sizeof buf);\n\
    printf(\"%s\\n\", n > 0 ? buf : \"no resource\"); return n > 0 ? 0 : 1; }\n";

const HELLO_C: &str = "#include <stdio.h>\n#include <windows.h>\n\
    int main(void) { printf(\"c on windows %d\\n\", GetCurrentProcessId() > 0); return 0; }\n";
const HELLO_CXX: &str = "#include <iostream>\n#include <string>\n\
    int main() { std::string s = \"c++ on windows\"; std::cout << s << std::endl; }\n";

struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("app.rc", RC),
            ("resource.c", RESOURCE_C),
            ("hello.c", HELLO_C),
            ("hello.cc", HELLO_CXX),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Work { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, name: &str, platform: &str, args: &[&str], env: &[(&str, &str)]) -> Checked {
        let mut r = Run::new(name, args)
            .env("TARGETPLATFORM", platform)
            .env("XX_PREFIX", &self.path("prefix").to_string_lossy())
            .envs(env);
        r.cwd = Some(self.dir.path().to_path_buf());
        run(&r)
    }

    fn ok(&self, name: &str, platform: &str, args: &[&str]) {
        let r = self.run(name, platform, args, &[]);
        assert_eq!(r.code, 0, "{name} {args:?} for {platform}: {}", r.stderr);
    }

    fn verify(&self, platform: &str, file: &str) {
        self.ok("xx-verify", platform, &[file]);
    }
}

/// wine for the amd64 programs: Debian's wine64 (`/usr/lib/wine/wine64`, no `wine` on
/// PATH without the `wine` package). scripts/setup-test-deps installs it.
pub fn wine() -> Option<PathBuf> {
    which("wine64")
        .or_else(|| which("wine"))
        .or_else(|| Some(PathBuf::from("/usr/lib/wine/wine64")).filter(|p| p.is_file()))
        .or_else(|| {
            skip("wine64 not installed: the Windows programs are built and verified, not run");
            None
        })
}

/// A program's stdout under wine, in a throwaway wine prefix.
pub fn under_wine(wine: &Path, prefix: &Path, exe: &Path) -> String {
    // A wine that hangs (a dialog, a stuck wineserver) fails the test, not CI.
    let out = Command::new("timeout")
        .arg("300")
        .arg(wine)
        .arg(exe)
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env_remove("DISPLAY")
        .output()
        .expect("run wine");
    assert!(out.status.success(), "wine {}: {out:?}", exe.display());
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// tonistiigi/xx's src/test-windres.bats, case for case: the same commands, byte for byte.
#[test]
fn windres_dry_run_prints_xxs_commands() {
    if !require_tools(&["llvm-rc", "llvm-cvtres"]) {
        return;
    }
    let w = Work::new();
    let env = [
        ("XX_WINDRES_DRYRUN", "1"),
        ("XX_TMP_FILE_FIXED", "/tmp/foo"),
        ("CC", "clang"),
    ];
    let cases: [(&str, &[&str], &str); 4] = [
        (
            "windows/arm",
            &["-i", "myinp.rc", "-o", "myout.syso", "--use-temp-file", "-I", "/foo", "-D", "FOO=bar", "-UNOT", "-DABC=def"],
            "clang -E -xc -D RC_INVOKED=1 -I/foo -D FOO=bar -U NOT -D ABC=def -o /tmp/foo myinp.rc\n\
             llvm-rc -fo /tmp/foo_ -I . /tmp/foo\nllvm-cvtres -machine:ARM -out:myout.syso /tmp/foo_\n",
        ),
        (
            "windows/arm64",
            &["--preprocessor=cpp", "-O", "coff", "-D", "FOO=bar", "-UNOT", "-DABC=def", "myinp", "myout"],
            "cpp -E -xc -D RC_INVOKED=1 -D FOO=bar -U NOT -D ABC=def -o /tmp/foo myinp\n\
             llvm-rc -fo /tmp/foo_ -I . /tmp/foo\nllvm-cvtres -machine:ARM64 -out:myout /tmp/foo_\n",
        ),
        (
            "windows/arm64",
            &["-D", "FOO=bar", "myinp.rc", "myout.res"],
            "clang -E -xc -D RC_INVOKED=1 -D FOO=bar -o /tmp/foo myinp.rc\n\
             llvm-rc -fo /tmp/foo_ -I . /tmp/foo\ncp /tmp/foo_ myout.res\n",
        ),
        (
            "windows/arm64",
            &["-D", "FOO=bar", "-F", "pe-x86-64", "mydir/myinp.rc", "myout.syso"],
            "clang -E -xc -D RC_INVOKED=1 -D FOO=bar -o /tmp/foo mydir/myinp.rc\n\
             llvm-rc -fo /tmp/foo_ -I mydir /tmp/foo\nllvm-cvtres -machine:X64 -out:myout.syso /tmp/foo_\n",
        ),
    ];
    for (platform, args, expected) in cases {
        let r = w.run("xx-windres", platform, args, &env);
        assert_eq!(
            (r.stdout.as_str(), r.code),
            (expected, 0),
            "{args:?}: {}",
            r.stderr
        );
    }
    // As xx's shell: an empty `--output=` (even after another) means the default, an
    // empty argument ends the command line; a dry run prints xx's lines whatever
    // SOURCE_DATE_EPOCH says, and writes nothing, not even a temp dir.
    let tmp = w.path("tmpdir");
    std::fs::create_dir_all(&tmp).unwrap();
    let tmp_text = tmp.to_string_lossy();
    let dry = [
        env.as_slice(),
        &[("SOURCE_DATE_EPOCH", "1700000000"), ("TMPDIR", &tmp_text)],
    ]
    .concat();
    let stdout_line = "clang -E -xc -D RC_INVOKED=1 -o /tmp/foo a.rc\n\
        llvm-rc -fo /tmp/foo_ -I . /tmp/foo\nllvm-cvtres -machine:X64 -out:/dev/stdout /tmp/foo_\n";
    let edges: [&[&str]; 3] = [
        &["--output=", "--target=", "a.rc"],
        &["-o", "b.syso", "--output=", "a.rc"],
        &["a.rc", "", "b", "c"],
    ];
    for args in edges {
        let r = w.run("xx-windres", "windows/amd64", args, &dry);
        assert_eq!(
            (r.stdout.as_str(), r.code),
            (stdout_line, 0),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a dry run wrote"
    );
    for flag in ["--version", "-V"] {
        let r = w.run("xx-windres", "windows/amd64", &[flag], &[]);
        assert_eq!((r.stdout.as_str(), r.code), ("xx-windres 0.1\n", 0));
    }
    // xx's messages, one line each, nothing on stdout, exit 1.
    let failures: [(&str, &[&str], &str); 5] = [
        (
            "windows/amd64",
            &["-foo", "foobar"],
            "invalid option -foo\n",
        ),
        (
            "windows/amd64",
            &["-J", "xml", "a.rc"],
            "invalid input format xml\n",
        ),
        (
            "windows/amd64",
            &["-O", "elf", "a.rc", "b"],
            "invalid output format elf\n",
        ),
        (
            "windows/amd64",
            &["-o"],
            "error: argument to -o is missing\n",
        ),
        (
            "windows/amd64",
            &["a.rc", "b.syso", "c"],
            "too many arguments\n",
        ),
    ];
    for (platform, args, expected) in failures {
        let r = w.run("xx-windres", platform, args, &env);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.code),
            ("", expected, 1),
            "{args:?}"
        );
    }
    let r = w.run(
        "xx-windres",
        "windows/amd64",
        &["-F", "riscv64", "a.rc", "b.syso"],
        &env,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("invalid target riscv64 for xx-windres\nhelp: "),
        "{}",
        r.stderr
    );
    let help = w.run("xx-windres", "windows/amd64", &["--help"], &[]);
    assert_eq!(help.code, 0);
    assert!(
        help.stderr
            .contains(" -i --input=<file>            Name input file\n"),
        "{}",
        help.stderr
    );
}

/// A real `.rc`: compiled to a `.syso` (reproducibly, with SOURCE_DATE_EPOCH), linked into
/// a C program by xx-clang and into a Go program by xx-go, its resources found in both.
#[test]
fn windres_resources_link_into_c_and_go_programs() {
    if !require_tools(&[
        "clang",
        "ld.lld",
        "llvm-rc",
        "llvm-cvtres",
        "llvm-readobj",
        "x86_64-w64-mingw32-gcc",
        "go",
    ]) {
        return;
    }
    let w = Work::new();
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    for out in ["app.syso", "again.syso"] {
        let r = w.run(
            "xx-windres",
            "windows/amd64",
            &["-i", "app.rc", "-o", out],
            &epoch,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // The default output, stdout, gets the same bytes.
    let r = w.run("xx-windres", "windows/amd64", &["app.rc"], &epoch);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let syso = std::fs::read(w.path("app.syso")).unwrap();
    assert_eq!(r.stdout_bytes, syso, "xx-windres app.rc > file");
    // `-` is stdout for an object (llvm-cvtres's `-out:-`), a file for a `.res` (xx's cp).
    let r = w.run("xx-windres", "windows/amd64", &["app.rc", "-"], &epoch);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout_bytes, syso, "xx-windres app.rc -");
    assert!(!w.path("-").exists(), "xx-windres app.rc - made a file");
    let r = w.run(
        "xx-windres",
        "windows/amd64",
        &["-O", "res", "app.rc", "-"],
        &epoch,
    );
    assert_eq!((r.stdout_bytes.len(), r.code), (0, 0), "{}", r.stderr);
    assert_eq!(
        &std::fs::read(w.path("-")).unwrap()[..4],
        &[0, 0, 0, 0],
        "a .res file `-`"
    );
    // A /proc/ path is opened as it is (no temp file beside it): made when missing, and
    // what was there is gone.
    std::fs::write(w.path("longer.syso"), vec![b'x'; syso.len() * 2]).unwrap();
    for name in ["longer.syso", "new.syso"] {
        let through_proc = format!("/proc/self/cwd/{name}");
        let r = w.run(
            "xx-windres",
            "windows/amd64",
            &["app.rc", &through_proc],
            &epoch,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(std::fs::read(w.path(name)).unwrap(), syso, "{through_proc}");
    }
    // A socket where the output goes is not replaced: the write fails, as xx's does.
    let socket = w.path("listening.syso");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let r = w.run(
        "xx-windres",
        "windows/amd64",
        &["app.rc", "listening.syso"],
        &epoch,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("listening.syso"), "{}", r.stderr);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&socket).unwrap().file_type().is_socket());
    // A failing step's exit code is xx-windres's (xx's `set -e`), and no output is left.
    let failing = w.path("failing-cpp");
    std::fs::write(&failing, "#!/bin/sh\necho cpp says no >&2\nexit 7\n").unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&failing)
        .status()
        .unwrap();
    let pre = format!("--preprocessor={}", failing.display());
    let r = w.run(
        "xx-windres",
        "windows/amd64",
        &[&pre, "app.rc", "failed.syso"],
        &[],
    );
    assert_eq!((r.stderr.as_str(), r.code), ("cpp says no\n", 7));
    assert!(!w.path("failed.syso").exists());
    assert_eq!(
        syso,
        std::fs::read(w.path("again.syso")).unwrap(),
        "same input, same bytes"
    );
    assert_eq!(&syso[..2], &[0x64, 0x86], "an x86-64 COFF object");
    // The `<triple>-windres` alias xx-cc makes for Windows targets, as autotools calls it.
    w.ok("xx-clang", "windows/amd64", &["--setup-target-triple"]);
    let alias = w.path("prefix/x86_64-w64-mingw32-windres");
    let res = Command::new(&alias)
        .args(["app.rc", "app.res"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(w.dir.path())
        .output()
        .unwrap();
    assert!(res.status.success(), "{res:?}");
    assert_eq!(
        &std::fs::read(w.path("app.res")).unwrap()[..4],
        &[0, 0, 0, 0],
        "a .res file"
    );

    w.ok(
        "xx-clang",
        "windows/amd64",
        &["-o", "resource.exe", "resource.c", "app.syso"],
    );
    w.verify("windows/amd64", "resource.exe");
    assert_resources(&w.path("resource.exe"));

    let go_dir = w.path("goapp");
    std::fs::create_dir_all(&go_dir).unwrap();
    std::fs::write(go_dir.join("go.mod"), "module goapp\n\ngo 1.19\n").unwrap();
    std::fs::write(
        go_dir.join("main.go"),
        "package main\n\nfunc main() { println(\"go\") }\n",
    )
    .unwrap();
    std::fs::copy(w.path("app.syso"), go_dir.join("app_windows_amd64.syso")).unwrap();
    let mut r = Run::new("xx-go", &["build", "-o", "goapp.exe", "."])
        .env("TARGETPLATFORM", "windows/amd64")
        .env("GOCACHE", &w.path("gocache").to_string_lossy())
        .env("GOPATH", &w.path("gopath").to_string_lossy())
        .env("CGO_ENABLED", "0");
    r.cwd = Some(go_dir.clone());
    let go = run(&r);
    assert_eq!(go.code, 0, "{}", go.stderr);
    w.verify("windows/amd64", "goapp/goapp.exe");
    assert_resources(&go_dir.join("goapp.exe"));

    if let Some(wine) = wine() {
        let out = under_wine(&wine, &w.path("wine"), &w.path("resource.exe"));
        assert_eq!(out, "hello from a resource\n");
    }
}

fn assert_resources(exe: &Path) {
    let out = Command::new("llvm-readobj")
        .arg("--coff-resources")
        .arg(exe)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("STRINGTABLE") && text.contains("VERSIONINFO"),
        "{}: {text}",
        exe.display()
    );
}

/// C and C++ for windows/amd64 and windows/386 with clang, lld and Debian's mingw-w64
/// (its libgcc and libstdc++ sit in `12-win32`, which clang 14 does not find alone).
#[test]
fn c_and_cxx_for_windows_amd64_and_386() {
    let tools = [
        "clang",
        "clang++",
        "ld.lld",
        "x86_64-w64-mingw32-g++",
        "i686-w64-mingw32-g++",
    ];
    if !require_tools(&tools) {
        return;
    }
    let w = Work::new();
    for (platform, arch) in [("windows/amd64", "amd64"), ("windows/386", "386")] {
        let c = format!("hello-{arch}.exe");
        let cxx = format!("hello-cxx-{arch}.exe");
        w.ok(
            "xx-clang",
            platform,
            &["-Wall", "-Werror", "-o", &c, "hello.c"],
        );
        // Compile and link apart, as build systems do: no warning about unused flags.
        let obj = format!("hello-{arch}.o");
        let compile = w.run(
            "xx-clang++",
            platform,
            &["-Wall", "-c", "-o", &obj, "hello.cc"],
            &[],
        );
        assert_eq!((compile.code, compile.stderr.as_str()), (0, ""));
        w.ok("xx-clang++", platform, &["-static", "-o", &cxx, &obj]);
        for exe in [&c, &cxx] {
            w.verify(platform, exe);
        }
        let other = if arch == "386" {
            "windows/amd64"
        } else {
            "windows/386"
        };
        assert_eq!(
            w.run("xx-verify", other, &[&c], &[]).code,
            1,
            "{c} is not {other}"
        );
    }
    // The config is xx's line; mingw's gcc directory is added per call, not written there.
    assert_eq!(
        std::fs::read_to_string(w.path("prefix/i686-w64-mingw32.cfg")).unwrap(),
        "--target=i686-w64-mingw32 -fuse-ld=lld -I/usr/i686-w64-mingw32/include -L/usr/i686-w64-mingw32/lib\n"
    );
    if let Some(wine) = wine() {
        let prefix = w.path("wine");
        assert_eq!(
            under_wine(&wine, &prefix, &w.path("hello-amd64.exe")),
            "c on windows 1\n"
        );
        assert_eq!(
            under_wine(&wine, &prefix, &w.path("hello-cxx-amd64.exe")),
            "c++ on windows\n"
        );
    }
}

/// xx-cargo for x86_64-pc-windows-gnu: the std from rustup, linked by xx-clang with
/// mingw's bfd ld (lld 14 refuses the std's `-exclude-symbols` directives). Debian 12's
/// wine 8 lacks bcryptprimitives.dll, which Rust's std imports: built and verified here.
#[test]
fn xx_cargo_builds_for_windows_gnu() {
    if !require_tools(&["cargo", "rustup", "clang", "x86_64-w64-mingw32-ld"]) {
        return;
    }
    let p = Project::new("hello-crate");
    let build = p.cargo("windows/amd64", &["build", "--release"], &[]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let exe = p.binary("x86_64-pc-windows-gnu", "release", "hello-crate.exe");
    let v =
        run(&Run::new("xx-verify", &[&exe.to_string_lossy()])
            .env("TARGETPLATFORM", "windows/amd64"));
    assert_eq!(v.code, 0, "{}", v.stderr);
    let triple = p.cargo("windows/amd64", &["--print-target-triple"], &[]);
    assert_eq!(triple.stdout, "x86_64-pc-windows-gnu\n");
}
