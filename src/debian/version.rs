//! Debian version ordering (deb-version(7)): `[epoch:]upstream[-revision]`, compared
//! part by part; within a part, alternating non-digit runs (letters sort before
//! non-letters, `~` before everything, even the end) and digit runs (numerically).

use std::cmp::Ordering;

/// A version as found in a package index, compared the way dpkg compares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    pub fn new(text: &str) -> Version {
        Version(text.trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parts(&self) -> (u64, &str, &str) {
        let (epoch, rest) = match self.0.split_once(':') {
            Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => {
                (e.parse().unwrap_or(u64::MAX), rest)
            }
            _ => (0, self.0.as_str()),
        };
        match rest.rsplit_once('-') {
            Some((upstream, revision)) => (epoch, upstream, revision),
            None => (epoch, rest, ""),
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let (ea, ua, ra) = self.parts();
        let (eb, ub, rb) = other.parts();
        ea.cmp(&eb)
            .then_with(|| compare_part(ua, ub))
            .then_with(|| compare_part(ra, rb))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// dpkg's character weight in a non-digit run: `~` lowest, then the end of the run,
/// then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // The non-digit run.
        loop {
            let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
            let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let order = weight(ca).cmp(&weight(cb));
            if order != Ordering::Equal {
                return order;
            }
            a = &a[1..];
            b = &b[1..];
        }
        // The digit run, numerically (leading zeros ignored, any length).
        let da = digits(&mut a);
        let db = digits(&mut b);
        let order = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

fn digits<'a>(s: &mut &'a [u8]) -> &'a [u8] {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (run, rest) = s.split_at(n);
    *s = rest;
    let zeros = run.iter().take_while(|&&c| c == b'0').count();
    &run[zeros..]
}

/// The relation operators of a dependency field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    pub fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "<<" => Op::Lt,
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }

    pub fn holds(self, have: &Version, want: &Version) -> bool {
        let order = have.cmp(want);
        match self {
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
            Op::Eq => order == Ordering::Equal,
            Op::Ge => order != Ordering::Less,
            Op::Gt => order == Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const TRICKY: &[(&str, &str)] = &[
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1.0", "1.0a"),
        ("1.0a", "1.0+"),
        ("1.0", "1:0.1"),
        ("2.36-9", "2.36-9+deb12u1"),
        ("2.36-9+deb12u1", "2.36-10"),
        ("1.2.13.dfsg-1", "1:1.2.13.dfsg-1"),
        ("0.9", "0.10"),
        ("1.0-1", "1.0.1"),
        ("1.0", "1.0-0.1"),
        ("007", "8"),
        ("1.0-1~bpo1", "1.0-1"),
        ("3.0.11-1~deb12u2", "3.0.11-1"),
        ("a", "b"),
        ("1-2-3", "1-2-4"),
    ];

    #[test]
    fn orders_as_dpkg_does() {
        for (a, b) in TRICKY {
            let (va, vb) = (Version::new(a), Version::new(b));
            assert_eq!(va.cmp(&vb), Ordering::Less, "{a} < {b}");
            assert_eq!(vb.cmp(&va), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(
            Version::new("1.0").cmp(&Version::new("1.00")),
            Ordering::Equal
        );
        assert_eq!(
            Version::new("0:1.0").cmp(&Version::new("1.0")),
            Ordering::Equal
        );
    }

    /// The same pairs through `dpkg --compare-versions`, where dpkg is installed.
    #[test]
    fn agrees_with_dpkg() {
        let Ok(_) = std::process::Command::new("dpkg").arg("--version").output() else {
            return;
        };
        for (a, b) in TRICKY {
            for (x, op, y, want) in [(a, "lt", b, true), (b, "lt", a, false), (a, "eq", a, true)] {
                let ok = std::process::Command::new("dpkg")
                    .args(["--compare-versions", x, op, y])
                    .status()
                    .unwrap()
                    .success();
                assert_eq!(ok, want, "dpkg --compare-versions {x} {op} {y}");
            }
        }
    }
}
