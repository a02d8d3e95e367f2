#!/usr/bin/env python3
"""Size breakdown of the plugin component (paydesk_plugin.wasm).

Prints:
  1. the component's layout: each embedded core module (the main module, shims, fixups, any WASI
     adapter) and the component-level type/import/export/name sections;
  2. the main module's sections (code, data, ...);
  3. the main module's code by owner (summary), then by crate / module, serde code per type of
     ours, the largest functions, and what the data segments hold.

Sizes of (1) and (2) are taken from the shipped component (stripped, as the `plugin` profile
builds it, in target/components like host/build.rs). The per-function breakdown needs the
`name` section, which the shipped build strips, so it comes from a second build of the same
profile with `strip = false` and v0 symbol mangling (which keeps generic arguments in names, so
serde_json code instantiated for each of our types can be told apart) in target/size-names. The
code of the two builds is the same to within a few bytes. `--build` makes both builds:

    python3 scripts/component-size.py --build          # build both, then report
    python3 scripts/component-size.py                  # report on existing builds
    python3 scripts/component-size.py --top 60 --min 0.5
    python3 scripts/component-size.py --why flt2dec    # who calls it (direct calls; a function
                                                       # only called through a pointer shows
                                                       # "address taken")

Attribution is by function name after LTO and inlining: a generic from serde_json instantiated
for one of our types is counted for that type; code inlined into a caller is counted under the
caller. Treat the tables as a map, not a ledger. Python 3 standard library only; no wasm tooling.
"""

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "paydesk-plugin"
SHIPPED_DIR = os.path.join(ROOT, "target", "components")  # where tools/build_component.rs builds
NAMES_DIR = os.path.join(ROOT, "target", "size-names")
WASM_REL = os.path.join("wasm32-wasip2", "plugin", "paydesk_plugin.wasm")


# ---------------------------------------------------------------------------------------------
# Binary reading


def leb(b, i):
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def read_name(b, i):
    n, i = leb(b, i)
    return b[i : i + n].decode("utf-8", "replace"), i + n


def sections(b):
    """Yield (id, custom_name, body, total_size_with_header) for a module or component."""
    if b[:4] != b"\0asm":
        raise SystemExit("not a wasm binary")
    i = 8
    while i < len(b):
        start = i
        sid = b[i]
        i += 1
        n, i = leb(b, i)
        body = b[i : i + n]
        i += n
        name = None
        if sid == 0:
            name, off = read_name(body, 0)
            body = body[off:]
        yield sid, name, body, i - start


def is_component(b):
    return b[4:8] == b"\x0d\x00\x01\x00"


COMPONENT_SECTIONS = {
    0: "custom", 1: "core module", 2: "core instance", 3: "core type", 4: "component",
    5: "instance", 6: "alias", 7: "type", 8: "canon", 9: "start", 10: "import", 11: "export",
    12: "value",
}
CORE_SECTIONS = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
    7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag",
}


def core_module_names(component_name_body):
    """Core module names from a `component-name` section (sort 0x00 0x11 = core module)."""
    names = {}
    i = 0
    b = component_name_body
    while i < len(b):
        sub = b[i]
        i += 1
        n, i = leb(b, i)
        payload = b[i : i + n]
        i += n
        if sub != 1 or not payload:
            continue
        if payload[0] == 0x00:
            sort, j = (0x00, payload[1]), 2
        else:
            sort, j = (payload[0],), 1
        if sort != (0x00, 0x11):
            continue
        count, j = leb(payload, j)
        for _ in range(count):
            idx, j = leb(payload, j)
            name, j = read_name(payload, j)
            names[idx] = name
    return names


def component_layout(b):
    """Top-level pieces of a component: core modules (bytes) and everything else by kind."""
    modules = []
    other = defaultdict(int)
    module_names = {}
    for sid, name, body, total in sections(b):
        if sid == 1:
            modules.append((body, total))
        elif sid == 0:
            other["custom: " + name] += total
            if name == "component-name":
                module_names = core_module_names(body)
        elif sid == 4:
            other["nested components (WIT type info)"] += total
        else:
            other[COMPONENT_SECTIONS.get(sid, str(sid))] += total
    return modules, other, module_names


