//! The fonts invoice PDFs are written in: a fallback chain of TrueType files, each character taken
//! from the first font that has it. The chain comes from `PAYDESK_PDF_FONTS` (paths separated by
//! `:`) or, unset, from Debian's font packages ([`DEFAULT_PATHS`]). It is read once per process
//! ([`installed`]); a path that can't be read or holds no TrueType outlines is skipped with a
//! warning, and a process with no usable font says once that PDFs fall back to WinAnsi text. It
//! only loads and describes fonts: laying text out and embedding it are `layout` and `embed`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the font files, `:`-separated, tried in order.
pub const FONTS_VAR: &str = "PAYDESK_PDF_FONTS";

/// Debian's fonts, from `scripts/setup.sh fonts`: Noto Sans (Latin, Greek, Cyrillic), Noto Sans
/// Arabic, Droid Sans Fallback (Chinese, Japanese, Korean), then DejaVu Sans (Latin, Greek,
/// Cyrillic and Arabic, on most Debian systems already) for a machine without the first three.
pub const DEFAULT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
];

/// Fonts larger than this are refused: a configured path must not make every PDF hold (and
/// parse) an arbitrarily large file.
const MAX_FONT_BYTES: u64 = 64 << 20;

/// One font of the chain: the file's bytes, parsed again (cheaply) for each document.
pub struct FontFile {
    pub path: PathBuf,
    pub data: Vec<u8>,
    /// The PostScript name (name table), or the file's stem: the embedded font's base name.
    pub postscript_name: String,
}

/// The fallback chain; empty when no font could be loaded (then PDFs use WinAnsi Helvetica).
#[derive(Default)]
pub struct FontSet {
    pub fonts: Vec<FontFile>,
}

/// Why a font file was not used.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_FONT_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: not a TrueType or OpenType font")]
    Malformed { path: PathBuf },
    #[error("{path}: has no TrueType (glyf) outlines; only those are embedded")]
    NotTrueType { path: PathBuf },
}

impl FontFile {
    /// Reads and checks one font file (the first face of a collection).
    pub fn load(path: &Path) -> Result<FontFile, FontError> {
        let read_error = |source| FontError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_FONT_BYTES {
            return Err(FontError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let data = std::fs::read(path).map_err(read_error)?;
        let face = ttf_parser::Face::parse(&data, 0).map_err(|_| FontError::Malformed {
            path: path.to_path_buf(),
        })?;
        if face.tables().glyf.is_none() {
            return Err(FontError::NotTrueType {
                path: path.to_path_buf(),
            });
        }
        let postscript_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let postscript_name: String = postscript_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(63)
            .collect();
        Ok(FontFile {
            path: path.to_path_buf(),
            data,
            postscript_name: if postscript_name.is_empty() {
                "Font".into()
            } else {
                postscript_name
            },
        })
    }

    /// The parsed font (checked at load, so it parses).
    pub fn face(&self) -> Option<ttf_parser::Face<'_>> {
        ttf_parser::Face::parse(&self.data, 0).ok()
    }
}

impl FontSet {
    /// The fonts of `paths` that load, in order, with the reason for each one that doesn't.
    pub fn load(paths: &[PathBuf]) -> (FontSet, Vec<FontError>) {
        let mut fonts = Vec::new();
        let mut errors = Vec::new();
        for path in paths {
            match FontFile::load(path) {
                Ok(font) => fonts.push(font),
                Err(e) => errors.push(e),
            }
        }
        (FontSet { fonts }, errors)
    }

    /// The chain `PAYDESK_PDF_FONTS` names (`value`), or Debian's when unset. Paths that don't
    /// load are logged when they were configured; Debian's missing ones are silently skipped.
    pub fn from_setting(value: Option<&str>) -> FontSet {
        let configured = value.is_some();
        let paths: Vec<PathBuf> = match value {
            Some(v) => v
                .split(':')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => DEFAULT_PATHS.iter().map(PathBuf::from).collect(),
        };
        let (set, errors) = FontSet::load(&paths);
        for e in errors {
            match e {
                FontError::Read { ref source, .. }
                    if !configured && source.kind() == std::io::ErrorKind::NotFound => {}
                e => tracing::warn!("invoice PDFs: font skipped: {e}"),
            }
        }
        if set.fonts.is_empty() {
            tracing::warn!(
                "invoice PDFs: no font found ({FONTS_VAR} or Debian's fonts-noto-core and \
                 fonts-droid-fallback, `scripts/setup.sh fonts`); letters outside WinAnsi \
                 (Latin-1) will show as `?`"
            );
        } else {
            let names: Vec<String> = set
                .fonts
                .iter()
                .map(|f| f.path.display().to_string())
                .collect();
            tracing::info!("invoice PDFs: fonts {}", names.join(", "));
        }
        set
    }
}

/// The process's fonts, loaded on first use from `PAYDESK_PDF_FONTS` or Debian's paths.
pub fn installed() -> &'static FontSet {
    static FONTS: OnceLock<FontSet> = OnceLock::new();
    FONTS.get_or_init(|| FontSet::from_setting(std::env::var(FONTS_VAR).ok().as_deref()))
}
