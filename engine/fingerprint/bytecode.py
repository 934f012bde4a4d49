"""What loaded code says when its source cannot be trusted: read from the bytecode.

A function whose file was edited after its import (a notebook kernel), or that has no source
at all, is fingerprinted from its code object. The digest covers the bytecode, names and
constants of the function and every code object nested in it; the names it loads, the
``a.b.c`` attribute chains it reads and the imports inside its body are recovered from the
instructions, so what the code reaches is keyed as it is for code read from source.
"""

from __future__ import annotations

import dis
import types
from collections.abc import Iterator

from .digest import CODE, domain_hasher, fingerprint_or_type, update_str

Import = tuple[str, str, str | None, int]  # bound name, module, attribute or None, level

_ROOTS = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FAST", "LOAD_FAST_CHECK"}
)
_ATTRS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_STORES = frozenset({"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"})


def code_digest(code: types.CodeType) -> str:
    """The digest of ``code`` and the code objects nested in it."""
    hasher = domain_hasher(CODE)
    for sub in _codes(code):
        hasher.update(sub.co_code)
        update_str(hasher, repr((sub.co_names, sub.co_varnames, sub.co_freevars)))
        for const in sub.co_consts:
            if isinstance(const, types.CodeType):
                continue  # fed in its own turn
            if isinstance(const, frozenset):
                update_str(hasher, repr(sorted(map(repr, const))))
            else:
                update_str(hasher, fingerprint_or_type(const))
    return hasher.hexdigest()


def code_refs(
    code: types.CodeType,
) -> tuple[frozenset[str], frozenset[tuple[str, ...]], tuple[Import, ...]]:
    """The names ``code`` loads, the attribute chains it reads, and its imports."""
    names: set[str] = set()
    chains: set[tuple[str, ...]] = set()
    imports: list[Import] = []
    for sub in _codes(code):
        names.update(sub.co_names)
        ops = list(dis.get_instructions(sub))
        chains.update(_chains(ops))
        imports.extend(_imports(ops))
    names.update(bound for bound, *_ in imports)
    return frozenset(names), frozenset(chains), tuple(imports)


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _chains(ops: list[dis.Instruction]) -> Iterator[tuple[str, ...]]:
    i = 0
    while i < len(ops):
        if ops[i].opname in _ROOTS and isinstance(ops[i].argval, str):
            chain = [ops[i].argval]
            j = i + 1
            while j < len(ops) and ops[j].opname in _ATTRS:
                chain.append(str(ops[j].argval))
                j += 1
            if len(chain) > 1:
                yield tuple(chain)
            i = j
        else:
            i += 1


def _imports(ops: list[dis.Instruction]) -> Iterator[Import]:
    for i, op in enumerate(ops):
        if op.opname != "IMPORT_NAME" or i < 2:
            continue
        level = ops[i - 2].argval if isinstance(ops[i - 2].argval, int) else 0
        from_list = ops[i - 1].argval
        module = str(op.argval)
        j = i + 1
        if j < len(ops) and ops[j].opname in _STORES:  # import a.b (binds a) / import a as c
            yield str(ops[j].argval), module, None, level
            continue
        while j + 1 < len(ops) and ops[j].opname == "IMPORT_FROM":
            if ops[j + 1].opname not in _STORES:
                break
            bound = str(ops[j + 1].argval)
            if from_list is None:  # import a.b as c: binds the module a.b
                yield bound, module, None, level
            else:
                yield bound, module, str(ops[j].argval), level
            j += 2
