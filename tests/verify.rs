//! xx-verify: tonistiigi/xx's test-verify.bats cases (file(1) texts through
//! XX_VERIFY_FILE_CMD_OUTPUT), real binaries built by Debian's cross gcc, and hostile files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{require_tool, run, Env, HostRoot, Run, CROSS_TARGETS};

fn verify(env: &[(&str, &str)], args: &[&str]) -> crate::util::Checked {
    let root = HostRoot::new(Some("ID=debian\nVERSION_ID=12\n"));
    run(&Run::new("xx-verify", args)
        .root(&root)
        .env("XX_HOST_MARCH", "x86_64")
        .envs(env))
}

#[test]
fn xx_bats_cases() {
    let data = include_str!("data/xx-verify-cases.jsonl");
    let mut checked = 0;
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("case is JSON");
        let id = case["id"].as_str().unwrap_or_default();
        let env: Vec<(String, String)> = case["env"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let args: Vec<String> = case["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        // These depend on the host's /bin/ls and file(1); covered by real binaries below.
        if args.iter().any(|a| a == "/bin/ls") || (args.len() == 1 && args[0] == "--setup") {
            continue;
        }
        let env_ref: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = verify(&env_ref, &args_ref);
        let want_ok = case["expect_status"] == "0";
        assert_eq!(
            r.code == 0,
            want_ok,
            "{id}: {env:?} xx-verify {args:?}: exit {} {}",
            r.code,
            r.stderr
        );
        if !want_ok {
            assert_eq!(r.code, 1, "{id}: xx exits 1 on every failure");
        }
        if let Some(part) = case["expect_output_contains"].as_str() {
            assert!(
                r.stderr.contains(part),
                "{id}: {:?} lacks {part:?}",
                r.stderr
            );
        }
        assert_eq!(r.stdout, "", "{id}: xx-verify prints nothing on stdout");
        checked += 1;
    }
    assert!(checked >= 70, "only {checked} cases ran");
}

#[test]
fn exact_messages() {
    const O13: &str = ": ELF 64-bit LSB executable, x86-64, version 1 (SYSV), dynamically linked, interpreter /lib64/ld-linux-x86-64.so.2, stripped";
    const O22: &str = ": ELF 64-bit MSB executable, 64-bit PowerPC or cisco 7500, version 1 (SYSV), statically linked";
    let cases: &[(Env, &[&str], &str)] = &[
        (&[], &[], "Usage: xx-verify [--static] FILE [FILE]...\n\n"),
        (
            &[],
            &["--static"],
            "Usage: xx-verify [--static] FILE [FILE]...\n\n",
        ),
        (
            &[],
            &["--help", "--bad"],
            "Usage: xx-verify [--static] FILE [FILE]...\n\n",
        ),
        (&[], &["--bad", "--help"], "invalid flag --bad\n"),
        (&[], &["-"], "invalid flag -\n"),
        (&[], &["/idontexist"], "file not found: /idontexist\n"),
        (&[], &[""], "file not found: \n"),
        (
            &[
                ("TARGETPLATFORM", "linux/arm64"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
            ],
            &["/f"],
            &format!("file /f does not match expected target architecture arm64: {O13}\n"),
        ),
        (
            &[
                ("TARGETPLATFORM", "darwin/amd64"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
            ],
            &["/f"],
            &format!("file /f does not match expected target OS darwin: {O13}\n"),
        ),
        (
            &[
                ("TARGETPLATFORM", "linux/ppc64le"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O22),
            ],
            &["/f"],
            &format!("file /f does not match expected endianness for ppc64le: {O22}\n"),
        ),
        (
            &[
                ("TARGETPLATFORM", "linux/amd64"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
            ],
            &["--static", "/f"],
            &format!("file /f is not statically linked: {O13}\n"),
        ),
        (
            &[
                ("TARGETPLATFORM", "linux/amd64"),
                ("XX_VERIFY_STATIC", "1"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
            ],
            &["/f"],
            &format!("file /f is not statically linked: {O13}\n"),
        ),
        (
            &[
                ("TARGETPLATFORM", "linux/sparc64"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
            ],
            &["/f"],
            "unsupported target architecture sparc64 for xx-verify\n",
        ),
        (
            &[
                ("TARGETPLATFORM", "plan9/amd64"),
                ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
            ],
            &["/f"],
            "unsupported target os plan9\n",
        ),
    ];
    for (env, args, want) in cases {
        let r = verify(env, args);
        assert_eq!(
            (r.stderr.as_str(), r.code),
            (*want, 1),
            "{env:?} xx-verify {args:?}"
        );
    }
    // XX_VERIFY_STATIC counts only when it is exactly 1, as in xx.
    let r = verify(
        &[
            ("TARGETPLATFORM", "linux/amd64"),
            ("XX_VERIFY_STATIC", "true"),
            ("XX_VERIFY_FILE_CMD_OUTPUT", O13),
        ],
        &["/f"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // --static does not apply to darwin/windows targets.
    let macho = ": Mach-O 64-bit executable x86_64";
    let r = verify(
        &[
            ("TARGETPLATFORM", "darwin/amd64"),
            ("XX_VERIFY_FILE_CMD_OUTPUT", macho),
        ],
        &["--static", "/f"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // --setup alone succeeds (nothing to install: no file(1) needed).
    assert_eq!(verify(&[], &["--setup"]).code, 0);
}

/// One C program compiled by each Debian cross gcc, dynamic and static, built once.
struct CrossBinaries {
    dir: tempfile::TempDir,
}

const HELLO_C: &str = r#"#include <stdio.h>
#include <sys/utsname.h>
int main(void) { struct utsname u; uname(&u); printf("%s\n", u.machine); return 0; }
"#;

fn cross_binaries() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<CrossBinaries>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let have_all = CROSS_TARGETS
            .iter()
            .all(|(_, triple, ..)| require_tool(&format!("{triple}-gcc")));
        if !have_all {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("hello.c");
        std::fs::write(&src, HELLO_C).expect("write hello.c");
        for (_, triple, ..) in CROSS_TARGETS {
            for (suffix, extra) in [("dynamic", None), ("static", Some("-static"))] {
                let out = dir.path().join(format!("hello-{triple}-{suffix}"));
                let mut cmd = Command::new(format!("{triple}-gcc"));
                cmd.arg("-O2").arg("-o").arg(&out).arg(&src);
                if let Some(flag) = extra {
                    cmd.arg(flag);
                }
                let status = cmd.status().expect("run cross gcc");
                assert!(status.success(), "{triple}-gcc failed");
            }
        }
        Some(CrossBinaries { dir })
    });
    built.as_ref().map(|b| b.dir.path())
}

fn bin(dir: &Path, triple: &str, kind: &str) -> PathBuf {
    dir.join(format!("hello-{triple}-{kind}"))
}

#[test]
fn real_cross_binaries_pass_for_their_target_and_fail_for_others() {
    let Some(dir) = cross_binaries() else { return };
    for (platform, triple, ..) in CROSS_TARGETS {
        let dynamic = bin(dir, triple, "dynamic");
        let stat = bin(dir, triple, "static");
        let d = dynamic.to_str().unwrap();
        let s = stat.to_str().unwrap();
        let ok = verify(&[("TARGETPLATFORM", platform)], &[d, s]);
        assert_eq!(ok.code, 0, "{platform}: {}", ok.stderr);
        let strict = verify(&[("TARGETPLATFORM", platform)], &["--strict", d, s]);
        assert_eq!(strict.code, 0, "{platform} --strict: {}", strict.stderr);
        let st = verify(&[("TARGETPLATFORM", platform)], &["--static", s]);
        assert_eq!(
            st.code, 0,
            "{platform} --static on a static binary: {}",
            st.stderr
        );
        let not_static = verify(&[("TARGETPLATFORM", platform)], &["--static", d]);
        assert_eq!(not_static.code, 1);
        assert!(
            not_static
                .stderr
                .starts_with(&format!("file {d} is not statically linked: ELF")),
            "{}",
            not_static.stderr
        );
        // xx stops at the first static file that passes; we check every file.
        let both = verify(&[("TARGETPLATFORM", platform)], &["--static", s, d]);
        assert_eq!(
            both.code, 1,
            "{platform}: the dynamic file after a static one must fail"
        );
        // Every other target rejects it.
        for (other, ..) in CROSS_TARGETS
            .iter()
            .filter(|(p, t, ..)| t != triple && !same_machine(p, platform))
        {
            let r = verify(&[("TARGETPLATFORM", other)], &[d]);
            assert_eq!(r.code, 1, "{triple} binary must fail for {other}");
            assert!(
                r.stderr.contains("does not match expected target"),
                "{}",
                r.stderr
            );
        }
        // A shared library has no interpreter, but it is not static.
        let lib = dir.join(format!("libhello-{triple}.so"));
        let gcc = Command::new(format!("{triple}-gcc"))
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(dir.join("hello.c"))
            .status()
            .expect("run cross gcc");
        assert!(gcc.success());
        let r = verify(
            &[("TARGETPLATFORM", platform)],
            &["--static", lib.to_str().unwrap()],
        );
        assert_eq!(r.code, 1, "{platform}: a shared library passed --static");
        assert!(
            r.stderr.contains("is not statically linked"),
            "{}",
            r.stderr
        );
        let mac = verify(&[("TARGETPLATFORM", "darwin/arm64")], &[d]);
        assert!(
            mac.stderr
                .contains("does not match expected target OS darwin"),
            "{}",
            mac.stderr
        );
    }
}

/// arm v6 and v7 share the ELF machine (xx does not check the variant).
fn same_machine(a: &str, b: &str) -> bool {
    a.starts_with("linux/arm/") && b.starts_with("linux/arm/")
}

#[test]
fn strict_checks_what_file_cannot_tell() {
    let Some(dir) = cross_binaries() else { return };
    let softfloat = bin(dir, "arm-linux-gnueabi", "dynamic");
    let sf = softfloat.to_str().unwrap();
    // Compatible mode, like xx: the variant and float ABI are not looked at.
    assert_eq!(verify(&[("TARGETPLATFORM", "linux/arm/v7")], &[sf]).code, 0);
    let r = verify(&[("TARGETPLATFORM", "linux/arm/v7")], &["--strict", sf]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("uses the soft-float ABI, expected hard"),
        "{}",
        r.stderr
    );
    // An ARMv7 binary is too new for an armv6 target.
    let hardfloat = bin(dir, "arm-linux-gnueabihf", "static");
    let r = verify(
        &[("TARGETPLATFORM", "linux/arm/v5")],
        &["--strict", hardfloat.to_str().unwrap()],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("needs ARMv7"), "{}", r.stderr);
    // --json reports what was read.
    let r = verify(
        &[("TARGETPLATFORM", "linux/riscv64")],
        &[
            "--json",
            bin(dir, "riscv64-linux-gnu", "dynamic").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("--json");
    let facts = &v["files"][0]["facts"];
    assert_eq!(facts["float_abi"], "double");
    assert_eq!(facts["interpreter"], "/lib/ld-linux-riscv64-lp64d.so.1");
    assert_eq!(facts["needed"][0], "libc.so.6");
}

#[test]
fn max_glibc_rejects_newer_symbol_versions() {
    let Some(dir) = cross_binaries() else { return };
    let d = bin(dir, "aarch64-linux-gnu", "dynamic");
    let json = verify(
        &[("TARGETPLATFORM", "linux/arm64")],
        &["--json", d.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("--json");
    let needed = v["files"][0]["max_glibc"]
        .as_str()
        .expect("a dynamic glibc binary needs some GLIBC_x.y")
        .to_string();
    let (major, minor) = needed.split_once('.').unwrap();
    let older = format!("{major}.{}", minor.parse::<u32>().unwrap() - 1);
    let r = verify(
        &[("TARGETPLATFORM", "linux/arm64")],
        &["--max-glibc", &older, d.to_str().unwrap()],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "needs glibc {needed}, newer than --max-glibc {older}"
        )),
        "{}",
        r.stderr
    );
    let r = verify(
        &[("TARGETPLATFORM", "linux/arm64")],
        &["--max-glibc", &needed, d.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Static binaries carry no symbol versions.
    let s = bin(dir, "aarch64-linux-gnu", "static");
    assert_eq!(
        verify(
            &[("TARGETPLATFORM", "linux/arm64")],
            &["--max-glibc", "2.0", s.to_str().unwrap()]
        )
        .code,
        0
    );
}

#[test]
fn verified_binaries_run_under_qemu() {
    let Some(dir) = cross_binaries() else { return };
    for (platform, triple, qemu, uname) in CROSS_TARGETS {
        if !require_tool(qemu) {
            return;
        }
        let s = bin(dir, triple, "static");
        assert_eq!(
            verify(
                &[("TARGETPLATFORM", platform)],
                &["--static", s.to_str().unwrap()]
            )
            .code,
            0
        );
        let out = Command::new(qemu).arg(&s).output().expect("run qemu");
        assert!(out.status.success(), "{qemu} {}: {:?}", s.display(), out);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            *uname,
            "{platform} under {qemu}"
        );
    }
}

/// A named pipe nobody writes to: opening it for reading would block forever.
fn fifo(dir: &Path) -> String {
    let path = dir.join("fifo");
    let status = Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    path.to_string_lossy().into_owned()
}

#[test]
fn hostile_inputs_get_a_clear_error_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().into_owned()
    };
    let mut elf_header = vec![0u8; 64];
    elf_header[..4].copy_from_slice(b"\x7fELF");
    elf_header[4] = 2; // 64-bit
    elf_header[5] = 1; // little endian
    elf_header[6] = 1;
    elf_header[18] = 183; // aarch64
                          // A header that claims program headers far beyond the end of the file.
    let mut lying = elf_header.clone();
    lying[32..40].copy_from_slice(&0x7fff_ffff_u64.to_le_bytes()); // e_phoff
    lying[54] = 56; // e_phentsize
    lying[56] = 0xff; // e_phnum
    lying[40..48].copy_from_slice(&0xffff_ffff_u64.to_le_bytes()); // e_shoff
    lying[58] = 64;
    lying[60] = 0xff;
    let mut random = Vec::with_capacity(4096);
    let mut seed = 42u32;
    for _ in 0..4096 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        random.push((seed >> 16) as u8);
    }
    let cases = [
        (
            write("empty", b""),
            "does not match expected target OS linux: not an executable",
        ),
        (
            write("text", b"#!/bin/sh\necho hi\n"),
            "does not match expected target OS linux: not an executable",
        ),
        (
            write("random", &random),
            "does not match expected target OS linux",
        ),
        (
            write("truncated", &b"\x7fELF\x02\x01\x01"[..]),
            "does not match expected target OS linux",
        ),
        (write("lying", &lying), "malformed ELF file"),
        (
            write("macho-truncated", &[0xcf, 0xfa, 0xed, 0xfe, 7]),
            "does not match expected target OS linux",
        ),
        (
            write("pe-truncated", b"MZ\x90\x00"),
            "does not match expected target OS linux",
        ),
        (dir.path().to_string_lossy().into_owned(), "file not found"),
        (fifo(dir.path()), "file not found"),
    ];
    for (path, want) in &cases {
        let r = verify(&[("TARGETPLATFORM", "linux/arm64")], &[path]);
        assert_eq!(r.code, 1, "{path}: {}", r.stderr);
        assert!(
            r.stderr.contains(want),
            "{path}: {:?} should contain {want:?}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "one line: {:?}", r.stderr);
    }
    // Truncations of a real binary at every interesting length.
    if let Some(bins) = cross_binaries() {
        let real = std::fs::read(bin(bins, "aarch64-linux-gnu", "dynamic")).unwrap();
        for len in [
            1,
            4,
            16,
            52,
            63,
            64,
            65,
            120,
            500,
            1000,
            real.len() / 2,
            real.len() - 1,
        ] {
            let p = write(&format!("cut-{len}"), &real[..len.min(real.len())]);
            let r = verify(&[("TARGETPLATFORM", "linux/arm64")], &[&p]);
            assert!(
                r.code == 0 || r.code == 1,
                "truncated at {len}: {:?}",
                r.stderr
            );
            assert!(
                !r.stderr.contains("panicked"),
                "truncated at {len}: {}",
                r.stderr
            );
        }
    }
}

/// An ELF64 file of `size` bytes whose `count` program headers are all PT_INTERP, each
/// at a different offset and reaching to the end of the file.
fn many_interpreters(count: u64, size: u64) -> Vec<u8> {
    let mut f = vec![0u8; size as usize];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // 64-bit
    f[5] = 1; // little-endian
    f[6] = 1; // version
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&(count as u16).to_le_bytes()); // e_phnum
    let data_start = 64 + 56 * count;
    for i in 0..count {
        let ph = (64 + 56 * i) as usize;
        let offset = data_start + i * 4096;
        f[ph..ph + 4].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
        f[ph + 8..ph + 16].copy_from_slice(&offset.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&(size - offset).to_le_bytes()); // p_filesz
        f[ph + 40..ph + 48].copy_from_slice(&(size - offset).to_le_bytes()); // p_memsz
    }
    let interp = b"/lib64/ld-linux-x86-64.so.2\0";
    let at = data_start as usize;
    f[at..at + interp.len()].copy_from_slice(interp);
    f
}

/// Issue 9 §1.8: a 4 MiB ELF with 400 PT_INTERP headers at different offsets reached
/// 1.6 GB resident (every read kept). Now one interpreter is read, and the bytes read
/// per file are bounded: it runs within 300 MB of address space and answers normally.
#[test]
fn many_interpreters_are_read_once_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile");
    std::fs::write(&file, many_interpreters(400, 4 << 20)).unwrap();
    let xx_verify = crate::util::bin_dir().join("xx-verify");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 300000; exec \"$0\" --json \"$1\"")
        .arg(&xx_verify)
        .arg(&file)
        .env_clear()
        .env("TARGETPLATFORM", "linux/amd64")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["files"][0]["facts"]["interpreter"], "/lib64/ld-linux-x86-64.so.2",
        "{report}"
    );
}
