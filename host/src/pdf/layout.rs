//! One line of text as positioned glyphs: the line's bidi runs in visual order (unicode-bidi),
//! each run split by the font of the chain that has its letters, each piece shaped by rustybuzz
//! (Arabic's joined forms, ligatures, kerning, mirrored brackets in right-to-left runs). Glyph ids
//! are the source fonts'; subsetting renumbers them later (`embed`). Every glyph that starts a
//! cluster carries the cluster's text, for the PDF's ToUnicode map (reversed in right-to-left runs,
//! as extractors read those).

use rustybuzz::{Direction, UnicodeBuffer};
use unicode_bidi::{Level, ParagraphBidiInfo};

use super::fonts::FontSet;

/// A glyph placed on a line, in points from the line's left end and its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Index of its font in the chain.
    pub font: usize,
    /// The glyph id in the source font.
    pub gid: u16,
    pub x: f32,
    pub y: f32,
    /// How far the pen moves after it (shaped, kerning included).
    pub advance: f32,
    /// Whether it sits away from the pen position (a mark placed on its base).
    pub offset: bool,
    /// The text of the cluster this glyph starts (none for a cluster's further glyphs), its
    /// letters reversed in a right-to-left run.
    pub text: Option<String>,
}

/// A laid-out line: glyphs left to right and its width. Every line starts at the left margin,
/// as the document's own (English) lines do.
#[derive(Debug, Default)]
pub struct Line {
    pub glyphs: Vec<Placed>,
    pub width: f32,
}

/// The chain's fonts ready for shaping, for one document.
pub struct Shapers<'a> {
    faces: Vec<rustybuzz::Face<'a>>,
}

impl<'a> Shapers<'a> {
    pub fn new(set: &'a FontSet) -> Shapers<'a> {
        let faces = set
            .fonts
            .iter()
            .filter_map(|f| f.face().map(rustybuzz::Face::from_face))
            .collect();
        Shapers { faces }
    }

    /// The first font of the chain that has `c`.
    fn first_with(&self, c: char) -> Option<usize> {
        self.faces.iter().position(|f| f.glyph_index(c).is_some())
    }

    fn covers(&self, font: usize, c: char) -> bool {
        self.faces[font].glyph_index(c).is_some()
    }

    /// `text` laid out at `size` points. Characters no font has become `?`; control characters
    /// become spaces.
    pub fn line(&self, text: &str, size: f32) -> Line {
        // unicode-bidi's visual runs index the first level: an empty line has none.
        if self.faces.is_empty() || text.is_empty() {
            return Line::default();
        }
        let text: String = text
            .chars()
            .map(|c| match c {
                c if c.is_control() => ' ',
                c if self.first_with(c).is_some() => c,
                _ => '?',
            })
            .collect();
        // The document is left-to-right (its template is English): a right-to-left name or line
        // is a run inside it, so a line's description stays left of its amount.
        let bidi = ParagraphBidiInfo::new(&text, Some(Level::ltr()));
        let (levels, runs) = bidi.visual_runs(0..text.len());
        let mut line = Line::default();
        for run in runs {
            let rtl = levels[run.start].is_rtl();
            let mut pieces = self.pieces(&text[run.clone()]);
            if rtl {
                // A right-to-left run's pieces are in logical order: the last one is leftmost.
                pieces.reverse();
            }
            for (font, piece) in pieces {
                self.shape(&mut line, font, piece, rtl, size);
            }
        }
        line
    }

    /// `run` split where the font changes. A letter or digit takes the first font that has it;
    /// spaces, punctuation and marks stay with the font before them when it has them.
    fn pieces<'t>(&self, run: &'t str) -> Vec<(usize, &'t str)> {
        let mut pieces = Vec::new();
        let mut current: Option<(usize, usize)> = None; // (font, start)
        for (i, c) in run.char_indices() {
            let keep = matches!(current, Some((f, _)) if !c.is_alphanumeric() && self.covers(f, c));
            let font = match current {
                Some((f, _)) if keep => f,
                _ => self.first_with(c).unwrap_or(0),
            };
            match current {
                Some((f, _)) if f == font => {}
                Some((f, start)) => {
                    pieces.push((f, &run[start..i]));
                    current = Some((font, i));
                }
                None => current = Some((font, i)),
            }
        }
        if let Some((f, start)) = current {
            pieces.push((f, &run[start..]));
        }
        pieces
    }

    /// Shapes `piece` in font `font` and appends its glyphs (in visual order) to `line`.
    fn shape(&self, line: &mut Line, font: usize, piece: &str, rtl: bool, size: f32) {
        let face = &self.faces[font];
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(piece);
        buffer.guess_segment_properties();
        buffer.set_direction(if rtl {
            Direction::RightToLeft
        } else {
            Direction::LeftToRight
        });
        let shaped = rustybuzz::shape(face, &[], buffer);
        let scale = size / face.units_per_em().max(1) as f32;
        let mut starts: Vec<usize> = shaped
            .glyph_infos()
            .iter()
            .map(|g| g.cluster as usize)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let mut seen = vec![false; starts.len()];
        for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
            let start = info.cluster as usize;
            let k = starts.binary_search(&start).unwrap_or(0);
            let text = (!seen[k]).then(|| {
                seen[k] = true;
                let end = starts.get(k + 1).copied().unwrap_or(piece.len());
                let cluster = piece.get(start..end).unwrap_or_default();
                // Text extraction reads a right-to-left run's glyphs from the right and each
                // glyph's letters as they are mapped (poppler, pdf.js): so a cluster of several
                // letters there (lam-alef, a letter with its vowel marks) maps in reverse.
                if rtl {
                    cluster.chars().rev().collect()
                } else {
                    cluster.to_string()
                }
            });
            let advance = pos.x_advance as f32 * scale;
            line.glyphs.push(Placed {
                font,
                gid: u16::try_from(info.glyph_id).unwrap_or(0),
                x: line.width + pos.x_offset as f32 * scale,
                y: pos.y_offset as f32 * scale,
                advance,
                offset: pos.x_offset != 0 || pos.y_offset != 0,
                text,
            });
            line.width += advance;
        }
    }
}
