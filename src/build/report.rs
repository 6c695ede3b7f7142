//! The end of `xx build`: a table of every platform (status, time, artifact size,
//! newest glibc needed, its manifest's digest) and the image's index digest on stdout;
//! a failed platform's log tail on stderr.

use super::Outcome;
use crate::image::Created;

/// How many lines of a failed platform's log are shown.
const TAIL: usize = 15;
/// Where those lines are looked for: the log's end (a log can be large).
const TAIL_BYTES: u64 = 16 * 1024;

pub fn print(outcomes: &[Outcome], image: Option<&Created>) -> std::io::Result<()> {
    let mut out = format!(
        "{:<16} {:<8} {:>8} {:>10} {:>7}  {}\n",
        "PLATFORM", "STATUS", "TIME", "SIZE", "GLIBC", "IMAGE"
    );
    for o in outcomes {
        let (status, size, glibc) = match &o.result {
            Ok(v) => (
                "ok",
                crate::progress::human(v.bytes),
                v.glibc.map_or("-".to_string(), |(a, b)| format!("{a}.{b}")),
            ),
            Err(_) => ("FAILED", "-".to_string(), "-".to_string()),
        };
        let platform = o.target.platform();
        let manifest = image
            .and_then(|i| i.manifests.iter().find(|(p, _)| *p == platform))
            .map_or("-", |(_, digest)| digest.as_str());
        out.push_str(&format!(
            "{:<16} {:<8} {:>7.1}s {:>10} {:>7}  {}\n",
            platform, status, o.seconds, size, glibc, manifest
        ));
    }
    if let Some(i) = image {
        out.push_str(&format!("index {}\n", i.index));
    }
    crate::output::text(out)
}

/// `xx: linux/arm64 failed: …` and the last lines of its log, on stderr.
pub fn tail_of_log(o: &Outcome) {
    let Err(why) = &o.result else { return };
    crate::output::err_line(format!("xx: {} failed: {why}", o.target.platform()));
    let text = super::live::log_tail(&o.log, TAIL_BYTES).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL);
    crate::output::err_line(format!("  … the last lines of {}:", o.log.display()));
    for line in &lines[start..] {
        crate::output::err_line(format!("  | {line}"));
    }
}
