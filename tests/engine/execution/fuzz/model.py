"""A generated project as data: constants, helpers, steps, and the source text they render to.

The project is five user modules in one folder, each importing only the ones before it:
``kit`` (fixed utilities), ``cfg`` (constants only), ``other`` and ``helpers`` (helpers and
constants) and ``flows.py`` (the components and the pipeline). Every mutation edits this model
and the files are rendered again, so an edit changes exactly the text it means to, and the
model knows which steps reach which symbol (:meth:`Spec.reaching`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONST_KINDS = ("int", "float", "str", "tuple", "set", "ndarray", "path", "built")
MODULES = ("kit", "cfg", "other", "helpers", "flows")  # each imports only earlier ones
ALIAS = {"cfg": "c", "other": "o", "helpers": "h"}
OUT_TYPES = {"int": "int", "float": "float", "str": "str", "frame": "pd.DataFrame"}
BUILDERS = ("random", "np_rng", "arange")

KIT = '''"""Fuzz kit: reads inputs, folds values into floats, mixes constants in (never edited)."""

import copy
import random
import zlib
from pathlib import Path, PurePath

import numpy as np
import pandas as pd


def read(path):
    path = Path(path)
    if path.is_dir():
        total = 0
        for item in sorted(path.rglob("*")):
            if item.is_file():
                name = item.relative_to(path).as_posix().encode()
                total += zlib.crc32(name + b"/" + item.read_bytes())
        return float(total % 100003)
    return float(zlib.crc32(path.read_bytes()) % 100003)


def fold(value):
    if isinstance(value, pd.DataFrame):
        return float(value["v"].sum())
    if isinstance(value, str):
        return float(zlib.crc32(value.encode()) % 1009)
    return float(value)


def mix(value):
    if isinstance(value, np.ndarray):
        text = f"ndarray {value.dtype} {value.tolist()!r}"
    elif isinstance(value, set | frozenset):
        text = type(value).__name__ + repr(sorted(value, key=repr))
    elif isinstance(value, random.Random | np.random.Generator):
        text = type(value).__name__ + repr(copy.deepcopy(value).random())
    elif isinstance(value, PurePath):
        text = type(value).__name__ + str(value)
    else:
        text = type(value).__name__ + repr(value)
    return float(zlib.crc32(text.encode()) % 1009)


def as_int(acc):
    return int(acc) % 1000003


def as_float(acc):
    return round(acc % 100003, 3)


def as_str(acc):
    return f"v{int(acc) % 9973}"


def as_frame(acc):
    acc = acc % 100003
    return pd.DataFrame({"v": [round(acc, 3), round(acc / 2, 3), 1.0]})
'''

HEADER = (
    "import functools\n"
    "import random\n"
    "from pathlib import Path, PurePosixPath\n"
    "\n"
    "import numpy as np\n"
)


@dataclass
class Ref:
    """How a function refers to a constant or a helper.

    Attributes:
        target: the symbol's name (names are unique across the project).
        style: ``local`` (same module), ``chain`` (``h.NAME``), ``from`` (a module-level
            ``from helpers import NAME``), ``body`` (that import inside the function),
            ``ops_from`` / ``ops_chain`` / ``ops_body`` (``OPS["NAME"]``, the container of
            helpers, named as by ``from``, ``chain`` or ``body``).
        memo: (a helper with a memo) read its memo dict too, named the same way as the
            helper; the memo fills at run time and must change no key. (The output never
            depends on the memo's contents: after a partial reload a memo may hold results
            of old code, which no cache key can see.)
    """

    target: str
    style: str
    memo: bool = False  # also read the helper's memo dict: f(x) if M is not None else x


@dataclass
class Const:
    """A module-level constant; ``built`` ones are made at import from a ``SEED_`` constant."""

    name: str
    module: str
    kind: str
    value: Any
    alt: bool = False  # rendered as an equal value of another type
    builder: str = ""

    def alt_possible(self) -> bool:
        if self.kind == "float":
            return float(self.value).is_integer()
        if self.kind == "built":
            return self.builder in ("random", "arange")
        return self.kind != "str"

    def lines(self) -> list[str]:
        v, alt = self.value, self.alt
        if self.kind == "int":
            return [f"{self.name} = {v}.0" if alt else f"{self.name} = {v}"]
        if self.kind == "float":
            return [f"{self.name} = {int(v)}" if alt else f"{self.name} = {float(v)!r}"]
        if self.kind == "str":
            return [f"{self.name} = {v!r}"]
        if self.kind == "tuple":
            items = [repr(x) for x in v[:-1]] + [f"{v[-1]}.0" if alt else repr(v[-1])]
            return [f"{self.name} = ({', '.join(items)},)"]
        if self.kind == "set":
            body = "{" + ", ".join(map(repr, sorted(v))) + "}"
            return [f"{self.name} = frozenset({body})" if alt else f"{self.name} = {body}"]
        if self.kind == "ndarray":
            items = ", ".join(f"{x}.0" if alt else str(x) for x in v)
            return [f"{self.name} = np.array([{items}])"]
        if self.kind == "path":
            cls = "PurePosixPath" if alt else "Path"
            return [f"{self.name} = {cls}({v!r})"]
        seed = f"SEED_{self.name}"
        build = {
            "random": f"random.Random({seed})",
            "np_rng": f"np.random.default_rng({seed})",
            "arange": f"np.arange({seed}) * 3",
        }[self.builder]
        return [f"{seed} = {v}.0" if alt else f"{seed} = {v}", f"{self.name} = {build}"]


@dataclass
class Helper:
    """A plain function ``name(x) -> float`` in ``helpers`` or ``other``."""

    name: str
    module: str
    coef: int  # the multiplier is coef / 4
    refs: list[Ref] = field(default_factory=list)
    cached: bool = False  # behind functools.lru_cache
    memo: bool = False  # fills a module-level dict MEMO_<name> as it runs


@dataclass
class Param:
    """A step's numeric input ``p``: bound to a pipeline parameter, a literal, or its default."""

    annotation: str  # "int" | "float"
    default: int | float
    binding: str  # "pipeline" | "literal" | "default"
    literal: str = ""  # the literal's source text in the pipeline body
    default_text: str = ""  # the default's source text in the signature


