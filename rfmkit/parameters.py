"""Notebook parameters from the command line: parsed as YAML, checked against the declared defaults.

A mistake in a parameter should cost a second, not a run: `-p scale=abc` is refused before any
notebook starts, naming the parameter and the type its notebook declares, and malformed YAML is
reported as one line with the line and column.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import yaml


class ParameterError(ValueError):
    """A parameter value that cannot be used; the message names the parameter or the file."""


def parse_value(name: str, text: str) -> Any:
    """YAML typing, as papermill's -y: 0.5 -> float, true -> bool, 2017-01-01 stays a string."""
    if text == "":
        return ""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ParameterError(f"-p {name}: not valid YAML ({_yaml_problem(error)}); quote text "
                             f"values, e.g. -p '{name}=\"...\"'") from None
    if not isinstance(parsed, str | int | float | bool | list | dict | type(None)):
        return text  # dates and times stay the text the user typed
    return parsed


def read_file(path: Path) -> dict[str, Any]:
    """A YAML file of name: value pairs (--params)."""
    if not path.exists():
        raise ParameterError(f"--params {path}: no such file")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"--params {path}: not valid YAML ({_yaml_problem(error)})") from None
    except UnicodeDecodeError as error:
        raise ParameterError(f"--params {path}: not UTF-8 text (byte {error.start})") from None
    if not isinstance(loaded, dict):
        raise ParameterError(f"--params {path}: expected a mapping of name: value, "
                             f"got {type(loaded).__name__}")
    return loaded


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def default_value(expression: str) -> Any:
    """The Python value of a parameters-cell default ('1.0', '"x"', '[]'); None when not a literal."""
    try:
        return ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return None


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text",
            list: "a list, e.g. [a, b]", dict: "a mapping, e.g. {key: value}"}.get(type(value),
                                                                                    type(value).__name__)


def coerce(name: str, value: Any, default: Any, notebook: str) -> Any:
    """`value` converted to the type of the declared `default`, or a ParameterError saying why not.

    Lossless conversions only: a whole number where a float is declared, a number where text is
    declared (`-p positive_label=1` means the text "1"), a float such as 5.0 where an int is.
    """
    if default is None or value is None:
        return value
    wanted = type(default)
    if wanted is bool:
        if isinstance(value, bool):
            return value
    elif wanted is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif wanted is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif wanted is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    elif isinstance(value, wanted):
        return value
    raise ParameterError(f"-p {name}={value!r}: {notebook} declares {name} = {default!r}, so it "
                         f"expects {_type_name(default)}, not {_type_name(value)}")


def resolve_paths(values: dict[str, Any], declared: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative file paths in text parameters, made absolute against `base` (the directory the
    user ran the command from), so that `-p source=data/x.zip` means what the shell means.

    A value counts as a path when it names something that exists relative to `base`, or starts
    with ./ ../ or ~; everything else (words such as "synthetic", URIs) is left alone.
    """
    resolved = {}
    for name, value in values.items():
        if isinstance(value, str) and value and isinstance(declared.get(name), str):
            resolved[name] = _absolute(value, base)
        else:
            resolved[name] = value
    return resolved


def _absolute(value: str, base: Path) -> str:
    if "://" in value or os.path.isabs(value):
        return value
    if value.startswith("~"):
        return str(Path(value).expanduser())
    candidate = base / value
    if value.startswith(("./", "../")) or candidate.exists():
        return str(candidate.resolve())
    return value


def missing_paths(values: dict[str, Any], declared: dict[str, Any]) -> list[str]:
    """Text parameters that name a file or folder (absolute, after resolve_paths) that does not
    exist: caught before a run starts instead of in the middle of a notebook."""
    return [f"-p {name}={value}: no such file or folder" for name, value in values.items()
            if isinstance(value, str) and isinstance(declared.get(name), str) and os.path.isabs(value)
            and not Path(value).exists()]
