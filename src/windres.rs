//! `xx-windres` and `<triple>-windres`: binutils windres's command line over the C
//! preprocessor, `llvm-rc` and `llvm-cvtres`, as tonistiigi/xx's xx-windres (its options,
//! messages, `XX_WINDRES_DRYRUN` and `XX_TMP_FILE_FIXED`). The machine comes from the
//! target table. Deliberate fixes: an invalid format or target stops with exit 1 instead
//! of running on, a real run writes its temporaries in a private directory and the
//! output only once it is complete, and `SOURCE_DATE_EPOCH` becomes the object's
//! timestamp (llvm-cvtres's default is the time of day).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};

use crate::context::Context;
use crate::env_vars as ev;
use crate::output::as_xx;
use crate::platform::{Resolved, TARGETS};

const VERSION: &str = "xx-windres 0.1";

#[derive(Default)]
struct Options {
    input: Option<String>,
    output: Option<String>,
    input_format: Option<String>,
    output_format: Option<String>,
    target: Option<String>,
    preprocessor: Option<String>,
    preprocessor_args: Vec<String>,
    rc_args: Vec<String>,
}

enum Parsed {
    Run(Options),
    Done(ExitCode),
}

/// `target`: the alias's triple (`<triple>-windres` runs as `xx-windres --target=<triple>`).
pub fn run(ctx: &Context, prog: &str, target: Option<&str>, args: &[String]) -> Result<ExitCode> {
    let mut opts = match parse(prog, args)? {
        Parsed::Run(opts) => opts,
        Parsed::Done(code) => return Ok(code),
    };
    if opts.target.is_none() {
        opts.target = Some(match target {
            Some(t) => t.to_string(),
            None => default_target(ctx)?,
        });
    }
    let plan = Plan::new(ctx, opts)?;
    plan.execute(ctx)
}

fn default_target(ctx: &Context) -> Result<String> {
    let r = Resolved::from_context(ctx);
    if !r.is_supported() {
        return Err(as_xx(r.unsupported_message()));
    }
    Ok(r.triple)
}

/// The value of an option that takes one: the next argument, which must not be empty.
fn value(name: &str, next: Option<&String>) -> Result<String> {
    match next {
        Some(v) if !v.is_empty() => Ok(v.clone()),
        _ => Err(as_xx(format!("error: argument to {name} is missing"))),
    }
}

/// Options in xx's order of matching: `-o F`, `--output=F` and `-oF` alike.
fn parse(prog: &str, args: &[String]) -> Result<Parsed> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let next = args.get(i + 1);
        // (short, long, what to do with the value)
        type Setter = fn(&mut Options, String);
        let valued: [(&str, &str, Setter); 12] = [
            ("-o", "--output", |o, v| o.output = Some(v)),
            ("-i", "--input", |o, v| o.input = Some(v)),
            ("-J", "--input-format", |o, v| o.input_format = Some(v)),
            ("-O", "--output-format", |o, v| o.output_format = Some(v)),
            ("-F", "--target", |o, v| o.target = Some(v)),
            ("", "--preprocessor", |o, v| o.preprocessor = Some(v)),
            ("", "--preprocessor-arg", |o, v| {
                o.preprocessor_args
                    .extend(v.split_whitespace().map(String::from))
            }),
            ("-I", "--include-path", |o, v| {
                add(&mut o.preprocessor_args, "-I", v, true)
            }),
            ("", "--include-dir", |o, v| {
                add(&mut o.preprocessor_args, "-I", v, true)
            }),
            ("-l", "--language", |o, v| {
                add(&mut o.rc_args, "-L", v, false)
            }),
            ("-c", "--codepage", |o, v| {
                add(&mut o.rc_args, "-C", v, false)
            }),
            ("-D", "--define", |o, v| {
                add(&mut o.preprocessor_args, "-D", v, false)
            }),
        ];
        let undefine: (&str, &str, Setter) = ("-U", "--undefine", |o, v| {
            add(&mut o.preprocessor_args, "-U", v, false)
        });
        match arg {
            "-h" | "--help" => {
                crate::output::err_line(usage(prog));
                return Ok(Parsed::Done(ExitCode::SUCCESS));
            }
            "-V" | "--version" => {
                crate::output::line(VERSION)?;
                return Ok(Parsed::Done(ExitCode::SUCCESS));
            }
            "-r" | "--use-temp-file" | "--no-use-temp-file" | "-v" | "--verbose" => {
                i += 1;
                continue;
            }
            "--" => {
                i += 1;
                break;
            }
            _ => {}
        }
        let matched = valued
            .iter()
            .chain([&undefine])
            .find_map(|(short, long, set)| {
                if arg == *long || (!short.is_empty() && arg == *short) {
                    Some((set, None))
                } else if let Some(v) = arg.strip_prefix(&format!("{long}=")) {
                    Some((set, Some(v.to_string())))
                } else if !short.is_empty() && arg.starts_with(short) && !arg.starts_with("--") {
                    Some((set, Some(arg[short.len()..].to_string())))
                } else {
                    None
                }
            });
        match matched {
            Some((set, Some(v))) => set(&mut o, v),
            Some((set, None)) => {
                set(&mut o, value(arg, next)?);
                i += 1;
            }
            None if arg.len() > 1 && arg.starts_with('-') => {
                return Err(as_xx(format!("invalid option {arg}")));
            }
            None => break,
        }
        i += 1;
    }
    // As xx's `[ -n "$1" ]`: an empty argument ends the command line.
    let mut positional = args[i.min(args.len())..]
        .iter()
        .take_while(|a| !a.is_empty());
    if let Some(input) = positional.next() {
        o.input = Some(input.clone());
    }
    if let Some(output) = positional.next() {
        o.output = Some(output.clone());
    }
    if positional.next().is_some() {
        return Err(as_xx("too many arguments"));
    }
    // As xx's `[ -z "$output" ]`: an empty `--output=` (the last one given) means the default.
    for value in [
        &mut o.output,
        &mut o.input,
        &mut o.input_format,
        &mut o.output_format,
        &mut o.target,
        &mut o.preprocessor,
    ] {
        if value.as_deref() == Some("") {
            *value = None;
        }
    }
    Ok(Parsed::Run(o))
}

