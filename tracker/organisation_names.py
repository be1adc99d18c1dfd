"""Normalising organisation names and reading the one curated alias file.

Pure functions with no Dagster in them, so the matching rules are tested directly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tracker.declaration_files import DeclarationError, parse_declaration, section

ALIAS_FILE = "organisation_aliases.yaml"
INTERNAL = "internal"

# 'Name - ABBR', 'Name – ABBR', 'Name (ABBR)': the abbreviation is in capitals.
_ABBREVIATION_SUFFIX = re.compile(
    r"^(?P<base>.+?)\s*(?:\s[-–—:]\s*(?P<a1>[A-Z][A-Za-z&]{1,9})|\((?P<a2>[A-Z][A-Za-z&]{1,9})\))\s*$"
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": "-"})
_HM = re.compile(r"\b(?:her|his) majesty s\b")


_NOT_LETTERS_OR_DIGITS = re.compile(r"[^a-z0-9]+")


def normalise(name: str) -> str:
    """A comparison key: case, accents, punctuation, '&'/'and', 'Her Majesty's'/'HM' folded."""
    text = str(name).translate(_QUOTES)
    if not text.isascii():  # accents folded, then anything without an ASCII form dropped
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # every run of anything but letters and digits (quotes and backticks included) one space: so no two spaces are
    # left to fold afterwards (180,000 names a national build, each once)
    text = _NOT_LETTERS_OR_DIGITS.sub(" ", text.lower().replace("&", " and ")).strip()
    text = _HM.sub("hm", text)
    return text[4:].strip() if text.startswith("the ") else text


def name_variants(name: str) -> list[tuple[str, str]]:
    """The keys to try for a published name, most specific first, with how each was made.

    'Driver and Vehicle Standards Agency – DVSA' also tries 'Driver and Vehicle
    Standards Agency' and the abbreviation 'DVSA'.
    """
    variants = [(normalise(name), "name")]
    match = _ABBREVIATION_SUFFIX.match(str(name).strip())
    if match:
        variants.append((normalise(match["base"]), "name without abbreviation"))
        variants.append((normalise(match["a1"] or match["a2"]), "abbreviation"))
    if " " not in variants[0][0]:
        variants.append((variants[0][0], "abbreviation"))  # 'DVLA', 'Defra': the name is an abbreviation
    return [(key, how) for key, how in variants if key]


@dataclass
class OrganisationAliases:
    """The content of data/organisation_aliases.yaml."""

    successors: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # normalised name -> slug
    name_patterns: list[tuple[re.Pattern, str]] = field(default_factory=list)
    outside_govuk: dict[str, list[re.Pattern]] = field(default_factory=dict)
    one_login_clients: dict[str, str] = field(default_factory=dict)
    one_login_prefixes: dict[str, str] = field(default_factory=dict)
    one_login_hosts: dict[str, str] = field(default_factory=dict)
    api_catalogue_providers: dict[str, str] = field(default_factory=dict)  # earlier id -> id now

    def api_provider_key(self, provider: str) -> str:
        """The id that identifies an API catalogue provider across every version of the catalogue."""
        key = provider.strip().lower()
        return self.api_catalogue_providers.get(key, key)

    def slugs(self) -> set[str]:
        """Every organisation slug the file names (to check each one exists)."""
        values = [
            *self.successors.values(),
            *self.names.values(),
            *(slug for _, slug in self.name_patterns),
            *self.one_login_clients.values(),
            *self.one_login_prefixes.values(),
            *self.one_login_hosts.values(),
        ]
        return {v for v in values if v != INTERNAL}

    def alias_for(self, name: str) -> str | None:
        """The curated slug for a published name, by exact entry or by pattern."""
        key = normalise(name)
        if key in self.names:
            return self.names[key]
        for pattern, slug in self.name_patterns:
            if pattern.search(key):
                return slug
        return None

    def outside_category(self, name: str) -> str | None:
        key = normalise(name)
        for category, patterns in self.outside_govuk.items():
            if any(p.search(key) for p in patterns):
                return category
        return None


def load_aliases(data_dir: Path) -> OrganisationAliases:
    return parse_aliases((Path(data_dir) / ALIAS_FILE).read_bytes())


def parse_aliases(content: bytes) -> OrganisationAliases:
    """The alias file's bytes as read; DeclarationError, in words, when it cannot be used."""
    shown = f"data/{ALIAS_FILE}"
    raw = parse_declaration(content, shown)
    one_login = section(raw, "one_login", shown)
    try:
        return OrganisationAliases(
            successors=dict(section(raw, "successors", shown)),
            names={normalise(str(k)): v for k, v in section(raw, "names", shown).items()},
            name_patterns=[(re.compile(p), slug) for p, slug in section(raw, "name_patterns", shown).items()],
            outside_govuk={
                category: [re.compile(p) for p in (patterns or [])]
                for category, patterns in section(raw, "outside_govuk", shown).items()
            },
            one_login_clients=dict(section(one_login, "clients", f"{shown}: one_login")),
            one_login_prefixes=dict(section(one_login, "key_prefixes", f"{shown}: one_login")),
            one_login_hosts=dict(section(one_login, "hosts", f"{shown}: one_login")),
            api_catalogue_providers={str(k).lower(): v
                                     for k, v in section(raw, "api_catalogue_providers", shown).items()},
        )
    except re.error as err:
        raise DeclarationError(f"{shown}: the pattern {err.pattern!r} is not a regular expression ({err.msg}): "
                               "correct it.") from None
    except (TypeError, AttributeError):
        raise DeclarationError(f"{shown}: a section holds something other than names and values: compare it "
                               "with the file in git.") from None
