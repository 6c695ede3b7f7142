//! Where managed toolchains, sysroots and downloads live: `XX_HOME` (data, with its
//! cache in `XX_HOME/cache`), else `/usr/local/share/xx` as root in a container, else
//! the user's data and cache dirs (`~/.local/share/xx`, `~/.cache/xx`). The cache
//! carries a `CACHEDIR.TAG`, so backup tools skip it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::context::Context;
use crate::env_vars as ev;

pub struct Home {
    pub data: PathBuf,
    pub cache: PathBuf,
}

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by xx.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

impl Home {
    pub fn of(ctx: &Context) -> Result<Home> {
        if let Some(dir) = ctx.var(ev::XX_HOME).filter(|d| !d.is_empty()) {
            let data = PathBuf::from(dir);
            if !data.is_absolute() {
                bail!("XX_HOME={dir:?} is not an absolute path");
            }
            return Ok(Home {
                cache: data.join("cache"),
                data,
            });
        }
        if ctx.root_in_container() {
            let data = PathBuf::from("/usr/local/share/xx");
            return Ok(Home {
                cache: data.join("cache"),
                data,
            });
        }
        let home = ctx.var("HOME").filter(|h| h.starts_with('/'));
        let dir = |xdg: &str, fallback: &str| -> Option<PathBuf> {
            ctx.var(xdg)
                .filter(|d| d.starts_with('/'))
                .map(PathBuf::from)
                .or_else(|| home.map(|h| Path::new(h).join(fallback)))
                .map(|d| d.join("xx"))
        };
        match (
            dir("XDG_DATA_HOME", ".local/share"),
            dir("XDG_CACHE_HOME", ".cache"),
        ) {
            (Some(data), Some(cache)) => Ok(Home { data, cache }),
            _ => bail!(
                "no place for xx's toolchains: HOME is not set\nhelp: set XX_HOME to a directory"
            ),
        }
    }

    /// The cache directory for one kind of download (`debs`, `indexes`), created, with
    /// the cache's `CACHEDIR.TAG`.
    pub fn cache_for(&self, kind: &str) -> Result<PathBuf> {
        let dir = self.cache.join(kind);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let tag = self.cache.join("CACHEDIR.TAG");
        if !tag.exists() {
            crate::fsutil::write_atomic(&tag, CACHEDIR_TAG.as_bytes())?;
        }
        Ok(dir)
    }
}
