"""Manifests read the way `kubectl` reads them: the one YAML reader for everything users give us.

kubectl splits a stream into documents at lines that begin with `---` (apimachinery's
YAMLReader), parses each with go-yaml v2 and turns the result into JSON (sigs.k8s.io/yaml).
PyYAML's own loaders follow YAML 1.1 instead, which differs where it matters for manifests:
a plain `=` is a "value" tag they cannot construct, `12:30:00` is a sexagesimal integer, a
date becomes a datetime. So only the parsing is PyYAML's (libyaml, the C library go-yaml v2
was ported from, hence the same rules for indentation, tabs and flow syntax); turning nodes
into values follows go-yaml v2's resolver and sigs.k8s.io/yaml's JSON conversion:

- plain scalars: `y/yes/on/true` and `n/no/off/false` (three spellings each) are booleans;
  `~`, `null` and the empty scalar are null; integers as Go's `ParseInt(s, 0, 64)` reads them
  after dropping `_` (`0x1F`, `0o17`, `0777`, `0b101`), then floats; anything else, dates and
  times included, stays a string;
- `<<` is a merge key (applied in document order, as go-yaml v2 does);
- map keys become strings (`1` -> "1", `true` -> "true", floats as Go formats float32);
- what JSON cannot hold (NaN, infinities, null or collection keys) is an error;
- numbers end up as JSON would carry them to the API server: integral values as integers
  while they fit int64, others as floats.

A stream whose first character is `{` is read as JSON objects for as long as that works; where
JSON fails after fewer than two objects, the rest is read as YAML (apimachinery's
YAMLOrJSONDecoder). Errors name the document and the line within the whole stream.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
MAX_DEPTH = 200  # four times the deepest real CRD; keeps the recursion inside Python's limit

_PLAIN = "drover:plain"  # the tag given to plain, untagged scalars, resolved below
_TAG = "tag:yaml.org,2002:"
_BOOLS = {**dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
          **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False)}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = {**dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
                   **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
                   **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf)}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_INT_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+"),
               10: re.compile(r"[0-9]+")}


class KubeYAMLError(ValueError):
    """The text is not a manifest kubectl would read; says which document and line."""

    def __init__(self, message: str, document: int | None = None, line: int | None = None):
        where = ", ".join(p for p in (f"document {document}" if document else "",
                                      f"line {line}" if line else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.document, self.line, self.reason = document, line, message


def load_all(text: str | bytes) -> list[Any]:
    """The documents of a YAML (or JSON) stream as JSON-like values, empty documents left out."""
    text = decode(text)
    values, rest, line = _json_prefix(text) if text.lstrip().startswith("{") else ([], text, 1)
    for number, (first_line, chunk) in enumerate(_split(rest), start=len(values) + 1):
        value = _load_document(chunk, number, first_line + line - 1)
        if value is not None:
            values.append(value)
    return values


def load(text: str | bytes) -> Any:
    """A single document (None when the text holds none); more than one is an error."""
    values = load_all(text)
    if len(values) > 1:
        raise KubeYAMLError(f"expected one document, found {len(values)}")
    return values[0] if values else None


def decode(data: str | bytes) -> str:
    """Text from bytes as kubectl's file reader takes it: UTF-8, or UTF-16 with a BOM; BOM dropped."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise KubeYAMLError(f"not UTF-8 text (byte {error.start})") from None


# -- documents ------------------------------------------------------------------------------------

def _split(text: str):
    """(first line number, text) of each document, split as apimachinery's YAMLReader does: at
    every line that starts with `---`, which may be followed only by spaces or a comment."""
    lines = text.split("\n")
    start, chunk = 1, []
    for number, line in enumerate(lines, start=1):
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise KubeYAMLError("invalid document separator: only a comment may follow `---`", line=number)
            if any(part.strip() for part in chunk):
                yield start, "\n".join(chunk) + "\n"  # the line break before `---` ends the document's last line
            start, chunk = number + 1, []
            continue
        chunk.append(line)
    if any(part.strip() for part in chunk):
        yield start, "\n".join(chunk)


def _load_document(chunk: str, number: int, first_line: int) -> Any:
    reader = _NodeReader(chunk)
    try:
        node = reader.get_node() if reader.check_node() else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = first_line + mark.line if mark else None
        raise KubeYAMLError(error.problem or error.context or "invalid YAML", number, line) from None
    except yaml.YAMLError as error:
        raise KubeYAMLError(str(error), number, first_line) from None
    finally:
        reader.dispose()
    if node is None:
        return None
    try:
        return _Builder(number, first_line).value(node, 0)
    except RecursionError:
        raise KubeYAMLError("nested too deeply", number, first_line) from None


