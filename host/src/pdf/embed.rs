//! Laid-out lines as a one-page PDF with embedded font subsets: per font of the chain that a
//! document uses, only its used glyphs (subsetter) as a Type 0 font with Identity-H encoding over
//! a CIDFontType2 whose CIDs are the subset's glyph ids, their widths, and a ToUnicode map from
//! each glyph to the text it shows, so text extraction and search give the letters back.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;

use super::fonts::{FontFile, FontSet};
use super::layout::Line;
use super::{FONT_SIZE, LEADING, MARGIN, PAGE_HEIGHT, PAGE_WIDTH, TOP};

/// What one used font of the chain needs: its glyphs renumbered, their texts.
struct Used {
    remapper: GlyphRemapper,
    /// New glyph id → the text it shows (the first cluster it was seen in).
    texts: BTreeMap<u16, String>,
}

/// The PDF of `lines`, already laid out with `set`'s fonts.
pub fn write(lines: &[Line], set: &FontSet) -> Vec<u8> {
    let mut used: BTreeMap<usize, Used> = BTreeMap::new();
    // (line, glyph) → new glyph id.
    let mut cids: Vec<Vec<u16>> = Vec::with_capacity(lines.len());
    for line in lines {
        let mut ids = Vec::with_capacity(line.glyphs.len());
        for g in &line.glyphs {
            let u = used.entry(g.font).or_insert_with(|| Used {
                remapper: GlyphRemapper::new(),
                texts: BTreeMap::new(),
            });
            let cid = u.remapper.remap(g.gid);
            if let Some(text) = g.text.as_ref().filter(|t| !t.is_empty()) {
                u.texts.entry(cid).or_insert_with(|| text.clone());
            }
            ids.push(cid);
        }
        cids.push(ids);
    }

    let (catalog, tree, page_id, contents) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let mut next = 5;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    // Font index → (resource name, Type 0 font ref).
    let names: BTreeMap<usize, (String, Ref)> = used
        .keys()
        .map(|&font| (font, (format!("F{}", font + 1), alloc())))
        .collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
    page.parent(tree);
    page.contents(contents);
    let mut resources = page.resources();
    let mut fonts = resources.fonts();
    for (name, font_ref) in names.values() {
        fonts.pair(Name(name.as_bytes()), *font_ref);
    }
    fonts.finish();
    resources.finish();
    page.finish();

    let content = content(lines, &cids, set, &used, &names);
    pdf.stream(contents, &deflate(&content))
        .filter(Filter::FlateDecode);

    for (font, u) in &used {
        let file = &set.fonts[*font];
        let Some(face) = file.face() else { continue };
        let type0 = names[font].1;
        let (cid_ref, descriptor, program, cmap) = (alloc(), alloc(), alloc(), alloc());
        let base = format!("{}+{}", subset_tag(&u.remapper), file.postscript_name);
        write_font(
            &mut pdf,
            file,
            &face,
            u,
            &base,
            [type0, cid_ref, descriptor, program, cmap],
        );
    }
    pdf.finish()
}