/// Appends `flag value` (`flagvalue` when `joined`) to a list option; an empty value adds
/// nothing, where xx's shell would leave a bare flag that takes the next word.
fn add(args: &mut Vec<String>, flag: &str, value: String, joined: bool) {
    if value.is_empty() {
        return;
    }
    if joined {
        args.push(format!("{flag}{value}"));
    } else {
        args.extend([flag.to_string(), value]);
    }
}

/// What one run does, with every default settled.
struct Plan {
    input: String,
    output: String,
    from_rc: bool,
    to_res: bool,
    machine: Option<&'static str>,
    preprocessor: String,
    preprocessor_args: Vec<String>,
    rc_args: Vec<String>,
    dry_run: bool,
}

impl Plan {
    fn new(ctx: &Context, o: Options) -> Result<Plan> {
        let input = o.input.unwrap_or_else(|| "/dev/stdin".into());
        let output = o.output.unwrap_or_else(|| "/dev/stdout".into());
        let input_format = o
            .input_format
            .unwrap_or_else(|| if input.ends_with(".res") { "res" } else { "rc" }.into());
        if input_format != "rc" && input_format != "res" {
            return Err(as_xx(format!("invalid input format {input_format}")));
        }
        let output_format = o.output_format.unwrap_or_else(|| {
            if output.ends_with(".res") {
                "res"
            } else {
                "coff"
            }
            .into()
        });
        if output_format != "coff" && output_format != "res" {
            return Err(as_xx(format!("invalid output format {output_format}")));
        }
        let target = o.target.unwrap_or_default();
        let machine = machine_for(&target);
        if machine.is_none() {
            crate::output::err_line(format!("invalid target {target} for xx-windres"));
            // A `.res` output needs no machine: xx goes on, and so do we.
            if output_format == "coff" {
                return Err(as_xx(
                    "help: --target=<x86_64|i686|aarch64|armv7>-w64-mingw32",
                ));
            }
        }
        let preprocessor = o
            .preprocessor
            .or_else(|| {
                ctx.var(ev::CC)
                    .filter(|cc| !cc.is_empty())
                    .map(String::from)
            })
            .unwrap_or_else(|| {
                if crate::cc::on_path(ctx, "clang").is_some() {
                    "clang"
                } else {
                    "gcc"
                }
                .into()
            });
        Ok(Plan {
            input,
            output,
            from_rc: input_format == "rc",
            to_res: output_format == "res",
            machine,
            preprocessor,
            preprocessor_args: o.preprocessor_args,
            rc_args: o.rc_args,
            dry_run: ctx
                .var(ev::XX_WINDRES_DRYRUN)
                .is_some_and(|v| !v.is_empty()),
        })
    }

    /// Runs (or prints) the steps; a failed step's exit code is the run's, as xx's `set -e`.
    fn execute(&self, ctx: &Context) -> Result<ExitCode> {
        match self.steps(ctx) {
            Err(e) => match e.downcast_ref::<StepFailed>() {
                Some(StepFailed(code)) => Ok(ExitCode::from(*code)),
                None => Err(e),
            },
            Ok(()) => Ok(ExitCode::SUCCESS),
        }
    }

