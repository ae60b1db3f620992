"""clusterctl's template variables, with clusterctl's exact semantics.

clusterctl processes templates with github.com/drone/envsubst: only `${...}` is
substituted (a bare `$VAR` is text), `$$` escapes a dollar, and every default
form (`${V:=d}`, `${V=d}`, `${V:-d}`) uses the default when the value is unset
*or empty*. Before substituting, clusterctl lists the template's variables: one
with no default (or an empty one) that has no value is missing, and all missing
ones are reported together with clusterctl's own message. This module is a port
of that parser and evaluator (drone/envsubst parse/scan.go, parse/parse.go,
funcs.go) and of clusterctl's SimpleProcessor, so templates written for
clusterctl render here byte for byte.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class TemplateError(ValueError):
    """The template cannot be parsed."""


class MissingVariablesError(TemplateError):
    def __init__(self, missing: list[str]):
        self.missing = sorted(missing)
        super().__init__(
            f"value for variables [{', '.join(self.missing)}] is not set. Please set the value "
            "using os environment variables or the clusterctl config file"
        )


# ---------------------------------------------------------------------------
# Syntax tree

@dataclass
class Text:
    value: str


@dataclass
class Func:
    param: str = ""
    name: str = ""
    args: list = field(default_factory=list)


@dataclass
class Sequence:
    nodes: list


_EMPTY = Text("")

# ---------------------------------------------------------------------------
# Scanner (drone/envsubst parse/scan.go)

_EOF = ""
_ILLEGAL, _END, _IDENT, _LBRACK, _RBRACK = range(5)
_SCAN_IDENT, _SCAN_LBRACK, _SCAN_RBRACK, _SCAN_ESCAPE = 1, 2, 4, 8
_DOLLAR, _BACKSLASH = 1, 2


def _accept_rune(r, i): return True
def _accept_ident(r, i): return r.isalnum() or r == "_"
def _accept_colon(r, i): return r == ":"
def _accept_one_hash(r, i): return r == "#" and i == 1
def _accept_not_closing(r, i): return r != "}"
def _accept_hash_func(r, i): return r == "#" and i < 3
def _accept_percent_func(r, i): return r == "%" and i < 3
def _accept_one_equal(r, i): return i == 1 and r == "="
def _accept_one_colon(r, i): return i == 1 and r == ":"
def _reject_colon_close(r, i): return r not in (":", "}")
def _accept_slash(r, i): return r == "/"
def _accept_not_slash(r, i): return r != "/"
def _accept_casing_func(r, i): return r in (",", "^") and i < 3


def _accept_default_func(r, i):
    return (i == 1 and r == ":") or (i == 2 and r in "=-?+")


def _accept_replace_func(r, i):
    return (i == 1 and r == "/") or (i == 2 and r in "/#%")


class _Scanner:
    def __init__(self, buf: str):
        self.buf, self.pos, self.start, self.width = buf, 0, 0, 0
        self.mode, self.escape_chars = 0, 0
        self.accept: Callable = _accept_rune

    def read(self) -> str:
        if self.pos >= len(self.buf):
            self.width = 0
            return _EOF
        self.width = 1
        self.pos += 1
        return self.buf[self.pos - 1]

    def unread(self):
        self.pos -= self.width

    def skip(self):
        self.buf = self.buf[: self.pos - 1] + self.buf[self.pos:]

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def string(self) -> str:
        return self.buf[self.start:self.pos]

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == _EOF:
            return _END
        if self._lbrack(r):
            return _LBRACK
        if self._rbrack(r):
            return _RBRACK
        if self._ident(r):
            return _IDENT
        return _ILLEGAL

    def _ident(self, r: str) -> bool:
        if not self.mode & _SCAN_IDENT:
            return False
        if self._escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == _EOF:
                self.unread()
                break
            if self._lbrack(r):
                self.unread()
                self.unread()
                break
            if self._escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def _lbrack(self, r: str) -> bool:
        if not self.mode & _SCAN_LBRACK:
            return False
        if r == "$":
            if self.read() == "{":
                return True
            self.unread()
        return False

    def _rbrack(self, r: str) -> bool:
        return bool(self.mode & _SCAN_RBRACK) and r == "}"

    def _escaped(self, r: str) -> bool:
        if not self.mode & _SCAN_ESCAPE:
            return False
        if r == "$" and self.escape_chars & _DOLLAR and self.peek() == "$":
            return True
        return bool(r == "\\" and self.escape_chars & _BACKSLASH and self.peek() in ("/", "\\"))


# ---------------------------------------------------------------------------
# Parser (drone/envsubst parse/parse.go)

class _Parser:
    def __init__(self, text: str):
        self.s = _Scanner(text)

    def parse(self):
        return self._any()

    def _any(self):
        s = self.s
        s.accept = _accept_rune
        s.mode = _SCAN_IDENT | _SCAN_LBRACK | _SCAN_ESCAPE
        s.escape_chars = _DOLLAR
        token = s.scan()
        if token == _IDENT:
            left = Text(s.string())
        elif token == _END:
            return _EMPTY
        elif token == _LBRACK:
            left = self._func()
        else:
            raise TemplateError("bad substitution")
        right = self._any()
        return left if right is _EMPTY else Sequence([left, right])

    def _func(self):
        s = self.s
        s.escape_chars = _DOLLAR | _BACKSLASH
        if s.peek() == "#":
            return self._len_func()
        s.accept, s.mode = _accept_ident, _SCAN_IDENT
        if s.scan() != _IDENT:
            raise TemplateError("unable to parse variable name")
        name = s.string()
        nxt = s.peek()
        if nxt == ":":
            return self._default_or_substr(name)
        if nxt == "=":
            return self._default_func(name)
        if nxt in (",", "^"):
            return self._one_token_func(name, _accept_casing_func)
        if nxt == "/":
            return self._replace_func(name)
        if nxt == "#":
            return self._remove_func(name, _accept_hash_func)
        if nxt == "%":
            return self._remove_func(name, _accept_percent_func)
        s.accept, s.mode = _accept_ident, _SCAN_RBRACK
        if s.scan() != _RBRACK:
            raise TemplateError("missing closing brace")
        return Func(param=name)

    def _param(self, accept, mode):
        s = self.s
        s.accept, s.mode = accept, mode | _SCAN_LBRACK
        token = s.scan()
        if token == _LBRACK:
            return self._func()
        if token in (_IDENT, _RBRACK):
            return Text(s.string())
        raise TemplateError("unable to parse substitution within function")

    def _operator(self, node: Func, accept, error="bad substitution"):
        self.s.accept, self.s.mode = accept, _SCAN_IDENT
        if self.s.scan() != _IDENT:
            raise TemplateError(error)
        node.name = self.s.string()

    def _default_or_substr(self, name):
        s = self.s
        s.read()
        r = s.peek()
        s.unread()
        if r in ("=", "-", "?", "+"):
            return self._default_func(name)
        return self._substr_func(name)

    def _substr_func(self, name):
        node = Func(param=name)
        self._operator(node, _accept_one_colon)
        node.args.append(self._param(_reject_colon_close, _SCAN_IDENT))
        s = self.s
        s.accept, s.mode = _accept_colon, _SCAN_IDENT | _SCAN_RBRACK
        token = s.scan()
        if token == _RBRACK:
            return node
        if token != _IDENT:
            raise TemplateError("bad substitution")
        node.args.append(self._param(_accept_not_closing, _SCAN_IDENT))
        self._close()
        return node

    def _remove_func(self, name, accept):
        node = Func(param=name)
        self._operator(node, accept)
        node.args.append(self._param(_accept_not_closing, _SCAN_IDENT))
        self._close()
        return node

    def _replace_func(self, name):
        node = Func(param=name)
        self._operator(node, _accept_replace_func)
        node.args.append(self._param(_accept_not_slash, _SCAN_IDENT | _SCAN_ESCAPE))
        s = self.s
        s.accept, s.mode = _accept_slash, _SCAN_IDENT
        if s.scan() != _IDENT:
            raise TemplateError("bad substitution")
        if s.peek() != "}":
            node.args.append(self._param(_accept_not_closing, _SCAN_IDENT | _SCAN_ESCAPE))
        self._close()
        return node

    def _default_func(self, name):
        node = Func(param=name)
        accept = _accept_one_equal if self.s.peek() == "=" else _accept_default_func
        self._operator(node, accept, "unable to parse default function")
        while self.s.peek() != "}":
            node.args.append(self._param(_accept_not_closing, _SCAN_IDENT))
        self._close()
        return node

    def _one_token_func(self, name, accept):
        node = Func(param=name)
        self._operator(node, accept)
        self._close()
        return node

    def _len_func(self):
        node = Func()
        self._operator(node, _accept_one_hash)
        s = self.s
        s.accept, s.mode = _accept_ident, _SCAN_IDENT
        if s.scan() != _IDENT:
            raise TemplateError("bad substitution")
        node.param = s.string()
        self._close()
        return node

    def _close(self):
        self.s.mode = _SCAN_RBRACK
        if self.s.scan() != _RBRACK:
            raise TemplateError("bad substitution")


# ---------------------------------------------------------------------------
# Evaluation (drone/envsubst funcs.go)

def _atoi(text: str) -> int | None:
    """Go's strconv.Atoi: an optional sign and ASCII digits, nothing else (no spaces, no `_`)."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _substr(s, *args):
    """drone/envsubst's toSubstr: byte offsets; an offset or length Atoi cannot read leaves the
    value whole (`${V: -1}` is all of V, where bash would give its last character)."""
    data = s.encode()
    pos = _atoi(args[0])
    if pos is None:
        return s
    if pos < 0:
        pos = max(len(data) + pos, 0)
    if len(args) == 1:
        return data[pos:].decode(errors="replace")
    length = _atoi(args[1])
    if length is None:
        return s
    if length < 0 and pos + length < len(data):
        # Go panics here (slice bounds out of range); a clear error instead of a crash.
        raise TemplateError(f"negative substring length {length}")
    return data[pos:pos + length].decode(errors="replace")


