"""The YAML text clusterctl prints, and go-yaml's timestamps.

clusterctl writes each object with sigs.k8s.io/yaml's Marshal: encoding/json first (numbers as
JSON writes them), then go-yaml v2 (go.yaml.in/yaml/v2 v2.4.3) re-reads that JSON and marshals it.
So: map keys in go-yaml's "natural" order (`a2` before `a10`), lines folded at
80 columns where plain or quoted text allows, non-ASCII as is, a
string with a newline as a literal block, a string that would read back as something else (`yes`,
`0o17`, `12:30`, `2001-12-14`, `""`) double-quoted, numbers as float64s (integers past 2^53
round) written as encoding/json and then Go's `%g` write them. The emitter
itself (where plain style is not possible, which quotes, block indicators) is libyaml's in both
go-yaml and PyYAML, so PyYAML's emitter does the rest.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal
from typing import Any

import yaml
from yaml.emitter import ScalarAnalysis
from yaml.events import AliasEvent, ScalarEvent
from yaml.nodes import ScalarNode

from mgmt import kubeyaml

_TAG = "tag:yaml.org,2002:"
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2}):(?P<second>[0-9]{1,2})"
    r"(?:[.,](?P<fraction>[0-9]+))?(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def dump_all(objects: list[Any]) -> str:
    """The objects as `clusterctl generate cluster` prints them (its JoinYaml: `---` between)."""
    return "---\n".join(yaml.dump(obj, Dumper=_GoDumper, allow_unicode=True, width=80) for obj in objects)


def go_timestamp(text: str) -> str | None:
    """What Go's time.Time.String() prints for a plain scalar go-yaml reads as a timestamp (None:
    not one). go-yaml tries four layouts; a zone offset other than 0 is a zone without a name."""
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        return None
    parts = match.groupdict()
    if parts["zone"] is None and parts["sep"] in ("T", "t") or parts["sep"] == " " and parts["zone"]:
        return None  # the layouts with T carry a zone; the one with a space does not
    year, month, day = int(parts["year"]), int(parts["month"]), int(parts["day"])
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] or (
            month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))):
        return None
    hour, minute, second = (int(parts[k] or 0) for k in ("hour", "minute", "second"))
    if hour > 23 or minute > 59 or second > 59:
        return None
    fraction = (parts["fraction"] or "")[:9].rstrip("0")
    zone = parts["zone"] or "Z"
    if zone != "Z" and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        return None
    offset = "+0000 UTC" if zone in ("Z", "+00:00", "-00:00") else f"{zone[:3]}{zone[4:]} {zone[:3]}{zone[4:]}"
    return (f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
            f"{'.' + fraction if fraction else ''} {offset}")


def go_format_float(value: float, fmt: str) -> str:
    """strconv.FormatFloat(value, fmt, -1, 64) for fmt 'g', 'f' or 'e'."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1, value) < 0 else ""
    digits, exponent = _shortest(abs(value))
    if fmt == "g":
        fmt = "e" if exponent < -4 or exponent >= 6 else "f"  # shortest 'g' decides with precision 6
    if fmt == "e":
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + format(Decimal(f"{digits}e{exponent - len(digits) + 1}"), "f")


def _hex_escape(char: str) -> str:
    code = ord(char)
    return f"x{code:02X}" if code <= 0xFF else f"u{code:04X}" if code <= 0xFFFF else f"U{code:08X}"


def _shortest(value: float) -> tuple[str, int]:
    """The shortest digits that read back as `value`, and the exponent of the first one."""
    if value == 0:
        return "0", 0
    mantissa, exponent = f"{value:.17e}".split("e")
    for precision in range(1, 18):
        text = f"{value:.{precision - 1}e}"
        if float(text) == value:
            mantissa, exponent = text.split("e")
            break
    return mantissa.replace(".", "").rstrip("0") or "0", int(exponent)


def _json_number(value: float) -> str:
    """A float as go-yaml writes it after encoding/json: JSON's text, read back as int or float."""
    text = go_format_float(value, "e" if value and not 1e-6 <= abs(value) < 1e21 else "f")
    if re.fullmatch(r"-?[0-9]+", text) and -(1 << 63) <= int(text) < (1 << 64):
        return text
    return go_format_float(value, "g")


def _needs_quotes(text: str) -> bool:
    """go-yaml v2's stringv: a string that reads back as another type (or a YAML 1.1 base 60 float)."""
    return (not isinstance(kubeyaml.resolve_plain(text), str)
            or bool(_BASE60.fullmatch(text)) or (text[:1].isdigit() and go_timestamp(text) is not None))


