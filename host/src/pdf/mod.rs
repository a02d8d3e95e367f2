//! Invoice documents as one-page PDFs: lines of text written in the fonts of [`fonts`] — laid
//! out by [`layout`] (bidi, fallback between fonts, shaping) and embedded as subsets by
//! [`embed`] — so names in any script print and `pdftotext` gives them back. With no font to
//! hand, the standard Helvetica with WinAnsi text, where letters outside Latin-1 are `?`. It
//! knows nothing of invoices: `app::documents` fills the template.

pub mod embed;
pub mod fonts;
pub mod layout;

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

pub use fonts::{FontSet, installed};

/// A4, in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
/// The left (and, for right-to-left lines, right) margin.
const MARGIN: f32 = 56.0;
/// The first baseline.
const TOP: f32 = 780.0;
const LEADING: f32 = 16.0;
const FONT_SIZE: f32 = 11.0;
/// Lines that fit the page; the rest are left off.
const MAX_LINES: usize = 44;

/// A one-page PDF of `lines` in the process's fonts ([`installed`]).
pub fn document(lines: &[String]) -> Vec<u8> {
    document_in(lines, installed())
}

/// A one-page PDF of `lines` in the fonts of `set` (WinAnsi Helvetica when it is empty).
pub fn document_in(lines: &[String], set: &FontSet) -> Vec<u8> {
    let lines = &lines[..lines.len().min(MAX_LINES)];
    if set.fonts.is_empty() {
        return win_ansi_document(lines);
    }
    let shapers = layout::Shapers::new(set);
    let laid: Vec<layout::Line> = lines.iter().map(|l| shapers.line(l, FONT_SIZE)).collect();
    embed::write(&laid, set)
}

/// Text as WinAnsi bytes for the standard fonts; characters it lacks become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '\u{2013}' | '\u{2014}' => b'-',
            '\u{2026}' => b'.',
            _ => b'?',
        })
        .collect()
}

/// `lines` in the standard Helvetica font, WinAnsi-encoded.
fn win_ansi_document(lines: &[String]) -> Vec<u8> {
    let (catalog, tree, page_id, font, contents) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
    page.parent(tree);
    page.contents(contents);
    page.resources().fonts().pair(Name(b"F1"), font);
    page.finish();
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let mut content = Content::new();
    content.begin_text();
    content.set_font(Name(b"F1"), FONT_SIZE);
    content.set_leading(LEADING);
    content.next_line(MARGIN, TOP);
    for line in lines {
        content.show(Str(&win_ansi(line)));
        content.next_line_using_leading();
    }
    content.end_text();
    pdf.stream(contents, &content.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests;
