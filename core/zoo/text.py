"""Multilingual text encoders (the word-attention lesson): DistilBERT multilingual, cased.

The real model is `distilbert/distilbert-base-multilingual-cased`: 6 Transformer encoder layers with
12 attention heads of 64 dimensions (768 in all), a cased WordPiece vocabulary of 119,547 pieces for
104 languages (Korean and English among them), about 540 MB in float32. Chosen because it is small
and quick on a 2-core CPU (6 layers, half of mBERT's), its WordPiece pieces are easy to read next to
the words ('##' marks a continuation), it keeps Hangul syllables whole (the uncased multilingual models
strip accents, which breaks every syllable into its letters), and transformers' DistilBERT returns its
attention weights with eager attention.

Every spec loads to a `TextEncoder` bundle: the eval-mode `DistilBertModel` with eager attention (the
fused SDPA/flash kernels compute the attention weights without handing them back) and its tokenizer.
The test zoo builds the same classes from a tiny config with random weights and a WordPiece
vocabulary learnt here, offline and the same every run, from a few Korean and English sentences.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.models import ModelSpec, WeightsMissing, hub_endpoint, hub_files_cached, register

ENCODER = "distilbert_multilingual"
REPO = "distilbert/distilbert-base-multilingual-cased"
APPROX_MB = 542

# The real configuration (config.json of the repository), written out so the bench can build the real
# architecture with random weights without a download: the compute does not depend on the weight values.
REAL_CONFIG = dict(
    vocab_size=119547, dim=768, n_layers=6, n_heads=12, hidden_dim=3072, max_position_embeddings=512,
    activation="gelu", dropout=0.1, attention_dropout=0.1, sinusoidal_pos_embds=False, pad_token_id=0,
    initializer_range=0.02, qa_dropout=0.1, seq_classif_dropout=0.2, tie_weights_=True, output_past=True,
    architectures=["DistilBertForMaskedLM"],
)
# The test zoo: the same classes, 2 layers of 4 heads of 8 dimensions.
TINY_CONFIG = dict(dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=128)
TINY_SEED = 0

# The repository's tokenizer_config.json. The tokenizer must not lower-case: DistilBertTokenizer does by
# default, and lower-casing also strips accents, which breaks every Hangul syllable into its letters.
TOKENIZER_CONFIG = {"do_lower_case": False, "model_max_length": 512}
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")  # [PAD] first: pad_token_id is 0

DESCRIPTION = {
    "ko": "DistilBERT 다국어(대소문자 구분): 104개 언어를 아는 6층 x 헤드 12개 인코더 (CPU에서도 빠름)",
    "en": "DistilBERT multilingual (cased): a 6-layer, 12-head encoder that knows 104 languages (fast on a CPU)",
}


@dataclasses.dataclass
class TextEncoder:
    """A loaded text encoder and its tokenizer."""

    name: str
    model: torch.nn.Module  # DistilBertModel in eval mode, eager attention
    tokenizer: Any  # DistilBertTokenizer: cased WordPiece, adds [CLS] ... [SEP]
    real_weights: bool  # False for the test zoo's random weights
    source: str

    @property
    def num_layers(self) -> int:
        return int(self.model.config.n_layers)

    @property
    def num_heads(self) -> int:
        return int(self.model.config.n_heads)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.dim)

    @property
    def max_positions(self) -> int:
        return int(self.model.config.max_position_embeddings)

    @property
    def attn_implementation(self) -> str:
        return str(getattr(self.model.config, "_attn_implementation", None) or "eager")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def word_embeddings(self, token_ids: list[int]) -> np.ndarray:
        """The learnt input vector of each token id (before position embeddings), tokens x hidden_size."""
        table = self.model.get_input_embeddings()
        with torch.inference_mode():
            ids = torch.as_tensor(token_ids, dtype=torch.long, device=table.weight.device)
            return table(ids).float().cpu().numpy()


def prepare_library() -> None:
    """Resolve transformers' lazily imported DistilBERT classes once, in the loader's one import thread
    (`core.models.import_heavy_libraries`): two request threads that trigger a lazy import at the same
    moment can see a half-imported module."""
    from transformers import (DistilBertConfig, DistilBertForMaskedLM, DistilBertModel,  # noqa: F401
                              DistilBertTokenizer)


def _finish(model: torch.nn.Module, device, dtype) -> torch.nn.Module:
    return model.eval().to(device=device, dtype=dtype).requires_grad_(False)


# ---------------------------------------------------------------- the real model

# The files the loader reads from the repository (a tuple: any one of them). The tokenizer's settings are
# passed in code (cased), so its tokenizer_config.json is read when present but not needed.
HUB_FILES = ("config.json", ("model.safetensors", "pytorch_model.bin"), ("tokenizer.json", "vocab.txt"))


def _is_cached() -> bool:
    return hub_files_cached(REPO, HUB_FILES)


def _load(device, dtype, download: bool) -> TextEncoder:
    from transformers import DistilBertModel, DistilBertTokenizer

    if not download and not _is_cached():
        raise WeightsMissing(f"{REPO} is not in the Hugging Face cache")
    try:
        # The checkpoint is a DistilBertForMaskedLM; the encoder alone is what attention needs (the
        # masked-word head's weights are left out, with transformers' note about unused weights).
        model = DistilBertModel.from_pretrained(REPO, attn_implementation="eager", local_files_only=not download)
        tokenizer = DistilBertTokenizer.from_pretrained(REPO, do_lower_case=False, local_files_only=not download)
    except (OSError, ValueError) as exc:  # huggingface_hub's LocalEntryNotFoundError is an OSError
        if download:
            raise
        raise WeightsMissing(f"{REPO}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else exc!r}") from exc
    return TextEncoder(ENCODER, _finish(model, device, dtype), tokenizer, True, f"Hugging Face {REPO}")


# ---------------------------------------------------------------- the test zoo: a WordPiece vocabulary learnt here

# Sentences the tiny tokenizer learns its word pieces from (Korean and English, the lesson's examples among them).
TINY_CORPUS = """
그 동물은 너무 피곤해서 길을 건너지 않았다.
The animal didn't cross the street because it was too tired.
고양이가 매트 위에 앉았다. 고양이는 피곤했다.
The cat sat on the mat. The cat was tired.
나는 오늘 학교에서 딥러닝을 배웠다.
I learned deep learning at school today.
어텐션은 문장 속 단어들이 서로를 얼마나 보는지 계산한다.
Attention computes how much the words of a sentence look at each other.
트랜스포머는 모든 단어를 한꺼번에 처리한다.
A Transformer processes every word at once.
인공지능 모델은 데이터에서 패턴을 학습한다.
A neural network learns patterns from data.
강아지가 공원에서 공을 쫓아 달렸다.
The dog ran after the ball in the park.
은행에 가서 돈을 찾았다. 강둑에 앉아 물을 보았다.
I went to the bank to get money. I sat on the river bank and watched the water.
서울은 한국의 수도이다. 우리는 한국어와 영어를 공부한다.
Seoul is the capital of Korea. We study Korean and English.
사과는 빨갛고 바나나는 노랗다.
The apple is red and the banana is yellow.
그녀는 책을 읽고 그는 음악을 들었다.
She read a book and he listened to music.
""".strip()

TINY_MERGES = 150  # learnt pieces: Korean splits into stems and particles, English into subwords


def hangul_syllables() -> list[str]:
    """The 2,350 Hangul syllables of KS X 1001 (the everyday ones): the tiny vocabulary knows each of them,
    alone and as a continuation piece, so any ordinary Korean sentence tokenizes without [UNK]."""
    found = []
    for high in range(0xB0, 0xC9):
        for low in range(0xA1, 0xFF):
            try:
                char = bytes([high, low]).decode("euc_kr")
            except UnicodeDecodeError:
                continue
            if "\uac00" <= char <= "\ud7a3":
                found.append(char)
    return found


def learn_pieces(words: dict[str, int], merges: int) -> list[str]:
    """WordPiece-style subword pieces by pair merging: every word starts as its characters ('##' before each
    one that continues the word); the most frequent neighbouring pair is merged into one piece, again and
    again. Ties go to the shorter, then alphabetically first pair, so the result is the same every run
    (the `tokenizers` trainer breaks ties in hash order, which changes from run to run)."""
    splits = {word: [word[0]] + ["##" + char for char in word[1:]] for word in words}
    learnt: list[str] = []
    for _ in range(merges):
        pairs: dict[tuple[str, str], int] = {}
        for word, count in words.items():
            pieces = splits[word]
            for pair in zip(pieces, pieces[1:]):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        (left, right), _ = min(pairs.items(), key=lambda item: (-item[1], len(item[0][0] + item[0][1]), item[0]))
        merged = left + right[2:]  # the right piece always continues a word: drop its '##'
        learnt.append(merged)
        for word, pieces in splits.items():
            joined, i = [], 0
            while i < len(pieces):
                if i + 1 < len(pieces) and pieces[i] == left and pieces[i + 1] == right:
                    joined.append(merged)
                    i += 2
                else:
                    joined.append(pieces[i])
                    i += 1
            splits[word] = joined
    return learnt


@functools.lru_cache(maxsize=1)
def tiny_vocab() -> tuple[str, ...]:
    """The test zoo's WordPiece vocabulary, the same every run: the special tokens, every printable ASCII
    character and common Hangul syllable (as a word start and as a '##' continuation), then the pieces
    learnt from TINY_CORPUS split into words the way BERT's cased normaliser and pre-tokenizer split them."""
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    splitter = pre_tokenizers.BertPreTokenizer()
    words: dict[str, int] = {}
    for line in TINY_CORPUS.splitlines():
        for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)):
            words[word] = words.get(word, 0) + 1
    alphabet = [chr(c) for c in range(0x21, 0x7F)] + hangul_syllables()
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for piece in alphabet + ["##" + char for char in alphabet] + learn_pieces(words, TINY_MERGES):
        if piece not in seen:
            seen.add(piece)
            vocab.append(piece)
    return tuple(vocab)