class _PlainTags(yaml.resolver.BaseResolver):
    """Tags only what the builder needs: plain untagged scalars are resolved later, go-yaml's way."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else f"{_TAG}str"
        return super().resolve(kind, value, implicit)


if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser

    class _NodeReader(CParser, _PlainTags):
        def __init__(self, text: str):
            CParser.__init__(self, text)
            _PlainTags.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml: its pure-Python port of the same parser
    class _NodeReader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                      yaml.composer.Composer, _PlainTags):
        def __init__(self, text: str):
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _PlainTags.__init__(self)


# -- values ----------------------------------------------------------------------------------------

class _Builder:
    """Nodes to JSON-like values, with go-yaml v2's guard against alias expansion bombs."""

    def __init__(self, document: int, first_line: int):
        self.document, self.first_line = document, first_line
        self.defined_at: dict[int, tuple[int, int]] = {}  # node -> the (parent, position) it was written at
        self.path: set[int] = set()
        self.decoded = self.aliased = self.alias_depth = 0

    def error(self, node, message: str) -> KubeYAMLError:
        return KubeYAMLError(message, self.document, self.first_line + node.start_mark.line)

    def value(self, node, depth: int, at: tuple[int, int] = (0, 0)) -> Any:
        if depth > MAX_DEPTH:
            raise self.error(node, f"nested deeper than {MAX_DEPTH} levels")
        if id(node) in self.path:
            raise self.error(node, "anchor value contains itself")
        # The composer shares an anchored node wherever it is aliased: a node met at another
        # place than where it was first met is an alias there.
        alias = self.defined_at.setdefault(id(node), at) != at
        if alias:
            self._count(node)
        self.alias_depth += alias
        try:
            self._count(node)
            if isinstance(node, ScalarNode):
                return _json_value(self._scalar(node), lambda m: self.error(node, m))
            self.path.add(id(node))
            try:
                if isinstance(node, SequenceNode):
                    return [self.value(item, depth + 1, (id(node), i)) for i, item in enumerate(node.value)]
                return self._mapping(node, depth)
            finally:
                self.path.discard(id(node))
        finally:
            self.alias_depth -= alias

    def _count(self, node) -> None:
        """go-yaml v2's guard: too large a share of the values come from expanding aliases."""
        self.decoded += 1
        if self.alias_depth:
            self.aliased += 1
            if (self.aliased > 100 and self.decoded > 1000
                    and self.aliased / self.decoded > _allowed_alias_ratio(self.decoded)):
                raise self.error(node, "document contains excessive aliasing")

    def _mapping(self, node: MappingNode, depth: int) -> dict:
        out: dict[str, Any] = {}
        for position, (key_node, value_node) in enumerate(node.value):
            at = (id(node), position)
            if _is_merge(key_node):
                self._merge(value_node, out, depth, at)
                continue
            out[self._key(key_node)] = self.value(value_node, depth + 1, at)
        return out

    def _merge(self, node, out: dict, depth: int, at: tuple[int, int]) -> None:
        """go-yaml v2: merged maps overwrite keys already set; earlier maps in a list win."""
        if isinstance(node, MappingNode):
            out.update(self.value(node, depth + 1, at))
            return
        if not isinstance(node, SequenceNode) or not all(isinstance(s, MappingNode) for s in node.value):
            raise self.error(node, "map merge requires map or sequence of maps as the value")
        for position in reversed(range(len(node.value))):
            out.update(self.value(node.value[position], depth + 1, (id(node), position)))

    def _key(self, node) -> str:
        if not isinstance(node, ScalarNode):
            raise self.error(node, "invalid map key: a map or list cannot be a key")
        key = self._scalar(node)
        if key is None:
            raise self.error(node, "unsupported map key: null")
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, float):
            return _go_float32_key(key)
        return str(key)

    def _scalar(self, node: ScalarNode) -> Any:
        text, tag = node.value, node.tag
        if tag == _PLAIN:
            return resolve_plain(text)
        if not tag.startswith(_TAG) or tag == f"{_TAG}str":
            return text  # go-yaml keeps unknown tags' scalars as strings
        kind = tag[len(_TAG):]
        if kind == "binary":
            try:
                return base64.b64decode(text, validate=False).decode(errors="replace")
            except (binascii.Error, ValueError):
                raise self.error(node, "!!binary value contains invalid base64 data") from None
        if kind in ("int", "float", "bool", "null"):
            return self._tagged(node, kind)
        return text

    def _tagged(self, node: ScalarNode, kind: str) -> Any:
        value = resolve_plain(node.value)
        found = ("null" if value is None else "bool" if isinstance(value, bool)
                 else "int" if isinstance(value, int) else "float" if isinstance(value, float) else "str")
        if found == kind:
            return value
        if kind == "float" and found == "int":
            return float(value)
        raise self.error(node, f"cannot decode a !!{found} value as a !!{kind}")


