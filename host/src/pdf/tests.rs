//! The PDF writer without the app: font chains from `PAYDESK_PDF_FONTS`, fallback between fonts,
//! Arabic shaping and order, and the WinAnsi fallback. These use Debian's fonts, which
//! `scripts/setup.sh fonts` installs; pdftotext on whole invoices is in the suite (`documents`).

use std::path::PathBuf;

use super::fonts::{DEFAULT_PATHS, FontError};
use super::layout::Shapers;
use super::*;

/// Debian's fonts, all of which `scripts/setup.sh fonts` installs but DejaVu's (often there).
fn debian() -> FontSet {
    let set = FontSet::from_setting(None);
    assert!(
        set.fonts.len() >= 3,
        "Debian's fonts are missing: run scripts/setup.sh fonts"
    );
    set
}

#[test]
fn a_configured_font_list_skips_what_does_not_load_and_keeps_the_order() {
    let not_a_font = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_font.path(), b"not a font").unwrap();
    let paths = [
        PathBuf::from("/nonexistent/Font.ttf"),
        not_a_font.path().to_path_buf(),
        PathBuf::from(DEFAULT_PATHS[2]),
        PathBuf::from(DEFAULT_PATHS[0]),
    ];
    let (set, errors) = FontSet::load(&paths);
    let loaded: Vec<&PathBuf> = set.fonts.iter().map(|f| &f.path).collect();
    assert_eq!(loaded, [&paths[2], &paths[3]]);
    assert!(matches!(errors[0], FontError::Read { .. }), "{errors:?}");
    assert!(
        matches!(errors[1], FontError::Malformed { .. }),
        "{errors:?}"
    );
    assert_eq!(set.fonts[1].postscript_name, "NotoSans-Regular");

    let setting = format!(" {} :: {}", DEFAULT_PATHS[0], DEFAULT_PATHS[1]);
    let set = FontSet::from_setting(Some(&setting));
    assert_eq!(set.fonts.len(), 2);
    assert!(FontSet::from_setting(Some("")).fonts.is_empty());
}

#[test]
fn each_letter_takes_the_first_font_that_has_it_and_spaces_stay_with_their_run() {
    let set = debian();
    let shapers = Shapers::new(&set);
    let line = shapers.line("Ab 株式 Ω", FONT_SIZE);
    let fonts: Vec<(usize, Option<&str>)> = line
        .glyphs
        .iter()
        .map(|g| (g.font, g.text.as_deref()))
        .collect();
    assert_eq!(
        fonts,
        [
            (0, Some("A")),
            (0, Some("b")),
            (0, Some(" ")),
            (2, Some("株")),
            (2, Some("式")),
            (2, Some(" ")),
            (0, Some("Ω")),
        ]
    );
    let xs: Vec<f32> = line.glyphs.iter().map(|g| g.x).collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
}

#[test]
fn arabic_is_shaped_into_joined_forms_and_laid_right_to_left() {
    let set = debian();
    let shapers = Shapers::new(&set);
    let word = shapers.line("شركة", FONT_SIZE);
    // Left to right on the page: teh marbuta (the last letter), kaf, reh, sheen.
    let texts: Vec<&str> = word
        .glyphs
        .iter()
        .filter_map(|g| g.text.as_deref())
        .collect();
    assert_eq!(texts, ["ة", "ك", "ر", "ش"]);
    assert!(word.glyphs.iter().all(|g| g.font == 1));
    // Kaf joins both sides and teh marbuta joins kaf: neither is its isolated form.
    let alone = |c: &str| shapers.line(c, FONT_SIZE).glyphs[0].gid;
    assert_ne!(word.glyphs[0].gid, alone("ة"));
    assert_ne!(word.glyphs[1].gid, alone("ك"));
    // Lam and alef become one glyph that stands for both letters.
    let article = shapers.line("ال", FONT_SIZE);
    let lam_alef = shapers.line("لا", FONT_SIZE);
    assert_eq!(article.glyphs.len(), 2);
    assert_eq!(lam_alef.glyphs.len(), 1);
    // Mapped in reverse, as extractors read a right-to-left run from the right.
    assert_eq!(lam_alef.glyphs[0].text.as_deref(), Some("ال"));
}