def _go_key_less(a: str, b: str) -> bool:
    """go-yaml v2's keyList.Less for two string keys: runs of digits compare as numbers."""
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        a_letter, b_letter = a[i].isalpha(), b[i].isalpha()
        if a_letter and b_letter:
            return a[i] < b[i]
        if a_letter or b_letter:
            return b_letter
        a_number = b_number = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    a_number = b_number = 1
                    break
                j -= 1
        a_end, a_number = _digits(a, i, a_number)
        b_end, b_number = _digits(b, i, b_number)
        if a_number != b_number:
            return a_number < b_number
        if a_end != b_end:
            return a_end < b_end
        return a[i] < b[i]
    return len(a) < len(b)


def _digits(text: str, start: int, number: int) -> tuple[int, int]:
    end = start
    while end < len(text) and text[end].isdecimal():
        number = number * 10 + int(text[end])
        end += 1
    return end, number


def _key_order(a: str, b: str) -> int:
    return -1 if _go_key_less(a, b) else 1 if _go_key_less(b, a) else 0


class _GoDumper(yaml.SafeDumper):
    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and implicit[0]:
            plain = kubeyaml.resolve_plain(value)
            kind_name = ("null" if plain is None else "bool" if isinstance(plain, bool) else "int"
                         if isinstance(plain, int) else "float" if isinstance(plain, float) else "str")
            return _TAG + kind_name
        return super().resolve(kind, value, implicit)

    def represent_str(self, data: str):
        style = "|" if "\n" in data else '"' if _needs_quotes(data) else None
        return self.represent_scalar(_TAG + "str", data, style=style)

    def represent_number(self, data: float):
        """clusterctl holds every number as a float64 (encoding/json), so integers past 2^53 round."""
        text = _json_number(float(data))
        kind = "int" if isinstance(kubeyaml.resolve_plain(text), int) else "float"
        return self.represent_scalar(_TAG + kind, text)

    def represent_dict(self, data: dict):
        items = sorted(data.items(), key=functools.cmp_to_key(lambda x, y: _key_order(str(x[0]), str(y[0]))))
        return self.represent_mapping(_TAG + "map", items)

    def ignore_aliases(self, data) -> bool:
        return True

    # -- where go-yaml's emitter differs from PyYAML's (both from libyaml) --

    def analyze_scalar(self, scalar: str):
        """go-yaml counts characters beyond the BMP, and NEL, as unprintable: double quotes only."""
        analysis = super().analyze_scalar(scalar)
        if any(ord(c) > 0xFFFF or c == "\x85" for c in scalar):
            return ScalarAnalysis(scalar=scalar, empty=analysis.empty, multiline=analysis.multiline,
                                  allow_flow_plain=False, allow_block_plain=False, allow_single_quoted=False,
                                  allow_double_quoted=True, allow_block=False)
        return analysis

    def check_simple_key(self) -> bool:
        """go-yaml: a key of up to 128 bytes on one line is written `key:`, an empty one too."""
        if isinstance(self.event, ScalarEvent):
            if self.analysis is None:
                self.analysis = self.analyze_scalar(self.event.value)
            return not self.analysis.multiline and len(self.analysis.scalar.encode()) <= 128
        return isinstance(self.event, AliasEvent) or self.check_empty_sequence() or self.check_empty_mapping()

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        """go-yaml's writer: a long line breaks at a space past the width, without PyYAML's `\\`."""
        self.write_indicator('"', True)
        spaces = False
        for i, char in enumerate(text):
            if _go_escaped(char):
                self._write("\\" + _GO_ESCAPES.get(char, _hex_escape(char)))
                spaces = False
            elif char == " ":
                if split and not spaces and self.column > self.best_width and 0 < i < len(text) - 1:
                    self.write_indent()
                    if text[i + 1] == " ":
                        self._write("\\")
                else:
                    self._write(" ")
                spaces = True
            else:
                self._write(char)
                spaces = False
        self.write_indicator('"', False)

    def _write(self, data: str) -> None:
        self.whitespace = self.indention = False
        self.column += len(data)
        self.stream.write(data.encode(self.encoding) if self.encoding else data)


_GO_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
               "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}


def _go_escaped(char: str) -> bool:
    """go-yaml's double-quoted writer escapes what is not printable, a BOM, line breaks, `"` and `\\`."""
    code = ord(char)
    printable = (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD)
    return not printable or code == 0xFEFF or char in _GO_ESCAPES


_GoDumper.add_representer(str, _GoDumper.represent_str)
_GoDumper.add_representer(float, _GoDumper.represent_number)
_GoDumper.add_representer(int, _GoDumper.represent_number)
_GoDumper.add_representer(dict, _GoDumper.represent_dict)
