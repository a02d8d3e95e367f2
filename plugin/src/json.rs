//! The guest's JSON: a strict reader of RFC 8259 text into a borrowed tree, [`FromJson`] to take
//! the few fields paydesk uses out of it, and a writer for the one object the plugin stores.
//!
//! Hand-written instead of serde and serde_json, which generated a parser per Stripe type (and
//! brought float printing for their error messages): some 150 KiB of the component. Reading keeps
//! serde's rules for the shapes used: a missing plain field, a `null` where a value is required, a
//! field given twice, a number that is not an integer in range, or text after the value is an
//! error; a missing or `null` optional field is `None`; unknown fields are skipped (but must be
//! valid JSON). Nesting is limited to 127 levels, as serde_json limits it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Why a text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }

    /// The same error, said of a field (`data.object.id: missing field ...`).
    pub fn at(self, field: &str) -> Error {
        Error(format!("{field}: {}", self.0))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A JSON value borrowing from the text it was read from; a number is kept as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    fn unexpected(&self, expected: &str) -> Error {
        Error::new(format!(
            "invalid type: {}, expected {expected}",
            self.kind()
        ))
    }

    /// The members of an object, or an error naming what was expected.
    pub fn object(&self, expected: &str) -> Result<Object<'_, '_>, Error> {
        match self {
            Json::Object(members) => Ok(Object(members)),
            other => Err(other.unexpected(expected)),
        }
    }
}

/// An object's members, to read fields from.
#[derive(Clone, Copy)]
pub struct Object<'j, 'a>(&'j [(Cow<'a, str>, Json<'a>)]);

impl<'j, 'a> Object<'j, 'a> {
    /// The field's value; given twice is an error.
    pub fn get(&self, name: &str) -> Result<Option<&'j Json<'a>>, Error> {
        let mut found = None;
        for (key, value) in self.0 {
            if key == name {
                if found.is_some() {
                    return Err(Error::new(format!("duplicate field `{name}`")));
                }
                found = Some(value);
            }
        }
        Ok(found)
    }

    /// A field that must be there.
    pub fn req<T: FromJson>(&self, name: &str) -> Result<T, Error> {
        match self.get(name)? {
            Some(v) => T::from_json(v).map_err(|e| e.at(name)),
            None => Err(Error::new(format!("missing field `{name}`"))),
        }
    }

    /// An optional field: missing or `null` is `None`.
    pub fn opt<T: FromJson>(&self, name: &str) -> Result<Option<T>, Error> {
        match self.get(name)? {
            Some(v) => Option::<T>::from_json(v).map_err(|e| e.at(name)),
            None => Ok(None),
        }
    }

    /// A field with a default when missing (`null` is an error, as with `#[serde(default)]`).
    pub fn or_default<T: FromJson + Default>(&self, name: &str) -> Result<T, Error> {
        match self.get(name)? {
            Some(v) => T::from_json(v).map_err(|e| e.at(name)),
            None => Ok(T::default()),
        }
    }
}

/// Reads a struct's fields one after another and keeps the first error: one way out of the
/// struct's reader instead of an early return (dropping the fields read so far) after each field,
/// which was most of the readers' code.
pub struct Fields<'j, 'a> {
    object: Object<'j, 'a>,
    error: Option<Error>,
}

impl Json<'_> {
    /// The members of an object, to read a struct's fields from.
    pub fn fields(&self, expected: &str) -> Result<Fields<'_, '_>, Error> {
        Ok(Fields {
            object: self.object(expected)?,
            error: None,
        })
    }
}

impl Fields<'_, '_> {
    fn keep<T: Default>(&mut self, read: Result<T, Error>) -> T {
        read.unwrap_or_else(|e| {
            self.error.get_or_insert(e);
            T::default()
        })
    }

    /// [`Object::req`].
    pub fn req<T: FromJson + Default>(&mut self, name: &str) -> T {
        let read = self.object.req(name);
        self.keep(read)
    }

    /// [`Object::opt`].
    pub fn opt<T: FromJson>(&mut self, name: &str) -> Option<T> {
        let read = self.object.opt(name);
        self.keep(read)
    }

    /// [`Object::or_default`].
    pub fn or_default<T: FromJson + Default>(&mut self, name: &str) -> T {
        let read = self.object.or_default(name);
        self.keep(read)
    }

    /// The struct read, or the first error met reading it.
    pub fn done<T>(self, read: T) -> Result<T, Error> {
        match self.error {
            None => Ok(read),
            Some(e) => Err(e),
        }
    }
}

