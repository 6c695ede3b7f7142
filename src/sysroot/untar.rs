//! A tarball's entries written into a [`Root`] one by one — a `.deb`'s data, an image
//! layer —, so every name goes through the tree's guards. Device nodes, FIFOs and
//! whiteouts get what the caller's [`Policy`] says; unknown entry types are refused.

use std::io::Read;

use anyhow::{anyhow, Result};

use super::tree::Root;

/// What a tree makes of the entries a plain file tree cannot hold.
#[derive(Clone, Copy)]
pub struct Policy {
    /// Where the tree goes, for the refusal of a device node ("a sysroot").
    pub place: &'static str,
    /// Skip device nodes and FIFOs (an unprivileged user cannot make them) instead of
    /// refusing them.
    pub skip_devices: bool,
    /// Refuse `.wh.` names (layer whiteouts), which would otherwise land as files.
    pub refuse_whiteouts: bool,
}

/// Writes every entry of the tarball `reader` into `root`; `what` names the source in
/// messages. Returns the number of entries written.
pub fn unpack(reader: impl Read, what: &str, root: &Root, policy: Policy) -> Result<usize> {
    let mut tar = tar::Archive::new(reader);
    let mut count = 0;
    for entry in tar
        .entries()
        .map_err(|e| anyhow!("{what}: bad tarball: {e}"))?
    {
        let mut entry = entry.map_err(|e| anyhow!("{what}: bad tarball: {e}"))?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| anyhow!("{what}: a name that is not UTF-8"))?;
        let leaf = name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if policy.refuse_whiteouts && leaf.starts_with(".wh.") {
            return Err(anyhow!(
                "{what}: {name} is a whiteout (a file deleted by a later layer), which is not applied yet"
            ));
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let mtime = header.mtime().unwrap_or(0) as i64;
        let link = entry
            .link_name_bytes()
            .map(|l| {
                String::from_utf8(l.into_owned())
                    .map_err(|_| anyhow!("{what}: a link target that is not UTF-8"))
            })
            .transpose()?
            .unwrap_or_default();
        let result = match kind {
            tar::EntryType::Directory => root.make_dir(&name),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                root.write_file(&name, mode, mtime, &mut entry)
            }
            tar::EntryType::Symlink => root.symlink(&name, &link),
            tar::EntryType::Link => root.hardlink(&name, &link),
            tar::EntryType::XHeader
            | tar::EntryType::XGlobalHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
                if policy.skip_devices =>
            {
                continue
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Err(anyhow!(
                "refusing {name}: a device node or FIFO has no place in {}",
                policy.place
            )),
            other => Err(anyhow!(
                "refusing {name}: unsupported tar entry type {other:?}"
            )),
        };
        result.map_err(|e| anyhow!("{what}: {e:#}"))?;
        count += 1;
    }
    Ok(count)
}
