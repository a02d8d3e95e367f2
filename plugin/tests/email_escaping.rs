//! Property tests of the escaping of values put into payment emails (and invoice documents, which
//! use the same function): for names made of every HTML-special character mixed with anything
//! else, the escaped value holds no character that could end a text node or an attribute value
//! quoted either way, the email's HTML carries the template's markup and no other, and its text
//! part reads the name back exactly.

use paydesk_plugin::domain::emails::{Variables, escape_html, render, text_of};
use proptest::prelude::*;

/// Names from HTML's special characters, spaces, letters, entity look-alikes and any character.
fn names() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec!["&", "<", ">", "\"", "'", "/", "=", "`"]).prop_map(str::to_string),
        1 => Just("&amp;".to_string()),
        1 => Just("&#x27;".to_string()),
        1 => Just(" onmouseover=".to_string()),
        2 => "[a-zA-Z0-9 ]{1,4}",
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_escaped_name_holds_no_markup_character(name in names()) {
        let escaped = escape_html(&name);
        for c in ['<', '>', '"', '\''] {
            prop_assert!(!escaped.contains(c), "{c:?} left in {escaped:?}");
        }
        // Every `&` starts one of the entities the escaper writes.
        for (i, _) in escaped.match_indices('&') {
            let rest = &escaped[i..];
            prop_assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"].iter().any(|e| rest.starts_with(e)),
                "a bare & in {escaped:?}"
            );
        }
    }

    #[test]
    fn a_name_in_an_email_adds_no_markup_and_reads_back_in_the_text(name in names()) {
        let template = "<p title='$CUSTOMERNAME' class=\"x\">Dear $CUSTOMERNAME,</p>";
        let vars = Variables { customer_name: escape_html(&name), ..Variables::default() };
        let html = render(template, &vars);
        let markup = |s: &str| s.chars().filter(|c| matches!(c, '<' | '>' | '"' | '\'')).count();
        prop_assert_eq!(markup(&html), markup(template), "{}", html);
        prop_assert_eq!(text_of(&html), format!("Dear {name},\n"));
    }
}
