//! Validates the HTTP requests our code sends to Stripe against Stripe's own OpenAPI description
//! (`shared/stripe-openapi/spec3.json`, API version 2023-08-16): that the path and method exist, that every
//! form or query parameter sent (including Stripe's `a[b][c]`, `a[]` and `a[0]` encodings) is declared, that
//! required parameters are present, and that enum, integer, boolean, number and length constraints hold.
//! Real Stripe answers an unknown parameter with a 400 while localstripe accepts it, so this is how such
//! mistakes are caught offline. This module owns that check and nothing else: it does no I/O besides
//! reading the spec file once, never touches the network, and neither sends nor records requests.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// Env variable that overrides where [`StripeSpec::shared`] reads the spec from.
const SPEC_ENV: &str = "PAYDESK_STRIPE_SPEC";

/// Stripe's OpenAPI description, reduced to what request validation needs.
pub struct StripeSpec {
    /// `components` of the spec, for resolving `$ref`s (`#/components/...`).
    components: Value,
    /// One entry per (path, method) in the spec.
    ops: Vec<Operation>,
    /// Templated paths, indexed segment by segment.
    routes: RouteNode,
}

/// One problem with a request: `param` is the key as sent (e.g. `invoice_settings[defualt_payment_method]`),
/// or `""` for problems with the request as a whole (unknown path, method not allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub param: String,
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.param, self.problem)
    }
}

impl Violation {
    fn new(param: impl Into<String>, problem: impl Into<String>) -> Self {
        Violation {
            param: param.into(),
            problem: problem.into(),
        }
    }
}

/// One operation of the spec, with its parameters gathered into object schemas.
struct Operation {
    /// e.g. "POST /v1/customers/{customer}", for messages.
    label: String,
    /// Schema of the form body: the request body's object schema (POST); for GET/DELETE, the operation's
    /// query parameters merged with any request-body properties (Stripe takes either place for those).
    body: Value,
    /// Schema of the query string of a POST, when the spec declares query parameters for it.
    query: Option<Value>,
}

#[derive(Default)]
struct RouteNode {
    literal: HashMap<String, RouteNode>,
    param: Option<Box<RouteNode>>,
    /// The templated path ending here, if any.
    template: Option<String>,
    /// Lowercase method -> index into `ops`, for the path ending here.
    methods: Vec<(String, usize)>,
}

impl RouteNode {
    fn insert(&mut self, template: &str, method: &str, op: usize) {
        let mut node = self;
        for seg in template.trim_start_matches('/').split('/') {
            node = if seg.len() >= 2 && seg.starts_with('{') && seg.ends_with('}') {
                node.param.get_or_insert_with(Default::default)
            } else {
                node.literal.entry(seg.to_string()).or_default()
            };
        }
        node.template = Some(template.to_string());
        node.methods.push((method.to_string(), op));
    }

    /// The path matching `segs`, literal segments taking precedence over templated ones.
    fn find(&self, segs: &[&str]) -> Option<&RouteNode> {
        let Some((first, rest)) = segs.split_first() else {
            return self.template.is_some().then_some(self);
        };
        if let Some(found) = self.literal.get(*first).and_then(|n| n.find(rest)) {
            return Some(found);
        }
        match &self.param {
            Some(p) if !first.is_empty() => p.find(rest),
            _ => None,
        }
    }
}

