"""scripts/bench --only build: the examples built for three platforms by `xx build` vs
the same builds with the target's own compilers running under qemu emulation (the way
a Dockerfile without xx builds on a machine of another arch).

The emulated side: a Debian rootfs per foreign arch (`mmdebstrap --variant=extract`
from the host's apt sources, with gcc, cmake, make, rustc and cargo of that arch;
cached under target/bench-cache, not timed), entered with chroot inside a user
namespace that has its own binfmt_misc (Linux 6.7+), where the arch's static qemu is
registered: every process of the build (cmake, make, gcc, cc1, as, ld, cargo, rustc,
build scripts) runs emulated, as under docker buildx with QEMU. linux/amd64 builds
natively on both sides. Both sides run their platforms at the same time on all cores,
with the toolchains already installed; the clock covers the project builds only.
"""
import os
import shutil
import subprocess
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
ROOTFS_PACKAGES = ["gcc", "g++", "make", "cmake", "libc6-dev", "rustc-web", "cargo-web", "dash",
                   "bash", "coreutils", "sed", "grep", "findutils", "diffutils", "gawk"]
CMAKE = "cmake -S {src} -B {build} -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build {build} >/dev/null"


def target_rows():
    with open(os.path.join(ROOT, "toolchains/targets.toml"), "rb") as f:
        table = tomllib.load(f)
    return {row["platform"]: row for row in table["target"]}


def binfmt_rule(name, row, qemu):
    """A binfmt_misc registration for the row's ELF machine (executables and PIEs)."""
    b = row["bin"]
    little = b["endian"] == "little"
    machine = b["machine"].to_bytes(2, "little" if little else "big")
    etype = b"\x02\x00" if little else b"\x00\x02"
    magic = b"\x7fELF" + bytes([1 if b["bits"] == 32 else 2, 1 if little else 2, 1]) + b"\x00" * 9 + etype + machine
    mask = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + (b"\xfe\xff" if little else b"\xff\xfe") + b"\xff\xff"
    hexed = lambda bs: "".join(f"\\x{c:02x}" for c in bs)
    return f":{name}:M::{hexed(magic)}:{hexed(mask)}:{qemu}:F"


def host_sources():
    files = [f for f in ["/etc/apt/sources.list"] if os.path.exists(f) and os.path.getsize(f) > 0]
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        files += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".list", ".sources")))
    return files


