//! deb822 control data (Release files, Packages indexes): paragraphs of `Field: value`
//! lines, continuation lines starting with a space or tab. Borrowed, so a 60 MB index
//! is read without copying it.

/// One paragraph's fields, in file order; a multi-line value keeps its line breaks.
pub struct Paragraph<'a> {
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// The value of `name` (field names are case-insensitive), trimmed.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// The paragraphs of `text`, skipping comment lines (`#`) and blank runs.
pub fn paragraphs(text: &str) -> impl Iterator<Item = Paragraph<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = paragraph_end(rest);
        let (block, after) = rest.split_at(end);
        rest = after.trim_start_matches(['\n', '\r']);
        let paragraph = parse(block);
        if !paragraph.fields.is_empty() {
            return Some(paragraph);
        }
    })
}

/// Where the paragraph at the start of `text` ends: the first empty (or all-blank) line.
fn paragraph_end(text: &str) -> usize {
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            return pos;
        }
        pos += line.len();
    }
    text.len()
}

fn parse(block: &str) -> Paragraph<'_> {
    let mut fields: Vec<(&str, &str)> = Vec::with_capacity(24);
    let mut offset = 0;
    let mut current: Option<(&str, usize)> = None;
    for line in block.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((name, value_start)) = current.take() {
            fields.push((name, &block[value_start..start]));
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some(colon) = line.find(':') {
            current = Some((line[..colon].trim(), start + colon + 1));
        }
    }
    if let Some((name, value_start)) = current {
        fields.push((name, &block[value_start..]));
    }
    Paragraph { fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_continuations_and_paragraphs() {
        let text = "Origin: Debian\nSHA256:\n abc 12 main/x\n def 34 main/y\nSuite: stable\n\n\n\
                    # comment\nPackage: zlib1g\nDepends: libc6 (>= 2.14)\n\nPackage: b\n";
        let all: Vec<_> = paragraphs(text).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].get("origin"), Some("Debian"));
        assert_eq!(all[0].get("SHA256"), Some("abc 12 main/x\n def 34 main/y"));
        assert_eq!(all[0].get("Suite"), Some("stable"));
        assert_eq!(all[1].get("Package"), Some("zlib1g"));
        assert_eq!(all[1].get("Depends"), Some("libc6 (>= 2.14)"));
        assert_eq!(all[2].get("Package"), Some("b"));
        assert_eq!(all[2].get("Depends"), None);
    }
}
