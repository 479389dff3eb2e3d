"""The README and the manual in docs/: every relative link resolves, to a file and to a heading; the README
stays a front page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prep.train.config import format_value, options

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 300

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text without markup, lowercased, punctuation other than - and _
    dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2, ... for repeated headings."""
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(page: Path) -> list[str]:
    """The targets of the page's Markdown links and images, outside code."""
    targets = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        targets += LINK.findall(INLINE_CODE.sub("", line))
    return targets


def test_the_readme_links_every_page_of_the_manual():
    """The front page leads to each page of docs/ (and there are pages, for the checks below to read)."""
    readme = REPO / "README.md"
    linked = {(REPO / t.partition("#")[0]).resolve() for t in links(readme) if not EXTERNAL.match(t)}
    manual = set(PAGES) - {readme}
    assert manual, "no pages in docs/"
    assert not manual - linked, f"README.md links to no {sorted(p.name for p in manual - linked)}"


def test_the_slug_follows_github():
    assert slug("`mmprep eval RUN_DIR`") == "mmprep-eval-run_dir"
    assert slug("1. Placeholders for a missing description") == "1-placeholders-for-a-missing-description"
    assert slug("Training data: `PoseDataset`, `collate`") == "training-data-posedataset-collate"
    assert slug("`mmprep export --format pose|h5`") == "mmprep-export---format-poseh5"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path):
    problems = []
    for target in links(page):
        if EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.relative_to(REPO)}: ({target})"
        if not resolved.exists():
            problems.append(f"{where}: {path_part} does not exist")
            continue
        if not resolved.is_relative_to(REPO):
            problems.append(f"{where}: points outside the repository")
            continue
        if anchor:
            if resolved.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(resolved):
                problems.append(f"{where}: no heading with the anchor #{anchor} in {resolved.relative_to(REPO)}")
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


# ---------------------------------------------------------------------------------------------- defaults
# Every default the pages name beside a `mmprep train` option must be the schema's (schemas/train-config.schema.json).
# A claim is one of these (VALUE in the same inline code as the flag, or in its own just after it):
#   `--flag VALUE` (default) | `--flag VALUE`, the default | `--a X --b Y` (the defaults)
#   `--flag` ... (default VALUE) | (default: VALUE)          `--flag` (NUMBER)
#   `--flag` ..., on by default | off by default            `--flag` ...: `VALUE` (default)
#   a table whose first header cell is `--flag`, a row whose first cell is `VALUE` (default)
#   a line of a code block ending in "# the defaults": every `--flag VALUE` on it
# An option whose schema default is null (computed: `--lr`, `--store`, ...) has no value a page could name; the
# generated table of docs/train.md is the schema itself.
SCHEMA_OPTIONS = {"--" + name.replace("_", "-"): spec for name, spec in options().items()}
GENERATED = re.compile(r"<!-- train-options:start -->.*?<!-- train-options:end -->", re.DOTALL)
CODE_FLAGS = re.compile(r"`(--[a-z][a-z-]*(?: [^`\s]+)?(?: --[a-z][a-z-]*(?: [^`\s]+)?)*)`")
FLAG_VALUE = re.compile(r"(--[a-z][a-z-]*)(?: ([^\s-]\S*|-[0-9]\S*))?")
METAVAR = re.compile(r"^[A-Z][A-Z0-9_]*$")  # `--word-dropout R`: a name for the value, not a value
SAID_DEFAULT = re.compile(r"^\s*(?:\((?:the )?defaults?\)|,\s*the defaults?\b)")
NEAR = 160  # characters after a flag within which "(default X)" or a `VALUE` (default) still belongs to it
SENTENCE_END = re.compile(r"[.;]\s|\n\n")
NAMED_DEFAULT = re.compile(r"\(default:? ([^;,)\s]+)|\b(on|off) by default\b")
PAREN_NUMBER = re.compile(r"^ \(([-+]?[0-9][0-9.e+-]*)\)")
VALUE_DEFAULT = re.compile(r"`([^`-][^`]*)`\s*(?:\(default\)|, the default\b)")
TABLE_HEADER = re.compile(r"^\|\s*`(--[a-z][a-z-]*)`\s*\|")
TABLE_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\(default\)\s*\|")