    fn steps(&self, ctx: &Context) -> Result<()> {
        let rc = self.from_rc.then(|| tool(ctx, "llvm-rc")).transpose()?;
        // A dry run writes nothing, not even a scratch directory.
        let scratch = match self.dry_run {
            true => None,
            false => Some(crate::scratch::ScratchDir::new_in(
                &std::env::temp_dir(),
                "xx-windres",
            )?),
        };
        let scratch_dir = scratch.as_ref().map(|s| s.path().to_path_buf());
        let mut temps = TempNames::new(ctx, scratch_dir.clone());
        let res = match rc {
            Some(rc) => {
                let preprocessed = temps.next();
                let mut cpp = vec![self.preprocessor.clone(), "-E".into(), "-xc".into()];
                cpp.extend(["-D".into(), "RC_INVOKED=1".into()]);
                cpp.extend(self.preprocessor_args.iter().cloned());
                cpp.extend(["-o".into(), preprocessed.clone(), self.input.clone()]);
                self.step(&cpp, &self.preprocessor)?;
                let compiled = temps.next();
                let mut rc_line = vec!["llvm-rc".to_string()];
                rc_line.extend(self.rc_args.iter().cloned());
                rc_line.extend([
                    "-fo".into(),
                    compiled.clone(),
                    "-I".into(),
                    dirname(&self.input),
                ]);
                rc_line.push(preprocessed);
                self.step(&rc_line, &rc.display().to_string())?;
                compiled
            }
            None => self.input.clone(),
        };
        if self.to_res {
            if self.dry_run {
                crate::output::line(format!("cp {res} {}", self.output))?;
            } else {
                let bytes = std::fs::read(&res).with_context(|| format!("cannot read {res}"))?;
                // xx's `cp "$resfile" -` makes a file named `-`.
                write_output(&self.output, &bytes, false)?;
            }
        } else {
            let cvtres = tool(ctx, "llvm-cvtres")?;
            let machine = self.machine.unwrap_or_default();
            let staged = scratch_dir.map(|dir| dir.join("out.syso").display().to_string());
            let mut line = vec!["llvm-cvtres".to_string(), format!("-machine:{machine}")];
            // llvm-cvtres stamps the object with the time of day unless told (a dry run
            // prints xx's line).
            if let Some(epoch) = ctx.var(ev::SOURCE_DATE_EPOCH).filter(|e| !e.is_empty()) {
                if !self.dry_run {
                    line.push(format!("-timestamp:{epoch}"));
                }
            }
            let out = staged.as_deref().unwrap_or(&self.output);
            line.extend([format!("-out:{out}"), res]);
            self.step(&line, &cvtres.display().to_string())?;
            if let Some(staged) = staged {
                let bytes = std::fs::read(&staged).context("llvm-cvtres wrote no output")?;
                // llvm-cvtres writes `-out:-` to stdout.
                write_output(&self.output, &bytes, true)?;
            }
        }
        Ok(())
    }

    /// One command: printed under XX_WINDRES_DRYRUN (as xx names it), else run by `program`.
    fn step(&self, line: &[String], program: &str) -> Result<()> {
        if self.dry_run {
            crate::output::line(line.join(" "))?;
            return Ok(());
        }
        let status = Command::new(program)
            .args(&line[1..])
            .status()
            .with_context(|| format!("cannot run {}", line[0]))?;
        match crate::proc::exit_code(status) {
            0 => Ok(()),
            code => Err(StepFailed(code).into()),
        }
    }
}

/// A step that failed, having said why on stderr itself: its exit code.
#[derive(Debug)]
struct StepFailed(u8);

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a step failed with exit code {}", self.0)
    }
}

impl std::error::Error for StepFailed {}

/// llvm-cvtres's machine for a target spelling, from the table's windres globs.
fn machine_for(target: &str) -> Option<&'static str> {
    TARGETS
        .iter()
        .filter(|row| row.windres_targets.iter().any(|p| glob(p, target)))
        .filter_map(|row| Some((row.windres_rank, row.windres_machine?)))
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, machine)| machine)
}

/// `*` at either end, as in a shell `case` pattern.
fn glob(pattern: &str, s: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => s.contains(&rest[..rest.len() - 1]),
        (Some(rest), _) => s.ends_with(rest),
        (None, Some(start)) => s.starts_with(start),
        (None, None) => s == pattern,
    }
}

fn tool(ctx: &Context, name: &str) -> Result<PathBuf> {
    crate::cc::find_tool(ctx, name).ok_or_else(|| {
        as_xx(format!(
            "{name} not installed\nhelp: apt-get install llvm (or xx toolchain install llvm)"
        ))
    })
}

