"""Strict YAML at the edge: duplicate keys refused, alias expansion bounded, numbers keep their text.

    data = strict_load(text, file="household.yaml")     # ConfigError names the file, line and fix

Why each rule:

* A duplicate key (``cash: 8000`` then ``cash: 99999999``) is refused at any depth; PyYAML would keep the last.
* Aliases are bounded (the "billion laughs" file): at most ``MAX_ALIASES`` alias uses and ``MAX_NODES`` nodes
  once every alias is expanded, and no alias may contain itself. A 1.5 KB file cannot become 36 MB of data.
* A float keeps the text it was written with (``YamlFloat.text``), so money and shares can be read as the exact
  ``Decimal`` of that text (``25.0000000000000000000001`` is not 25) while every other field still sees a float.
* An impossible timestamp (``2021-02-30``) stays text, so the schema reports it with its field path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import ConfigError

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_NODES", "StrictLoader", "YamlFloat", "strict_load"]

#: Alias uses allowed in one document (the shipped files use none; a few dozen is generous).
MAX_ALIASES = 100
#: Nodes allowed once every alias is expanded (the largest shipped file has about 1,000).
MAX_NODES = 200_000
#: Bytes allowed in one YAML file (the largest shipped file is about 6 KB).
MAX_BYTES = 5_000_000


class YamlFloat(float):
    """A YAML float that remembers its source text (``text``), so money can be read exactly from it."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (YamlFloat, (float(self), self.text))


# A YamlFloat that travels on (an event's details) is written back as the float it is.
yaml.SafeDumper.add_representer(YamlFloat, yaml.representer.SafeRepresenter.represent_float)
yaml.Dumper.add_representer(YamlFloat, yaml.representer.SafeRepresenter.represent_float)


def _where(node: Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with duplicate keys refused, exact float text kept and bad timestamps left as text."""

    def __init__(self, stream: Any, file: str | None = None) -> None:
        super().__init__(stream)
        self.file = file

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (ConstructorError, TypeError):
                    continue  # the base class reports an unhashable key with its mark
                if key in seen:
                    raise ConfigError(
                        f"duplicate key {key!r} at {_where(key_node)} (first at {_where(seen[key])}); "
                        "YAML would silently keep only the last one",
                        file=self.file,
                        field=str(key),
                        fix="keep one of the two entries",
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        return YamlFloat(value, str(node.value))

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return str(node.value)  # an impossible date: the schema names the field


StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)


def _construct_map(loader: StrictLoader, node: Node) -> Iterator[dict[Any, Any]]:
    """The base map constructor, registered on this loader's own table (it calls the checking construct_mapping)."""
    return loader.construct_yaml_map(node)


StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class _AliasCounter(StrictLoader):
    """Counts alias events while composing (the composer shares the node; expansion happens later)."""

    def __init__(self, stream: Any, file: str | None = None) -> None:
        super().__init__(stream, file)
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                event = self.peek_event()
                raise ConfigError(
                    f"more than {MAX_ALIASES} alias uses (*name) at line {event.start_mark.line + 1}; "
                    "alias expansion is bounded so a small file cannot grow into gigabytes",
                    file=self.file,
                    fix="write the values out, or use fewer anchors and aliases",
                )
        return super().compose_node(parent, index)


def _expanded_size(root: Node, file: str | None) -> int:
    """Nodes once aliases are expanded, memoised per node; a node inside itself is refused."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(
                f"an alias refers to a node that contains it (at {_where(node)}); the data would be infinite",
                file=file,
                fix="remove the self-referencing alias",
            )
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for child in node.value:
                total += size(child)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
        active.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            raise ConfigError(
                f"the document expands to more than {MAX_NODES:,} values through aliases (at {_where(node)})",
                file=file,
                fix="write the values out, or use fewer anchors and aliases",
            )
        return total

    return size(root)


def strict_load(text: str, *, file: str | None = None) -> Any:
    """Parse one YAML document strictly (see the module doc); every failure is a ``ConfigError``."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            f"the file is {len(text):,} characters; YAML configuration is limited to {MAX_BYTES:,}",
            file=file,
            fix="check that this is the intended file",
        )
    loader: _AliasCounter | None = None
    try:
        loader = _AliasCounter(text, file)  # the reader refuses control characters here already
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, file)
        return loader.construct_document(node)
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"broken YAML{where}: {problem}", file=file, fix="fix the YAML syntax there") from exc
    except RecursionError as exc:
        raise ConfigError("the YAML nests too deeply", file=file, fix="flatten the structure") from exc
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"unreadable YAML value: {exc}", file=file, fix="fix the value there") from exc
    finally:
        if loader is not None:
            loader.dispose()