def flag_values(text: str) -> list[tuple[str, str]]:
    """``--a X --b --c Y`` -> [("--a", "X"), ("--b", ""), ("--c", "Y")]; a metavar is no value."""
    return [(flag, "" if METAVAR.match(value) else value) for flag, value in FLAG_VALUE.findall(text)]


def default_claims(text: str) -> list[tuple[str, str, str]]:
    """(flag, value, where) for every default the text names beside an option; where is the text around it."""
    text = GENERATED.sub("", text)
    claims: list[tuple[str, str, str]] = []
    fenced, table_flag = False, None
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
        elif fenced:
            if re.search(r"#\s*the defaults\s*$", line):
                claims += [(f, v, line) for f, v in flag_values(line.partition("#")[0]) if v]
        elif line.startswith("|"):
            table_flag = header.group(1) if (header := TABLE_HEADER.match(line)) else table_flag
            if table_flag and (row := TABLE_ROW.match(line)):
                claims.append((table_flag, row.group(1), line))
        else:
            table_flag = None
    lines = prose_lines(text)
    tables = [line for line in lines if line.startswith("|")]  # a table's cells are read apart from the prose
    for part in ([line for line in lines if not line.startswith("|")], tables):
        claims += inline_claims("\n".join(part))
    return claims


def inline_claims(text: str) -> list[tuple[str, str, str]]:
    """The claims of prose: a flag in inline code, and what follows it in its clause."""
    claims = []
    for match in CODE_FLAGS.finditer(text):
        pairs = flag_values(match.group(1))
        after = text[match.end() : match.end() + NEAR]
        where = text[max(0, match.start() - 20) : match.end() + 40].replace("\n", " ")
        if SAID_DEFAULT.match(after):
            claims += [(flag, value, where) for flag, value in pairs if value]
            continue
        if len(pairs) != 1:
            continue
        flag, value = pairs[0]
        if not value and (number := PAREN_NUMBER.match(after)):
            claims.append((flag, number.group(1), where))
            continue
        clause = after[: end.start()] if (end := SENTENCE_END.search(after)) else after
        clause = clause.partition("`--")[0]  # another option's words from there on
        if named := NAMED_DEFAULT.search(clause):
            claims.append((flag, named.group(1) or {"on": "true", "off": "false"}[named.group(2)], where))
        elif not value and (shown := VALUE_DEFAULT.search(clause)):
            claims.append((flag, shown.group(1), where))
    return claims