impl StripeSpec {
    /// Load from a path.
    pub fn load(path: &Path) -> anyhow::Result<StripeSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading Stripe OpenAPI spec {}", path.display()))?;
        let root: Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing Stripe OpenAPI spec {}", path.display()))?;
        Self::from_value(root).with_context(|| format!("indexing {}", path.display()))
    }

    fn from_value(mut root: Value) -> anyhow::Result<StripeSpec> {
        let mut spec = StripeSpec {
            components: root
                .get_mut("components")
                .map(Value::take)
                .unwrap_or(Value::Null),
            ops: Vec::new(),
            routes: RouteNode::default(),
        };
        let Some(paths) = root.get("paths").and_then(Value::as_object) else {
            bail!("the spec has no `paths` object");
        };
        for (template, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            let shared_params: Vec<&Value> = param_list(item.get("parameters"));
            for (method, op) in item {
                if !matches!(
                    method.as_str(),
                    "get" | "post" | "delete" | "put" | "patch" | "head" | "options"
                ) {
                    continue;
                }
                let operation = spec.build_operation(template, method, op, &shared_params);
                let index = spec.ops.len();
                spec.ops.push(operation);
                spec.routes.insert(template, method, index);
            }
        }
        if spec.ops.is_empty() {
            bail!("the spec declares no operations");
        }
        Ok(spec)
    }

    fn build_operation(
        &self,
        template: &str,
        method: &str,
        op: &Value,
        shared_params: &[&Value],
    ) -> Operation {
        let mut query_props = Map::new();
        let mut query_required = Vec::new();
        for p in shared_params
            .iter()
            .copied()
            .chain(param_list(op.get("parameters")))
        {
            let p = self.resolve(p);
            if p.get("in").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let schema = p
                .get("schema")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            query_props.insert(name.to_string(), schema);
            if p.get("required").and_then(Value::as_bool) == Some(true) {
                query_required.push(Value::String(name.to_string()));
            }
        }

        let content = op.pointer("/requestBody/content");
        let body_schema = content
            .and_then(|c| c.get("application/x-www-form-urlencoded"))
            .or_else(|| {
                content
                    .and_then(Value::as_object)
                    .and_then(|c| c.values().next())
            })
            .and_then(|c| c.get("schema"))
            .map(|s| self.resolve(s).clone());

        let label = format!("{} {}", method.to_ascii_uppercase(), template);
        if method == "post" {
            let body = body_schema.unwrap_or_else(|| object_schema(Map::new(), Vec::new()));
            let query =
                (!query_props.is_empty()).then(|| object_schema(query_props, query_required));
            Operation { label, body, query }
        } else {
            // GET/DELETE: Stripe's clients send these parameters in the query string; the spec lists some
            // DELETE parameters (e.g. `invoice_now`) under the request body instead. Accept both.
            if let Some(props) = body_schema
                .as_ref()
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
            {
                for (k, v) in props {
                    query_props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            if let Some(req) = body_schema
                .as_ref()
                .and_then(|s| s.get("required"))
                .and_then(Value::as_array)
            {
                query_required.extend(req.iter().cloned());
            }
            Operation {
                label,
                body: object_schema(query_props, query_required),
                query: None,
            }
        }
    }

    /// The shared spec: `$CARGO_MANIFEST_DIR/../../shared/stripe-openapi/spec3.json`, or the file named by the
    /// env variable `PAYDESK_STRIPE_SPEC`. Parsed once per process.
    ///
    /// # Panics
    /// When the spec cannot be read or parsed: the tests that use it cannot run without it.
    pub fn shared() -> &'static StripeSpec {
        static SHARED: OnceLock<StripeSpec> = OnceLock::new();
        SHARED.get_or_init(|| {
            let path = std::env::var_os(SPEC_ENV)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../shared/stripe-openapi/spec3.json")
                });
            StripeSpec::load(&path).unwrap_or_else(|e| {
                panic!("cannot load Stripe's OpenAPI spec (set {SPEC_ENV} to its path): {e:#}")
            })
        })
    }

    /// Validate one request. `method` is "GET"/"POST"/"DELETE"; `path` is like "/v1/customers/cus_123" and
    /// may carry a "?query"; `form_body` is the application/x-www-form-urlencoded body ("" for none).
    /// Ok(()) when valid; Err(list of every violation) otherwise.
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        form_body: &str,
    ) -> Result<(), Vec<Violation>> {
        let method_lc = method.to_ascii_lowercase();
        let path = strip_origin(path);
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path, ""),
        };
        let path = path.split('#').next().unwrap_or(path);

        let route = path
            .strip_prefix('/')
            .and_then(|p| self.routes.find(&p.split('/').collect::<Vec<_>>()));
        let Some(route) = route else {
            return Err(vec![Violation::new(
                "",
                format!("unknown endpoint: no path in Stripe's spec matches `{path}`"),
            )]);
        };
        let template = route.template.as_deref().unwrap_or(path);
        let Some(&(_, op_index)) = route.methods.iter().find(|(m, _)| *m == method_lc) else {
            let allowed: Vec<String> = route
                .methods
                .iter()
                .map(|(m, _)| m.to_ascii_uppercase())
                .collect();
            return Err(vec![Violation::new(
                "",
                format!(
                    "method {method} is not allowed on {template} (the spec has {})",
                    allowed.join(", ")
                ),
            )]);
        };
        let op = &self.ops[op_index];

        let mut out = Vec::new();
        let query_pairs = decode(query, "query string", &mut out);
        let body_pairs = decode(form_body, "form body", &mut out);
        let ctx = Ctx { spec: self, op };

        match method_lc.as_str() {
            "post" => {
                ctx.check_root(&op.body, &body_pairs, &mut out);
                match &op.query {
                    Some(schema) => ctx.check_root(schema, &query_pairs, &mut out),
                    None => {
                        for (key, _) in &query_pairs {
                            let root = root_name(key);
                            let hint = if has_property(&op.body, root) {
                                format!("; send `{root}` in the form body")
                            } else {
                                String::new()
                            };
                            out.push(Violation::new(
                                key.as_str(),
                                format!("{} takes no query parameters{hint}", op.label),
                            ));
                        }
                    }
                }
            }
            "get" => {
                ctx.check_root(&op.body, &query_pairs, &mut out);
                for (key, _) in &body_pairs {
                    out.push(Violation::new(
                        key.as_str(),
                        "GET requests must not have a body; send parameters in the query string",
                    ));
                }
            }
            _ => {
                // DELETE (and anything else): parameters may come in the query string or the body.
                let mut all = query_pairs;
                all.extend(body_pairs);
                ctx.check_root(&op.body, &all, &mut out);
            }
        }

        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    /// Follow `$ref`s (to `#/components/...`) until a concrete schema; unresolvable refs stay as they are.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let found = target
                .strip_prefix("#/components")
                .and_then(|ptr| self.components.pointer(ptr));
            match found {
                Some(s) => schema = s,
                None => break,
            }
        }
        schema
    }
}

