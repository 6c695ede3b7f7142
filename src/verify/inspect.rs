//! What a binary's headers say, read natively (no `file(1)`): format, machine, class,
//! endianness, and what `file` cannot tell: float ABI, ARM architecture level,
//! interpreter, needed libraries and the newest glibc symbol version it requires.
//!
//! Every read is bounds-checked by `object`; hostile input gives an error, never a panic.

use std::fs::File;

use object::elf::{self, FileHeader32, FileHeader64};
use object::macho;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind, ReadCache, ReadRef};
use serde::Serialize;

use crate::platform::{Endian, Format};

#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    #[serde(serialize_with = "ser_format")]
    pub format: Format,
    pub machine: u32,
    pub bits: u8,
    #[serde(serialize_with = "ser_endian")]
    pub endian: Endian,
    /// ELF OS/ABI byte, or the OS a `.note.tag`/`.note.*` names (FreeBSD, NetBSD, OpenBSD).
    pub elf_os: Option<String>,
    /// `hard`/`soft` (arm), `soft`/`single`/`double`/`quad` (riscv, loongarch).
    pub float_abi: Option<String>,
    /// ARM architecture level from `.ARM.attributes` Tag_CPU_arch (5, 6, 7, 8).
    pub arm_arch: Option<u8>,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    /// DT_RUNPATH and DT_RPATH entries, as written (`$ORIGIN` unexpanded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runpath: Vec<String>,
    /// Needs nothing at run time: no interpreter, no DT_NEEDED (static, static-pie).
    pub is_static: bool,
    /// The newest `GLIBC_x.y` symbol version required, as (x, y).
    pub max_glibc: Option<(u32, u32)>,
    /// Architectures inside a Mach-O universal binary (CPU types).
    pub fat_members: Vec<u32>,
}

fn ser_format<S: serde::Serializer>(f: &Format, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match f {
        Format::Elf => "elf",
        Format::MachO => "mach-o",
        Format::Pe => "pe",
    })
}

fn ser_endian<S: serde::Serializer>(e: &Endian, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match e {
        Endian::Little => "little",
        Endian::Big => "big",
    })
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("not an executable or object file (ELF, Mach-O or PE)")]
    UnknownFormat,
    #[error("malformed {format} file: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

fn malformed(format: &'static str) -> impl Fn(object::read::Error) -> InspectError {
    move |e| InspectError::Malformed {
        format,
        reason: e.to_string(),
    }
}

/// The most bytes the headers of one file may make us read (and keep: `ReadCache` keeps
/// what it read). Real binaries need a few hundred KiB of headers, sections and string
/// tables; a hostile one naming the same big region many times stops here.
const READ_BUDGET: u64 = 64 << 20;

/// An interpreter path longer than this is not one (PATH_MAX).
const MAX_INTERPRETER: u64 = 4096;

pub fn inspect_file(file: &File) -> Result<Facts, InspectError> {
    let cache = ReadCache::new(file);
    let budgeted = Budgeted {
        cache: &cache,
        left: std::cell::Cell::new(READ_BUDGET),
    };
    inspect(&budgeted)
}

/// A `ReadRef` over the file that refuses reads beyond `READ_BUDGET` in total.
struct Budgeted<'a> {
    cache: &'a ReadCache<&'a File>,
    left: std::cell::Cell<u64>,
}

impl<'a> Budgeted<'a> {
    fn spend(&self, bytes: &'a [u8]) -> Result<&'a [u8], ()> {
        let n = bytes.len() as u64;
        let left = self.left.get().checked_sub(n).ok_or(())?;
        self.left.set(left);
        Ok(bytes)
    }
}

impl<'a> ReadRef<'a> for &'a Budgeted<'a> {
    fn len(self) -> Result<u64, ()> {
        self.cache.len()
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        if size > self.left.get() {
            return Err(());
        }
        self.spend(self.cache.read_bytes_at(offset, size)?)
    }

    fn read_bytes_at_until(
        self,
        range: std::ops::Range<u64>,
        delimiter: u8,
    ) -> Result<&'a [u8], ()> {
        let wanted = range.end.saturating_sub(range.start);
        if wanted > self.left.get() {
            // A string search over more than the budget: only as far as it allows.
            let end = range.start.saturating_add(self.left.get());
            return self.spend(
                self.cache
                    .read_bytes_at_until(range.start..end, delimiter)?,
            );
        }
        self.spend(self.cache.read_bytes_at_until(range, delimiter)?)
    }
}