/// The content stream: each line's glyphs, runs of one font without offsets in one `TJ` whose
/// adjustments carry the shaped advances.
fn content(
    lines: &[Line],
    cids: &[Vec<u16>],
    set: &FontSet,
    used: &BTreeMap<usize, Used>,
    names: &BTreeMap<usize, (String, Ref)>,
) -> Vec<u8> {
    let faces: BTreeMap<usize, ttf_parser::Face<'_>> = used
        .keys()
        .filter_map(|&f| set.fonts[f].face().map(|face| (f, face)))
        .collect();
    let mut content = Content::new();
    content.begin_text();
    let mut current_font = None;
    for (n, (line, ids)) in lines.iter().zip(cids).enumerate() {
        let baseline = TOP - LEADING * n as f32;
        let mut i = 0;
        while i < line.glyphs.len() {
            let first = &line.glyphs[i];
            // A group: one glyph with an offset, or a run of one font without offsets.
            let mut end = i + 1;
            if !first.offset {
                while end < line.glyphs.len()
                    && line.glyphs[end].font == first.font
                    && !line.glyphs[end].offset
                {
                    end += 1;
                }
            }
            if current_font != Some(first.font) {
                content.set_font(Name(names[&first.font].0.as_bytes()), FONT_SIZE);
                current_font = Some(first.font);
            }
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, MARGIN + first.x, baseline + first.y]);
            let mut shown = content.show_positioned();
            let mut items = shown.items();
            let group = line.glyphs[i..end].iter().zip(&ids[i..end]);
            for (k, (g, cid)) in (i..end).zip(group) {
                items.show(Str(&cid.to_be_bytes()));
                if k + 1 < end {
                    let width = faces.get(&g.font).map_or(0.0, |f| width(f, g.gid));
                    let adjust = width - g.advance * 1000.0 / FONT_SIZE;
                    if adjust.abs() > 0.01 {
                        items.adjust(adjust);
                    }
                }
            }
            items.finish();
            shown.finish();
            i = end;
        }
    }
    content.end_text();
    content.finish().into_vec()
}

/// A glyph's advance in thousandths of the font size (the PDF's glyph space).
fn width(face: &ttf_parser::Face<'_>, gid: u16) -> f32 {
    let advance = face
        .glyph_hor_advance(ttf_parser::GlyphId(gid))
        .unwrap_or(0);
    f32::from(advance) * 1000.0 / f32::from(face.units_per_em().max(1))
}

/// The Type 0 font, its CIDFontType2, descriptor, subset program and ToUnicode map, at `refs`.
fn write_font(
    pdf: &mut Pdf,
    file: &FontFile,
    face: &ttf_parser::Face<'_>,
    used: &Used,
    base: &str,
    refs: [Ref; 5],
) {
    let [type0, cid_ref, descriptor, program, cmap] = refs;
    let base = Name(base.as_bytes());
    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_ref)
        .to_unicode(cmap);

    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut cid = pdf.cid_font(cid_ref);
    cid.subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(system)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let widths: Vec<f32> = used
        .remapper
        .remapped_gids()
        .map(|old| width(face, old))
        .collect();
    cid.widths().consecutive(0, widths);
    cid.finish();

    // A font the subsetter can't read is not embedded: readers then substitute one, and the
    // ToUnicode map still gives the text back.
    let subset = subsetter::subset(&file.data, 0, &used.remapper)
        .map_err(|e| {
            tracing::warn!(
                "invoice PDFs: could not subset {}: {e}",
                file.path.display()
            )
        })
        .ok();
    let scale = 1000.0 / f32::from(face.units_per_em().max(1));
    let b = face.global_bounding_box();
    let cap = face.capital_height().unwrap_or(face.ascender());
    let mut fd = pdf.font_descriptor(descriptor);
    fd.name(base)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            f32::from(b.x_min) * scale,
            f32::from(b.y_min) * scale,
            f32::from(b.x_max) * scale,
            f32::from(b.y_max) * scale,
        ))
        .italic_angle(0.0)
        .ascent(f32::from(face.ascender()) * scale)
        .descent(f32::from(face.descender()) * scale)
        .cap_height(f32::from(cap) * scale)
        .stem_v(80.0);
    if subset.is_some() {
        fd.font_file2(program);
    }
    fd.finish();
    if let Some(subset) = subset {
        pdf.stream(program, &deflate(&subset))
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.len()).unwrap_or(i32::MAX),
            );
    }

    let mut map = UnicodeCmap::new(Name(b"Custom"), system);
    for (cid, text) in &used.texts {
        map.pair_with_multiple(*cid, text.chars());
    }
    pdf.stream(cmap, &deflate(map.finish().as_slice()))
        .filter(Filter::FlateDecode);
}

/// The six capital letters that name a subset (PDF 9.6.4), from the glyphs it holds.
fn subset_tag(remapper: &GlyphRemapper) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for gid in remapper.remapped_gids() {
        for byte in gid.to_be_bytes() {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (hash % 26) as u8);
            hash /= 26;
            letter
        })
        .collect()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}
