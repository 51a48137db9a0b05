"""Every link into docs/derivations.md lands on one of its headings.

GitHub gives each Markdown heading an anchor (github-slugger): the heading's text, lowercased,
with every character dropped that is not a letter, a digit, a combining mark, ``_``, ``-`` or a
space, and each space turned into ``-``; a repeated anchor gets ``-1``, ``-2``, ...  Letters
outside ASCII, such as ``β``, are letters and stay.  A link whose anchor is not among them
opens the page at its top, silently, so only a test finds it.

The links are read from where a reader meets them: the package's source (docstrings, hints and
the exercise catalogue's ``anchor`` fields), README.md, docs/*.md, lessons/*.py, and the page's
own ``(#...)`` links.
"""
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

from tinyvae.course import catalogue

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "docs" / "derivations.md"
#: an anchor in a link: letters of any script, digits, _ and -, or %-escapes of them
LINK = re.compile(r"derivations\.md#([\w%-]+)")
INTERNAL = re.compile(r"\]\(#([\w%-]+)\)")


def github_slug(heading):
    """The anchor GitHub gives a heading's text (github-slugger, without the duplicate suffix)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)          # a link shows its text only
    kept = [c for c in text.strip().lower()
            if c in "-_ " or unicodedata.category(c)[0] in "LNM"]     # letters, numbers, marks
    return "".join(kept).replace(" ", "-")


def heading_anchors(markdown):
    """The anchors of every heading of a Markdown text, outside fenced code, with GitHub's
    ``-1``, ``-2`` suffixes for repeats."""
    anchors, seen, fenced = set(), {}, False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6} +(.+?) *#* *$", line)
        if fenced or not match:
            continue
        slug = github_slug(match.group(1))
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def broken_links(sources, anchors):
    """``[(where, anchor)]`` for every ``derivations.md#anchor`` in ``sources`` (name -> text)
    that is not among ``anchors``."""
    return [(name, unquote(a)) for name, text in sources.items()
            for a in LINK.findall(text) if unquote(a) not in anchors]


def reader_sources():
    """name -> text of every file a reader may follow a link to derivations.md from."""
    files = [*sorted((ROOT / "tinyvae").rglob("*.py")), ROOT / "README.md",
             *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "lessons").glob("*.py"))]
    return {str(f.relative_to(ROOT)): f.read_text(encoding="utf-8") for f in files}


ANCHORS = heading_anchors(DERIVATIONS.read_text(encoding="utf-8"))


# --- the slug rule ----------------------------------------------------------------------------
@pytest.mark.parametrize("heading, anchor", [
    # anchors GitHub gives these headings: each is the target of a contents link that works
    # on github.com, or the rule's documented examples
    ("Conventions", "conventions"),
    ("Sequential: the chain rule", "sequential-the-chain-rule"),
    ("The DAE's masking corruption", "the-daes-masking-corruption"),
    ("The KL divergence KL(q(z|x) || N(0, I))", "the-kl-divergence-klqzx--n0-i"),
    ("The reparameterization z = mu + std * eps", "the-reparameterization-z--mu--std--eps"),
    ("Adam, with the folded bias correction", "adam-with-the-folded-bias-correction"),
    ("The whole model: AE, DAE, VAE and beta-VAE", "the-whole-model-ae-dae-vae-and-beta-vae"),
    ("snake_case stays", "snake_case-stays"),
    # β is a letter: GitHub keeps it, so this heading is not reached by "#beta-tcvae-..."
    ("β-TCVAE: the gradient", "β-tcvae-the-gradient"),
])
def test_slug_is_githubs_anchor_of_the_heading(heading, anchor):
    assert github_slug(heading) == anchor


def test_a_repeated_heading_gets_githubs_numbered_anchor_and_code_is_no_heading():
    text = "# Notes\n## Notes\n```\n# a comment in a code block\n```\n### Notes\n"
    assert heading_anchors(text) == {"notes", "notes-1", "notes-2"}


# --- the check can fail -----------------------------------------------------------------------
def test_a_planted_broken_link_is_reported():
    # the slip issue 32 found: a heading written with β, linked as "beta"
    page = heading_anchors("## β-TCVAE: the gradient of the minibatch-weighted total correlation\n")
    sources = {"planted.md": "[ok](derivations.md#β-tcvae-the-gradient-of-the-minibatch-weighted-total-correlation) "
                             "[escaped](derivations.md#%CE%B2-tcvae-the-gradient-of-the-minibatch-weighted-total-correlation) "
                             "[broken](derivations.md#beta-tcvae-the-gradient-of-the-minibatch-weighted-total-correlation)"}
    assert broken_links(sources, page) == [
        ("planted.md", "beta-tcvae-the-gradient-of-the-minibatch-weighted-total-correlation")]
    # and a link to a section the real page does not have
    assert broken_links({"planted.py": "see docs/derivations.md#no-such-section"}, ANCHORS) == [
        ("planted.py", "no-such-section")]


# --- the real links ---------------------------------------------------------------------------
def test_the_links_are_found_where_readers_meet_them():
    # if the search found nothing, every other test here would pass by construction
    sources = reader_sources()
    assert any(LINK.search(text) for name, text in sources.items() if name.startswith("docs/"))
    assert any(LINK.search(text) for name, text in sources.items() if name == "README.md")
    assert len(INTERNAL.findall(DERIVATIONS.read_text(encoding="utf-8"))) >= 10


def test_every_derivations_link_in_the_package_readme_docs_and_lessons_resolves():
    assert broken_links(reader_sources(), ANCHORS) == []


def test_every_exercise_anchor_of_the_catalogue_resolves():
    # the catalogue keeps bare anchors and joins them to "docs/derivations.md#" in Exercise.where
    missing = [(ex.number, ex.anchor) for ex in catalogue.CATALOGUE if ex.anchor not in ANCHORS]
    assert missing == []
    assert all(LINK.fullmatch(ex.where.split("/")[-1]) for ex in catalogue.CATALOGUE)


def test_every_link_inside_derivations_md_resolves():
    text = DERIVATIONS.read_text(encoding="utf-8")
    missing = [unquote(a) for a in INTERNAL.findall(text) if unquote(a) not in ANCHORS]
    assert missing == []