def module_info(m):
    """Sections of a core module, plus function names, body sizes and data segments."""
    info = {
        "sections": [], "imported_funcs": 0, "bodies": [], "names": {}, "data": [],
        "data_names": {}, "exports": [], "code": [], "table_funcs": set(),
    }
    for sid, name, body, total in sections(m):
        info["sections"].append((CORE_SECTIONS.get(sid, str(sid)) + (f" {name}" if name else ""), total))
        if sid == 2:
            count, i = leb(body, 0)
            for _ in range(count):
                _, i = read_name(body, i)
                _, i = read_name(body, i)
                kind = body[i]
                i += 1
                if kind == 0:
                    _, i = leb(body, i)
                    info["imported_funcs"] += 1
                elif kind == 1:  # table: reftype + limits
                    i += 1
                    flags = body[i]
                    i += 1
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 2:  # memory: limits
                    flags = body[i]
                    i += 1
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 3:  # global: valtype + mut
                    i += 2
                elif kind == 4:  # tag
                    i += 1
                    _, i = leb(body, i)
        elif sid == 7:
            count, i = leb(body, 0)
            for _ in range(count):
                ename, i = read_name(body, i)
                i += 1
                _, i = leb(body, i)
                info["exports"].append(ename)
        elif sid == 10:
            count, i = leb(body, 0)
            for _ in range(count):
                start = i
                n, i = leb(body, i)
                info["code"].append(body[i : i + n])
                i += n
                info["bodies"].append(i - start)
        elif sid == 9:
            count, i = leb(body, 0)
            for _ in range(count):
                flags, i = leb(body, i)
                if flags in (0, 4):  # active, table 0, with an offset expression
                    while body[i] != 0x0B:
                        i += 1
                    i += 1
                elif flags in (2, 6):
                    _, i = leb(body, i)
                    while body[i] != 0x0B:
                        i += 1
                    i += 1
                if flags in (1, 2, 3):
                    i += 1  # elemkind
                if flags in (5, 6, 7):
                    i += 1  # reftype
                n, i = leb(body, i)
                for _ in range(n):
                    if flags < 4:
                        f, i = leb(body, i)
                        info["table_funcs"].add(f)
                    else:  # expressions: ref.func f end
                        if body[i] == 0xD2:
                            f, i = leb(body, i + 1)
                            info["table_funcs"].add(f)
                        while body[i] != 0x0B:
                            i += 1
                        i += 1
        elif sid == 11:
            count, i = leb(body, 0)
            for _ in range(count):
                flags, i = leb(body, i)
                if flags == 2:
                    _, i = leb(body, i)
                if flags in (0, 2):  # active: skip the init expression up to `end`
                    while body[i] != 0x0B:
                        i += 1
                    i += 1
                n, i = leb(body, i)
                info["data"].append(body[i : i + n])
                i += n
        elif sid == 0 and name == "name":
            i = 0
            while i < len(body):
                sub = body[i]
                i += 1
                n, i = leb(body, i)
                payload = body[i : i + n]
                i += n
                if sub in (1, 9):
                    target = info["names"] if sub == 1 else info["data_names"]
                    count, j = leb(payload, 0)
                    for _ in range(count):
                        idx, j = leb(payload, j)
                        fname, j = read_name(payload, j)
                        target[idx] = fname
    return info


# ---------------------------------------------------------------------------------------------
# Direct call graph (for --why): decode just enough of each body to find `call` targets.


def skip_leb(b, i):
    while b[i] & 0x80:
        i += 1
    return i + 1


def calls_in(body):
    """Function indices called directly (`call`, `return_call`) from one function body."""
    out = set()
    i = 0
    n, i = leb(body, i)
    for _ in range(n):  # local declarations
        i = skip_leb(body, i)
        i += 1
    end = len(body)
    while i < end:
        op = body[i]
        i += 1
        if op in (0x02, 0x03, 0x04):
            if body[i] in (0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F):
                i += 1
            else:
                i = skip_leb(body, i)
        elif op in (0x0C, 0x0D, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xD2):
            i = skip_leb(body, i)
        elif op == 0x0E:
            k, i = leb(body, i)
            for _ in range(k + 1):
                i = skip_leb(body, i)
        elif op in (0x10, 0x12):
            f, i = leb(body, i)
            out.add(f)
        elif op in (0x11, 0x13):
            i = skip_leb(body, skip_leb(body, i))
        elif op == 0x1C:
            k, i = leb(body, i)
            i += k
        elif 0x28 <= op <= 0x3E:
            i = skip_leb(body, skip_leb(body, i))
        elif op in (0x3F, 0x40, 0xD0):
            i += 1
        elif op == 0x41 or op == 0x42:
            i = skip_leb(body, i)
        elif op == 0x43:
            i += 4
        elif op == 0x44:
            i += 8
        elif op == 0xFC:
            sub, i = leb(body, i)
            if sub == 8:
                i = skip_leb(body, i) + 1
            elif sub == 10:
                i += 2
            elif sub == 11:
                i += 1
            elif sub in (12, 14):
                i = skip_leb(body, skip_leb(body, i))
            elif sub in (9, 13, 15, 16, 17):
                i = skip_leb(body, i)
        elif op == 0xFD:
            raise ValueError("SIMD code is not decoded")
    return out