def _glob(pattern: str) -> str:
    return pattern.replace("[^", "[!")


def _trim_prefix(s, pattern, longest):
    candidates = [s[: len(s) - i] for i in range(len(s))]
    matches = [c for c in candidates if fnmatch.fnmatchcase(c, _glob(pattern))]
    if not matches:
        return s
    match = matches[0] if longest else matches[-1]
    return s[len(match):]


def _trim_suffix(s, pattern, longest):
    return _trim_prefix(s[::-1], pattern[::-1], longest)[::-1]


def _default(s, *args):
    return "".join(args) if not s and args else s


def _replace(count):
    def replace(s, *args):
        if not args:
            return s
        return s.replace(args[0], args[1] if len(args) > 1 else "", count)
    return replace


def _replace_prefix(s, *args):
    if len(args) == 2 and s.startswith(args[0]):
        return args[1] + s[len(args[0]):]
    return s


def _replace_suffix(s, *args):
    if len(args) == 2 and s.endswith(args[0]):
        return s[: len(s) - len(args[0])] + args[1]
    return s


_FUNCS: dict[str, Callable[..., str]] = {
    ",": lambda s, *a: s[:1].lower() + s[1:],
    ",,": lambda s, *a: s.lower(),
    "^": lambda s, *a: s[:1].upper() + s[1:],
    "^^": lambda s, *a: s.upper(),
    "##": lambda s, *a: _trim_prefix(s, a[0], True) if a else s,
    "%": lambda s, *a: _trim_suffix(s, a[0], False) if a else s,
    "%%": lambda s, *a: _trim_suffix(s, a[0], True) if a else s,
    ":": _substr,
    "/#": _replace_prefix,
    "/%": _replace_suffix,
    "/": _replace(1),
    "//": _replace(-1),
}


