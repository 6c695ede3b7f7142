//! A `.deb` read as what it is: an `ar` archive of `debian-binary` (2.x), a control
//! tarball and a data tarball (`xz`, `zstd`, `gzip` or plain), whose entries go into a
//! [`Root`](crate::sysroot::tree::Root) one by one. Device nodes, FIFOs and unknown
//! entry types are refused; maintainer scripts are never looked at.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::sysroot::tree::Root;

/// The data tarball of the `.deb` at `path`, decompressed into a nameless file in
/// `spool` and rewound; `what` names the package in messages. Runs on a worker thread
/// while the tree is written from earlier packages.
pub fn data_tar(path: &Path, what: &str, spool: &Path) -> Result<File> {
    let file = crate::fsutil::open_regular(path)
        .with_context(|| format!("{what}: cannot open {}", path.display()))?;
    let mut archive = ar::Archive::new(BufReader::with_capacity(256 << 10, file));
    let mut seen_version = false;
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.map_err(|e| anyhow!("{what}: not a .deb (bad ar archive: {e})"))?;
        let name = String::from_utf8_lossy(entry.header().identifier())
            .trim_end_matches('/')
            .to_string();
        if !seen_version {
            if name != "debian-binary" {
                bail!("{what}: not a .deb (its first member is {name:?}, not debian-binary)");
            }
            let mut version = String::new();
            entry
                .by_ref()
                .take(16)
                .read_to_string(&mut version)
                .map_err(|_| anyhow!("{what}: not a .deb (bad debian-binary)"))?;
            if !version.starts_with("2.") {
                bail!("{what}: unsupported .deb format {:?}", version.trim());
            }
            seen_version = true;
            continue;
        }
        if let Some(codec) = name.strip_prefix("data.tar") {
            let mut reader =
                decoder(codec, &mut entry).with_context(|| format!("{what}: {name}"))?;
            let mut out = crate::scratch::spool_in(spool)?;
            std::io::copy(&mut reader, &mut out)
                .map_err(|e| anyhow!("{what}: bad data tarball: {e}"))?;
            out.seek(SeekFrom::Start(0))
                .with_context(|| format!("{what}: cannot rewind its data"))?;
            return Ok(out);
        }
    }
    bail!("{what}: not a .deb (no data.tar member)")
}

/// A reader of `inner` decompressed by the file-name suffix `codec` (`.xz`, `.zst`,
/// `.gz`, or none): a `.deb`'s members and Packages indexes alike.
pub(super) fn decoder<'a>(codec: &str, inner: &'a mut dyn Read) -> Result<Box<dyn Read + 'a>> {
    Ok(match codec {
        ".xz" => Box::new(super::xz_of_checked(inner)?),
        ".zst" => Box::new(zstd::stream::read::Decoder::new(inner)?),
        ".gz" => Box::new(flate2::read::GzDecoder::new(inner)),
        "" => Box::new(inner),
        other => bail!("unsupported compression {other:?}"),
    })
}

/// The entries of a data tarball written into `root`; `what` names the package in
/// messages. Returns the number of entries written.
pub fn unpack(reader: impl Read, what: &str, root: &Root) -> Result<usize> {
    let policy = crate::sysroot::untar::Policy {
        place: "a sysroot",
        skip_devices: false,
        refuse_whiteouts: false,
    };
    crate::sysroot::untar::unpack(reader, what, root, policy)
}