/// A type read out of a JSON value.
pub trait FromJson: Sized {
    fn from_json(value: &Json<'_>) -> Result<Self, Error>;
}

/// Read `text` as `T`.
pub fn from_str<T: FromJson>(text: &str) -> Result<T, Error> {
    T::from_json(&parse(text)?)
}

/// Any value, not looked at (serde's `IgnoredAny`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Any;

impl FromJson for Any {
    fn from_json(_: &Json<'_>) -> Result<Any, Error> {
        Ok(Any)
    }
}

impl FromJson for String {
    fn from_json(value: &Json<'_>) -> Result<String, Error> {
        match value {
            Json::String(s) => Ok(s.to_string()),
            other => Err(other.unexpected("a string")),
        }
    }
}

impl FromJson for bool {
    fn from_json(value: &Json<'_>) -> Result<bool, Error> {
        match value {
            Json::Bool(b) => Ok(*b),
            other => Err(other.unexpected("a boolean")),
        }
    }
}

impl FromJson for i64 {
    fn from_json(value: &Json<'_>) -> Result<i64, Error> {
        match value {
            // The reader checked the number's form: an integer is `-`? and digits.
            Json::Number(n) if !n.contains(['.', 'e', 'E']) => n
                .parse()
                .map_err(|_| Error::new(format!("invalid value: {n}, expected an i64"))),
            other => Err(other.unexpected("an integer")),
        }
    }
}

impl FromJson for u32 {
    fn from_json(value: &Json<'_>) -> Result<u32, Error> {
        let n = i64::from_json(value)?;
        u32::try_from(n).map_err(|_| Error::new(format!("invalid value: {n}, expected a u32")))
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &Json<'_>) -> Result<Option<T>, Error> {
        match value {
            Json::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Json<'_>) -> Result<Vec<T>, Error> {
        match value {
            // A loop rather than `collect`, whose adapters were a few hundred bytes per type.
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(T::from_json(item)?);
                }
                Ok(out)
            }
            other => Err(other.unexpected("an array")),
        }
    }
}

/// A map of strings (Stripe's `metadata`); a key given twice keeps its last value.
impl FromJson for BTreeMap<String, String> {
    fn from_json(value: &Json<'_>) -> Result<Self, Error> {
        let Json::Object(members) = value else {
            return Err(value.unexpected("a map"));
        };
        let mut map = BTreeMap::new();
        for (key, value) in members {
            map.insert(
                key.to_string(),
                String::from_json(value).map_err(|e| e.at(key))?,
            );
        }
        Ok(map)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// serde_json's limit: its depth counter starts at 128 and refuses the array or object that
/// brings it to 0.
const MAX_DEPTH: u32 = 127;

/// Read a whole JSON text (whitespace around it allowed, nothing else).
pub fn parse(text: &str) -> Result<Json<'_>, Error> {
    let mut r = Reader {
        text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let value = r.value()?;
    r.ws();
    if r.i < r.b.len() {
        return Err(r.fail("trailing characters"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn fail(&self, what: &str) -> Error {
        Error::new(format!("{what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.i += 1;
        }
        found
    }

    fn word(&mut self, w: &str, v: Json<'a>) -> Result<Json<'a>, Error> {
        if self.b[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.fail("expected value"))
        }
    }

    fn value(&mut self) -> Result<Json<'a>, Error> {
        self.ws();
        match self.peek() {
            None => Err(self.fail("EOF while parsing a value")),
            Some(b'n') => self.word("null", Json::Null),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(open @ (b'[' | b'{')) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.fail("recursion limit exceeded"));
                }
                self.i += 1;
                let v = if open == b'[' {
                    self.array()
                } else {
                    self.members()
                }?;
                self.depth -= 1;
                Ok(v)
            }
            Some(_) => Err(self.fail("expected value")),
        }
    }

    fn array(&mut self) -> Result<Json<'a>, Error> {
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat(b']') {
                return Ok(Json::Array(items));
            }
            if !self.eat(b',') {
                return Err(self.fail("expected `,` or `]`"));
            }
        }
    }

    fn members(&mut self) -> Result<Json<'a>, Error> {
        let mut members = Vec::new();
        self.ws();
        if self.eat(b'}') {
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.fail("key must be a string"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(b':') {
                return Err(self.fail("expected `:`"));
            }
            members.push((key, self.value()?));
            self.ws();
            if self.eat(b'}') {
                return Ok(Json::Object(members));
            }
            if !self.eat(b',') {
                return Err(self.fail("expected `,` or `}`"));
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json<'a>, Error> {
        let start = self.i;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.fail("invalid number")),
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.fail("invalid number"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        Ok(Json::Number(&self.text[start..self.i]))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.fail("EOF in escape"))?;
        let mut n = 0;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.fail("invalid escape"))?;
            n = n * 16 + v;
        }
        self.i += 4;
        Ok(n)
    }

    /// A string, at its opening quote; borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        self.i += 1;
        let mut owned: Option<String> = None;
        let mut run = self.i;
        loop {
            match self.peek() {
                None => return Err(self.fail("EOF while parsing a string")),
                Some(b'"') => {
                    let tail = &self.text[run..self.i];
                    self.i += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                Some(0..=0x1f) => return Err(self.fail("control character in string")),
                Some(b'\\') => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.text[run..self.i]);
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let mut n = self.hex4()?;
                            if (0xD800..0xDC00).contains(&n) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.fail("lone leading surrogate"));
                                }
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.fail("invalid surrogate pair"));
                                }
                                n = 0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00);
                            }
                            let c = char::from_u32(n).ok_or_else(|| self.fail("lone surrogate"))?;
                            // `self.i` is past the escape already.
                            s.push(c);
                            run = self.i;
                            continue;
                        }
                        _ => return Err(self.fail("invalid escape")),
                    };
                    s.push(c);
                    self.i += 1;
                    run = self.i;
                }
                // The text is UTF-8: a multi-byte character's bytes are all ≥ 0x80.
                Some(_) => self.i += 1,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes a JSON object's members in order, as serde_json writes a struct (no spaces).
