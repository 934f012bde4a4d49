"""Code fingerprints are never stale and never needlessly new (issue: correct reuse keys).

Each case edits a module's source the way a user would and checks that the step's code
fingerprint changes; each runtime mutation checks that it does not.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from headrace.engine.fingerprint.code import code_fingerprint

STEP = "\n\ndef step(x):\n    return use(x)\n"

CONSTANTS = {
    "numpy literal": ("import numpy as np\nK = np.array([1, 2, 3])\n", "[1, 2, 3]", "[1, 2, 4]"),
    "numpy 200k": ("import numpy as np\nK = np.arange(200_000) * 2\n", "* 2", "* 3"),
    "set": ("K = {1, 2, 3}\n", "3}", "4}"),
    "frozenset": ("K = frozenset({'a', 'b'})\n", "'b'", "'c'"),
    "path": ("from pathlib import Path\nK = Path('data/a.csv')\n", "a.csv", "b.csv"),
    "regex": ("import re\nK = re.compile(r'a+b')\n", "a+b", "a*b"),
    "decimal": ("from decimal import Decimal\nK = Decimal('1.10')\n", "1.10", "1.20"),
    "date": ("import datetime\nK = datetime.date(2026, 1, 1)\n", "1, 1)", "1, 2)"),
    "dataframe": ("import pandas as pd\nK = pd.DataFrame({'a': [1, 2]})\n", "[1, 2]", "[1, 3]"),
    "np.int64": ("import numpy as np\nK = np.int64(7)\n", "(7)", "(8)"),
    "tuple with array": ("import numpy as np\nK = (1, np.zeros(3))\n", "zeros(3)", "ones(3)"),
    "slots config": (
        "class Cfg:\n    __slots__ = ('a',)\n    def __init__(self, a):\n        self.a = a\n"
        "K = Cfg(1)\n",
        "Cfg(1)",
        "Cfg(2)",
    ),
    "built from a constant": (
        "import random\nSEED = 1\nK = random.Random(SEED)\n",
        "SEED = 1",
        "SEED = 2",
    ),
    "numpy rng": (
        "import numpy as np\nSEED = 1\nK = np.random.default_rng(SEED)\n",
        "SEED = 1",
        "SEED = 2",
    ),
    "config from a base": (
        "class Cfg:\n    def __init__(self, v):\n        self.v = v\nBASE = 3\nK = Cfg(BASE * 2)\n",
        "BASE = 3",
        "BASE = 4",
    ),
}


@pytest.mark.parametrize("case", sorted(CONSTANTS))
def test_editing_a_module_level_value_of_any_type_changes_the_key(user_modules, case) -> None:
    source, old, new = CONSTANTS[case]
    body = source + "\n\ndef use(x):\n    return (x, K)\n" + STEP
    before = code_fingerprint(user_modules("m", body).step)
    assert code_fingerprint(user_modules("m", body).step) == before  # a reload alone: same
    assert code_fingerprint(user_modules("m", body.replace(old, new)).step) != before


def test_random_seed_at_import_is_part_of_the_key(user_modules) -> None:
    body = (
        "import random\nSEED = 1\nrandom.seed(SEED)\n\ndef step(x):\n    return random.random()\n"
    )
    before = code_fingerprint(user_modules("m", body).step)
    assert code_fingerprint(user_modules("m", body.replace("SEED = 1", "SEED = 2")).step) != before


def test_an_lru_cached_helper_is_unwrapped(user_modules) -> None:
    body = (
        "import functools\n\n@functools.lru_cache(maxsize=None)\ndef use(x):\n    return x + 1\n"
        + STEP
    )
    before = code_fingerprint(user_modules("m", body).step)
    assert code_fingerprint(user_modules("m", body.replace("x + 1", "x + 2")).step) != before
    cached = body.replace("@functools.lru_cache(maxsize=None)", "@functools.cache")
    before = code_fingerprint(user_modules("m", cached).step)
    assert code_fingerprint(user_modules("m", cached.replace("x + 1", "x + 2")).step) != before


@pytest.mark.parametrize(
    "container",
    [
        'OPS = {"double": double}\n\ndef use(x):\n    return OPS["double"](x)\n',
        "STEPS = [double, double]\n\ndef use(x):\n    return STEPS[0](x)\n",
    ],
)
def test_functions_reached_through_containers_count(user_modules, container) -> None:
    body = "def double(x):\n    return x * 2\n\n" + container + STEP
    before = code_fingerprint(user_modules("m", body).step)
    assert code_fingerprint(user_modules("m", body.replace("x * 2", "x * 3")).step) != before


@pytest.mark.parametrize(
    "body",
    [
        "def step(x):\n    from PFX_h import helper\n    return helper(x)\n",
        "def step(x):\n    import PFX_h\n    return PFX_h.helper(x)\n",
        "def step(x):\n    import PFX_h as h\n    return h.helper(x)\n",
    ],
)
def test_user_modules_imported_inside_a_body_count(user_modules, body) -> None:
    user_modules("h", "def helper(x):\n    return x + 1\n")
    step = user_modules("m", body).step
    before = code_fingerprint(step)
    user_modules("h", "def helper(x):\n    return x + 2\n")
    assert code_fingerprint(user_modules("m", body).step) != before


def test_runtime_mutation_of_module_state_never_changes_the_key(user_modules) -> None:
    body = textwrap.dedent(
        """
        _CACHE = {}
        CALLS = [0]

        def use(x):
            CALLS[0] += 1
            if x not in _CACHE:
                _CACHE[x] = x * 2
            return _CACHE[x]

        def step(x):
            return use(x)
        """
    )
    mod = user_modules("m", body)
    before = code_fingerprint(mod.step)
    for i in range(50):
        mod.step(i)
    assert mod.CALLS[0] == 50 and len(mod._CACHE) == 50
    assert code_fingerprint(mod.step) == before


def test_a_file_edited_after_import_is_fingerprinted_as_the_code_that_runs(
    user_modules, tmp_path: Path
) -> None:
    """The notebook case: the old code runs, so the key must not claim the new source."""
    body = "THRESHOLD = 0.5\n\ndef use(x):\n    return x > THRESHOLD\n" + STEP
    mod = user_modules("m", body)
    path = Path(mod.__file__)
    path.write_text(body.replace("0.5", "0.7").replace("x > ", "x >= "))  # edited, not reloaded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        in_process = code_fingerprint(mod.step)
    assert any("changed after it was imported" in str(w.message) for w in caught)
    assert mod.step(0.6) is True  # the old code is what runs

    def fresh(source_dir: Path) -> str:
        code = (
            f"import sys; sys.path.insert(0, {str(source_dir)!r}); import {mod.__name__} as m; "
            "from headrace.engine.fingerprint.code import code_fingerprint; "
            "print(code_fingerprint(m.step))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert in_process != fresh(path.parent)  # a fresh process runs the edit: another key


def test_a_warning_names_a_constant_computed_from_the_clock(user_modules) -> None:
    body = "import datetime\nSTAMP = datetime.datetime.now()\n\ndef use(x):\n    return STAMP\n"
    with pytest.warns(UserWarning, match=r"STAMP .* computed at import from datetime\.now"):
        code_fingerprint(user_modules("m", body + STEP).step)


def test_comments_and_formatting_of_constants_change_nothing(user_modules) -> None:
    body = "K = {1, 2, 3}\n\ndef use(x):\n    return K\n" + STEP
    before = code_fingerprint(user_modules("m", body).step)
    edited = body.replace("K = {1, 2, 3}", "K = {  # the allowed values\n    1, 2, 3}")
    assert code_fingerprint(user_modules("m", edited).step) == before


def test_a_script_that_uses_its_run_does_not_change_the_key_between_submits(user_modules) -> None:
    """A script's own statements after its definitions (submit, print the run) are not the
    steps' code: binding them while the script runs must not make the next submit re-run."""
    body = textwrap.dedent(
        """
        def step(x):
            return helper(x)

        def helper(x):
            return x + 1

        print(RESULT if "RESULT" in globals() else None)
        """
    )
    mod = user_modules("m", body)
    before = code_fingerprint(mod.step)
    mod.RESULT = object()  # what `RESULT = p.submit(...)` binds in a running script
    assert code_fingerprint(mod.step) == before


