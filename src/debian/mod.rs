//! Debian/Ubuntu archives as data: Release files and their signatures, Packages
//! indexes, versions, dependency resolution and `.deb` contents. Knows no compiler.

pub mod archive;
pub mod control;
pub mod deb;
pub mod packages;
pub mod release;
pub mod resolve;
pub mod version;

/// An xz reader for bytes whose SHA256 was checked already (a `.deb` against its
/// Packages entry, an index against the signed Release): the stream's own CRC64 would
/// say nothing more, so it is skipped (a tenth of the decoding time).
pub fn xz_of_checked<R: std::io::Read>(inner: R) -> anyhow::Result<liblzma::read::XzDecoder<R>> {
    let stream =
        liblzma::stream::Stream::new_stream_decoder(u64::MAX, liblzma::stream::IGNORE_CHECK)
            .map_err(|e| anyhow::anyhow!("cannot start an xz decoder: {e}"))?;
    Ok(liblzma::read::XzDecoder::new_stream(inner, stream))
}
