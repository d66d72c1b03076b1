"""open_clip's SimpleTokenizer as a Hugging Face ``tokenizers`` tokenizer.json.

Built at export time from open_clip's own tokenizer object (its BPE vocabulary and merge
ranks, bpe_simple_vocab_16e6.txt.gz) and ftfy's own character tables, so the serving side
tokenises with the Rust library alone. Step by step, as SimpleTokenizer does:

1. ``basic_clean``: ftfy.fix_text (the parts that are per-character tables: C1 controls,
   Latin ligatures, full-width characters, curly quotes, control characters; then NFC),
   ``html.unescape`` twice (the five entities HTML-escaping produces);
2. ``whitespace_clean``: runs of Python whitespace (``str.split``) become one space, stripped;
   then lower case;
3. the regex split (``'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+``,
   only the matches kept), UTF-8 bytes to open_clip's byte-to-unicode alphabet (the same map
   as GPT-2's byte level), BPE with ``</w>`` on each word's last symbol;
4. ``<start_of_text>`` ... ``<end_of_text>``, truncated to the context length keeping the
   end token, padded with 0.

Not reproduced (documented in docs/clip_onnx.md): ftfy's mojibake repair (``fix_encoding``)
and HTML entities other than those five; emotion labels and prompts never carry them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SOT = "<start_of_text>"
EOT = "<end_of_text>"
PAD_ID = 0
SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
# html.unescape of what html.escape writes; "&amp;" last so "&amp;lt;" takes two passes.
HTML_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#x27;", "'"), ("&#39;", "'"))


def _python_whitespace() -> str:
    """A regex class of exactly the characters ``str.split()`` splits on."""
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in spaces) + "]+"


def _ftfy_table_normalizers() -> list[Any]:
    """ftfy.fix_text's per-character fixes, in its order (C1 controls, ligatures, width,
    quotes, control characters), as Replace normalizers built from ftfy's own tables."""
    import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252)
    from ftfy import chardata
    from tokenizers import Regex, normalizers

    # fix_c1_controls: a C1 control character is read as the Windows-1252 byte it was.
    table: dict[int, str] = {
        code: bytes([code]).decode("sloppy-windows-1252") for code in range(0x80, 0xA0)
    }
    for mapping in (chardata.LIGATURES, chardata.WIDTH_MAP):
        for code, text in mapping.items():
            table.setdefault(code, text)
    steps: list[Any] = [normalizers.Replace(chr(c), t) for c, t in sorted(table.items())]
    steps.append(normalizers.Replace(Regex(chardata.SINGLE_QUOTE_RE.pattern), "'"))
    steps.append(normalizers.Replace(Regex(chardata.DOUBLE_QUOTE_RE.pattern), '"'))
    removed = "".join(f"\\x{{{c:x}}}" for c in sorted(chardata.CONTROL_CHARS))
    steps.append(normalizers.Replace(Regex(f"[{removed}]"), ""))
    return steps


def build_tokenizer_json(context_length: int) -> str:
    """The tokenizer.json text for open_clip's default (SimpleTokenizer, ``clean='lower'``)."""
    from open_clip.tokenizer import SimpleTokenizer
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.processors import TemplateProcessing

    reference = SimpleTokenizer(context_length=context_length)
    vocab = dict(reference.encoder)
    merges = [pair for pair, _ in sorted(reference.bpe_ranks.items(), key=lambda kv: kv[1])]
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=merges, end_of_word_suffix="</w>"))
    html = [normalizers.Replace(entity, char) for entity, char in HTML_ENTITIES]
    html.append(normalizers.Replace("&amp;", "&"))
    tokenizer.normalizer = normalizers.Sequence(
        [
            *_ftfy_table_normalizers(),
            normalizers.NFC(),
            *html,
            *html,
            normalizers.Strip(),
            normalizers.Replace(Regex(_python_whitespace()), " "),
            normalizers.Strip(),
            normalizers.Lowercase(),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.BPEDecoder(suffix="</w>")
    # Matched after normalising, as SimpleTokenizer matches them in the cleaned text.
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=True) for t in (SOT, EOT)])
    sot, eot = vocab[SOT], vocab[EOT]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{SOT} $A {EOT}", special_tokens=[(SOT, sot), (EOT, eot)]
    )
    # Truncation counts the two special tokens: SOT + 75 + EOT, as open_clip cuts and then
    # puts EOT back in the last place.
    tokenizer.enable_truncation(max_length=context_length)
    tokenizer.enable_padding(length=context_length, pad_id=PAD_ID, pad_token="!")
    document: dict[str, Any] = json.loads(tokenizer.to_str())
    return json.dumps(document, ensure_ascii=False)


def special_ids() -> tuple[int, int]:
    """(start, end) token ids of open_clip's SimpleTokenizer."""
    from open_clip.tokenizer import SimpleTokenizer

    reference = SimpleTokenizer()
    return reference.sot_token_id, reference.eot_token_id
