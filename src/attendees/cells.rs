//! Cell hygiene: what the organizer's values may not carry into the invite service, the summary
//! or the spreadsheet the organizer opens.
//!
//! Threats, and the rule for each:
//! - Control characters (CR/LF, ESC, BEL, NUL, …) in a name would reach the invite service
//!   and the summary as is (`"Ann\r\nBcc: …"`): every run of them, and Unicode line and paragraph
//!   separators, becomes one space ([`without_controls`]). Uids refuse them outright
//!   ([`crate::domain::EventUid`]).
//! - Formula injection (OWASP "CSV Injection"): a cell of `rejected-rows.csv` starting with `=`,
//!   `+`, `-`, `@`, tab or CR is a formula to Excel. Such cells are written with a leading `'`
//!   ([`guard_formula`]), and a cell read back with that guard loses it
//!   ([`strip_formula_guard`]), so the file can be fixed and sent back as is.
//! - Size: values kept for the summary are cut to their column's limit ([`clip`]).

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn is_line_breaking(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` with every run of control characters (and line or paragraph separators) replaced by
/// one space; unchanged (no copy) when it has none.
pub fn without_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_line_breaking) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if is_line_breaking(c) {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The cell as written to a spreadsheet: prefixed with `'` when it would start a formula.
pub fn guard_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The cell as read back: [`guard_formula`]'s `'` removed (only in front of a formula start).
pub fn strip_formula_guard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// `text` cut to `max_chars` characters, with `…` when something was cut.
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_runs_become_one_space() {
        assert_eq!(without_controls("Ann\r\nBcc: x@evil"), "Ann Bcc: x@evil");
        assert_eq!(without_controls("a\u{1b}[31m\u{7}b\0c"), "a [31m b c");
        assert_eq!(without_controls("line\u{2028}break"), "line break");
        assert!(matches!(
            without_controls("Zoë"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn formulas_are_guarded_and_the_guard_comes_off() {
        for cell in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            let guarded = guard_formula(cell);
            assert!(guarded.starts_with('\''), "{cell}");
            assert_eq!(strip_formula_guard(&guarded), cell);
        }
        assert_eq!(guard_formula("Ann"), "Ann");
        assert_eq!(
            strip_formula_guard("'Ann'"),
            "'Ann'",
            "a quote before a name stays"
        );
        assert_eq!(strip_formula_guard("Ann"), "Ann");
    }

    #[test]
    fn clipping_counts_characters() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("ééé", 2), "éé…");
    }
}