def tiny_tokenizer():
    """A real transformers DistilBertTokenizer (cased WordPiece, [CLS] ... [SEP]) over tiny_vocab()."""
    from transformers import DistilBertTokenizer

    vocab = {piece: index for index, piece in enumerate(tiny_vocab())}
    return DistilBertTokenizer(vocab=vocab, model_max_length=TINY_CONFIG["max_position_embeddings"],
                               **{k: v for k, v in TOKENIZER_CONFIG.items() if k != "model_max_length"})


def _tiny_values() -> dict:
    """The test zoo's configuration: the real one, narrowed (TINY_CONFIG), over the tiny vocabulary."""
    return dict(REAL_CONFIG, **TINY_CONFIG, vocab_size=len(tiny_vocab()))


def build_encoder(config_values: dict, tokenizer, name: str = ENCODER, device="cpu", dtype=torch.float32,
                  seed: int = TINY_SEED, source: str = "random init") -> TextEncoder:
    """A DistilBertModel of any configuration with random weights (eager attention), built locally."""
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(seed)
    model = DistilBertModel(DistilBertConfig(**config_values, attn_implementation="eager"))
    return TextEncoder(name, _finish(model, device, dtype), tokenizer, False, source)


def _build_tiny(device, dtype) -> TextEncoder:
    return build_encoder(_tiny_values(), tiny_tokenizer(), device=device, dtype=dtype,
                         source="random init (test zoo)")