fn param_list(v: Option<&Value>) -> Vec<&Value> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn object_schema(properties: Map<String, Value>, required: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::String("object".into()));
    m.insert("properties".into(), Value::Object(properties));
    m.insert("required".into(), Value::Array(required));
    m.insert("additionalProperties".into(), Value::Bool(false));
    Value::Object(m)
}

fn has_property(schema: &Value, name: &str) -> bool {
    schema.get("properties").and_then(|p| p.get(name)).is_some()
}

/// Accept "https://api.stripe.com/v1/..." as well as "/v1/...".
fn strip_origin(path: &str) -> &str {
    for scheme in ["https://", "http://"] {
        if let Some(rest) = path.strip_prefix(scheme) {
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    path
}

/// Decode `a=1&b%5Bc%5D=2` into ordered (key, value) pairs.
fn decode(s: &str, what: &str, out: &mut Vec<Violation>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(s).unwrap_or_else(|e| {
        out.push(Violation::new(
            "",
            format!("the {what} is not form-encoded: {e}"),
        ));
        Vec::new()
    })
}

fn root_name(key: &str) -> &str {
    key.split('[').next().unwrap_or(key)
}

/// Split `a[b][][c]` into ("a", ["b", "", "c"]); None when the brackets are malformed.
fn split_key(key: &str) -> Option<(&str, Vec<&str>)> {
    let (root, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if root.is_empty() || root.contains(']') {
        return None;
    }
    let mut segs = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let seg = &inner[..close];
        if seg.contains('[') {
            return None;
        }
        segs.push(seg);
        rest = &inner[close + 1..];
    }
    Some((root, segs))
}

/// The parameters sent, as a tree: `items[0][price]=p` is root → "items" → "0" → "price" = p.
#[derive(Default)]
struct Node {
    /// The key this node stands for, e.g. `items[0]` ("" for the root).
    name: String,
    /// Values given at this node itself: (key as sent, value).
    values: Vec<(String, String)>,
    /// Children by segment, in the order sent. `[]` gives a child with segment "".
    children: Vec<(String, Node)>,
}

impl Node {
    fn child_name(&self, seg: &str) -> String {
        if self.name.is_empty() {
            seg.to_string()
        } else {
            format!("{}[{seg}]", self.name)
        }
    }

    fn child_mut(&mut self, seg: &str) -> &mut Node {
        let i = match self.children.iter().position(|(s, _)| s == seg) {
            Some(i) => i,
            None => self.push_child(seg),
        };
        &mut self.children[i].1
    }

    fn push_child(&mut self, seg: &str) -> usize {
        let name = self.child_name(seg);
        self.children.push((
            seg.to_string(),
            Node {
                name,
                ..Node::default()
            },
        ));
        self.children.len() - 1
    }

    fn child(&self, seg: &str) -> Option<&Node> {
        self.children.iter().find(|(s, _)| s == seg).map(|(_, n)| n)
    }

    /// Whether the non-array prefix of `path` already exists below this node.
    fn has_path(&self, path: &[&str]) -> bool {
        let mut node = self;
        for seg in path {
            if seg.is_empty() {
                return true;
            }
            match node.child(seg) {
                Some(n) => node = n,
                None => return false,
            }
        }
        !node.values.is_empty() || !node.children.is_empty()
    }

    /// Insert one pair; `segs` is the path below the root (root name first).
    fn insert(&mut self, segs: &[&str], key: &str, value: &str) {
        let mut node = self;
        for (i, seg) in segs.iter().enumerate() {
            if seg.is_empty() {
                // `a[]`: a new array element, except that `a[][x]=1&a[][y]=2` fills one element (as Rack does).
                let rest = &segs[i + 1..];
                let reuse = if rest.is_empty() {
                    None
                } else {
                    node.children
                        .iter()
                        .rposition(|(s, _)| s.is_empty())
                        .filter(|&j| !node.children[j].1.has_path(rest))
                };
                let j = match reuse {
                    Some(j) => j,
                    None => node.push_child(""),
                };
                node = &mut node.children[j].1;
            } else {
                node = node.child_mut(seg);
            }
        }
        node.values.push((key.to_string(), value.to_string()));
    }

    /// Every key sent at or below this node.
    fn leaf_keys(&self, out: &mut Vec<String>) {
        out.extend(self.values.iter().map(|(k, _)| k.clone()));
        for (_, child) in &self.children {
            child.leaf_keys(out);
        }
    }
}

struct Ctx<'a> {
    spec: &'a StripeSpec,
    op: &'a Operation,
}

impl Ctx<'_> {
    fn check_root(&self, schema: &Value, pairs: &[(String, String)], out: &mut Vec<Violation>) {
        let mut root = Node::default();
        for (key, value) in pairs {
            match split_key(key) {
                Some((first, segs)) => {
                    let mut all = Vec::with_capacity(segs.len() + 1);
                    all.push(first);
                    all.extend(segs);
                    root.insert(&all, key, value);
                }
                None => out.push(Violation::new(
                    key.as_str(),
                    "malformed parameter name (expected `name`, `name[key]`, `name[]` or `name[0]`)",
                )),
            }
        }
        self.check(schema, &root, out);
    }

    /// Check `node` (and everything below it) against `schema`, appending violations to `out`.
    fn check(&self, schema: &Value, node: &Node, out: &mut Vec<Violation>) {
        let schema = self.spec.resolve(schema);
        if node.values.len() > 1 {
            out.push(Violation::new(
                node.values[0].0.as_str(),
                format!(
                    "given {} times; only array elements (`{}[]`) may repeat",
                    node.values.len(),
                    node.name
                ),
            ));
        }

        if let Some(branches) = alternatives(schema) {
            if node.children.is_empty() {
                for (key, value) in &node.values {
                    if !branches
                        .iter()
                        .any(|b| self.scalar_problem(b, value).is_none())
                    {
                        let expected: Vec<String> =
                            branches.iter().map(|b| self.describe(b)).collect();
                        out.push(Violation::new(
                            key.as_str(),
                            format!(
                                "invalid value `{value}`: expected {}",
                                expected.join(" or ")
                            ),
                        ));
                    }
                }
                return;
            }
            let mut best: Option<(bool, Vec<Violation>)> = None;
            for branch in branches {
                let mut found = Vec::new();
                self.check(branch, node, &mut found);
                if found.is_empty() {
                    return;
                }
                let container = matches!(self.type_of(branch), Some("object" | "array"));
                let better = match &best {
                    None => true,
                    Some((c, v)) => (!container, found.len()) < (!*c, v.len()),
                };
                if better {
                    best = Some((container, found));
                }
            }
            if let Some((_, found)) = best {
                out.extend(found);
            }
            return;
        }

        match self.type_of(schema) {
            Some("object") => self.check_object(schema, node, out),
            Some("array") => self.check_array(schema, node, out),
            Some(ty) => {
                for (_, child) in &node.children {
                    let mut keys = Vec::new();
                    child.leaf_keys(&mut keys);
                    for key in keys {
                        out.push(Violation::new(
                            key,
                            format!("`{}` is a {ty}, not a hash or an array", node.name),
                        ));
                    }
                }
                for (key, value) in &node.values {
                    if let Some(problem) = self.scalar_problem(schema, value) {
                        out.push(Violation::new(key.as_str(), problem));
                    }
                }
            }
            // No type and no alternatives: anything goes.
            None => {}
        }
    }

    fn check_object(&self, schema: &Value, node: &Node, out: &mut Vec<Violation>) {
        let props = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, value) in &node.values {
            if value.is_empty() && is_empty_hash(schema) {
                continue;
            }
            out.push(Violation::new(
                key.as_str(),
                format!(
                    "`{}` is a hash: send `{}[key]=value`, not a plain value",
                    node.name, node.name
                ),
            ));
        }
        for (seg, child) in &node.children {
            if let Some(prop) = props.and_then(|p| p.get(seg.as_str())) {
                self.check(prop, child, out);
                continue;
            }
            match additional {
                Some(Value::Bool(true)) => continue,
                Some(extra @ Value::Object(_)) if !seg.is_empty() => {
                    self.check(extra, child, out);
                    continue;
                }
                _ => {}
            }
            let problem = if seg.is_empty() {
                format!("`{}` is a hash, not an array", node.name)
            } else {
                let mut p = if node.name.is_empty() {
                    format!("unknown parameter `{seg}` for {}", self.op.label)
                } else {
                    format!("unknown parameter: `{}` has no field `{seg}`", node.name)
                };
                if let Some(s) = props.and_then(|p| suggest(seg, p.keys())) {
                    p.push_str(&format!(" (did you mean `{s}`?)"));
                }
                p
            };
            let mut keys = Vec::new();
            child.leaf_keys(&mut keys);
            for key in keys {
                out.push(Violation::new(key, problem.clone()));
            }
        }
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if node.child(name).is_none() {
                let whole = node.child_name(name);
                let problem = if node.name.is_empty() {
                    format!("missing required parameter for {}", self.op.label)
                } else {
                    format!(
                        "missing required parameter (`{}` requires `{name}`)",
                        node.name
                    )
                };
                out.push(Violation::new(whole, problem));
            }
        }
    }

    fn check_array(&self, schema: &Value, node: &Node, out: &mut Vec<Violation>) {
        for (key, _) in &node.values {
            out.push(Violation::new(
                key.as_str(),
                format!(
                    "`{}` is an array: send `{}[]=value` or `{}[0]=value`, not a plain value",
                    node.name, node.name, node.name
                ),
            ));
        }
        let items = schema.get("items");
        for (seg, child) in &node.children {
            if !seg.is_empty() && seg.parse::<usize>().is_err() {
                let mut keys = Vec::new();
                child.leaf_keys(&mut keys);
                for key in keys {
                    out.push(Violation::new(
                        key,
                        format!(
                            "`{}` is an array: index it with `[]` or a number, not `[{seg}]`",
                            node.name
                        ),
                    ));
                }
                continue;
            }
            if let Some(items) = items {
                self.check(items, child, out);
            }
        }
    }

    /// Why the single value `value` does not fit `schema`, if it does not.
    fn scalar_problem(&self, schema: &Value, value: &str) -> Option<String> {
        let schema = self.spec.resolve(schema);
        if let Some(branches) = alternatives(schema) {
            if branches
                .iter()
                .any(|b| self.scalar_problem(b, value).is_none())
            {
                return None;
            }
            let expected: Vec<String> = branches.iter().map(|b| self.describe(b)).collect();
            return Some(format!(
                "invalid value `{value}`: expected {}",
                expected.join(" or ")
            ));
        }
        let ty = self.type_of(schema)?;
        let ok = match ty {
            "string" => {
                if schema.get("format").and_then(Value::as_str) == Some("decimal")
                    && !is_decimal(value)
                {
                    return Some(format!(
                        "invalid value `{value}`: expected a decimal number"
                    ));
                }
                true
            }
            "integer" => value.parse::<i64>().is_ok(),
            "number" => is_decimal(value),
            "boolean" => value == "true" || value == "false",
            "object" => value.is_empty() && is_empty_hash(schema),
            "array" => false,
            _ => true,
        };
        if !ok {
            return Some(format!(
                "invalid value `{value}`: expected {}",
                self.describe(schema)
            ));
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|a| enum_matches(a, value))
        {
            return Some(format!(
                "invalid value `{value}`: expected {}",
                self.describe(schema)
            ));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            let len = value.chars().count() as u64;
            if len > max {
                return Some(format!(
                    "value is {len} characters long; at most {max} allowed"
                ));
            }
        }
        None
    }

    /// A short human description of what `schema` accepts.
    fn describe(&self, schema: &Value) -> String {
        let schema = self.spec.resolve(schema);
        if let Some(branches) = alternatives(schema) {
            let parts: Vec<String> = branches.iter().map(|b| self.describe(b)).collect();
            return parts.join(" or ");
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if allowed.len() == 1 && allowed[0].as_str() == Some("") {
                return "the empty string (to unset)".into();
            }
            const SHOWN: usize = 12;
            let mut names: Vec<String> = allowed
                .iter()
                .take(SHOWN)
                .map(|a| match a.as_str() {
                    Some(s) => format!("`{s}`"),
                    None => format!("`{a}`"),
                })
                .collect();
            if allowed.len() > SHOWN {
                names.push(format!("… ({} values in all)", allowed.len()));
            }
            return format!("one of {}", names.join(", "));
        }
        match self.type_of(schema) {
            Some("string") => match schema.get("maxLength").and_then(Value::as_u64) {
                Some(max) => format!("a string of at most {max} characters"),
                None => "a string".into(),
            },
            Some("integer") => "an integer".into(),
            Some("number") => "a number".into(),
            Some("boolean") => "a boolean (`true` or `false`)".into(),
            Some("object") => "a hash (`…[key]=value`)".into(),
            Some("array") => "an array (`…[]=value`)".into(),
            Some(other) => format!("a {other}"),
            None => "anything".into(),
        }
    }

    fn type_of<'s>(&self, schema: &'s Value) -> Option<&'s str> {
        match schema.get("type") {
            Some(Value::String(t)) => Some(t.as_str()),
            _ if schema.get("properties").is_some()
                || schema.get("additionalProperties").is_some() =>
            {
                Some("object")
            }
            _ if schema.get("items").is_some() => Some("array"),
            _ => None,
        }
    }
}

