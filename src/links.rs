//! `xx install-links DIR`: the `xx-NAME` links that select a personality by argv[0].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

/// Links DIR/xx-NAME → `exe` (this executable, or `xx` beside the links) for every
/// name. Each link is made under a temp name and renamed into place, so a concurrent
/// reader never sees a missing file.
pub fn install(dir: &Path, names: &[&str], exe: &Path, force: bool) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut made = Vec::new();
    for name in names {
        let link = dir.join(format!("xx-{name}"));
        if link.symlink_metadata().is_ok() && !force {
            let current = std::fs::read_link(&link).ok();
            if current.as_deref() == Some(exe) {
                made.push(link);
                continue;
            }
            bail!("{} exists; pass --force to replace it", link.display());
        }
        crate::fsutil::symlink_atomic(&link, exe)?;
        made.push(link);
    }
    Ok(made)
}