/// `dirname`, as the shell's: `.` for a bare name.
fn dirname(path: &str) -> String {
    match Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ if path.starts_with('/') => "/".into(),
        _ => ".".into(),
    }
}

/// Temporary names: files in the run's private directory, else (a dry run, which
/// writes nothing) xx's `XX_TMP_FILE_FIXED`, `…_`, `…__`, or `/tmp/tmpN`.
struct TempNames {
    fixed: Option<String>,
    dir: PathBuf,
    count: usize,
}

impl TempNames {
    fn new(ctx: &Context, dir: Option<PathBuf>) -> TempNames {
        let fixed = ctx
            .var(ev::XX_TMP_FILE_FIXED)
            .filter(|v| dir.is_none() && !v.is_empty())
            .map(String::from);
        TempNames {
            fixed,
            dir: dir.unwrap_or_else(std::env::temp_dir),
            count: 0,
        }
    }

    fn next(&mut self) -> String {
        self.count += 1;
        match &mut self.fixed {
            Some(name) => {
                let current = name.clone();
                name.push('_');
                current
            }
            None => self
                .dir
                .join(format!("tmp{}", self.count))
                .display()
                .to_string(),
        }
    }
}

/// The finished output, all at once: `/dev/stdout` (the default, and `-` where the tool
/// xx runs takes it so) through our stdout, a device or pipe written to directly, a file
/// replaced atomically.
fn write_output(output: &str, bytes: &[u8], dash_is_stdout: bool) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::FileTypeExt;
    if output == "/dev/stdout" || (dash_is_stdout && output == "-") {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .context("cannot write the output to stdout");
    }
    let path = Path::new(output);
    // Anything under /dev/ or /proc/ (a /dev/fd/N or /proc/self/fd/N onto a file
    // included) is opened as it is; elsewhere devices and pipes too, and sockets, whose
    // open fails as xx's cp and llvm-cvtres fail rather than replacing them.
    let special = output.starts_with("/dev/")
        || output.starts_with("/proc/")
        || std::fs::metadata(path).is_ok_and(|m| {
            let t = m.file_type();
            t.is_char_device() || t.is_fifo() || t.is_block_device() || t.is_socket()
        });
    if special {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("cannot open {output}"))?;
        return f
            .write_all(bytes)
            .with_context(|| format!("cannot write {output}"));
    }
    crate::fsutil::write_atomic(path, bytes)
}

fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} [option(s)] [input-file] [output-file]
 The options are:
  -i --input=<file>            Name input file
  -o --output=<file>           Name output file
  -J --input-format=<format>   Specify input format
  -O --output-format=<format>  Specify output format
  -F --target=<target>         Specify COFF target
     --preprocessor=<program>  Program to use to preprocess rc file
     --preprocessor-arg=<arg>  Additional preprocessor argument
  -I --include-dir=<dir>       Include directory when preprocessing rc file
  -D --define <sym>[=<val>]    Define SYM when preprocessing rc file
  -U --undefine <sym>          Undefine SYM when preprocessing rc file
  -v --verbose                 Verbose - tells you what it's doing
  -c --codepage=<codepage>     Specify default codepage
  -l --language=<val>          Set language when reading rc file
     --use-temp-file           Use a temporary file instead of popen to read
                               the preprocessor output
     --no-use-temp-file        Use popen (default)
  -r                           Ignored for compatibility with rc
  -h --help                    Print this help message
  -V --version                 Print version information
FORMAT is one of rc, res, or coff, and is deduced from the file name
extension if not specified.  A single file name is an input file.
No input-file is stdin, default rc.  No output-file is stdout, default rc."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_as_xx() {
        for (target, machine) in [
            ("x86_64-w64-mingw32", Some("X64")),
            ("pe-x86-64", Some("X64")),
            ("i686-w64-mingw32", Some("X86")),
            ("pe-i386", Some("X86")),
            ("aarch64-w64-mingw32", Some("ARM64")),
            ("arm64-w64-mingw32", Some("ARM64")),
            ("armv7-w64-mingw32", Some("ARM")),
            ("x86_64-i686-mingw32", Some("X86")),
            ("riscv64-linux-gnu", None),
        ] {
            assert_eq!(machine_for(target), machine, "{target}");
        }
    }

    #[test]
    fn dirname_as_the_shell() {
        assert_eq!(dirname("myinp.rc"), ".");
        assert_eq!(dirname("mydir/myinp.rc"), "mydir");
        assert_eq!(dirname("/dev/stdin"), "/dev");
        assert_eq!(dirname("/x.rc"), "/");
    }
}
