//! The guest's JSON: Stripe's text read into a tree by miniserde's parser, and [`FromJson`] to
//! take the few fields paydesk uses out of it. (The one object the plugin writes, an autopay
//! claim, is written by miniserde: `domain::autopay::StoredClaim`.)
//!
//! Not serde and serde_json, which generated a parser per Stripe type (and brought float printing
//! for their error messages): some 150 KiB of the component. miniserde's parser is one
//! non-generic loop that drives a [`Visitor`]; ours builds a [`Json`] tree, and the Stripe types
//! read their fields from it. Reading keeps serde's rules for the shapes used: a missing plain
//! field, a `null` where a value is required, a field given twice, a number that is not an
//! integer in range, or text after the value is an error; a missing or `null` optional field is
//! `None`; unknown fields are skipped (but must be valid JSON). Nesting is limited to 127 levels,
//! as serde_json limits it (miniserde has no limit; `Slot` keeps it). Where miniserde differs
//! from serde_json: a parse error says neither where nor why (miniserde's error has no detail);
//! and a float's value is computed from its digits by powers of ten, not correctly rounded (no
//! field of ours reads a float; one out of `f64`'s range is refused, as serde_json refuses it).

use miniserde::de::{Deserialize, Map, Seq, Visitor};
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

/// A JSON value. A number is an integer when its text has no fraction or exponent (as serde_json
/// tells them apart): `Int` when it fits an `i64`, `BigInt` above that up to `u64::MAX`; any
/// other number is a `Float`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    BigInt(u64),
    Float(f64),
    String(String),
    Array(Vec<Json>),
    /// The members in order; a key given twice is kept twice.
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::BigInt(_) | Json::Float(_) => "a number",
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
    pub fn object(&self, expected: &str) -> Result<Object<'_>, Error> {
        match self {
            Json::Object(members) => Ok(Object(members)),
            other => Err(other.unexpected(expected)),
        }
    }
}

/// An object's members, to read fields from.
#[derive(Clone, Copy)]
pub struct Object<'j>(&'j [(String, Json)]);

impl<'j> Object<'j> {
    /// The field's value; given twice is an error.
    pub fn get(&self, name: &str) -> Result<Option<&'j Json>, Error> {
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
pub struct Fields<'j> {
    object: Object<'j>,
    error: Option<Error>,
}

impl Json {
    /// The members of an object, to read a struct's fields from.
    pub fn fields(&self, expected: &str) -> Result<Fields<'_>, Error> {
        Ok(Fields {
            object: self.object(expected)?,
            error: None,
        })
    }
}

impl Fields<'_> {
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
    fn from_json(value: &Json) -> Result<Self, Error>;
}

/// Read `text` as `T`.
pub fn from_str<T: FromJson>(text: &str) -> Result<T, Error> {
    T::from_json(&parse(text)?)
}

/// Any value, not looked at (serde's `IgnoredAny`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Any;

impl FromJson for Any {
    fn from_json(_: &Json) -> Result<Any, Error> {
        Ok(Any)
    }
}

impl FromJson for String {
    fn from_json(value: &Json) -> Result<String, Error> {
        match value {
            Json::String(s) => Ok(s.to_string()),
            other => Err(other.unexpected("a string")),
        }
    }
}

impl FromJson for bool {
    fn from_json(value: &Json) -> Result<bool, Error> {
        match value {
            Json::Bool(b) => Ok(*b),
            other => Err(other.unexpected("a boolean")),
        }
    }
}

impl FromJson for i64 {
    fn from_json(value: &Json) -> Result<i64, Error> {
        match value {
            Json::Int(n) => Ok(*n),
            Json::BigInt(n) => Err(Error::new(format!("invalid value: {n}, expected an i64"))),
            other => Err(other.unexpected("an integer")),
        }
    }
}