def _is_merge(node) -> bool:
    return isinstance(node, ScalarNode) and node.value == "<<" and node.tag in (_PLAIN, f"{_TAG}merge")


def _allowed_alias_ratio(decoded: int) -> float:
    """go-yaml v2's allowance: 99% aliases in small documents, down to 10% past 4M nodes."""
    if decoded <= 400_000:
        return 0.99
    if decoded >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * (decoded - 400_000) / 3_600_000


# -- scalars ---------------------------------------------------------------------------------------

def resolve_plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar as go-yaml v2 resolves it."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) else text
    if first in "+-0123456789":
        return _number(text)
    return text


def _number(text: str) -> Any:
    plain = text.replace("_", "")
    value = _go_parse_int(plain)
    if value is not None and INT64_MIN <= value <= UINT64_MAX and not (value > INT64_MAX and plain[0] in "+-"):
        return value
    if _YAML_FLOAT.fullmatch(plain):
        return float(plain)
    return text


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) without its range check: sign, then 0x/0o/0b/0 prefixes."""
    sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text[1:]) if text[0] == "+" else (1, text)
    base = 10
    if len(digits) > 1 and digits[0] == "0":
        prefix = digits[1].lower()
        base, digits = {"x": (16, digits[2:]), "o": (8, digits[2:]), "b": (2, digits[2:])}.get(
            prefix, (8, digits[1:]))
    if not _INT_DIGITS[base].fullmatch(digits):
        return None
    return sign * int(digits, base)


def _go_float32_key(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), with go-yaml's names for the special values."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    try:
        single = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return ".inf" if value > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(1, 10):
        text = f"{single:.{precision - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent = text.split("e")
    digits = mantissa.replace(".", "").lstrip("-").rstrip("0") or "0"
    exponent = int(exponent)
    sign = "-" if single < 0 else ""
    if exponent < -4 or exponent >= 6:
        rest = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{rest}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent >= 0:
        whole = digits[:exponent + 1].ljust(exponent + 1, "0")
        fraction = digits[exponent + 1:]
    else:
        whole, fraction = "0", "0" * (-exponent - 1) + digits
    return f"{sign}{whole}{'.' + fraction if fraction else ''}"


def _json_value(value: Any, error) -> Any:
    """A scalar as the JSON kubectl sends: no NaN or infinity, integral numbers as int64 ints."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else float(value)
    if math.isnan(value) or math.isinf(value):
        raise error(f"json: unsupported value: {'NaN' if math.isnan(value) else '+Inf' if value > 0 else '-Inf'}")
    if value.is_integer() and abs(value) < 1e21 and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    return value


# -- JSON streams ----------------------------------------------------------------------------------

def _json_prefix(text: str) -> tuple[list[Any], str, int]:
    """The JSON objects at the start of `text`, the text left for YAML and the line it starts on.
    A stream of two or more JSON objects must be JSON to its end."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    values, position = [], 0
    while (start := _skip_space(text, position)) < len(text):
        try:
            value, position = decoder.raw_decode(text, start)
        except ValueError as error:  # JSONDecodeError included
            if len(values) > 1:
                line = text.count("\n", 0, start) + 1
                raise KubeYAMLError(f"invalid JSON: {getattr(error, 'msg', error)}", len(values) + 1, line) from None
            newline = text.find("\n", position)
            rest_at = newline + 1 if newline >= 0 and not text[position:newline].strip() else position
            return values, text[rest_at:], text.count("\n", 0, rest_at) + 1
        try:
            values.append(_json_numbers(value))
        except KubeYAMLError as error:
            raise KubeYAMLError(error.reason, len(values) + 1, text.count("\n", 0, start) + 1) from None
    return values, "", 1


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _json_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    return _json_value(value, lambda m: KubeYAMLError(m))


# -- writing ---------------------------------------------------------------------------------------

class _KubeDumper(yaml.SafeDumper):
    """Quotes every string that kubectl would not read back as that string (`y`, `0o17`, `1e3`,
    `08`, ...), beyond what PyYAML's YAML 1.1 rules quote."""

    def resolve(self, kind, value, implicit):
        tag = super().resolve(kind, value, implicit)
        if kind is ScalarNode and implicit[0] and tag == f"{_TAG}str" and value \
                and not isinstance(resolve_plain(value), str):
            return f"{_TAG}bool"  # anything but str: the emitter then quotes the value
        return tag


def dump(value: Any, **options) -> str:
    return yaml.dump(value, Dumper=_KubeDumper, **options)


def dump_all(values: list[Any], **options) -> str:
    return yaml.dump_all(values, Dumper=_KubeDumper, **options)
