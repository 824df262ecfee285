//! Free text from people (reasons, notes, names): what it may hold.

/// Whether `s` holds a character no free text may: a control character other than newline and tab
/// (NUL, BEL, escape sequences), or a bidirectional control (U+202A..U+202E, U+2066..U+2069) that
/// makes a note read differently from what it says.
pub fn has_forbidden(s: &str) -> bool {
    s.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\t')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

pub const FORBIDDEN: &str =
    "must not contain control characters other than newline and tab, nor bidirectional controls";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn controls_and_bidi_overrides_are_refused_and_newlines_and_tabs_are_not() {
        for bad in [
            "a\0b",
            "bell\u{7}",
            "\u{1b}[31mred",
            "x\u{202e}gnp.exe",
            "\u{2067}y",
            "\r",
        ] {
            assert!(has_forbidden(bad), "{bad:?}");
        }
        for good in [
            "Two lines\nand a\ttab",
            "Ärztliche Beratung",
            "心理咨询",
            "emoji 🩺",
            "עברית",
        ] {
            assert!(!has_forbidden(good), "{good:?}");
        }
    }

    proptest! {
        #[test]
        fn printable_text_is_always_allowed(s in "[\\PC\n\t]*") {
            let bidi = s.chars().any(|c| ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c));
            prop_assert_eq!(has_forbidden(&s), bidi);
        }
    }
}
