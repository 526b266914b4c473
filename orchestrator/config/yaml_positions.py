"""YAML text → a `Document` that knows the line and column of every key.

PyYAML only keeps positions for syntax errors, so the text is composed into nodes first
and every key's position is kept; a schema error can then say `configs/jobs.yaml:12:5:
jobs.xgb.retires: unknown key; did you mean 'retries'?` instead of just "invalid config".
The same pass over the nodes refuses what PyYAML would build silently or forever, and
resolves merge keys the way YAML defines them.
"""

from __future__ import annotations

import re

import yaml

from orchestrator.config.document import (
    TOP_LEVEL,
    Document,
    KeyPath,
    Position,
    is_known_top_level,
)
from orchestrator.errors import ConfigError, did_you_mean


def parse(path: str, text: str) -> Document:
    """The file's data and each key's position; any YAML error names its line."""
    # libyaml's loader when present: the pure-Python one is far slower on a large config.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        # Composing is linear in the file's size (an alias is the anchor's node, shared);
        # the walk checks keys and bounds aliases before anything is built from the nodes.
        node = loader.get_single_node()
        positions = _Walk(path).document(node) if node is not None else {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            path,
            f"invalid YAML: {problem}",
            line=mark.line + 1 if mark else 1,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"invalid YAML: {exc}", line=1) from None
    finally:
        loader.dispose()
    return Document(path, data, positions)


#: Nodes aliases may add to a document beyond those written in it. A config reuses a few
#: blocks; "billion laughs" (nine nested aliases in 500 bytes) expands to 10⁹ nodes, which
#: PyYAML would happily build, and every later walk over the values would take minutes.
ALIAS_BUDGET = 100_000
#: Deeper than any key of the schema (`jobs.x.sweep.params.p.float.0` is 6 levels).
MAX_DEPTH = 32
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
#: Plain scalars YAML 1.2 (GitHub, editors' YAML servers) reads as numbers where PyYAML's
#: YAML 1.1 reads text: `1e3`, `0o17`. (YAML 1.1's `y`/`n` booleans are left as text, as
#: PyYAML and YAML 1.2 both read them: `x`, `y`, `z` are fine job names.)
_NUMBER_ELSEWHERE = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