def build_real_architecture(device="cpu", dtype=torch.float32) -> TextEncoder:
    """The real distilbert-base-multilingual-cased architecture with random weights (for the bench; no
    download). Its tokenizer is the tiny one: token ids stay inside the real vocabulary, and the cost of a
    forward pass depends only on the number of tokens."""
    return build_encoder(dict(REAL_CONFIG), tiny_tokenizer(), device=device, dtype=dtype,
                         source="random init, real architecture (bench)")


def write_tiny_repo(repo_id: str, folder) -> None:
    """The repository's layout with tiny random weights, for the tests' local hub mirror: config.json and
    model.safetensors of a DistilBertForMaskedLM (as the real checkpoint is), and the tokenizer files the
    real repository has: tokenizer.json, tokenizer_config.json, vocab.txt."""
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    if repo_id != REPO:
        raise ValueError(f"{repo_id!r} is not a repository of this family ({REPO})")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(TINY_SEED)
    model = DistilBertForMaskedLM(DistilBertConfig(**_tiny_values()))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer = tiny_tokenizer()
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n", encoding="utf-8")
    (folder / "vocab.txt").write_text("".join(piece + "\n" for piece in tiny_vocab()), encoding="utf-8")


def model_shape(tiny: bool | None = None) -> tuple[int, int]:
    """(layers, heads) the encoder will have once loaded, known without loading it (for the UI's sliders)."""
    from core.models import tiny_default

    tiny = tiny_default() if tiny is None else tiny
    config = TINY_CONFIG if tiny else REAL_CONFIG
    return int(config["n_layers"]), int(config["n_heads"])


register(ModelSpec(
    name=ENCODER, family="text", source=f"Hugging Face {REPO}", load=_load, build_tiny=_build_tiny,
    approx_mb=APPROX_MB, prefetch_default=True, description=DESCRIPTION,
    hub_repos=(REPO,), write_tiny_repo=write_tiny_repo, is_cached=_is_cached, download_url=hub_endpoint,
))
