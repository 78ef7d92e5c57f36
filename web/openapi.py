"""The OpenAPI document of /api/v1, assembled from the YAML fragments in web/openapi/.

Each API area keeps its own fragment (web/openapi/<area>.yaml): a mapping with `paths:`
and optionally `components:` (`schemas`, `parameters`, `responses`). base.yaml comes
first and holds the document's head (openapi, info, servers, security schemes) and the
shared parts: the `Error` schema and the error responses every area refers to. A path,
or a component name, defined in two fragments is an error naming both files, so one
area cannot quietly replace another's.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent / "openapi"
BASE = "base.yaml"
# The parts of a fragment that are merged name by name; every other key is base's only.
MERGED = ("paths",)
COMPONENT_PARTS = ("schemas", "parameters", "responses", "requestBodies", "headers")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class FragmentError(ValueError):
    """Two fragments define the same thing, or a fragment is not a mapping of parts."""


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise FragmentError(f"{path.name}: an OpenAPI fragment must be a mapping")
    return data


def merge(fragments: list[tuple[str, dict]]) -> dict:
    """Merge (file name, fragment) pairs, the first being base; refuse duplicates."""
    (base_name, base), *others = fragments
    doc = copy.deepcopy(base)
    doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    owner = {("paths", p): base_name for p in doc["paths"]}
    for part in COMPONENT_PARTS:
        for name in components.get(part, {}) or {}:
            owner[(part, name)] = base_name
    for name, fragment in others:
        extra = set(fragment) - {"paths", "components"}
        if extra:
            raise FragmentError(
                f"{name}: only base.yaml may set {', '.join(sorted(extra))}; "
                "a fragment holds paths and components"
            )
        for path, item in (fragment.get("paths") or {}).items():
            if ("paths", path) in owner:
                raise FragmentError(
                    f"path {path} is defined in both {owner['paths', path]} and {name}"
                )
            owner["paths", path] = name
            doc["paths"][path] = copy.deepcopy(item)
        for part, entries in (fragment.get("components") or {}).items():
            if part not in COMPONENT_PARTS:
                raise FragmentError(f"{name}: unknown components part {part}")
            target = components.setdefault(part, {})
            for entry, value in (entries or {}).items():
                if (part, entry) in owner:
                    raise FragmentError(
                        f"{part} {entry} is defined in both {owner[part, entry]} and {name}"
                    )
                owner[part, entry] = name
                target[entry] = copy.deepcopy(value)
    return doc


def fragment_files(folder: Path = FOLDER) -> list[Path]:
    """Return base.yaml, then every other fragment sorted by name."""
    others = sorted(p for p in folder.glob("*.yaml") if p.name != BASE)
    return [folder / BASE, *others]


def build(folder: Path = FOLDER) -> dict:
    return merge([(p.name, _load(p)) for p in fragment_files(folder)])


@functools.cache
def _cached() -> dict:
    return build()


def document() -> dict:
    """Return the whole OpenAPI document (a fresh copy of the cached one)."""
    return copy.deepcopy(_cached())


def operations(doc: dict | None = None) -> list[dict]:
    """Return every operation as {method, path, tag, operation}, in document order."""
    doc = doc if doc is not None else _cached()
    found = []
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                op = item[method]
                found.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "tag": (op.get("tags") or ["other"])[0],
                        "operation": op,
                        "parameters": [
                            resolve(doc, p)
                            for p in (item.get("parameters") or []) + (op.get("parameters") or [])
                        ],
                    }
                )
    return found


def resolve(doc: dict, node: dict) -> dict:
    """Follow a local `$ref` ("#/components/...") to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node