def why(info, pattern, depth):
    """Print the direct callers of functions whose name contains `pattern`, up to `depth` levels."""
    base = info["imported_funcs"]
    names = {k: demangle(v) for k, v in info["names"].items()}
    callers = defaultdict(set)
    for k, body in enumerate(info["code"]):
        for f in calls_in(body):
            callers[f].add(base + k)
    roots = [k for k, v in names.items() if pattern in v and k >= base]
    exported = set()
    for k in roots[:5]:
        seen = set()

        def show(f, level):
            tags = []
            if f in info["table_funcs"]:
                tags.append("address taken")
            label = names.get(f, f"<func {f}>")
            print("  " + "  " * level + ("<- " if level else "") + (label[:160]) + (f"  [{', '.join(tags)}]" if tags else ""))
            if level >= depth or f in seen:
                return
            seen.add(f)
            for c in sorted(callers.get(f, ()))[:8]:
                show(c, level + 1)

        show(k, 0)
    if len(roots) > 5:
        print(f"  ... and {len(roots) - 5} more functions match")
    if not roots:
        print(f"  no function matches {pattern!r}")


# ---------------------------------------------------------------------------------------------
# Rust symbol demangling (legacy `_ZN..E` and v0 `_R..`), enough for readable names.

LEGACY_ESCAPES = {
    "SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ",",
}


def demangle_legacy(sym):
    s = sym[3:] if sym.startswith("_ZN") else sym[4:]
    parts = []
    i = 0
    while i < len(s) and s[i] != "E":
        j = i
        while s[j].isdigit():
            j += 1
        n = int(s[i:j])
        parts.append(s[j : j + n])
        i = j + n
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    out = []
    for p in parts:
        if p.startswith("_$"):
            p = p[1:]

        def esc(m):
            code = m.group(1)
            if code in LEGACY_ESCAPES:
                return LEGACY_ESCAPES[code]
            if code.startswith("u"):
                return chr(int(code[1:], 16))
            return m.group(0)

        p = re.sub(r"\$([A-Za-z0-9]+)\$", esc, p)
        p = p.replace("..", "::")
        out.append(p)
    return "::".join(out)


V0_BASIC = {
    "a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32", "h": "u8",
    "i": "isize", "j": "usize", "l": "i32", "m": "u32", "n": "i128", "o": "u128", "s": "i16",
    "t": "u16", "u": "()", "v": "...", "x": "i64", "y": "u64", "z": "!", "p": "_",
}