/// The branches of an `anyOf` / `oneOf` schema.
fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
        .filter(|b| !b.is_empty())
}

/// An object schema with nothing in it (e.g. `offline: {}`), which Stripe's clients encode as `name=`.
fn is_empty_hash(schema: &Value) -> bool {
    let no_props = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    no_props && !matches!(schema.get("additionalProperties"), Some(Value::Object(_)))
}

fn enum_matches(allowed: &Value, value: &str) -> bool {
    match allowed {
        Value::String(s) => s == value,
        Value::Bool(b) => value == if *b { "true" } else { "false" },
        Value::Number(n) => n.to_string() == value,
        Value::Null => value.is_empty(),
        _ => false,
    }
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut parts = s.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next().unwrap_or("");
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The declared name closest to a misspelled one, if close enough to be a likely typo.
fn suggest<'a>(wrong: &str, names: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).clamp(1, 3);
    names
        .map(|n| (edit_distance(wrong, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> &'static StripeSpec {
        StripeSpec::shared()
    }

    /// The violations of a request that must be invalid.
    fn errors(method: &str, path: &str, body: &str) -> Vec<Violation> {
        match spec().validate(method, path, body) {
            Ok(()) => panic!("{method} {path} [{body}] was accepted; expected violations"),
            Err(v) => v,
        }
    }

    fn assert_ok(method: &str, path: &str, body: &str) {
        if let Err(v) = spec().validate(method, path, body) {
            let list: Vec<String> = v.iter().map(ToString::to_string).collect();
            panic!(
                "{method} {path} [{body}] rejected:\n  {}",
                list.join("\n  ")
            );
        }
    }

    fn params(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.param.as_str()).collect()
    }

    #[test]
    fn create_customer_with_metadata_is_valid() {
        assert_ok(
            "POST",
            "/v1/customers",
            "name=Ada+Lovelace&email=ada%40example.com&metadata%5Bhelpdesk_id%5D=42",
        );
        assert_ok("POST", "/v1/customers", "name=Ada&metadata[helpdesk_id]=42");
    }

    #[test]
    fn misspelled_parameter_is_named_with_a_suggestion() {
        let v = errors("POST", "/v1/customers", "name=Ada&emial=ada%40example.com");
        assert_eq!(params(&v), ["emial"]);
        assert!(v[0].problem.contains("unknown parameter"), "{}", v[0]);
        assert!(v[0].problem.contains("`email`"), "{}", v[0]);
        assert!(v[0].to_string().starts_with("emial: "));
    }

    #[test]
    fn missing_required_parameters_are_named() {
        let v = errors("POST", "/v1/payment_intents", "currency=usd");
        assert_eq!(params(&v), ["amount"]);
        assert!(v[0].problem.contains("missing required"), "{}", v[0]);

        let v = errors("POST", "/v1/payment_intents", "description=x");
        let mut p = params(&v);
        p.sort();
        assert_eq!(p, ["amount", "currency"]);
    }

    #[test]
    fn bad_enum_value_is_named() {
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=100&currency=usd&confirmation_method=sometimes",
        );
        assert_eq!(params(&v), ["confirmation_method"]);
        assert!(v[0].problem.contains("`automatic`"), "{}", v[0]);
        assert_ok(
            "POST",
            "/v1/payment_intents",
            "amount=100&currency=usd&confirmation_method=manual",
        );
    }

    #[test]
    fn nested_parameters_are_checked() {
        assert_ok(
            "POST",
            "/v1/customers/cus_1",
            "invoice_settings[default_payment_method]=pm_1",
        );
        let v = errors(
            "POST",
            "/v1/customers/cus_1",
            "invoice_settings[default_paymnt_method]=pm_1",
        );
        assert_eq!(params(&v), ["invoice_settings[default_paymnt_method]"]);
        assert!(
            v[0].problem.contains("`default_payment_method`"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn nested_required_inside_array_elements() {
        // invoice_settings.custom_fields is anyOf [array of {name, value} (both required), ""].
        assert_ok(
            "POST",
            "/v1/customers/cus_1",
            "invoice_settings[custom_fields][0][name]=Ticket&invoice_settings[custom_fields][0][value]=42",
        );
        assert_ok(
            "POST",
            "/v1/customers/cus_1",
            "invoice_settings[custom_fields][][name]=Ticket&invoice_settings[custom_fields][][value]=42",
        );
        assert_ok(
            "POST",
            "/v1/customers/cus_1",
            "invoice_settings[custom_fields]=",
        );
        let v = errors(
            "POST",
            "/v1/customers/cus_1",
            "invoice_settings[custom_fields][0][name]=Ticket",
        );
        assert_eq!(params(&v), ["invoice_settings[custom_fields][0][value]"]);
        assert!(v[0].problem.contains("missing required"), "{}", v[0]);
    }

    #[test]
    fn arrays_booleans_and_metadata_on_payment_intents() {
        let body = "amount=1000&currency=usd&payment_method_types[]=card&payment_method_types[]=sepa_debit\
                    &metadata[a]=b&off_session=true&confirm=true";
        assert_ok("POST", "/v1/payment_intents", body);
        assert_ok(
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd&payment_method_types[0]=card&payment_method_types[1]=sepa_debit",
        );
        // off_session is anyOf [boolean, enum one_off/recurring].
        assert_ok(
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd&off_session=recurring",
        );
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd&off_session=maybe",
        );
        assert_eq!(params(&v), ["off_session"]);
        assert!(
            v[0].problem.contains("boolean") && v[0].problem.contains("`one_off`"),
            "{}",
            v[0]
        );
        // A plain value where only an array is allowed.
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd&payment_method_types=card",
        );
        assert_eq!(params(&v), ["payment_method_types"]);
    }

    #[test]
    fn metadata_shapes() {
        // On customers metadata is anyOf [hash of strings, ""]: "" unsets it.
        assert_ok("POST", "/v1/customers/cus_1", "metadata=");
        assert_ok(
            "POST",
            "/v1/customers/cus_1",
            "metadata[any_key]=&metadata[other]=x",
        );
        let v = errors("POST", "/v1/customers/cus_1", "metadata=foo");
        assert_eq!(params(&v), ["metadata"]);
        // On payment intent creation it is a plain hash: no "" branch.
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=1&currency=usd&metadata=",
        );
        assert_eq!(params(&v), ["metadata"]);
        // A hash is not an array.
        let v = errors("POST", "/v1/customers", "metadata[]=x");
        assert_eq!(params(&v), ["metadata[]"]);
    }

    #[test]
    fn scalar_types_are_checked() {
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=ten&currency=usd&confirm=yes&description[x]=1",
        );
        assert_eq!(params(&v), ["amount", "confirm", "description[x]"]);
        let v = errors("POST", "/v1/customers", "email[x]=1");
        assert_eq!(params(&v), ["email[x]"]);
        assert!(v[0].problem.contains("not a hash"), "{}", v[0]);
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=100&currency=usd&statement_descriptor=this+is+far+too+long+for+stripe",
        );
        assert_eq!(params(&v), ["statement_descriptor"]);
    }

    #[test]
    fn every_violation_is_reported() {
        let v = errors(
            "POST",
            "/v1/customers/cus_1",
            "emial=x&invoice_settings[defualt_payment_method]=pm_1&metadata=foo&name=a&name=b",
        );
        assert_eq!(
            params(&v),
            [
                "emial",
                "invoice_settings[defualt_payment_method]",
                "metadata",
                "name"
            ]
        );
    }

    #[test]
    fn list_and_search_queries() {
        assert_ok("GET", "/v1/customers?limit=100&starting_after=cus_1", "");
        assert_ok("GET", "/v1/customers", "");
        assert_ok(
            "GET",
            "/v1/customers?created[gte]=1700000000&expand[]=data.default_source",
            "",
        );
        assert_ok("GET", "/v1/customers?created=1700000000", "");
        let v = errors("GET", "/v1/customers?limitt=1", "");
        assert_eq!(params(&v), ["limitt"]);
        assert!(v[0].problem.contains("`limit`"), "{}", v[0]);
        let v = errors("GET", "/v1/customers?limit=many", "");
        assert_eq!(params(&v), ["limit"]);
        assert_ok("GET", "/v1/payment_methods?customer=cus_1&type=card", "");
        let v = errors("GET", "/v1/payment_methods?customer=cus_1&type=cheque", "");
        assert_eq!(params(&v), ["type"]);
        assert_ok(
            "GET",
            "/v1/customers/search?query=email%3A%27a%40b.c%27",
            "",
        );
        // `query` is required on search.
        let v = errors("GET", "/v1/customers/search?limit=1", "");
        assert_eq!(params(&v), ["query"]);
        assert_ok("GET", "/v1/customers/cus_1", "");
        assert_ok("GET", "/v1/customers/cus_1?expand[]=default_source", "");
    }

    #[test]
    fn get_bodies_and_post_queries_are_rejected() {
        let v = errors("GET", "/v1/customers", "limit=1");
        assert_eq!(params(&v), ["limit"]);
        let v = errors("POST", "/v1/customers?email=a%40b.c", "");
        assert_eq!(params(&v), ["email"]);
        assert!(v[0].problem.contains("form body"), "{}", v[0]);
    }

    #[test]
    fn unknown_paths_and_methods() {
        let v = errors("GET", "/v1/nonexistent", "");
        assert_eq!(params(&v), [""]);
        assert!(v[0].problem.contains("unknown endpoint"), "{}", v[0]);
        let v = errors("GET", "/v1/customers/cus_1/nonexistent", "");
        assert_eq!(params(&v), [""]);
        let v = errors("GET", "/v1/customers/", "");
        assert_eq!(params(&v), [""]);
        // The literal `search` wins over `{customer}`, and search is GET only.
        let v = errors("POST", "/v1/customers/search", "name=x");
        assert_eq!(params(&v), [""]);
        assert!(v[0].problem.contains("not allowed"), "{}", v[0]);
        let v = errors("PUT", "/v1/customers/cus_1", "");
        assert_eq!(params(&v), [""]);
    }

    #[test]
    fn delete_customer_and_templated_actions() {
        assert_ok("DELETE", "/v1/customers/cus_1", "");
        assert_ok(
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            "payment_method=pm_card_visa",
        );
        assert_ok(
            "POST",
            "/v1/payment_intents/pi_1/cancel",
            "cancellation_reason=abandoned",
        );
        assert_ok(
            "POST",
            "https://api.stripe.com/v1/payment_intents/pi_1/confirm",
            "off_session=true",
        );
        // DELETE parameters that the spec lists under the body are accepted in the query too.
        assert_ok(
            "DELETE",
            "/v1/subscriptions/sub_1?invoice_now=true&prorate=false",
            "",
        );
        let v = errors("DELETE", "/v1/customers/cus_1?bogus=1", "");
        assert_eq!(params(&v), ["bogus"]);
    }

    #[test]
    fn webhook_endpoint_events_are_enum_checked() {
        assert_ok(
            "POST",
            "/v1/webhook_endpoints",
            "url=https%3A%2F%2Fhelpdesk.example%2Fstripe&enabled_events[]=payment_intent.succeeded",
        );
        let v = errors(
            "POST",
            "/v1/webhook_endpoints",
            "url=https%3A%2F%2Fhelpdesk.example%2Fstripe&enabled_events[]=payment_intent.succeeded\
             &enabled_events[]=payment_intent.bogus",
        );
        assert_eq!(params(&v), ["enabled_events[]"]);
        assert!(v[0].problem.contains("payment_intent.bogus"), "{}", v[0]);
        let v = errors("POST", "/v1/webhook_endpoints", "enabled_events[]=*");
        assert_eq!(params(&v), ["url"]);
    }

    #[test]
    fn payment_intent_with_receipt_and_future_usage() {
        assert_ok(
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd&receipt_email=a%40b.c&description=x&setup_future_usage=off_session",
        );
        let v = errors(
            "POST",
            "/v1/payment_intents",
            "amount=1000&currency=usd&setup_future_usage=later",
        );
        assert_eq!(params(&v), ["setup_future_usage"]);
    }

    #[test]
    fn billing_portal_session() {
        assert_ok(
            "POST",
            "/v1/billing_portal/sessions",
            "customer=cus_1&return_url=https%3A%2F%2Fx",
        );
        let v = errors(
            "POST",
            "/v1/billing_portal/sessions",
            "return_url=https%3A%2F%2Fx",
        );
        assert_eq!(params(&v), ["customer"]);
    }

    #[test]
    fn malformed_keys_are_reported() {
        let v = errors("POST", "/v1/customers", "metadata[a=1&name]=x&[x]=1");
        assert_eq!(params(&v), ["metadata[a", "name]", "[x]"]);
    }

    #[test]
    fn load_reports_missing_and_bad_files() {
        let missing = StripeSpec::load(Path::new("/nonexistent/spec3.json"));
        assert!(missing.is_err());
        let err = StripeSpec::from_value(serde_json::json!({"openapi": "3.0.0"}))
            .err()
            .expect("a spec without paths is refused");
        assert!(err.to_string().contains("paths"));
    }

    #[test]
    fn every_spec_operation_is_reachable() {
        let spec = spec();
        assert!(spec.ops.len() > 400, "only {} operations", spec.ops.len());
        for op in &spec.ops {
            let (method, template) = op.label.split_once(' ').expect("label is `METHOD path`");
            let concrete: Vec<String> = template
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        format!("x{}_1", seg.len())
                    } else {
                        seg.to_string()
                    }
                })
                .collect();
            let concrete = concrete.join("/");
            let segs: Vec<&str> = concrete.trim_start_matches('/').split('/').collect();
            let found = spec.routes.find(&segs).and_then(|r| r.template.as_deref());
            assert_eq!(found, Some(template), "{concrete} routes elsewhere");
            if let Err(v) = spec.validate(method, &concrete, "") {
                assert!(v.iter().all(|v| !v.param.is_empty()), "{}: {v:?}", op.label);
            }
        }
    }

    #[test]
    fn key_splitting() {
        assert_eq!(split_key("a"), Some(("a", vec![])));
        assert_eq!(split_key("a[b][][0]"), Some(("a", vec!["b", "", "0"])));
        assert_eq!(split_key("a[b]c"), None);
        assert_eq!(split_key("a[b"), None);
        assert_eq!(split_key("[b]"), None);
        assert!(is_decimal("12.50") && is_decimal("-3") && !is_decimal("1e3") && !is_decimal("."));
        assert_eq!(edit_distance("emial", "email"), 1);
    }
}
