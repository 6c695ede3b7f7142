//! What a binary for the target must look like, from the table, and the checks against
//! either the parsed headers or a `file(1)` text (XX_VERIFY_FILE_CMD_OUTPUT).

use crate::platform::{self, Endian, Format, OsInfo, Resolved};

use super::inspect::Facts;

/// The expectations for one target.
pub struct Expected {
    pub os_name: String,
    pub arch_name: String,
    pub os: &'static OsInfo,
    pub machine: u32,
    pub bits: u8,
    pub endian: Endian,
    /// Whether the row's binary format carries an endianness check (ELF; xx skips it for
    /// Mach-O and PE).
    pub check_endian: bool,
    pub file_arch: &'static [&'static str],
    /// For --strict: float ABI, arm level and loader of the target.
    pub float_abi: Option<&'static str>,
    pub arm_arch: Option<u8>,
    pub loader: Option<&'static str>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Unsupported {
    Os(String),
    Arch(String),
}

impl Expected {
    pub fn for_target(r: &Resolved) -> Result<Expected, Unsupported> {
        let os = platform::os_info(&r.os).ok_or_else(|| Unsupported::Os(r.os.clone()))?;
        let row = platform::find(&r.os, &r.arch, &r.variant)
            .or_else(|| platform::find("linux", &r.arch, &r.variant));
        let base = Expected {
            os_name: r.os.clone(),
            arch_name: r.arch.clone(),
            os,
            machine: 0,
            bits: 0,
            endian: Endian::Little,
            check_endian: true,
            file_arch: &[],
            float_abi: None,
            arm_arch: None,
            loader: None,
        };
        if let Some(t) = row {
            return Ok(Expected {
                machine: t.bin.machine,
                bits: t.bin.bits,
                endian: t.bin.endian,
                check_endian: t.os_info().format == Format::Elf,
                file_arch: t.file_arch,
                float_abi: t.float_abi(&r.libc),
                arm_arch: t.bin.arm_arch,
                loader: t.loader(&r.libc),
                ..base
            });
        }
        let v = platform::VERIFY_ONLY
            .iter()
            .find(|v| v.arch == r.arch)
            .ok_or_else(|| Unsupported::Arch(r.arch.clone()))?;
        Ok(Expected {
            machine: v.machine,
            bits: v.bits,
            endian: v.endian,
            file_arch: v.file_arch,
            ..base
        })
    }

    /// `file`'s class/endianness words, e.g. `64-bit LSB`.
    pub fn endian_words(&self) -> String {
        let order = if self.endian == Endian::Big {
            "MSB"
        } else {
            "LSB"
        };
        format!("{}-bit {order}", self.bits)
    }
}

/// What a check looks at: the headers we parsed, or a text `file(1)` printed.
pub enum Evidence<'a> {
    Parsed(&'a Facts),
    FileText(&'a str),
}

impl Evidence<'_> {
    pub fn os_matches(&self, e: &Expected) -> bool {
        match self {
            Evidence::FileText(out) => {
                e.os.file.iter().all(|p| out.contains(p))
                    && !e.os.file_reject.iter().any(|p| out.contains(p))
            }
            Evidence::Parsed(f) => {
                // `(FreeBSD)`-style entries name the OS the ELF must be branded with.
                let brand =
                    e.os.file
                        .iter()
                        .find_map(|p| p.strip_prefix('(').and_then(|p| p.strip_suffix(')')));
                let rejected = f
                    .elf_os
                    .as_deref()
                    .is_some_and(|os| e.os.file_reject.contains(&os));
                f.format == e.os.format
                    && !rejected
                    && brand.is_none_or(|b| f.elf_os.as_deref() == Some(b))
            }
        }
    }

    pub fn arch_matches(&self, e: &Expected) -> bool {
        match self {
            Evidence::FileText(out) => e.file_arch.iter().any(|p| out.contains(p)),
            Evidence::Parsed(f) if f.fat_members.is_empty() => f.machine == e.machine,
            Evidence::Parsed(f) => f.fat_members.contains(&e.machine),
        }
    }

    pub fn endian_matches(&self, e: &Expected) -> bool {
        if !e.check_endian {
            return true;
        }
        match self {
            Evidence::FileText(out) => out.contains(&e.endian_words()),
            Evidence::Parsed(f) => f.bits == e.bits && f.endian == e.endian,
        }
    }

    pub fn is_static(&self) -> bool {
        match self {
            Evidence::FileText(out) => {
                out.contains("statically linked")
                    || out.contains("static-pie")
                    || (out.contains(" pie ") && !out.contains(", interpreter "))
            }
            Evidence::Parsed(f) => f.is_static,
        }
    }
}

/// A `file`-like one-line description of parsed headers, for messages.
pub fn describe(f: &Facts) -> String {
    let machine = machine_name(f.format, f.machine);
    match f.format {
        Format::Elf => {
            let order = if f.endian == Endian::Big {
                "MSB"
            } else {
                "LSB"
            };
            let mut out = format!("ELF {}-bit {order}, {machine}", f.bits);
            if let Some(os) = &f.elf_os {
                out.push_str(&format!(" ({os})"));
            }
            if let Some(abi) = &f.float_abi {
                out.push_str(&format!(", {abi}-float ABI"));
            }
            match &f.interpreter {
                Some(interp) => {
                    out.push_str(&format!(", dynamically linked, interpreter {interp}"))
                }
                None => out.push_str(", statically linked"),
            }
            if let Some((major, minor)) = f.max_glibc {
                out.push_str(&format!(", needs GLIBC_{major}.{minor}"));
            }
            out
        }
        Format::MachO if !f.fat_members.is_empty() => {
            let names: Vec<String> = f
                .fat_members
                .iter()
                .map(|m| machine_name(Format::MachO, *m))
                .collect();
            format!(
                "Mach-O universal binary with {} architectures: [{}]",
                names.len(),
                names.join(", ")
            )
        }
        Format::MachO => format!("Mach-O {}-bit executable {machine}", f.bits),
        Format::Pe => format!(
            "PE32{} executable {machine}, for MS Windows",
            if f.bits == 64 { "+" } else { "" }
        ),
    }
}

/// The table's `file` name for a machine number of this format.
fn machine_name(format: Format, machine: u32) -> String {
    platform::TARGETS
        .iter()
        .find(|t| t.os_info().format == format && t.bin.machine == machine)
        .and_then(|t| t.file_arch.first())
        .map(|n| n.trim_end_matches(',').to_string())
        .unwrap_or_else(|| format!("machine {machine:#x}"))
}