class V0:
    def __init__(self, s):
        self.s = s  # without the `_R` prefix
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def eat(self, c):
        if self.peek() == c:
            self.i += 1
            return True
        return False

    def next(self):
        c = self.peek()
        self.i += 1
        return c

    def base62(self):
        if self.eat("_"):
            return 0
        n = 0
        while True:
            c = self.next()
            if c == "_":
                return n + 1
            if c.isdigit():
                d = ord(c) - 48
            elif "a" <= c <= "z":
                d = ord(c) - 97 + 10
            elif "A" <= c <= "Z":
                d = ord(c) - 65 + 36
            else:
                raise ValueError("bad base62")
            n = n * 62 + d

    def disambiguator(self):
        if self.eat("s"):
            self.base62()

    def ident(self):
        self.disambiguator()
        punycode = self.eat("u")
        j = self.i
        if self.peek() == "0":
            self.i += 1
        else:
            while self.peek().isdigit():
                self.i += 1
        n = int(self.s[j : self.i])
        self.eat("_")
        name = self.s[self.i : self.i + n]
        self.i += n
        return name + ("(punycode)" if punycode else "")

    def backref(self, fn):
        target = self.base62()
        saved = self.i
        self.i = target
        self.depth += 1
        if self.depth > 200:
            raise ValueError("backref loop")
        result = fn()
        self.depth -= 1
        self.i = saved
        return result

    def path(self):
        c = self.next()
        if c == "C":
            return self.ident()
        if c == "N":
            ns = self.next()
            parent = self.path()
            name = self.ident()
            if ns == "C":
                return f"{parent}::{{closure}}"
            if ns == "S":
                return f"{parent}::{{shim}}"
            if ns.isupper():
                return f"{parent}::{{{ns}:{name}}}"
            return f"{parent}::{name}" if name else parent
        if c == "M":
            self.disambiguator()
            self.path()
            return f"<{self.type()}>"
        if c == "X":
            self.disambiguator()
            self.path()
            ty = self.type()
            trait = self.path()
            return f"<{ty} as {trait}>"
        if c == "Y":
            ty = self.type()
            trait = self.path()
            return f"<{ty} as {trait}>"
        if c == "I":
            base = self.path()
            args = []
            while not self.eat("E"):
                args.append(self.generic_arg())
            args = [a for a in args if a is not None]
            return f"{base}<{', '.join(args)}>" if args else base
        if c == "B":
            return self.backref(self.path)
        raise ValueError(f"bad path {c!r}")

    def generic_arg(self):
        if self.eat("L"):
            self.base62()
            return None
        if self.eat("K"):
            return self.const()
        return self.type()

    def const(self):
        if self.eat("B"):
            return self.backref(self.const)
        if self.eat("p"):
            return "_"
        c = self.next()
        if c in V0_BASIC:
            neg = self.eat("n")
            j = self.i
            while self.peek() != "_":
                self.i += 1
            digits = self.s[j : self.i]
            self.i += 1
            val = int(digits, 16) if digits else 0
            if c == "b":
                return "true" if val else "false"
            return ("-" if neg else "") + str(val)
        if c in "RQ":
            return "&" + self.const()
        if c in "AT":
            items = []
            while not self.eat("E"):
                items.append(self.const())
            return ("[" if c == "A" else "(") + ", ".join(items) + ("]" if c == "A" else ")")
        if c == "V":
            p = self.path()
            k = self.next()
            if k in "TS":
                while not self.eat("E"):
                    if k == "S":
                        self.disambiguator()
                        self.ident()
                    self.const()
            return p
        raise ValueError("bad const")

    def type(self):
        c = self.peek()
        if c in V0_BASIC:
            self.i += 1
            return V0_BASIC[c]
        self.i += 1
        if c == "A":
            t = self.type()
            n = self.const()
            return f"[{t}; {n}]"
        if c == "S":
            return f"[{self.type()}]"
        if c == "T":
            items = []
            while not self.eat("E"):
                items.append(self.type())
            return "(" + ", ".join(items) + ")"
        if c in "RQ":
            if self.eat("L"):
                self.base62()
            return ("&" if c == "R" else "&mut ") + self.type()
        if c in "PO":
            return ("*const " if c == "P" else "*mut ") + self.type()
        if c == "F":
            if self.eat("G"):
                self.base62()
            self.eat("U")
            if self.eat("K"):
                if not self.eat("C"):
                    self.ident()
            args = []
            while not self.eat("E"):
                args.append(self.type())
            ret = self.type()
            return f"fn({', '.join(args)}) -> {ret}"
        if c == "D":
            if self.eat("G"):
                self.base62()
            traits = []
            while not self.eat("E"):
                traits.append(self.path())
                while self.eat("p"):
                    self.ident()
                    self.type()
            if self.eat("L"):
                self.base62()
            return "dyn " + " + ".join(traits)
        if c == "B":
            return self.backref(self.type)
        self.i -= 1
        return self.path()


def demangle(sym):
    try:
        if sym.startswith("_ZN") or sym.startswith("__ZN"):
            return demangle_legacy(sym)
        if sym.startswith("_R"):
            s = sym[2:]
            if s[:1].isdigit():
                s = s.lstrip("0123456789")
            return V0(s).path()
    except (ValueError, IndexError):
        pass
    return sym


# ---------------------------------------------------------------------------------------------
# Grouping