@pytest.mark.filterwarnings("ignore:headrace. the file defining")
def test_helpers_held_by_a_dict_another_module_kept_are_keyed_by_their_code(user_modules) -> None:
    # flows takes OPS from helpers at its import; then helpers alone is edited and reloaded (a
    # notebook's importlib.reload(helpers)), so flows still holds the old dict and runs the
    # old code. The key must follow the code in the dict flows holds: it used to pickle the
    # dict, whose functions pickle by name, so `x * 2` and `x * 3` were keyed alike.
    flows_source = "from PFX_helpers import OPS\n\ndef step(x):\n    return OPS['double'](x)\n"
    helpers = "def double(x):\n    return x * {n}\n\nOPS = {{'double': double}}\n"
    user_modules("helpers", helpers.format(n=2))
    flows = user_modules("flows", flows_source)
    user_modules("helpers", helpers.format(n=3))
    holds_x2 = code_fingerprint(flows.step)
    flows = user_modules("flows", flows_source)
    user_modules("helpers", helpers.format(n=4))
    holds_x3 = code_fingerprint(flows.step)
    assert holds_x2 != holds_x3


def test_bytecode_keys_recover_imports_and_attribute_chains() -> None:
    from headrace.engine.fingerprint.bytecode import code_refs

    def body():
        import os.path as osp
        from json import dumps as d

        return osp.join(d(1), np.linalg.norm)  # noqa: F821 (never called)

    names, chains, imports = code_refs(body.__code__)
    assert {"osp", "d", "np"} <= names
    assert ("np", "linalg", "norm") in chains and ("osp", "join") in chains
    assert ("osp", "os.path", None, 0) in imports and ("d", "json", "dumps", 0) in imports


