"""The exported tokenizer.json (HF ``tokenizers``) gives open_clip's SimpleTokenizer's ids."""

from __future__ import annotations

import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer
from tokenizers import Tokenizer

from facereid.emotion.crops import prompt_word
from facereid.emotion.scorer import DEFAULT_TEMPLATES
from models.clip_tokenizer import build_tokenizer_json

TEXTS = [
    "a photo of a happy face.",
    "Hello, World!",
    "  multiple   spaces\tand\nnewlines ",
    "café naïve résumé",
    "e\u0301cole (a combining accent, NFC)",
    "日本語のテキスト",
    "emoji 😀🎉 test",
    "“curly” ‘quotes’ ‟reversed‟ ʼmodifierʼ",
    "ﬁne ﬂow ligatures",
    "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ",
    "it's they're we've I'm you'll he'd",
    "IT'S LOUD, DON'T SHOUT",
    "numbers 12345 3.14 1,000,000",
    "&amp; &lt;b&gt; &quot;x&quot; &#39;y&#39; &amp;lt;",
    "",
    " ",
    "a" * 300,
    " ".join(["word"] * 100),
    "<start_of_text> inner <end_of_text>",
    "x\x00y\x07z control characters",
    "x\x1cy\x1fz\x85w C1 and separators",
    "tab\u00a0nbsp\u2003em\u3000ideographic",
    "Ünïcödé ÄÖÜß",
    "Привет мир",
    "مرحبا بالعالم",
    "שלום",
    "한국어 텍스트",
    "ελληνικά",
    "hindi हिन्दी",
    "punct!!! ??? ... ---",
    "a-b_c/d\\e",
    "@user #hashtag $100 50%",
    "C++ and C#",
    "\u200bzero\u200bwidth",
    "İstanbul",
    "straße",
    "mixed CASE Words",
    "line\u2028sep\u2029para",
    "rock'n'roll",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "ＡＢＣ１２３",
]


@pytest.fixture(scope="module")
def tokenizers_pair() -> tuple[Tokenizer, SimpleTokenizer]:
    return Tokenizer.from_str(build_tokenizer_json(77)), SimpleTokenizer(context_length=77)


def _emotion_prompts() -> list[str]:
    labels = ["happiness", "sadness", "anger", "surprise", "fear", "disgust", "neutral", "calm"]
    return [t.format(prompt_word(label)) for label in labels for t in DEFAULT_TEMPLATES]


@pytest.mark.parametrize("text", TEXTS + _emotion_prompts())
def test_token_ids_equal_open_clips(
    tokenizers_pair: tuple[Tokenizer, SimpleTokenizer], text: str
) -> None:
    exported, reference = tokenizers_pair
    expected: torch.Tensor = reference([text])[0]
    assert exported.encode(text).ids == expected.tolist()


def test_long_text_is_cut_to_the_context_keeping_the_end_token(
    tokenizers_pair: tuple[Tokenizer, SimpleTokenizer],
) -> None:
    exported, reference = tokenizers_pair
    ids = exported.encode("word " * 200).ids
    assert len(ids) == 77
    assert ids[0] == reference.sot_token_id and ids[-1] == reference.eot_token_id
    short = exported.encode("hi").ids
    assert short[:3] == [reference.sot_token_id, reference.encode("hi")[0], reference.eot_token_id]
    assert short[3:] == [0] * 74  # padded with 0


def test_the_end_token_is_the_largest_id(
    tokenizers_pair: tuple[Tokenizer, SimpleTokenizer],
) -> None:
    """The textual tower pools at text.argmax(): right only while <end_of_text> is the top id."""
    exported, reference = tokenizers_pair
    assert reference.eot_token_id == exported.get_vocab_size() - 1 == 49407