#[test]
fn numbers_in_arabic_read_left_to_right_and_lines_keep_the_document_direction() {
    let set = debian();
    let shapers = Shapers::new(&set);
    let texts = |line: &str| -> Vec<String> {
        shapers
            .line(line, FONT_SIZE)
            .glyphs
            .iter()
            .filter_map(|g| g.text.clone())
            .collect()
    };
    // Logical "شركة 123": the number follows the name, so it stands on its left.
    assert_eq!(texts("شركة 123"), ["1", "2", "3", " ", "ة", "ك", "ر", "ش"]);
    // A line's Arabic description stays left of its amount, as in every other line.
    assert_eq!(
        texts("كة  KWD 1.500").concat(),
        "ةك  KWD 1.500",
        "the Arabic run first, right to left, then the amount"
    );
}

#[test]
fn an_empty_line_lays_out_as_nothing() {
    // Regression: the template's empty lines panicked in unicode-bidi's visual runs.
    let set = debian();
    assert!(Shapers::new(&set).line("", FONT_SIZE).glyphs.is_empty());
    let pdf = document_in(&["a".into(), String::new(), "b".into()], &set);
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn a_letter_no_font_has_becomes_a_question_mark() {
    let set = debian();
    let shapers = Shapers::new(&set);
    let line = shapers.line("a\u{10FFFD}b", FONT_SIZE);
    let texts: Vec<&str> = line
        .glyphs
        .iter()
        .filter_map(|g| g.text.as_deref())
        .collect();
    assert_eq!(texts, ["a", "?", "b"]);
}

#[test]
fn without_fonts_the_document_is_winansi_helvetica_with_question_marks() {
    let lines = vec!["Łódź 株式".to_string(), "Café".to_string()];
    let pdf = document_in(&lines, &FontSet::default());
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/BaseFont /Helvetica"), "{text}");
    assert!(text.contains("/Encoding /WinAnsiEncoding"), "{text}");
    // "?ód? ??" in WinAnsi bytes, which pdf-writer writes as hex.
    assert!(text.contains("<3FF3643F203F3F> Tj"), "{text}");
    assert!(!text.contains("/FontFile2"), "{text}");
}

#[test]
fn an_embedded_font_holds_only_the_glyphs_used() {
    let set = debian();
    let pdf = document_in(&["Łódź Sp. z o.o.".to_string()], &set);
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/Subtype /CIDFontType2"), "{text}");
    assert!(text.contains("/Encoding /Identity-H"), "{text}");
    assert!(text.contains("/ToUnicode"), "{text}");
    // Only Noto Sans is used, as a subset a small part of the file's size.
    assert_eq!(text.matches("/FontFile2").count(), 1, "{text}");
    let length = text
        .split("/Length1 ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("the font program's /Length1");
    assert!(length * 20 < set.fonts[0].data.len(), "{length} bytes");
}

/// What `f` logs, at every level.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    use tracing_subscriber::layer::SubscriberExt;
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(crate::logging::layer(
        tracing_subscriber::EnvFilter::new("trace"),
        move || writer.clone(),
        false,
    ));
    tracing::subscriber::with_default(subscriber, f);
    let out = buffer.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn without_a_usable_font_the_host_says_letters_will_show_as_question_marks() {
    let out = logged(|| {
        assert!(
            FontSet::from_setting(Some("/nonexistent/Font.ttf"))
                .fonts
                .is_empty()
        );
    });
    assert!(out.contains("font skipped: /nonexistent/Font.ttf"), "{out}");
    assert_eq!(out.matches("will show as `?`").count(), 1, "{out}");
    // Debian's paths: a missing one is no news; a usable chain is named once, at INFO.
    let out = logged(|| {
        FontSet::from_setting(None);
    });
    assert!(!out.contains("skipped") && !out.contains("`?`"), "{out}");
    assert!(out.contains(DEFAULT_PATHS[0]), "{out}");
}