def emulated_rootfs(cache, deb_arch):
    """The arch's build tools in a rootfs, made once (mmdebstrap, the host's sources)."""
    root = os.path.join(cache, f"rootfs-{deb_arch}")
    if os.path.exists(os.path.join(root, ".complete")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    codename = subprocess.run(["sh", "-c", ". /etc/os-release; echo $VERSION_CODENAME"],
                              check=True, capture_output=True, text=True).stdout.strip()
    print(f"build: making the {deb_arch} rootfs (mmdebstrap, not timed)", file=sys.stderr)
    subprocess.run(["mmdebstrap", "--quiet", "--mode=root", "--variant=extract",
                    f"--architectures={deb_arch}", "--include=" + ",".join(ROOTFS_PACKAGES),
                    codename, root] + host_sources(), check=True)
    for d in ("proc", "dev", "src", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    # What update-alternatives would have made (extract runs no maintainer scripts).
    for link, target in (("cc", "gcc"), ("c++", "g++")):
        path = os.path.join(root, "usr/bin", link)
        if not os.path.lexists(path):
            os.symlink(target, path)
    open(os.path.join(root, ".complete"), "w").close()
    return root


def static_qemu(cache):
    """qemu-user-static's binaries (a static interpreter works inside the chroot)."""
    out = os.path.join(cache, "qemu-static")
    if not os.path.isdir(out):
        debs = os.path.join(cache, "debs")
        os.makedirs(debs, exist_ok=True)
        subprocess.run(["apt-get", "download", "-q", "qemu-user-static"], cwd=debs, check=True,
                       stdout=subprocess.DEVNULL)
        deb = next(os.path.join(debs, f) for f in os.listdir(debs) if f.startswith("qemu-user-static"))
        subprocess.run(["dpkg-deb", "-x", deb, out + ".tmp"], check=True)
        os.rename(out + ".tmp", out)
    return os.path.join(out, "usr/bin")


def emulated_build(root, rule, src, log):
    """Both examples built inside the rootfs, every process emulated."""
    script = f"""set -e
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
printf '%s\\n' '{rule}' > /proc/sys/fs/binfmt_misc/register
mount --bind {src} {root}/src
mount -t proc proc {root}/proc
touch {root}/dev/null && mount --bind /dev/null {root}/dev/null
chroot {root} /bin/sh -c '
  set -e
  export PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp
  rm -rf /tmp/build-c /tmp/target
  {CMAKE.format(src="/src/hello-c", build="/tmp/build-c")}
  cd /src/hello-rs && CARGO_TARGET_DIR=/tmp/target cargo build -q --release --offline
  rm -rf /tmp/build-c /tmp/target'
"""
    return subprocess.Popen(["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork",
                             "sh", "-c", script], stdout=log, stderr=log, start_new_session=True)


def native_build(src, scratch, log):
    script = f"""set -e
{CMAKE.format(src=src + '/hello-c', build=scratch + '/build-c')}
cd {src}/hello-rs && CARGO_TARGET_DIR={scratch}/target cargo build -q --release --offline
"""
    return subprocess.Popen(["sh", "-c", script], stdout=log, stderr=log, start_new_session=True)


def project(work):
    """The examples, the Rust one's crates vendored (the emulated builds are offline)."""
    src = os.path.join(work, "examples")
    shutil.copytree(os.path.join(ROOT, "examples"), src, ignore=shutil.ignore_patterns("target", "build"))
    rs = os.path.join(src, "hello-rs")
    vendor = subprocess.run(["cargo", "vendor", "--locked", "vendor"], cwd=rs, check=True,
                            capture_output=True, text=True).stdout
    os.makedirs(os.path.join(rs, ".cargo"), exist_ok=True)
    with open(os.path.join(rs, ".cargo/config.toml"), "w") as f:
        f.write(vendor)
    return src


# Under qemu-user 7.2 an emulated cargo now and then stops for good (asleep, no CPU;
# seen once in a few runs): such a run is killed and timed again, not waited for.
EMULATED_ATTEMPTS = 3
EMULATED_TIMEOUT = 600


def emulated_run(emulated, src, work, log):
    """All platforms at once: (failed platforms or ["hung"], seconds)."""
    shutil.rmtree(os.path.join(work, "native"), ignore_errors=True)
    start = time.perf_counter()
    jobs = [(p, emulated_build(root, rule, src, log)) for p, root, rule in emulated]
    jobs.append(("linux/amd64", native_build(src, os.path.join(work, "native"), log)))
    failed = []
    for platform, job in jobs:
        try:
            code = job.wait(timeout=max(1, EMULATED_TIMEOUT - (time.perf_counter() - start)))
        except subprocess.TimeoutExpired:
            for _, j in jobs:
                try:
                    os.killpg(j.pid, 9)
                except ProcessLookupError:
                    pass
                j.wait()
            return ["hung"], 0.0
        if code != 0:
            failed.append(platform)
    return failed, time.perf_counter() - start


def xx_build(xx, src, work):
    """Both examples through `xx build` for the three platforms, into OCI layouts."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    start = time.perf_counter()
    for name, argv in [
        ("hello-c", ["--artifact", "build/{arch}{variant}/hello-c", "--", "sh", "-c",
                     CMAKE.format(src=".", build="build/$TARGETARCH$TARGETVARIANT")]),
        ("hello-rs", ["--", "cargo", "build", "-q", "--release", "--offline"]),
    ]:
        subprocess.run([xx, "build", "-q", "--platform", ",".join(PLATFORMS), "-o",
                        f"oci:{work}/xx-{name}:latest"] + argv, cwd=os.path.join(src, name), env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def clean(src):
    for d in ("hello-c/build", "hello-rs/target"):
        shutil.rmtree(os.path.join(src, d), ignore_errors=True)


def bench_build(xx, work):
    if not shutil.which("mmdebstrap") or not shutil.which("unshare"):
        print("build: skipped (needs mmdebstrap and unshare)")
        return
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"build: skipped (no binfmt_misc of its own in a user namespace: Linux 6.7+; {probe.stderr.strip()})")
        return
    cache = os.path.join(ROOT, "target/bench-cache")
    os.makedirs(cache, exist_ok=True)
    rows = target_rows()
    qemu_dir = static_qemu(cache)
    src = project(work)
    # Once untimed: toolchains and std installed, crates compiled nowhere yet.
    xx_build(xx, src, work)
    clean(src)
    xx_time = xx_build(xx, src, work)
    clean(src)

    emulated = []
    for platform in PLATFORMS[1:]:
        row = rows[platform]
        qemu = os.path.join(qemu_dir, row["qemu"] + "-static")
        emulated.append((platform, emulated_rootfs(cache, row["deb"]), binfmt_rule(row["qemu"], row, qemu)))
    for attempt in range(1, EMULATED_ATTEMPTS + 1):
        log = open(os.path.join(work, "emulated.log"), "w")
        failed, emulated_time = emulated_run(emulated, src, work, log)
        if failed != ["hung"]:
            break
        print(f"build: an emulated build hung (qemu-user, attempt {attempt}); killed, "
              "timing a fresh run", file=sys.stderr)
    if failed:
        log.close()
        tail = open(os.path.join(work, "emulated.log")).read()[-3000:]
        print(f"build: the emulated build failed for {', '.join(failed)}:\n{tail}")
        return
    print(f"{'examples (CMake C + Rust with cc), 3 platforms':<48}")
    print(f"{'target compilers under qemu (binfmt, chroot)':<48} {emulated_time:>8.1f}s")
    print(f"{'xx build (native cross, verify, pack)':<48} {xx_time:>8.1f}s "
          f"{emulated_time / xx_time:>6.1f}x faster (target >= 10)")
    cargo_layouts(xx, src, work)


def cargo_layouts(xx, src, work):
    """The cargo shorthand's choice (platforms one after another in one target dir)
    vs a target dir per platform, platforms at once: clean builds of hello-rs."""
    rs = os.path.join(src, "hello-rs")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    common = [xx, "build", "-q", "--platform", ",".join(PLATFORMS)]
    cases = [
        ("cargo shorthand: one target dir, in turn", common + ["--", "cargo", "build", "-q", "--release", "--offline"]),
        ("a target dir per platform, at once", common + [
            "--artifact", "target/{arch}{variant}/hello-rs", "--", "sh", "-c",
            "d=target/$TARGETARCH$TARGETVARIANT && CARGO_TARGET_DIR=$d xx-cargo build -q --release --offline"
            " && cp $d/$(xx-cargo --print-target-triple)/release/hello-rs $d/"]),
    ]
    times = {}
    for _ in range(2):
        for name, argv in cases:
            shutil.rmtree(os.path.join(rs, "target"), ignore_errors=True)
            start = time.perf_counter()
            subprocess.run(argv, cwd=rs, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times.setdefault(name, []).append(time.perf_counter() - start)
    shorthand = min(times[cases[0][0]])
    for name, _ in cases:
        t = min(times[name])
        print(f"{'hello-rs, ' + name:<48} {t:>8.1f}s {t / shorthand:>6.2f}x")
