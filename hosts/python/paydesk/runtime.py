"""The plugin runtime: one engine (fuel, epoch interruption), the component compiled once and
cached precompiled on disk, a linker with every import, and a **fresh store and instance for every
plugin call** with a memory cap, a fuel budget and a wall-clock deadline (an epoch ticker thread),
no preopens, environment, arguments or sockets, and the guest's stdout/stderr captured into bounded
buffers and logged with the tenant. Traps and exhausted limits become `SandboxError`; an instance
is never reused.
"""

import dataclasses
import hashlib
import importlib.metadata
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import wasmtime
from wasmtime import component as wc

from . import context, imports, wit

#: How often the epoch ticker advances; the deadline's resolution.
EPOCH_TICK = 0.01


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-call limits of the sandbox (the Rust host's defaults)."""

    memory_bytes: int = 64 << 20
    #: Fuel (about one per wasm instruction) per call.
    fuel: int = 2_000_000_000
    #: Wall-clock seconds per call, host calls included (checked while the guest runs).
    deadline: float = 120.0
    #: Bytes of guest stdout and of stderr kept per call.
    output_bytes: int = 64 << 10


class SandboxError(Exception):
    """Why a plugin call produced no result. `kind`: `out-of-fuel`, `deadline`, `memory`, `trap`
    or `instantiate`."""

    def __init__(self, kind: str, tenant: str, message: str):
        super().__init__(f"plugin call for tenant {tenant}: {message}")
        self.kind, self.tenant = kind, tenant


class _Output:
    """A bounded capture of one guest stream."""

    def __init__(self, cap: int):
        self.cap, self.data = cap, bytearray()

    def __call__(self, chunk: bytes) -> int:
        self.data += chunk[: max(self.cap - len(self.data), 0)]
        return len(chunk)

    def text(self) -> str:
        return self.data.decode("utf-8", "replace").strip()


def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    config.memory_init_cow = True
    return wasmtime.Engine(config)


def _load(engine: wasmtime.Engine, wasm: bytes, cache_dir: Optional[Path]) -> tuple[wc.Component, str]:
    """The component, from the precompiled cache when it holds a usable entry."""
    digest = hashlib.sha256(wasm).hexdigest()
    if cache_dir is None:
        return wc.Component(engine, wasm), "compiled"
    path = cache_dir / f"plugin-{digest[:32]}-wasmtime-py-{importlib.metadata.version('wasmtime')}.cwasm"
    if path.exists():
        try:
            return wc.Component.deserialize_file(engine, str(path)), "cache"
        except wasmtime.WasmtimeError:
            pass  # another engine's entry: compile and replace it
    component = wc.Component(engine, wasm)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(component.serialize())
    tmp.replace(path)  # a reader never sees half a file
    return component, "compiled"


class Runtime:
    """Loads the plugin once and runs each call in a fresh sandbox."""

    def __init__(self, wasm: bytes, limits: Limits = Limits(), cache_dir: Optional[Path] = None):
        self.limits = limits
        self.engine = _engine()
        self.component, self.loaded_from = _load(self.engine, wasm, cache_dir)
        self.package, self.version = self._contract()
        self.linker = wc.Linker(self.engine)
        self.linker.add_wasip2()
        imports.link(self.linker, self.version)
        self._indexes: dict[tuple[str, str], Any] = {}
        self._ticking = True
        threading.Thread(target=self._tick, name="paydesk-epoch", daemon=True).start()

    def _contract(self) -> tuple[str, str]:
        for name in self.component.type.exports(self.engine):
            package, _, rest = name.partition("/")
            return package, rest.partition("@")[2]
        raise ValueError("the component exports nothing")

    def _tick(self) -> None:
        while self._ticking:
            time.sleep(EPOCH_TICK)
            self.engine.increment_epoch()

    def close(self) -> None:
        self._ticking = False

    def _index(self, interface: str, function: str) -> Any:
        key = (interface, function)
        if key not in self._indexes:
            outer = self.component.get_export_index(f"{self.package}/{interface}@{self.version}")
            inner = outer and self.component.get_export_index(function, outer)
            if inner is None:
                raise ValueError(f"the plugin exports no {interface}.{function}")
            self._indexes[key] = inner
        return self._indexes[key]

    def call(self, ctx: context.CallContext, body: Callable[[Callable[..., Any]], Any]) -> Any:
        """Run `body(invoke)` against a fresh instance for `ctx.tenant`; `invoke(interface,
        function, *args)` calls one export with plain arguments and returns (ok, plain answer).
        The store and instance are dropped afterwards, whatever happened."""
        stdout, stderr = _Output(self.limits.output_bytes), _Output(self.limits.output_bytes)
        wasi = wasmtime.WasiConfig()
        wasi.stdout_custom = stdout
        wasi.stderr_custom = stderr
        store = wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        store.set_limits(memory_size=self.limits.memory_bytes, instances=64)
        store.set_fuel(self.limits.fuel)
        store.set_epoch_deadline(max(int(self.limits.deadline / EPOCH_TICK), 1))
        try:
            instance = self.linker.instantiate(store, self.component)
        except wasmtime.WasmtimeError as e:
            raise SandboxError("instantiate", ctx.tenant, f"could not be instantiated: {e}") from None

        def invoke(interface: str, function: str, *args: Any) -> tuple[bool, Any]:
            func = instance.get_func(store, self._index(interface, function))
            ty = func.type(store)
            lowered = [wit.lower(a, t) for a, (_, t) in zip(args, ty.params)]
            try:
                result = func(store, *lowered)
                func.post_return(store)
            except Exception as e:  # a trap, an exhausted limit, or an import that raised
                raise self._classify(ctx.tenant, e, stderr.text()) from None
            return wit.lift_result(ty.result, result)

        context.enter(ctx)
        try:
            return body(invoke)
        finally:
            context.enter(None)
            for stream, out in (("stdout", stdout), ("stderr", stderr)):
                if out.data:
                    ctx.services.log.info("plugin %s: %s", stream, out.text(), extra={"tenant": ctx.tenant})
            store.close()

    def _classify(self, tenant: str, error: Exception, stderr: str) -> SandboxError:
        message = str(error)
        if "all fuel consumed" in message:
            return SandboxError("out-of-fuel", tenant, "ran out of fuel (its instruction budget)")
        if "interrupt" in message:
            return SandboxError("deadline", tenant, f"exceeded its deadline of {self.limits.deadline} s")
        # wasmtime-py cannot make a refused memory.grow trap, so the guest sees it fail: a Rust
        # guest then reports the failed allocation and aborts.
        if "memory allocation of" in stderr or "forcing trap when growing memory" in message:
            return SandboxError("memory", tenant, f"exceeded its memory cap of {self.limits.memory_bytes} bytes")
        if not isinstance(error, (wasmtime.WasmtimeError, wasmtime.Trap)):
            # An import raised: a host bug, or guest abuse it refused (`GuestAbuse`).
            return SandboxError("trap", tenant, f"trapped in a host import: {type(error).__name__}: {error}")
        panic = next((l for l in reversed(stderr.splitlines()) if "panicked" in l), None)
        first = message.strip().splitlines()[0] if message.strip() else type(error).__name__
        return SandboxError("trap", tenant, f"trapped: {panic} ({first})" if panic else f"trapped: {first}")