def _lookup(name: str, nargs: int) -> Callable[..., str]:
    if name == "#":
        if nargs == 0:
            return lambda s, *a: str(len(s.encode()))
        return lambda s, *a: _trim_prefix(s, a[0], False)
    return _FUNCS.get(name, _default)


def _evaluate(node, mapping: Callable[[str], str]) -> str:
    if isinstance(node, Text):
        return node.value
    if isinstance(node, Sequence):
        return "".join(_evaluate(n, mapping) for n in node.nodes)
    args = [_evaluate(a, mapping) for a in node.args]
    return _lookup(node.name, len(args))(mapping(node.param), *args)


# ---------------------------------------------------------------------------
# clusterctl's SimpleProcessor

_LEGACY = re.compile(
    r"(\${(\s+([A-Za-z0-9_$]+)\s+)})|(\${(\s+([A-Za-z0-9_$]+))})|(\${(([A-Za-z0-9_$]+)\s+)})"
)


def _convert_legacy(text: str) -> str:
    """clusterctl accepts `${ VAR }` and strips the spaces first."""
    return _LEGACY.sub(lambda m: re.sub(r"\s", "", m.group(0)), text)


def parse(text: str):
    return _Parser(_convert_legacy(text)).parse()


def _collect(node, found: dict[str, str]) -> None:
    if isinstance(node, Sequence):
        for n in node.nodes:
            _collect(n, found)
    elif isinstance(node, Func) and node.param not in found:
        found[node.param] = "".join(
            f"${{{a.param}}}" if isinstance(a, Func) else a.value for a in node.args
        )


def list_variables(text: str) -> dict[str, str | None]:
    """Every variable of a template with its default (None: required), as clusterctl lists them."""
    found: dict[str, str] = {}
    _collect(parse(text), found)
    return {name: (default or None) for name, default in sorted(found.items())}


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute `values` into a clusterctl template, or raise MissingVariablesError."""
    tree = parse(text)
    found: dict[str, str] = {}
    _collect(tree, found)
    missing = [name for name, default in found.items() if name not in values and default == ""]
    if missing:
        raise MissingVariablesError(missing)
    return _evaluate(tree, lambda name: values.get(name, ""))