SCALED = (
    "import functools\n\ndef scaled(factor):\n    def deco(fn):\n        @functools.wraps(fn)\n"
    "        def wrapper(*a, **k):\n            return fn(*a, **k) * factor\n"
    "        return wrapper\n    return deco\n\n"
)
BUILT_CALLABLES = {
    "partial keyword": (
        "import functools\n\ndef mul(x, k):\n    return x * k\n\n"
        "use = functools.partial(mul, k=2)\n",
        "k=2)",
        "k=3)",
    ),
    "function behind a partial": (
        "import functools\n\ndef mul(x, k):\n    return x * k\n\n"
        "use = functools.partial(mul, k=2)\n",
        "x * k",
        "x * k + 1",
    ),
    "function passed to a partial": (
        "import functools\n\ndef double(x):\n    return x * 2\n\n"
        "def apply(f, x):\n    return f(x)\n\nuse = functools.partial(apply, double)\n",
        "x * 2",
        "x * 3",
    ),
    "instance a global method is bound to": (
        "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        return x * self.k\n\nuse = Scaler(2).apply\n",
        "Scaler(2)",
        "Scaler(3)",
    ),
    "argument of a functools.wraps decorator": (
        SCALED + "@scaled(2)\ndef use(x):\n    return x\n",
        "scaled(2)",
        "scaled(3)",
    ),
    "body of a functools.wraps decorator": (
        SCALED + "@scaled(2)\ndef use(x):\n    return x\n",
        "* factor",
        "* factor + 1",
    ),
    "function under a functools.wraps decorator": (
        SCALED + "@scaled(2)\ndef use(x):\n    return x\n",
        "return x\n",
        "return x + 1\n",
    ),
}


@pytest.mark.parametrize("case", sorted(BUILT_CALLABLES))
def test_callables_built_at_import_count_with_what_they_were_built_from(user_modules, case) -> None:
    """partial(...), a method bound to an instance, a user's functools.wraps decorator: an
    edit to what built them changes the key; the same source again does not."""
    body, old, new = BUILT_CALLABLES[case]
    before = code_fingerprint(user_modules("m", body + STEP).step)
    assert code_fingerprint(user_modules("m", body + STEP).step) == before
    edited = (body + STEP).replace(old, new, 1)
    assert edited != body + STEP
    assert code_fingerprint(user_modules("m", edited).step) != before


def test_a_components_own_wraps_decorator_counts(user_modules) -> None:
    body = (
        "import functools\n\ndef doubled(fn):\n    @functools.wraps(fn)\n"
        "    def wrapper(*a, **k):\n        return fn(*a, **k) * 2\n    return wrapper\n\n"
        "@doubled\ndef step(x):\n    return x\n"
    )
    before = code_fingerprint(user_modules("m", body).step)
    assert code_fingerprint(user_modules("m", body).step) == before
    assert code_fingerprint(user_modules("m", body.replace("* 2", "* 3")).step) != before
    assert (
        code_fingerprint(user_modules("m", body.replace("return x\n", "return -x\n")).step)
        != before
    )


REGISTRY = (
    "REG = {}\n\ndef register(fn):\n    REG[fn.__name__] = fn\n    return fn\n\n"
    "@register\ndef double(x):\n    return x * 2\n\ndef use(x):\n    return REG['double'](x)\n"
)


def test_functions_a_decorator_registers_at_import_count(user_modules) -> None:
    before = code_fingerprint(user_modules("m", REGISTRY + STEP).step)
    assert code_fingerprint(user_modules("m", REGISTRY + STEP).step) == before
    edited = (REGISTRY + STEP).replace("x * 2", "x * 3")
    assert code_fingerprint(user_modules("m", edited).step) != before


def test_a_memo_filling_with_data_at_run_time_changes_nothing(user_modules) -> None:
    body = "MEMO = {}\n\ndef use(x):\n    MEMO[x] = MEMO.get(x, 0) + 1\n    return x\n" + STEP
    module = user_modules("m", body)
    before = code_fingerprint(module.step)
    module.step(1)
    module.MEMO["f"] = len  # even a builtin stored as a value: not user code
    assert code_fingerprint(module.step) == before


