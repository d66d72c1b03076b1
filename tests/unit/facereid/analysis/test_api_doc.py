"""docs/api.md is the contract users read: it must name every error code the code can answer."""

from __future__ import annotations

from pathlib import Path

from facereid import errors
from facereid.web import contract

API_DOC = Path(__file__).resolve().parents[4] / "docs" / "api.md"


def _codes(cls: type[errors.FaceReIDError]) -> set[str]:
    """Codes of the library's errors (the models CLI's own errors never reach HTTP)."""
    own = {cls.code} if cls.__module__.startswith("facereid.") else set()
    return own.union(*(_codes(sub) for sub in cls.__subclasses__()))


def test_every_error_code_is_documented() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    codes = _codes(errors.FaceReIDError) | set(contract._STATUS_CODES.values())
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"docs/api.md lacks error codes: {missing}"


def test_doc_links_stay_inside_the_repo() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    assert "../shared" not in text and "SPEC.md" not in text
