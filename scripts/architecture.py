"""Write the generated parts of docs/ARCHITECTURE.md from the package itself.

Between ``<!-- generated: KEY -->`` and ``<!-- end generated: KEY -->`` markers:

- ``layers``: the layer contract of pyproject.toml (top to bottom), each package's first
  docstring line beside it;
- ``modules``: every module of report_lib and its docstring's first paragraph;
- ``signature MODULE:NAME``: a function's signature as the code declares it.

    python scripts/architecture.py           # rewrite docs/ARCHITECTURE.md
    python scripts/architecture.py --check   # exit 1 when the committed file differs
"""

from __future__ import annotations

import argparse
import ast
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "report_lib"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
BLOCK = re.compile(r"(<!-- generated: (?P<key>[^>]+?) -->\n)(?P<body>.*?)(<!-- end generated: "
                   r"(?P=key) -->)", re.S)


def module_names() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return sorted(out, key=lambda item: item[0].split("."))


def docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split()).replace("|", "\\|")


def first_line(text: str) -> str:
    return first_paragraph(text).split(". ")[0].rstrip(".") + "."


def modules_table() -> str:
    rows = ["| module | holds |", "|---|---|"]
    rows += [f"| `{name}` | {first_paragraph(docstring(path))} |" for name, path in module_names()]
    return "\n".join(rows) + "\n"


def layer_contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract: dict[str, Any] = config["tool"]["importlinter"]["contracts"][0]
    return contract


def layer_chain() -> str:
    """The layers in one line, as README's "Project layout" gives them."""
    return " > ".join(" | ".join(f"`{n.strip().removeprefix('report_lib.')}`"
                                 for n in layer.split("|"))
                      for layer in layer_contract()["layers"])


def layers_table() -> str:
    contract = layer_contract()
    paths = dict(module_names())
    rows = [f"Layers of `{contract['name']}` (pyproject.toml), top to bottom; `|`: independent "
            "siblings.", "", "| layer | holds |", "|---|---|"]
    for layer in contract["layers"]:
        names = [n.strip() for n in layer.split("|")]
        short = " \\| ".join(f"`{n.removeprefix('report_lib.')}`" for n in names)
        about = " / ".join(first_line(docstring(paths[n])) for n in names if n in paths)
        rows.append(f"| {short} | {about} |")
    return "\n".join(rows) + "\n"


def signature(target: str) -> str:
    """A function's signature as written in its module (annotations and defaults unevaluated)."""
    module, name = target.split(":")
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    funcs = [n for n in tree.body
             if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name]
    if not funcs:
        raise SystemExit(f"{DOC}: no function {name} in {module}")
    func = funcs[0]
    args = func.args

    def one(arg: ast.arg, default: ast.expr | None) -> str:
        text = arg.arg + (f": {ast.unparse(arg.annotation)}" if arg.annotation else "")
        if default is not None:
            text += f" = {ast.unparse(default)}" if arg.annotation else f"={ast.unparse(default)}"
        return text

    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [one(a, d) for a, d in zip(positional, defaults, strict=True)]
    if args.vararg:
        params.append("*" + one(args.vararg, None))
    elif args.kwonlyargs:
        params.append("*")
    params += [one(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg:
        params.append("**" + one(args.kwarg, None))
    returns = f" -> {ast.unparse(func.returns)}" if func.returns else ""
    prefix = "async def" if isinstance(func, ast.AsyncFunctionDef) else "def"
    body = "".join(f"    {p},\n" for p in params)
    return f"```python\n{prefix} {name}(\n{body}){returns}\n```\n"


def generate(text: str) -> str:
    def body(match: re.Match[str]) -> str:
        key = match["key"]
        if key == "modules":
            new = modules_table()
        elif key == "layers":
            new = layers_table()
        elif key.startswith("signature "):
            new = signature(key.removeprefix("signature ").strip())
        else:
            raise SystemExit(f"{DOC}: unknown generated block {key!r}")
        return match.group(1) + new + match.group(4)

    return BLOCK.sub(body, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    ns = parser.parse_args(argv)
    old = DOC.read_text(encoding="utf-8")
    new = generate(old)
    if ns.check:
        if new != old:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/architecture.py")
            return 1
        return 0
    if new != old:
        DOC.write_text(new, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
