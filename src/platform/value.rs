//! A platform as a value: `os/arch[/variant]` the way images and `--platform` name it,
//! normalised through the table (`arm64/v8` is `arm64`, `armhf` is `arm/v7`), and the
//! os and libc as enums where code branches on them.

use std::fmt;

use super::parse::normalize_alias;
use super::{parse_cli_platform, table};
use crate::context::Context;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Os {
    Linux,
    Darwin,
    Windows,
    /// Passed through as named (freebsd, plan9, …).
    Other(String),
}

impl Os {
    pub fn parse(name: &str) -> Os {
        match name {
            "linux" => Os::Linux,
            "darwin" => Os::Darwin,
            "windows" => Os::Windows,
            other => Os::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Os::Linux => "linux",
            Os::Darwin => "darwin",
            Os::Windows => "windows",
            Os::Other(name) => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Libc {
    Gnu,
    Musl,
    /// mingw32, or an escape-hatch value passed through.
    Other(String),
}

impl Libc {
    pub fn parse(name: &str) -> Libc {
        match name {
            "gnu" => Libc::Gnu,
            "musl" => Libc::Musl,
            other => Libc::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Libc::Gnu => "gnu",
            Libc::Musl => "musl",
            Libc::Other(name) => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: Os,
    pub arch: String,
    /// Empty when the platform has none.
    pub variant: String,
}

impl Platform {
    pub fn new(os: &str, arch: &str, variant: &str) -> Platform {
        Platform {
            os: Os::parse(os),
            arch: arch.to_string(),
            variant: variant.to_string(),
        }
    }

    pub fn of_row(row: &table::Target) -> Platform {
        Platform::new(row.os, row.arch, row.variant)
    }

    /// A `--platform` value (`os/arch[/variant]`, an arch, an alias or a triple) through
    /// the table; an error names `xx info list` for unknown ones.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let p = parse_cli_platform(text)?;
        let mut parts = p.platform.split('/');
        let os = parts.next().unwrap_or_default();
        let arch = parts.next().unwrap_or_default();
        let variant = parts.next().unwrap_or_default();
        let (arch, variant) = match normalize_alias(arch, variant) {
            Some((a, v)) => (a.to_string(), v),
            None => (arch.to_string(), variant.to_string()),
        };
        let row = table::find(os, &arch, &variant)
            .ok_or_else(|| "unknown platform; see `xx info list`".to_string())?;
        Ok(Platform::of_row(row))
    }

    /// [`Platform::parse`] of a `--platform` value, its error naming the flag.
    pub fn parse_flag(text: &str) -> anyhow::Result<Platform> {
        Platform::parse(text).map_err(|e| anyhow::anyhow!("--platform {text}: {e}"))
    }

    /// `os/arch[/variant]` as found in an image (a descriptor's or a config's fields):
    /// normalised when the table knows it, kept as written otherwise.
    pub fn from_image(os: &str, arch: &str, variant: &str) -> Platform {
        let written = Platform::new(os, arch, variant);
        Platform::parse(&written.to_string()).unwrap_or(written)
    }

    /// The build machine's platform (`uname -m`, or `XX_HOST_MARCH`), by the table;
    /// None on a machine the table does not know.
    pub fn host(ctx: &Context) -> Option<Platform> {
        table::by_march(&ctx.host_march()).map(Platform::of_row)
    }

    pub fn row(&self) -> Option<&'static table::Target> {
        table::find(self.os.as_str(), &self.arch, &self.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os.as_str(), self.arch)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_round_trips_through_its_name() {
        for row in table::TARGETS {
            let p = Platform::of_row(row);
            assert_eq!(
                Platform::parse(&p.to_string()).as_ref(),
                Ok(&p),
                "{}",
                row.platform
            );
        }
    }

    #[test]
    fn aliases_normalise_and_unknowns_pass_through() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("armhf").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::from_image("linux", "arm64", "v8").to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::from_image("plan9", "mips", "").to_string(),
            "plan9/mips"
        );
        assert_eq!(
            Platform::from_image("plan9", "mips", "").os,
            Os::Other("plan9".into())
        );
        assert!(Platform::parse("linux/ppc64").is_err());
        assert_eq!(Libc::parse("musl"), Libc::Musl);
        assert_eq!(Libc::parse("mingw32").as_str(), "mingw32");
    }
}