impl FromJson for u32 {
    fn from_json(value: &Json) -> Result<u32, Error> {
        let n = i64::from_json(value)?;
        u32::try_from(n).map_err(|_| Error::new(format!("invalid value: {n}, expected a u32")))
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &Json) -> Result<Option<T>, Error> {
        match value {
            Json::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Json) -> Result<Vec<T>, Error> {
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
    fn from_json(value: &Json) -> Result<Self, Error> {
        let Json::Object(members) = value else {
            return Err(value.unexpected("a map"));
        };
        let mut map = BTreeMap::new();
        for (key, value) in members {
            map.insert(
                key.clone(),
                String::from_json(value).map_err(|e| e.at(key))?,
            );
        }
        Ok(map)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// serde_json's limit: its depth counter starts at 128 and refuses the array or object that
/// brings it to 0. miniserde's parser has no limit of its own (it is not recursive); [`Slot`]
/// keeps this one.
const MAX_DEPTH: u32 = 127;

/// Read a whole JSON text (whitespace around it allowed, nothing else) with miniserde's parser.
/// Its error says nothing of where or why, so neither does ours.
pub fn parse(text: &str) -> Result<Json, Error> {
    miniserde::json::from_str::<Root>(text)
        .ok()
        .and_then(|root| root.0.value)
        .ok_or_else(|| Error::new("not valid JSON"))
}

/// Where miniserde's parser writes one value, and how deep in arrays and objects that value is.
struct Slot {
    value: Option<Json>,
    depth: u32,
}

/// The place of the whole text. A slot of its own rather than miniserde's `make_place!` (which
/// writes straight into `Option<T>`), so that the top value has a depth like every other.
struct Root(Slot);

impl Deserialize for Root {
    fn begin(out: &mut Option<Root>) -> &mut dyn Visitor {
        &mut out
            .insert(Root(Slot {
                value: None,
                depth: 0,
            }))
            .0
    }
}

impl Slot {
    fn put(&mut self, value: Json) -> miniserde::Result<()> {
        self.value = Some(value);
        Ok(())
    }

    /// The slot of a value inside this one's array or object, refused past [`MAX_DEPTH`].
    fn inner(&self) -> miniserde::Result<Slot> {
        if self.depth >= MAX_DEPTH {
            return Err(miniserde::Error);
        }
        Ok(Slot {
            value: None,
            depth: self.depth + 1,
        })
    }
}

impl Visitor for Slot {
    fn null(&mut self) -> miniserde::Result<()> {
        self.put(Json::Null)
    }

    fn boolean(&mut self, b: bool) -> miniserde::Result<()> {
        self.put(Json::Bool(b))
    }

    fn string(&mut self, s: &str) -> miniserde::Result<()> {
        self.put(Json::String(s.to_owned()))
    }

    fn negative(&mut self, n: i64) -> miniserde::Result<()> {
        self.put(Json::Int(n))
    }

    fn nonnegative(&mut self, n: u64) -> miniserde::Result<()> {
        self.put(match i64::try_from(n) {
            Ok(n) => Json::Int(n),
            Err(_) => Json::BigInt(n),
        })
    }

    fn float(&mut self, n: f64) -> miniserde::Result<()> {
        self.put(Json::Float(n))
    }

    fn seq(&mut self) -> miniserde::Result<Box<dyn Seq + '_>> {
        let next = self.inner()?;
        Ok(Box::new(Items {
            out: &mut self.value,
            items: Vec::new(),
            next,
        }))
    }

    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        let next = self.inner()?;
        Ok(Box::new(Members {
            out: &mut self.value,
            members: Vec::new(),
            key: None,
            next,
        }))
    }
}

/// An array being read: the parser asks for the next element's slot, then says it is done.
struct Items<'p> {
    out: &'p mut Option<Json>,
    items: Vec<Json>,
    next: Slot,
}

impl Items<'_> {
    fn take(&mut self) {
        if let Some(item) = self.next.value.take() {
            self.items.push(item);
        }
    }
}

impl Seq for Items<'_> {
    fn element(&mut self) -> miniserde::Result<&mut dyn Visitor> {
        self.take();
        Ok(&mut self.next)
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        self.take();
        *self.out = Some(Json::Array(std::mem::take(&mut self.items)));
        Ok(())
    }
}

/// An object being read. Members are kept in order in a list, a key given twice included (where
/// miniserde's own `Value` keeps a map, the last value winning), so that [`Object::get`] can
/// refuse the field as serde did.
struct Members<'p> {
    out: &'p mut Option<Json>,
    members: Vec<(String, Json)>,
    key: Option<String>,
    next: Slot,
}

impl Members<'_> {
    fn take(&mut self) {
        if let (Some(key), Some(value)) = (self.key.take(), self.next.value.take()) {
            self.members.push((key, value));
        }
    }
}

impl Map for Members<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        self.take();
        self.key = Some(k.to_owned());
        Ok(&mut self.next)
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        self.take();
        *self.out = Some(Json::Object(std::mem::take(&mut self.members)));
        Ok(())
    }
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
                Json::Int(1),
                Json::Float(-2.5e3),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]
        );
        assert_eq!(o.req::<String>("b").unwrap(), "x\"é😀\n");
        assert_eq!(o.get("c").unwrap(), Some(&Json::Object(vec![])));
        assert_eq!(o.get("d").unwrap(), None);
        let n = parse("[0, -0, 9223372036854775807, 9223372036854775808, -9223372036854775808, 18446744073709551615, 18446744073709551616, -9223372036854775809, 1.0, 1e2, 1e-400]").unwrap();
        assert_eq!(
            n,
            Json::Array(vec![
                Json::Int(0),
                Json::Int(0),
                Json::Int(i64::MAX),
                Json::BigInt(1 << 63),
                Json::Int(i64::MIN),
                Json::BigInt(u64::MAX),
                Json::Float(18446744073709551616.0),
                Json::Float(-9223372036854775809.0),
                Json::Float(1.0),
                Json::Float(100.0),
                Json::Float(0.0),
            ])
        );
    }

    #[test]
    fn keeps_a_key_given_twice() {
        let v = parse(r#"{"a":1,"b":{"c":[]},"a":2}"#).unwrap();
        assert_eq!(
            v,
            Json::Object(vec![
                ("a".into(), Json::Int(1)),
                (
                    "b".into(),
                    Json::Object(vec![("c".into(), Json::Array(vec![]))])
                ),
                ("a".into(), Json::Int(2)),
            ])
        );
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
            "-01",
            "1e400",
            "-1e400",
            "[1]]",
            r#"{"a":1}}"#,
            r#"{"a":1]"#,
            "[1}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(128) + &"]".repeat(128);
        assert!(parse(&deep).is_err());
        let ok = "[".repeat(127) + &"]".repeat(127);
        assert!(parse(&ok).is_ok());
        let objects = |n| r#"{"a":"#.repeat(n) + "1" + &"}".repeat(n);
        assert!(parse(&objects(128)).is_err());
        assert!(parse(&objects(127)).is_ok());
        let mixed = r#"[{"a":"#.repeat(64) + &"}]".repeat(64);
        assert!(parse(&mixed).is_err());
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
}