PLUGIN = "paydesk_plugin"
# `<paydesk_plugin::stripe::X as serde_core::de::Deserialize>` (v0 names) or
# `_::<impl serde_core::de::Deserialize for paydesk_plugin::stripe::X>` (legacy names).
SERDE_FOR = re.compile(
    r"(paydesk_plugin::[\w:]+?) as \bserde(?:_core)?::(?:de::|ser::)?(Deserialize|Serialize)\b"
    r"|impl \bserde(?:_core)?::(?:de::|ser::)?(Deserialize|Serialize)(?:<'de>)? for (paydesk_plugin::[\w:]+)"
)
OUR_TYPE = re.compile(r"paydesk_plugin::[\w:]+")
PRIMITIVES = {"str", "char", "[u8]", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
              "i64", "i128", "isize", "f32", "f64", "bool"}
SERDE_CRATES = ("serde_json", "serde_core", "serde")


def owner_path(name):
    """The path that owns a function: for `<T as Trait>::f`, T (or Trait if T is a bare generic)."""
    s = name
    while s.startswith("<"):
        s = s[1:]
    s = re.sub(r"^(?:&(?:mut )?|\*(?:const|mut) |dyn )+", "", s)
    m = re.match(r"\[?[\w:]+\]?", s)
    head = m.group(0) if m else ""
    if head in PRIMITIVES:
        return head
    if "::" not in head:
        # A bare generic parameter (`<T as core::fmt::Display>`): use the trait.
        t = re.search(r" as ([\w:]+)", name)
        if t:
            return t.group(1)
    return head


def serde_type(name):
    """(our type, Deserialize|Serialize) if the function is serde code for one of our types."""
    m = SERDE_FOR.search(name)
    if not m:
        return None
    if m.group(1):
        return m.group(1), m.group(2)
    return m.group(4), m.group(3)


def group_of(name):
    """(group, detail) for a demangled function name; detail is a type for serde groups."""
    if name.startswith(("cabi_", "paydesk:")) or "@0." in name:
        return "wit-bindgen glue (export/import lifting)", name
    if name.startswith("__rustc::"):
        return "std (allocator shims, panic entry)", name
    if "::" not in name and "<" not in name:
        return "wasi-libc / compiler-rt (malloc, stdio, env)", name
    owner = owner_path(name)
    parts = owner.split("::")
    crate = parts[0]
    serde = serde_type(name)
    if serde and crate == PLUGIN:
        return "serde derive impls (our types)", f"{serde[0]} ({serde[1]})"
    if crate != PLUGIN and PLUGIN + "::" in name and (crate in SERDE_CRATES or re.search(r"\bserde", name)):
        ty = serde[0] if serde else OUR_TYPE.search(name).group(0)
        return "serde_json/serde generics instantiated for our types", ty
    if "paydesk_plugin::json::" in name:
        # The guest's JSON (plugin/src/json.rs) and every type's `FromJson` reader, whatever
        # crate owns the type (`<Vec<T> as FromJson>`).
        return "paydesk_plugin::json (reader + FromJson impls)", owner
    if " as zmij::" in name:
        return "zmij", owner
    if owner in PRIMITIVES:
        return "core/alloc (str, char, int methods)", owner
    if crate == PLUGIN:
        if len(parts) > 1 and parts[1] == "bindings":
            return "wit-bindgen glue (export/import lifting)", owner
        if len(parts) > 1 and parts[1] == "glue":
            return "paydesk_plugin::glue (exports; flows inlined)", owner
        if len(parts) > 2 and parts[1] in ("stripe", "flows", "domain"):
            # A function directly in the module (`flows::stripe_call`) vs a submodule.
            sub = parts[2] if parts[2][:1].islower() and len(parts) > 3 else "(mod.rs)"
            return f"paydesk_plugin::{parts[1]}::{sub}", owner
        return "paydesk_plugin (other)", owner
    if crate in ("wit_bindgen", "wit_bindgen_rt"):
        return "wit-bindgen glue (export/import lifting)", owner
    if crate == "core":
        if len(parts) > 1 and parts[1] in ("fmt", "num", "str", "unicode", "panicking", "slice"):
            return f"core::{parts[1]}", owner
        return "core (other)", owner
    if crate == "std":
        return "std (panic hook, io, thread, env)", owner
    if crate in ("alloc", "hashbrown"):
        return crate, owner
    if crate in ("serde", "serde_core"):
        return "serde (generic code)", owner
    if crate == "serde_json":
        sub = parts[1] if len(parts) > 1 else ""
        return f"serde_json::{sub}", owner
    return crate, owner