class _Walk:
    """One pass over the composed nodes, before any value is built from them.

    Records where every key is, refuses what PyYAML would build silently or forever
    (duplicate keys, a recursive alias, aliases expanding past `ALIAS_BUDGET`, job ids
    that are not text), and follows YAML merge keys (`<<: *base`, `<<: [*a, *b]`) so a
    key set next to a merge overrides the merged one instead of being a duplicate.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.positions: dict[KeyPath, Position] = {}
        self.budget = ALIAS_BUDGET
        self.seen: set[int] = set()
        self.open: set[int] = set()  # nodes being walked: meeting one again is a cycle

    def document(self, node: yaml.Node) -> dict[KeyPath, Position]:
        if isinstance(node, yaml.MappingNode):
            # Before any value is walked: a typo'd top-level key of a hostile file costs
            # nothing, whatever its value holds.
            for key_node, _ in node.value:
                name = self._key(key_node, ())
                if not is_known_top_level(name) and key_node.tag != MERGE_TAG:
                    raise self._error(
                        key_node, (name,), "unknown top-level key", did_you_mean(name, TOP_LEVEL)
                    )
        self._node(node, (), ((), node.start_mark))
        return self.positions

    def _node(self, node: yaml.Node, keys: KeyPath, key: tuple[KeyPath, yaml.Mark]) -> None:
        """Walk `node`, found at `keys`; `key` is the nearest mapping key above it, which
        errors name: an alias's own place is not kept, and a list item's mark is its
        anchor's, possibly far away."""
        if id(node) in self.open:
            raise self._at(key, "a recursive alias (an anchor used inside itself)")
        if id(node) in self.seen:
            self.budget -= 1
            if self.budget < 0:
                raise self._at(key, f"aliases expand this file past {ALIAS_BUDGET:,} values")
        self.seen.add(id(node))
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return
        if len(keys) > MAX_DEPTH:
            raise self._at(key, f"nested more than {MAX_DEPTH} levels deep")
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, keys)
        else:
            for index, item in enumerate(node.value):
                item_keys = (*keys, str(index))
                self.positions[item_keys] = _position(item.start_mark)
                self._node(item, item_keys, key)
        self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, keys: KeyPath) -> None:
        own: dict[str, Position] = {}
        explicit: list[tuple[yaml.Node, yaml.Node]] = []
        merge: tuple[yaml.Node, yaml.Node] | None = None
        for key_node, value_node in node.value:
            name = "<<" if key_node.tag == MERGE_TAG else self._key(key_node, keys)
            if name in own:
                raise self._error(
                    key_node,
                    (*keys, name),
                    f"duplicate key (first defined on line {own[name].line})",
                )
            own[name] = _position(key_node.start_mark)
            if key_node.tag == MERGE_TAG:
                merge = (key_node, value_node)
            else:
                explicit.append((key_node, value_node))
        if merge is not None:
            inherited = self._merged(*merge, keys)
            # Built here, not by PyYAML: its merge (6.0.3+) lets a later `<<: [*a, *b]`
            # source win, where YAML says the earlier one does.
            node.value = [pair for name, pair in inherited.items() if name not in own]
            node.value += explicit
        for key_node, value_node in explicit:
            key_keys = (*keys, str(key_node.value))
            self.positions[key_keys] = own[str(key_node.value)]
            self._node(value_node, key_keys, (key_keys, key_node.start_mark))

    def _merged(
        self, key_node: yaml.Node, value_node: yaml.Node, keys: KeyPath
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The pairs `<<:` brings in, by key; of several sources, the first one wins."""
        sources = self._merge_sources(key_node, value_node, keys)
        for source in reversed(sources):  # the first source's positions recorded last
            self._node(source, keys, ((*keys, "<<"), key_node.start_mark))
        inherited: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for source in sources:
            for pair in source.value:  # flattened by the walk: its own merges are resolved
                inherited.setdefault(str(pair[0].value), pair)
        return inherited

    def _merge_sources(
        self, key_node: yaml.Node, value_node: yaml.Node, keys: KeyPath
    ) -> list[yaml.MappingNode]:
        """What `<<:` merges, first one winning (as YAML's merge key defines it)."""
        if isinstance(value_node, yaml.MappingNode):
            return [value_node]
        if isinstance(value_node, yaml.SequenceNode) and all(
            isinstance(item, yaml.MappingNode) for item in value_node.value
        ):
            return list(value_node.value)
        raise self._error(
            key_node, (*keys, "<<"), "'<<' merges a mapping or a list of mappings (*anchors)"
        )

    def _key(self, key_node: yaml.Node, keys: KeyPath) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            raise self._error(key_node, keys, "a key must be a plain value, not a list or mapping")
        name = str(key_node.value)
        if keys == ("jobs",):
            self._job_id(key_node, name)
        return name

    def _job_id(self, key_node: yaml.ScalarNode, name: str) -> None:
        """A job id is text: `yes`, `null`, `1e3`, `0x10` would be a bool, None or a number
        to some YAML reader; guessing the text back is how `0x10` becomes `16`."""
        plain = not key_node.style  # libyaml says "", PyYAML None
        if key_node.tag != STR_TAG:
            kind = key_node.tag.rsplit(":", 1)[-1]
        elif plain and _NUMBER_ELSEWHERE.fullmatch(name):
            kind = "a number (YAML 1.2)"
        else:
            return
        raise self._error(
            key_node,
            ("jobs", name),
            f"YAML reads this job id as {kind}, not text",
            f'quote it: "{name}"',
        )

    def _error(
        self, key_node: yaml.Node, keys: KeyPath, message: str, hint: str | None = None
    ) -> ConfigError:
        return self._at((keys, key_node.start_mark), message, hint)

    def _at(
        self, key: tuple[KeyPath, yaml.Mark], message: str, hint: str | None = None
    ) -> ConfigError:
        keys, mark = key
        return ConfigError(
            self.path,
            message,
            line=mark.line + 1,
            column=mark.column + 1,
            key=".".join(keys) or None,
            hint=hint,
        )


def _position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)