def test_data_the_module_sets_on_a_module_it_imported_counts(user_modules) -> None:
    user_modules("cfg", "LAYERS = [32, 16]\n")
    body = "import PFX_cfg as cfg\n\ncfg.LAYERS = [64, 16]\n\ndef use(x):\n    return sum(cfg.LAYERS)\n"
    before = code_fingerprint(user_modules("m", body + STEP).step)
    assert code_fingerprint(user_modules("m", body + STEP).step) == before
    edited = (body + STEP).replace("[64, 16]", "[128, 16]")
    assert code_fingerprint(user_modules("m", edited).step) != before


# (module "cfg" source or None, module "m" source before the step, old text, new text)
CHANGED_IN_PLACE = {
    "append after the definitions": (
        None,
        "FEATURES = ['a']\n\ndef use(x):\n    return (x, FEATURES)\n"
        + STEP
        + "\nFEATURES.append('b')\n",
        "'b')",
        "'c')",
    ),
    "append in a module with no def": (
        "LAYERS = [64]\nLAYERS.append(16)\n",
        "from PFX_cfg import LAYERS\n\ndef use(x):\n    return (x, LAYERS)\n" + STEP,
        "(16)",
        "(32)",
    ),
    "update and a seed in a module with no def": (
        "import numpy as np\nCONF = {}\nCONF.update(lr=0.1)\nnp.random.seed(1)\nW = np.random.rand(2)\n",
        "from PFX_cfg import CONF, W\n\ndef use(x):\n    return (x, CONF, W)\n" + STEP,
        "seed(1)",
        "seed(2)",
    ),
    "an imported list changed by the importer": (
        "LAYERS = [64]\n",
        "from PFX_cfg import LAYERS\nLAYERS.append(16)\n\ndef use(x):\n    return (x, LAYERS)\n"
        + STEP,
        "(16)",
        "(32)",
    ),
    "a class attribute set after the class": (
        None,
        "class Cfg:\n    k = 1\n\nCfg.k = 5\n\ndef use(x):\n    return x * Cfg.k\n" + STEP,
        "= 5",
        "= 6",
    ),
    "a function attribute": (
        None,
        "def helper():\n    return helper.k\n\nhelper.k = 5\n\ndef use(x):\n    return helper()\n"
        + STEP,
        "= 5",
        "= 6",
    ),
    "setattr after the definitions": (
        None,
        "class Cfg:\n    k = 1\n\ndef use(x):\n    return x * Cfg.k\n"
        + STEP
        + "\nsetattr(Cfg, 'k', 5)\n",
        "5)",
        "6)",
    ),
    "a slots instance by star import": (
        "class Cfg:\n    __slots__ = ('k',)\n    def __init__(self, k):\n        self.k = k\nC = Cfg(3)\n",
        "from PFX_cfg import *\n\ndef use(x):\n    return x * C.k\n" + STEP,
        None,
        None,
    ),
    "an instance holding an array by star import": (
        "import numpy as np\nclass Cfg:\n    def __init__(self, w):\n        self.w = w\n"
        "C = Cfg(np.array([3, 2]))\n",
        "from PFX_cfg import *\n\ndef use(x):\n    return x * C.w.sum()\n" + STEP,
        None,
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CHANGED_IN_PLACE))
def test_values_changed_in_place_or_set_on_later_count(user_modules, case) -> None:
    """Statements that change a value without binding it (anywhere in the module, or in a
    module of constants), attributes set on a class or function after it, and instances a
    star import reaches by value: an edit changes the key, a reload alone does not."""
    cfg, body, old, new = CHANGED_IN_PLACE[case]
    if cfg is not None:
        user_modules("cfg", cfg)
    before = code_fingerprint(user_modules("m", body).step)
    if cfg is not None:
        user_modules("cfg", cfg)
    assert code_fingerprint(user_modules("m", body).step) == before  # a reload alone: same
    if old is None:  # the instance's own value changes: (3) -> (4), [3, 2] -> [4, 2]
        assert cfg is not None
        edited_cfg = cfg.replace("Cfg(3)", "Cfg(4)").replace("[3, 2]", "[4, 2]")
        assert edited_cfg != cfg
        user_modules("cfg", edited_cfg)
        assert code_fingerprint(user_modules("m", body).step) != before
        return
    target = "cfg" if cfg is not None and old in cfg else "m"
    if target == "cfg":
        assert cfg is not None
        user_modules("cfg", cfg.replace(old, new))
        assert code_fingerprint(user_modules("m", body).step) != before
    else:
        assert code_fingerprint(user_modules("m", body.replace(old, new)).step) != before
