//! Fuzzes Stripe's form encoding end to end: arbitrary keys and values through the plugin's `Form`
//! (field, opt, metadata, list), percent-encoded as the host encodes a request body
//! (`form_urlencoded::Serializer`) and decoded again, must come back as exactly the pairs built,
//! in order, with the bracket names Stripe expects.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use paydesk_plugin::stripe::Form;

#[derive(Debug, Arbitrary)]
enum Op {
    Field(String, String),
    Opt(String, Option<String>),
    Metadata(String, String),
    List(String, Vec<String>),
}

fuzz_target!(|ops: Vec<Op>| {
    let mut form = Form::new();
    let mut expected: Vec<(String, String)> = Vec::new();
    for op in ops {
        form = match op {
            Op::Field(k, v) => {
                expected.push((k.clone(), v.clone()));
                form.field(&k, v)
            }
            Op::Opt(k, v) => {
                if let Some(v) = &v {
                    expected.push((k.clone(), v.clone()));
                }
                form.opt(&k, v)
            }
            Op::Metadata(k, v) => {
                expected.push((format!("metadata[{k}]"), v.clone()));
                form.metadata(&k, v)
            }
            Op::List(k, vs) => {
                expected.extend(vs.iter().map(|v| (format!("{k}[]"), v.clone())));
                form.list(&k, vs)
            }
        };
    }
    let pairs = form.into_pairs();
    assert_eq!(pairs, expected);

    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    assert!(
        body.bytes().all(|b| b.is_ascii_graphic()),
        "the encoded body is printable ASCII without spaces: {body:?}"
    );
    let decoded: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(decoded, pairs, "body {body:?}");
});