def rollup_of(group):
    """The summary line a group belongs to."""
    if group.startswith("paydesk_plugin"):
        return "ours: paydesk_plugin (glue, flows, stripe, domain)"
    if group in ("miniserde", "zmij", "itoa"):
        return "miniserde (JSON parser; claim writer, with its float printer zmij)"
    if "serde" in group:
        return "serde + serde_json (incl. instantiations for our types)"
    if group.startswith("wit-bindgen"):
        return "wit-bindgen glue (generated from the WIT contract)"
    if group.startswith(("core", "alloc", "std", "hashbrown")):
        return "Rust std / core / alloc (fmt, float printing, panics, collections)"
    if group.startswith("wasi-libc") or group in ("compiler_builtins", "wasi"):
        return "wasi-libc / compiler-rt (malloc, stdio, env)"
    if group == "rust_decimal":
        return "rust_decimal"
    return "other crates"


# ---------------------------------------------------------------------------------------------
# Report


def kib(n):
    return f"{n / 1024:8.1f}"


def table(rows, total, title, headers=("", "KiB", "%")):
    print(f"\n{title}")
    width = max([len(headers[0])] + [len(r[0]) for r in rows] + [10])
    print(f"  {headers[0]:<{width}} {headers[1]:>8} {headers[2]:>6}" + ("  " + headers[3] if len(headers) > 3 else ""))
    for r in rows:
        extra = f"  {r[2]}" if len(r) > 2 else ""
        pct = 100.0 * r[1] / total if total else 0
        print(f"  {r[0]:<{width}} {kib(r[1])} {pct:6.1f}{extra}")


def main_module_index(modules):
    return max(range(len(modules)), key=lambda k: len(modules[k][0]))


def role_of(idx, main_idx, name, info):
    if idx == main_idx:
        return "main module (the plugin)"
    n = name or ""
    if "adapter" in n or any(e.startswith("fd_") for e in info["exports"]):
        return "WASI adapter"
    if "shim" in n:
        return "shim (indirect calls)"
    if "fixup" in n:
        return "fixups"
    return "other core module"


def rodata_summary(data):
    blob = b"".join(data)
    paths = 0
    text = 0
    for m in re.finditer(rb"[\x20-\x7e\t\n]{4,}", blob):
        s = m.group(0)
        if re.search(rb"\.rs\b", s) and b"/" in s:
            paths += len(s)
        else:
            text += len(s)
    return len(blob), paths, text