pub fn inspect<'data, R: ReadRef<'data>>(data: R) -> Result<Facts, InspectError> {
    let kind = FileKind::parse(data).map_err(|_| InspectError::UnknownFormat)?;
    match kind {
        FileKind::Elf32 => inspect_elf::<FileHeader32<Endianness>, R>(data),
        FileKind::Elf64 => inspect_elf::<FileHeader64<Endianness>, R>(data),
        FileKind::MachO32 | FileKind::MachO64 => inspect_macho(data),
        FileKind::MachOFat32 | FileKind::MachOFat64 => inspect_fat(data, kind),
        FileKind::Pe32 | FileKind::Pe64 => inspect_pe(data, kind),
        _ => Err(InspectError::UnknownFormat),
    }
}

fn inspect_elf<'data, Elf, R>(data: R) -> Result<Facts, InspectError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let bad = malformed("ELF");
    let header = Elf::parse(data).map_err(&bad)?;
    let endian = header.endian().map_err(&bad)?;
    let machine = u32::from(header.e_machine(endian));
    let flags = header.e_flags(endian);
    let mut facts = Facts {
        format: Format::Elf,
        machine,
        bits: if header.is_class_64() { 64 } else { 32 },
        endian: if endian == Endianness::Big {
            Endian::Big
        } else {
            Endian::Little
        },
        elf_os: elf_os_abi(header.e_ident().os_abi),
        float_abi: float_abi(machine, flags),
        arm_arch: None,
        interpreter: None,
        needed: Vec::new(),
        runpath: Vec::new(),
        is_static: true,
        max_glibc: None,
        fat_members: Vec::new(),
    };

    let segments = header.program_headers(endian, data).map_err(&bad)?;
    // The first PT_INTERP is the one the kernel uses; others are not read.
    if let Some(segment) = segments.iter().find(|s| s.p_type(endian) == elf::PT_INTERP) {
        let (offset, size) = segment.file_range(endian);
        let bytes = data
            .read_bytes_at(offset, size.min(MAX_INTERPRETER))
            .map_err(|()| InspectError::Malformed {
                format: "ELF",
                reason: "interpreter outside the file".into(),
            })?;
        let path = bytes.split(|&b| b == 0).next().unwrap_or_default();
        facts.interpreter = Some(String::from_utf8_lossy(path).into_owned());
        facts.is_static = false;
    }

    let sections = header.sections(endian, data).map_err(&bad)?;
    for section in sections.iter() {
        match section.sh_type(endian) {
            elf::SHT_ARM_ATTRIBUTES if machine == u32::from(elf::EM_ARM) => {
                if let Ok(bytes) = section.data(endian, data) {
                    facts.arm_arch = arm_cpu_arch(endian, bytes);
                }
            }
            elf::SHT_NOTE if facts.elf_os.is_none() => {
                if let Ok(Some(mut notes)) = section.notes(endian, data) {
                    while let Ok(Some(note)) = notes.next() {
                        let name = note.name();
                        if [&b"FreeBSD"[..], b"NetBSD", b"OpenBSD"].contains(&name) {
                            facts.elf_os = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Ok(Some((entries, link))) = sections.dynamic(endian, data) {
        let strings = sections.strings(endian, data, link).map_err(&bad)?;
        for entry in entries {
            let tag = entry.tag32(endian);
            let list = match tag {
                Some(elf::DT_NEEDED) => &mut facts.needed,
                Some(elf::DT_RUNPATH | elf::DT_RPATH) => &mut facts.runpath,
                _ => continue,
            };
            let offset = u32::try_from(entry.d_val(endian).into()).unwrap_or(u32::MAX);
            if let Ok(value) = strings.get(offset) {
                let value = String::from_utf8_lossy(value);
                if tag == Some(elf::DT_NEEDED) {
                    list.push(value.into_owned());
                } else {
                    list.extend(
                        value
                            .split(':')
                            .filter(|p| !p.is_empty())
                            .map(str::to_string),
                    );
                }
            }
        }
    }
    if let Ok(Some((mut needs, link))) = sections.gnu_verneed(endian, data) {
        let strings = sections.strings(endian, data, link).map_err(&bad)?;
        while let Some((_, mut aux)) = needs.next().map_err(&bad)? {
            while let Some(entry) = aux.next().map_err(&bad)? {
                let name = entry.name(endian, strings).map_err(&bad)?;
                if let Some(v) = glibc_version(name) {
                    facts.max_glibc = facts.max_glibc.max(Some(v));
                }
            }
        }
    }
    facts.needed.sort();
    facts.needed.dedup();
    // Static means nothing is loaded at run time: no interpreter and no needed libraries
    // (a shared library has no interpreter either, and `file` calls it dynamic).
    facts.is_static = facts.interpreter.is_none() && facts.needed.is_empty();
    Ok(facts)
}

/// What `file` reports in parentheses for the ELF OS/ABI byte.
fn elf_os_abi(os_abi: u8) -> Option<String> {
    let name = match os_abi {
        elf::ELFOSABI_FREEBSD => "FreeBSD",
        elf::ELFOSABI_NETBSD => "NetBSD",
        elf::ELFOSABI_OPENBSD => "OpenBSD",
        _ => return None,
    };
    Some(name.to_string())
}

/// The float ABI recorded in `e_flags` (ARM EABI5, RISC-V, LoongArch).
fn float_abi(machine: u32, flags: u32) -> Option<String> {
    let name = if machine == u32::from(elf::EM_ARM) {
        if flags & elf::EF_ARM_ABI_FLOAT_HARD != 0 {
            "hard"
        } else if flags & elf::EF_ARM_ABI_FLOAT_SOFT != 0 {
            "soft"
        } else {
            return None;
        }
    } else if machine == u32::from(elf::EM_RISCV) {
        match flags & elf::EF_RISCV_FLOAT_ABI {
            elf::EF_RISCV_FLOAT_ABI_SOFT => "soft",
            elf::EF_RISCV_FLOAT_ABI_SINGLE => "single",
            elf::EF_RISCV_FLOAT_ABI_DOUBLE => "double",
            _ => "quad",
        }
    } else if machine == u32::from(elf::EM_LOONGARCH) {
        match flags & elf::EF_LARCH_ABI_MODIFIER_MASK {
            elf::EF_LARCH_ABI_SOFT_FLOAT => "soft",
            elf::EF_LARCH_ABI_SINGLE_FLOAT => "single",
            _ => "double",
        }
    } else {
        return None;
    };
    Some(name.to_string())
}

/// `GLIBC_2.34` → (2, 34); `GLIBC_PRIVATE` and others → None.
fn glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let rest = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// ARM architecture level from the `aeabi` Tag_CPU_arch attribute (ARM IHI 0045).
fn arm_cpu_arch(endian: Endianness, bytes: &[u8]) -> Option<u8> {
    const TAG_FILE: u8 = 1;
    const TAG_CPU_ARCH: u64 = 6;
    let section =
        object::read::elf::AttributesSection::<FileHeader32<Endianness>>::new(endian, bytes)
            .ok()?;
    let mut subsections = section.subsections().ok()?;
    while let Ok(Some(sub)) = subsections.next() {
        if sub.vendor() != b"aeabi" {
            continue;
        }
        let mut subsubs = sub.subsubsections();
        while let Ok(Some(subsub)) = subsubs.next() {
            if subsub.tag() != TAG_FILE {
                continue;
            }
            let mut reader = subsub.attributes();
            while let Ok(Some(tag)) = reader.read_tag() {
                let value_is_string =
                    tag == 4 || tag == 5 || tag == 67 || (tag > 32 && tag % 2 == 1);
                if tag == 32 {
                    reader.read_integer().ok()?;
                    reader.read_string().ok()?;
                } else if value_is_string {
                    reader.read_string().ok()?;
                } else {
                    let value = reader.read_integer().ok()?;
                    if tag == TAG_CPU_ARCH {
                        return Some(arm_arch_level(value));
                    }
                }
            }
        }
    }
    None
}

/// Tag_CPU_arch values: 1-2 v4, 3-5 v5, 6-9 v6, 10 v7, 11-12 v6-M, 13 v7E-M, 14+ v8 and later.
fn arm_arch_level(value: u64) -> u8 {
    match value {
        0..=2 => 4,
        3..=5 => 5,
        6..=9 | 11 | 12 => 6,
        10 | 13 => 7,
        _ => 8,
    }
}

fn inspect_macho<'data, R: ReadRef<'data>>(data: R) -> Result<Facts, InspectError> {
    let bad = malformed("Mach-O");
    let header = data
        .read_at::<macho::MachHeader32<Endianness>>(0)
        .map_err(|()| InspectError::Malformed {
            format: "Mach-O",
            reason: "truncated header".into(),
        })?;
    use object::read::macho::MachHeader;
    let endian = header.endian().map_err(&bad)?;
    let cputype = header.cputype(endian);
    Ok(Facts {
        format: Format::MachO,
        machine: cputype,
        bits: if cputype & macho::CPU_ARCH_ABI64 != 0 {
            64
        } else {
            32
        },
        endian: if endian == Endianness::Big {
            Endian::Big
        } else {
            Endian::Little
        },
        ..empty(Format::MachO)
    })
}

fn inspect_fat<'data, R: ReadRef<'data>>(data: R, kind: FileKind) -> Result<Facts, InspectError> {
    let bad = malformed("Mach-O universal");
    let members: Vec<u32> = if kind == FileKind::MachOFat32 {
        object::read::macho::MachOFatFile32::parse(data)
            .map_err(&bad)?
            .arches()
            .iter()
            .map(|a| a.cputype.get(object::BigEndian))
            .collect()
    } else {
        object::read::macho::MachOFatFile64::parse(data)
            .map_err(&bad)?
            .arches()
            .iter()
            .map(|a| a.cputype.get(object::BigEndian))
            .collect()
    };
    let first = members.first().copied().unwrap_or_default();
    Ok(Facts {
        machine: first,
        bits: if first & macho::CPU_ARCH_ABI64 != 0 {
            64
        } else {
            32
        },
        fat_members: members,
        ..empty(Format::MachO)
    })
}

fn inspect_pe<'data, R: ReadRef<'data>>(data: R, kind: FileKind) -> Result<Facts, InspectError> {
    let bad = malformed("PE");
    let dos = object::pe::ImageDosHeader::parse(data).map_err(&bad)?;
    let mut offset = dos.nt_headers_offset().into();
    use object::read::pe::ImageNtHeaders;
    let machine = if kind == FileKind::Pe64 {
        let (nt, _) = object::pe::ImageNtHeaders64::parse(data, &mut offset).map_err(&bad)?;
        nt.file_header().machine.get(object::LittleEndian)
    } else {
        let (nt, _) = object::pe::ImageNtHeaders32::parse(data, &mut offset).map_err(&bad)?;
        nt.file_header().machine.get(object::LittleEndian)
    };
    Ok(Facts {
        machine: u32::from(machine),
        bits: if kind == FileKind::Pe64 { 64 } else { 32 },
        ..empty(Format::Pe)
    })
}

fn empty(format: Format) -> Facts {
    Facts {
        format,
        machine: 0,
        bits: 0,
        endian: Endian::Little,
        elf_os: None,
        float_abi: None,
        arm_arch: None,
        interpreter: None,
        needed: Vec::new(),
        runpath: Vec::new(),
        is_static: false,
        max_glibc: None,
        fat_members: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        for len in 0..2048usize {
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            // Give half of them a real magic so the parsers behind it run too.
            if len >= 4 && len % 2 == 0 {
                bytes[..4].copy_from_slice(b"\x7fELF");
                if len > 6 {
                    bytes[4] = 1 + (len % 4 == 0) as u8;
                    bytes[5] = 1 + (len % 8 == 0) as u8;
                }
            }
            let _ = inspect(bytes.as_slice());
        }
    }

    #[test]
    fn glibc_versions() {
        assert_eq!(glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
    }

    #[test]
    fn empty_and_text_are_not_binaries() {
        assert!(matches!(
            inspect(&b""[..]),
            Err(InspectError::UnknownFormat)
        ));
        assert!(matches!(
            inspect(&b"#!/bin/sh\necho hi\n"[..]),
            Err(InspectError::UnknownFormat)
        ));
    }
}