def drifted(claims: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The claims about `mmprep train` options that are not the schema's default."""
    return [(flag, value, where) for flag, value, where in claims if flag in SCHEMA_OPTIONS
            and SCHEMA_OPTIONS[flag]["default"] is not None
            and not same_value(value, SCHEMA_OPTIONS[flag]["default"])]  # fmt: skip


def same_value(text: str, default) -> bool:
    if isinstance(default, bool):
        return text.lower() in (("true", "on") if default else ("false", "off"))
    if isinstance(default, (int, float)):
        try:
            return float(text) == float(default)
        except ValueError:
            return False
    return text == format_value(default)


def test_the_default_claims_are_found_and_checked():
    """The reader of the pages, on text whose claims are known: each pattern found, a wrong value reported."""
    page = "\n".join([
        "Fixed (`--text-dropout 0.3`, the default) or `--dropout-unit batch` (default) draws one coin.",
        "The stages: `--placeholder mask --text-dropout none` (the defaults).",
        "**Fusion** (`--fusion`, [§3](x.md#3)): `gate` (default) makes the text a step; `token` is the other.",
        "On the target side, `--word-dropout R` (default 0.5) hides words. `--ctc-weight` (default 1; 0 is off).",
        "A prior (`--text-prior`, off by default; beyond the design). Clip to `--mask-clip` (2.0) first.",
        "`--mask-lr-scale` × `--lr` (0.1×), and `--epochs 30` trains for a while; `--beam 4` (default) is eval's.",
        "`--store PATH` (default: `$MMPREP_STORE`); `--seed S` then (default 0).",
        "",
        "| `--placeholder` | id |",
        "|---|---|",
        "| `zero` (default) | A |",
        "",
        "```sh",
        "mmprep train --store s.zarr --epochs 7 --pose-stride 4   # the defaults",
        "mmprep train --epochs 8",
        "```",
        "<!-- train-options:start -->",
        "| `--epochs` | `3` |  | Epochs (default 3). |",
        "<!-- train-options:end -->",
    ])  # fmt: skip
    claims = default_claims(page)
    assert {(flag, value) for flag, value, _ in claims} == {
        ("--text-dropout", "0.3"), ("--dropout-unit", "batch"), ("--placeholder", "mask"), ("--text-dropout", "none"),
        ("--fusion", "gate"), ("--word-dropout", "0.5"), ("--ctc-weight", "1"), ("--text-prior", "false"),
        ("--mask-clip", "2.0"), ("--beam", "4"), ("--placeholder", "zero"), ("--store", "s.zarr"), ("--epochs", "7"),
        ("--pose-stride", "4"), ("--store", "`$MMPREP_STORE`"), ("--seed", "0"),
    }  # fmt: skip
    assert {flag for flag, _, _ in drifted(claims)} == {
        "--dropout-unit", "--placeholder", "--text-dropout", "--fusion", "--word-dropout", "--text-prior", "--mask-clip",
        "--epochs",
    }  # fmt: skip


def test_every_default_named_beside_an_option_is_the_schemas():
    problems, checked = [], set()
    for page in PAGES:
        claims = default_claims(page.read_text(encoding="utf-8"))
        checked |= {flag for flag, _, _ in claims}
        for flag, value, where in drifted(claims):
            default = format_value(SCHEMA_OPTIONS[flag]["default"])
            problems.append(f"{page.relative_to(REPO)}: {flag} {value}, but the schema's default is {default}: {where}")
    assert not problems, "\n".join(problems)
    # The pages' claims are still found (a reader that found none would pass on anything).
    assert {"--epochs", "--placeholder", "--text-dropout", "--fusion", "--word-dropout", "--text-prior"} <= checked


# ---------------------------------------------------------------------------------------------- citations
# What the code tells a reader (--help, terminal output, reports, schema descriptions) cites pages a reader can
# open: docs/PAGE.md#anchor, each resolving to a heading; never a section of the design spec the repository does
# not hold ("spec 5").
CODE_TEXT = [*sorted((REPO / "prep").rglob("*.py")), *sorted((REPO / "schemas").glob("*.json")),
             *sorted((REPO / "scripts").glob("*.py"))]  # fmt: skip
DOCS_REFERENCE = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
SPEC_CITATION = re.compile(r"\b[Ss]pec(?:'s)? (?:\d|sections?\b|strateg|missing)")


def test_the_code_cites_pages_that_exist_and_no_spec_sections():
    problems = []
    for path in CODE_TEXT:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO)
        problems += [f"{where}: cites {m.group(0)!r}" for m in SPEC_CITATION.finditer(text)]
        references = [(m.group(1), m.group(2)) for m in DOCS_REFERENCE.finditer(text)]
        if path.name == "train-config.schema.json":  # its "see" fields are relative to docs/
            references += [tuple(see.split("#")) for see in re.findall(r'"see": "([^"]+)"', text)]
        for page, anchor in references:
            if not (REPO / "docs" / page).exists():
                problems.append(f"{where}: docs/{page} does not exist")
            elif anchor and anchor not in anchors(REPO / "docs" / page):
                problems.append(f"{where}: no heading #{anchor} in docs/{page}")
    assert not problems, "\n".join(problems)


def test_the_help_says_what_the_code_does():
    from click.testing import CliRunner

    from prep.cli import main

    def help_of(command: str) -> str:
        result = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    train = help_of("train")
    assert "--fusion token, the default" in train and "missing-aware gate" not in train
    assert "What stands in for missing text" in train
    assert "See docs/missing-modality.md#1-placeholders-for-a-missing-description" in train
    epochs = train.split("Options:")[1].split("--epochs INTEGER")[1][:300]
    assert f"[default: {format_value(options()['epochs']['default'])}]" in epochs
    assert "SPLIT-MODE-beamN.json with --beam N above 1" in help_of("eval")