def build(profile_env, target_dir):
    env = dict(os.environ)
    env.update(profile_env)
    cmd = ["cargo", "build", "--package", PACKAGE, "--target", "wasm32-wasip2", "--profile", "plugin",
           "--target-dir", target_dir]
    print("+", " ".join(f"{k}={v}" for k, v in profile_env.items()), " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("component", nargs="?", default=os.path.join(SHIPPED_DIR, WASM_REL),
                    help="the shipped (stripped) component")
    ap.add_argument("--names", default=os.path.join(NAMES_DIR, WASM_REL),
                    help="the same build with strip = false (for function names)")
    ap.add_argument("--build", action="store_true", help="build both components first")
    ap.add_argument("--top", type=int, default=30, help="how many of the largest functions to list")
    ap.add_argument("--min", type=float, default=1.0, help="fold crate/module groups smaller than this many KiB")
    ap.add_argument("--why", metavar="SUBSTRING",
                    help="instead of the report, show who calls the functions whose name contains this")
    ap.add_argument("--depth", type=int, default=4, help="caller levels shown by --why")
    args = ap.parse_args()

    if args.build:
        build({}, SHIPPED_DIR)
        # v0 mangling keeps generic arguments in names, so serde_json code instantiated for each of
        # our types can be told apart; it may move a few bytes, not the picture.
        build({"CARGO_PROFILE_PLUGIN_STRIP": "false", "RUSTFLAGS": "-Csymbol-mangling-version=v0"}, NAMES_DIR)

    if args.why:
        named = open(args.names, "rb").read()
        nmods, _, _ = component_layout(named)
        why(module_info(nmods[main_module_index(nmods)][0]), args.why, args.depth)
        return

    shipped = open(args.component, "rb").read()
    if not is_component(shipped):
        raise SystemExit(f"{args.component} is not a component")
    modules, other, mod_names = component_layout(shipped)
    main_idx = main_module_index(modules)
    infos = [module_info(m) for m, _ in modules]

    total = len(shipped)
    print(f"{args.component}: {total} bytes = {total / 1024:.1f} KiB")
    rows = []
    for k, (m, size) in enumerate(modules):
        rows.append((f"core module {k}: {role_of(k, main_idx, mod_names.get(k), infos[k])}", size,
                     mod_names.get(k, "")))
    for kind, size in sorted(other.items(), key=lambda kv: -kv[1]):
        rows.append((f"component {kind}", size))
    rows.append(("component header", total - sum(r[1] for r in rows)))
    table(rows, total, "Component layout", ("piece", "KiB", "%", "name"))

    main_info = infos[main_idx]
    main_size = modules[main_idx][1]
    table(sorted(main_info["sections"], key=lambda r: -r[1]), main_size,
          "Main module sections (shipped build)", ("section", "KiB", "% of main module"))

    if not os.path.exists(args.names):
        print(f"\n(no names build at {args.names}; run with --build for the per-crate breakdown)")
        return
    named = open(args.names, "rb").read()
    nmods, _, _ = component_layout(named)
    ninfo = module_info(nmods[main_module_index(nmods)][0])
    shipped_code, named_code = sum(main_info["bodies"]), sum(ninfo["bodies"])
    if abs(shipped_code - named_code) > shipped_code // 50:
        print(f"\nWARNING: the names build's code ({named_code} B) differs from the shipped build's "
              f"({shipped_code} B) by more than 2%; rebuild both with --build")
    code_total = sum(ninfo["bodies"])
    groups = defaultdict(lambda: [0, 0])
    per_type = defaultdict(lambda: [0, 0])  # type -> [derive impl bytes, serde_json instantiation bytes]
    funcs = []
    for k, size in enumerate(ninfo["bodies"]):
        raw = ninfo["names"].get(ninfo["imported_funcs"] + k, f"<func {k}>")
        name = demangle(raw)
        group, detail = group_of(name)
        groups[group][0] += size
        groups[group][1] += 1
        if group.startswith("serde derive"):
            per_type[detail.split(" (")[0]][0] += size
        elif group.startswith("serde_json/serde generics"):
            per_type[detail][1] += size
        funcs.append((size, name, group))

    rollup = defaultdict(int)
    for g, v in groups.items():
        rollup[rollup_of(g)] += v[0]
    rows = sorted(rollup.items(), key=lambda kv: -kv[1])
    table(rows, code_total, f"Main module code, summary ({code_total / 1024:.1f} KiB in {len(funcs)} functions)",
          ("who", "KiB", "% code"))

    rows, small = [], [0, 0, 0]
    for g, v in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        if v[0] >= args.min * 1024:
            rows.append((g, v[0], f"{v[1]} fns"))
        else:
            small[0] += v[0]
            small[1] += v[1]
            small[2] += 1
    if small[2]:
        rows.append((f"({small[2]} groups under {args.min} KiB each)", small[0], f"{small[1]} fns"))
    table(rows, code_total, "Main module code by crate / module", ("group", "KiB", "% code", "count"))

    rows = [(t.replace(PLUGIN + "::", ""), v[0] + v[1], f"derive {v[0] / 1024:5.1f} + serde_json {v[1] / 1024:5.1f}")
            for t, v in sorted(per_type.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))]
    table(rows, code_total, "serde code per type of ours (derive impls + serde_json generics instantiated for it)",
          ("type", "KiB", "% code", "split (KiB)"))

    print(f"\nLargest {args.top} functions")
    for size, name, group in sorted(funcs, key=lambda f: -f[0])[: args.top]:
        # Module paths before type names are dropped: `<&mut Deserializer<StrRead> as ...`.
        short = re.sub(r"\b(?:[a-z_][a-z0-9_]*::)+(?=[A-Z_<{\[])", "", name)
        short = short if len(short) <= 160 else short[:157] + "..."
        print(f"  {size:8d}  {short}")

    data = main_info["data"]
    blob_len, paths, text = rodata_summary(data)
    rows = [(f"segment {ninfo['data_names'].get(k, k)}", len(seg)) for k, seg in enumerate(ninfo["data"])]
    rows += [("  of which source paths (panic locations)", paths),
             ("  of which other printable text (messages, field names)", text),
             ("  of which binary (tables, vtables, zeros)", blob_len - paths - text)]
    table(rows, blob_len, "Data segments (main module)", ("segment", "KiB", "% data"))


if __name__ == "__main__":
    main()