pub struct Writer(String);

impl Writer {
    pub fn object() -> Writer {
        Writer(String::from("{"))
    }

    fn key(&mut self, name: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        write_string(&mut self.0, name);
        self.0.push(':');
    }

    pub fn string(mut self, name: &str, value: Option<&str>) -> Writer {
        self.key(name);
        match value {
            Some(v) => write_string(&mut self.0, v),
            None => self.0.push_str("null"),
        }
        self
    }

    pub fn int(mut self, name: &str, value: i64) -> Writer {
        self.key(name);
        self.0.push_str(&value.to_string());
        self
    }

    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_values() {
        let v = parse(
            r#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\u00e9\ud83d\ude00\n", "c": {}} "#,
        )
        .unwrap();
        let o = v.object("an object").unwrap();
        let Some(Json::Array(a)) = o.get("a").unwrap() else {
            panic!("a")
        };
        assert_eq!(
            a,
            &[
                Json::Number("1"),
                Json::Number("-2.5e3"),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]
        );
        assert_eq!(o.req::<String>("b").unwrap(), "x\"é😀\n");
        assert_eq!(o.get("c").unwrap(), Some(&Json::Object(vec![])));
        assert_eq!(o.get("d").unwrap(), None);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "[1 2]",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "{1:2}",
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "+1",
            "tru",
            "nul",
            r#""\x""#,
            "\"a\u{1}\"",
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            "\"abc",
            "1 2",
            "{} x",
            "'a'",
            "NaN",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(128) + &"]".repeat(128);
        assert!(parse(&deep).is_err());
        let ok = "[".repeat(127) + &"]".repeat(127);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn reads_fields_by_serdes_rules() {
        let v = parse(r#"{"n":5,"neg":-7,"f":1.0,"e":1e3,"big":9223372036854775808,"s":"x","z":null,"t":true,"m":{"k":"v"},"bad":{"k":1},"dup":1,"dup":2}"#).unwrap();
        let o = v.object("an object").unwrap();
        assert_eq!(o.req::<i64>("n").unwrap(), 5);
        assert_eq!(o.req::<i64>("neg").unwrap(), -7);
        assert!(o.req::<u32>("neg").is_err());
        assert!(o.req::<i64>("f").is_err());
        assert!(o.req::<i64>("e").is_err());
        assert!(o.req::<i64>("big").is_err());
        assert!(o.req::<i64>("s").is_err());
        assert!(o.req::<String>("z").is_err());
        assert!(o.req::<String>("n").is_err());
        assert_eq!(o.opt::<String>("z").unwrap(), None);
        assert_eq!(o.opt::<String>("missing").unwrap(), None);
        assert!(o.opt::<String>("n").is_err());
        assert!(o.or_default::<bool>("z").is_err());
        assert!(!o.or_default::<bool>("missing").unwrap());
        assert!(o.req::<bool>("t").unwrap());
        let m: BTreeMap<String, String> = o.req("m").unwrap();
        assert_eq!(m.get("k").map(String::as_str), Some("v"));
        assert!(o.req::<BTreeMap<String, String>>("bad").is_err());
        let e = o.req::<i64>("dup").unwrap_err();
        assert!(e.to_string().contains("duplicate field `dup`"), "{e}");
        let e = o.req::<String>("missing").unwrap_err();
        assert_eq!(e.to_string(), "missing field `missing`");
    }

    #[test]
    fn writes_as_serde_json_did() {
        let s = Writer::object()
            .string("state", Some("a\"b\\c\n\u{1}é"))
            .int("lease_until", -5)
            .string("failure_code", None)
            .finish();
        assert_eq!(
            s,
            r#"{"state":"a\"b\\c\n\u0001é","lease_until":-5,"failure_code":null}"#
        );
        let back = parse(&s).unwrap();
        let o = back.object("an object").unwrap();
        assert_eq!(o.req::<String>("state").unwrap(), "a\"b\\c\n\u{1}é");
    }
}