@dataclass
class StepSpec:
    """One component and the step calling it."""

    name: str
    out: str  # a key of OUT_TYPES
    upstream: list[str]
    path_in: str | None
    param: Param | None
    refs: list[Ref]
    coef: int
    noops: list[int] = field(default_factory=list)


@dataclass
class Spec:
    """The whole generated project."""

    uid: str
    steps: list[StepSpec]
    consts: dict[str, Const]
    helpers: dict[str, Helper]
    inputs: dict[str, str]  # pipeline parameter name -> "file" | "folder"
    comments: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)

    def module_name(self, module: str) -> str:
        return f"fz{self.uid}_{module}"

    def step(self, name: str) -> StepSpec:
        return next(s for s in self.steps if s.name == name)

    def downstream(self, name: str) -> list[str]:
        return [s.name for s in self.steps if name in s.upstream]

    def ops(self) -> list[str]:
        return sorted(n for n, h in self.helpers.items() if h.module == "helpers")

    def symbol_module(self, name: str) -> str:
        if name == "OPS":
            return "helpers"
        if name.startswith("MEMO_"):
            return self.helpers[name[5:]].module
        if name in self.consts:
            return self.consts[name].module
        return self.helpers[name].module

    def reach(self, refs: list[Ref]) -> dict[str, bool]:
        """Every constant and helper that code with these references reaches, and whether
        it is reached by name in a module's source (True) or only through ``h.NAME`` or an
        import inside a body (False: the engine may fingerprint such a constant by value)."""
        out: dict[str, bool] = {}
        todo = [(r.target, r.style not in ("chain", "body")) for r in refs]
        todo += [(n, True) for r in refs if r.style.startswith("ops_") for n in self.ops()]
        while todo:
            name, by_source = todo.pop()
            if name in self.helpers and name in out:
                continue
            out[name] = out.get(name, False) or by_source or name in self.helpers
            if name in self.helpers:
                todo += [
                    (r.target, r.style not in ("chain", "body")) for r in self.helpers[name].refs
                ]
        return out

    def closure(self, refs: list[Ref]) -> set[str]:
        """Every constant and helper that code with these references reaches."""
        return set(self.reach(refs))

    def reaching(self, symbol: str) -> set[str]:
        """The steps whose code reaches ``symbol`` (a constant or a helper)."""
        return {s.name for s in self.steps if symbol in self.closure(s.refs)}

    def code_text(self, step: StepSpec, value_of: Any = None) -> str:
        """The step's component and everything it reaches, as rendered, without comments.

        Args:
            step: the step.
            value_of: when given, ``value_of(const)`` stands for the text of each constant
                reached only by value (``h.NAME``, an import in a body).
        """
        parts = ["\n".join(self._component(step)[1])]
        for name, by_source in sorted(self.reach(step.refs).items()):
            if name in self.helpers:
                parts.append("\n".join(self._helper(self.helpers[name])[1]))
            elif value_of is not None and not by_source:
                parts.append(f"{name} == {value_of(self.consts[name])}")
            else:
                parts.append("\n".join(self.consts[name].lines()))
        return "\n\n".join(parts)

    # --- rendering -------------------------------------------------------------------

    def sources(self) -> dict[str, str]:
        """Module -> source text."""
        return {m: self._with_comments(m, self._blocks(m)) for m in MODULES}

    def _with_comments(self, module: str, blocks: list[tuple[str, list[str]]]) -> str:
        out: list[str] = []
        notes = self.comments.get(module, [])
        for name, lines in blocks:
            lines = list(lines)
            for block, offset, text in notes:
                if block != name:
                    continue
                at = min(offset, len(lines))
                if text.startswith("  #") and at < len(lines) and lines[at].strip():
                    lines[at] = lines[at] + text  # a trailing comment
                else:
                    lines.insert(at, text.strip() if text.startswith("  #") else text)
            out += lines + [""]
        return "\n".join(out).rstrip("\n") + "\n"

    def _blocks(self, module: str) -> list[tuple[str, list[str]]]:
        if module == "kit":
            return [("__top__", KIT.rstrip("\n").split("\n"))]
        blocks: list[tuple[str, list[str]]] = [("__top__", self._imports(module))]
        for c in self.consts.values():
            if c.module == module:
                blocks.append((c.name, c.lines()))
        if module == "helpers" and self.ops():
            items = ", ".join(f'"{n}": {n}' for n in self.ops())
            helpers = [self._helper(h) for h in self.helpers.values() if h.module == module]
            blocks += helpers + [("OPS", [f"OPS = {{{items}}}"])]
        elif module in ("other", "helpers"):
            blocks += [self._helper(h) for h in self.helpers.values() if h.module == module]
        if module == "flows":
            blocks += [self._component(s) for s in self.steps] + [self._pipeline()]
        return blocks

    def _code_refs(self, module: str) -> list[Ref]:
        if module == "flows":
            return [r for s in self.steps for r in s.refs]
        return [r for h in self.helpers.values() if h.module == module for r in h.refs]

    def _imports(self, module: str) -> list[str]:
        if module == "cfg":
            return [f'"""Constants only ({self.uid})."""', "", *HEADER.rstrip("\n").split("\n")]
        lines = [f'"""Generated module {module} ({self.uid})."""', "", *HEADER.split("\n")]
        lines = lines[:-1]
        if module == "flows":
            lines.insert(lines.index("import numpy as np") + 1, "import pandas as pd")
            lines += ["", "from headrace.engine import component, pipeline"]
        lines.append(f"import {self.module_name('kit')} as kit")
        earlier = MODULES[1 : MODULES.index(module)]
        lines += [f"import {self.module_name(m)} as {ALIAS[m]}" for m in earlier]
        froms: dict[str, set[str]] = {}
        for r in self._code_refs(module):
            if r.style in ("from", "ops_from"):
                name = "OPS" if r.style == "ops_from" else r.target
                froms.setdefault(self.symbol_module(name), set()).add(name)
                if r.memo:
                    froms[self.symbol_module(name)].add(f"MEMO_{r.target}")
        for m in sorted(froms):
            lines.append(f"from {self.module_name(m)} import {', '.join(sorted(froms[m]))}")
        return lines

    def _use(self, ref: Ref, module: str, name: str | None = None) -> str:
        """The expression that names ``ref`` (or ``name`` the same way) in ``module``."""
        name = name or ref.target
        if ref.style in ("ops_from", "ops_body"):
            return f'OPS["{name}"]'
        if ref.style == "ops_chain":
            return f'h.OPS["{name}"]'
        if ref.style == "chain":
            return f"{ALIAS[self.symbol_module(name)]}.{name}"
        return name

    def _body(self, refs: list[Ref], var: str, module: str) -> list[str]:
        body = []
        for r in refs:
            if r.style == "ops_body":
                body.append(f"    from {self.module_name('helpers')} import OPS")
            if r.style == "body":
                names = [r.target] + ([f"MEMO_{r.target}"] if r.memo else [])
                where = self.module_name(self.symbol_module(r.target))
                body += [f"    from {where} import {n}" for n in names]
        for r in refs:
            use = self._use(r, module)
            if r.target in self.consts:
                body.append(f"    {var} += kit.mix({use})")
            elif r.memo:  # reads the memo, but the output never depends on what it holds
                memo = self._use(r, module, f"MEMO_{r.target}")
                body.append(f"    {var} = {use}({var}) if {memo} is not None else {var}")
            else:
                body.append(f"    {var} = {use}({var})")
        return body

    def _helper(self, h: Helper) -> tuple[str, list[str]]:
        lines = [f"MEMO_{h.name} = {{}}", ""] if h.memo else []
        lines += ["@functools.lru_cache(maxsize=None)"] if h.cached else []
        lines += [f"def {h.name}(x):", f"    y = x * {h.coef / 4!r} + 1"]
        lines += self._body(h.refs, "y", h.module)
        lines += [f"    MEMO_{h.name}[x] = y"] if h.memo else []
        return h.name, lines + ["    return y"]

    def _component(self, s: StepSpec) -> tuple[str, list[str]]:
        args = ["raw: Path"] if s.path_in else []
        args += [f"u_{u}: {OUT_TYPES[self.step(u).out]}" for u in s.upstream]
        if s.param is not None:
            p = s.param
            args.append(f"p: {p.annotation} = {p.default_text or repr(p.default)}")
        lines = ["@component", f"def {s.name}({', '.join(args)}) -> {OUT_TYPES[s.out]}:"]
        body = [f"    acc = 0.5 + {s.coef}"]
        if s.path_in:
            body.append("    acc += kit.read(raw)")
        body += [f"    acc += kit.fold(u_{u}) * 0.5" for u in s.upstream]
        if s.param is not None:
            body.append("    acc += kit.fold(p) * 3")
        body += self._body(s.refs, "acc", "flows")
        body += [f"    _noop = {n}" for n in s.noops]
        body.append(f"    return kit.as_{s.out}(acc)")
        imports = [b for b in body if b.lstrip().startswith("from ")]
        rest = [b for b in body if not b.lstrip().startswith("from ")]
        return s.name, lines + imports + rest

    def pipeline_params(self) -> list[tuple[str, Param]]:
        return [
            (f"q_{s.name}", s.param)
            for s in self.steps
            if s.param and s.param.binding == "pipeline"
        ]

    def _pipeline(self) -> tuple[str, list[str]]:
        args = [f"{name}: Path" for name in sorted(self.inputs)]
        args += [f"{q}: {p.annotation} = {p.default!r}" for q, p in self.pipeline_params()]
        lines = ['@pipeline(name="fuzz")', f"def fuzz({', '.join(args)}):"]
        for s in self.steps:
            kw = [f"raw={s.path_in}"] if s.path_in else []
            kw += [f"u_{u}=r_{u}" for u in s.upstream]
            if s.param is not None and s.param.binding == "pipeline":
                kw.append(f"p=q_{s.name}")
            elif s.param is not None and s.param.binding == "literal":
                kw.append(f"p={s.param.literal}")
            lines.append(f"    r_{s.name} = {s.name}({', '.join(kw)})")
        outs = ", ".join(f'"{s.name}": r_{s.name}' for s in self.steps)
        lines.append(f"    return {{{outs}}}")
        return "fuzz", lines
