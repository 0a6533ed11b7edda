"""The Hugging Face lesson's models: one small real model per task of the hub's table.

| spec | task | repository | why this one |
|---|---|---|---|
| hub_fill_mask | fill-mask (BERT) | klue/bert-base | a BERT trained on Korean text: reads "서울은 한국의 [MASK]입니다." |
| hub_text_generation | text-generation (GPT) | skt/kogpt2-base-v2 | a GPT-2 trained on Korean text, 125 M parameters |

Both run a sentence in well under a second on a 2-core CPU. Every spec loads to a `HubModel` bundle (the
eval-mode model, its tokenizer or processor, the repository and the facts the lesson shows). A student may
type another repository of the same task: `typed_spec(task, repo)` registers it as a spec of the same
family, loaded by the same code (transformers' Auto classes), through the one loader.

The other rows of the table live in modules of their own (core/zoo/hub_*.py, each in models.ZOO_MODULES),
each declaring its `Task` with `add_task`: the repository, the Auto classes that load it, the files the
loader reads, and how the test zoo and the bench build its model.

The test zoo builds the same classes from tiny configs with random weights, and tokenizers made here from
a fixed vocabulary (the word-attention lesson's WordPiece vocabulary for BERT; Metaspace pieces over the
same alphabet for GPT-2), offline and the same every run.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any, Callable

import torch

from core.models import ModelSpec, WeightsMissing, hub_endpoint, hub_files_cached, register, specs
from core.zoo import text as text_zoo

TINY_SEED = 0


@dataclasses.dataclass(frozen=True)
class Task:
    """One row of the hub's table: a pipeline task and the lesson's model for it."""

    task: str  # the transformers pipeline task
    spec: str  # the lesson's spec name
    repo: str  # its Hugging Face repository
    auto_model: str  # the transformers Auto class that loads any repository of this task
    licence: str  # the repository's licence, as its model card states it
    approx_mb: int
    description: tuple[str, str]
    hub_files: tuple = ("config.json", ("model.safetensors", "pytorch_model.bin"), "tokenizer.json")
    tokenizer_kwargs: tuple = ()  # settings the model card passes to the tokenizer in code
    # () -> (model, tokenizer or processor): the test zoo's tiny model of this task, random weights, seeded
    tiny_parts: Callable[[], tuple] | None = dataclasses.field(default=None, compare=False)
    # () -> (model, tokenizer or processor): the real architecture with random weights, for the bench
    real_parts: Callable[[], tuple] | None = dataclasses.field(default=None, compare=False)
    processor_class: str = "AutoTokenizer"  # the transformers Auto class of what turns inputs into tensors


TASKS: dict[str, Task] = {}  # task -> its row's Task, filled by add_task (this module and core/zoo/hub_*.py)


@dataclasses.dataclass
class HubModel:
    """A loaded model of the lesson, its tokenizer, and the facts read from it."""

    name: str  # the spec name
    repo: str  # the repository name a student types
    task: str
    model: torch.nn.Module
    tokenizer: Any
    real_weights: bool  # False for the test zoo's random weights
    source: str
    licence: str  # "" when unknown
    folder: str  # where its files are (the cache folder), "" for the test zoo
    disk_bytes: int  # bytes of its files on disk (the weights in memory for the test zoo)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def prepare_library() -> None:
    """Resolve transformers' lazily imported classes once, in the loader's one import thread."""
    from transformers import (AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer,  # noqa: F401
                              BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast)


def _finish(model: torch.nn.Module, device, dtype) -> torch.nn.Module:
    return model.eval().to(device=device, dtype=dtype).requires_grad_(False)


# ---------------------------------------------------------------- the real models

def _licence_of(folder: Path) -> str:
    """The `license:` line of the model card's front matter (README.md), when the card is there."""
    card = folder / "README.md"
    if not card.is_file():
        return ""
    match = re.search(r"^license:\s*(\S+)", card.read_text(encoding="utf-8", errors="replace"), re.M)
    return match.group(1).strip("'\"") if match else ""


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())  # stat follows the cache's links


def _snapshot(repo: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def _loader(task: Task, repo: str, name: str):
    def is_cached() -> bool:
        return hub_files_cached(repo, task.hub_files)

    def load(device, dtype, download: bool) -> HubModel:
        import transformers
        from huggingface_hub import hf_hub_download

        if not download and not is_cached():
            raise WeightsMissing(f"{repo} is not in the Hugging Face cache")
        try:
            model = getattr(transformers, task.auto_model).from_pretrained(repo, local_files_only=not download)
            tokenizer = getattr(transformers, task.processor_class).from_pretrained(
                repo, local_files_only=not download, **dict(task.tokenizer_kwargs))
            if download:  # the model card, for its licence (a repository may have none)
                try:
                    hf_hub_download(repo, "README.md")
                except Exception:  # noqa: BLE001 - no card: the licence is said to be unknown
                    pass
        except (OSError, ValueError) as exc:
            if download:
                raise
            raise WeightsMissing(f"{repo}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else exc!r}") from exc
        folder = _snapshot(repo)
        licence = (_licence_of(folder) if folder else "") or (task.licence if repo == task.repo else "")
        return HubModel(name, repo, task.task, _finish(model, device, dtype), tokenizer, True,
                        f"Hugging Face {repo}", licence, str(folder or ""), _folder_bytes(folder) if folder else 0)

    return load, is_cached


# ---------------------------------------------------------------- the test zoo

TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                 max_position_embeddings=128)
TINY_GPT2 = dict(n_embd=32, n_layer=2, n_head=4, n_positions=128)
GPT2_SPECIALS = ("<s>", "</s>", "<unk>", "<pad>", "<mask>")


def _alphabet() -> list[str]:
    return [chr(c) for c in range(0x21, 0x7F)] + text_zoo.hangul_syllables()


def tiny_bert_tokenizer():
    """A BERT WordPiece tokenizer (cased, [CLS] ... [SEP], [MASK]) over the word-attention lesson's vocabulary."""
    from transformers import BertTokenizerFast

    return BertTokenizerFast(tokenizer_object=_wordpiece(), unk_token="[UNK]", sep_token="[SEP]",
                             pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", do_lower_case=False,
                             model_max_length=TINY_BERT["max_position_embeddings"])


def _wordpiece():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {piece: index for index, piece in enumerate(text_zoo.tiny_vocab())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tok.decoder = decoders.WordPiece()
    return tok


def tiny_gpt2_tokenizer():
    """A Metaspace BPE tokenizer like KoGPT2's: a word starts with '▁'; every character of the alphabet
    is a piece, alone and after '▁' (merges made here, the same every run)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = _alphabet()
    vocab = {piece: index for index, piece in enumerate([*GPT2_SPECIALS, "▁", *alphabet, *("▁" + c for c in alphabet)])}
    merges = [("▁", c) for c in alphabet]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=TINY_GPT2["n_positions"],
                                   **dict(TASKS["text-generation"].tokenizer_kwargs))


def _tiny_parts(task: str):
    """(model, tokenizer or processor) of the test zoo for `task`: tiny config, random weights, seeded."""
    torch.manual_seed(TINY_SEED)
    return TASKS[task].tiny_parts()


def _tiny_fill_mask():
    from transformers import BertConfig, BertForMaskedLM

    tokenizer = tiny_bert_tokenizer()
    return BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), **TINY_BERT)), tokenizer


def _tiny_text_generation():
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = tiny_gpt2_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **TINY_GPT2)
    return GPT2LMHeadModel(config), tokenizer


def _tiny_builder(task: Task, repo: str, name: str):
    def build_tiny(device, dtype) -> HubModel:
        model, tokenizer = _tiny_parts(task.task)
        model = _finish(model, device, dtype)
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        return HubModel(name, repo, task.task, model, tokenizer, False, "random init (test zoo)", "", "", weights)

    return build_tiny


# Real configurations, for the bench: the real architectures with random weights, no download.
REAL_CONFIGS = {
    "fill-mask": dict(vocab_size=32000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, max_position_embeddings=512),
    "text-generation": dict(vocab_size=51200, n_embd=768, n_layer=12, n_head=12, n_positions=1024),
}


def _real_fill_mask():
    from transformers import BertConfig, BertForMaskedLM

    return BertForMaskedLM(BertConfig(**REAL_CONFIGS["fill-mask"])), tiny_bert_tokenizer()


def _real_text_generation():
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(**REAL_CONFIGS["text-generation"])), tiny_gpt2_tokenizer()


def build_real_architecture(task: str, device="cpu", dtype=torch.float32) -> HubModel:
    """The lesson's model for `task` in its real size with random weights and the test zoo's tokenizer or
    processor (token ids stay inside the real vocabulary; the cost of a forward pass depends on the sizes,
    not the values)."""
    torch.manual_seed(TINY_SEED)
    spec_task = TASKS[task]
    model, tokenizer = spec_task.real_parts()
    model = _finish(model, device, dtype)
    return HubModel(spec_task.spec, spec_task.repo, task, model, tokenizer, False,
                    "random init, real architecture (bench)", "", "", 0)


def _save_processor(processor, folder: Path) -> None:
    """A tokenizer's files; for a processor, each of its parts in its own files, as the hub's repositories
    written before transformers 5 keep them (an image processor's preprocessor_config.json beside the
    tokenizer's files): transformers 5's ProcessorMixin.save_pretrained writes one processor_config.json
    instead, which those repositories do not have."""
    attributes = getattr(processor, "get_attributes", None)
    for part in [getattr(processor, name) for name in attributes()] if attributes else [processor]:
        part.save_pretrained(folder)


def write_tiny_repo(repo_id: str, folder, task: Task | None = None) -> None:
    """The repository's layout with tiny random weights, for the tests' local hub mirror: config.json,
    model.safetensors, tokenizer.json (+ tokenizer_config.json) and a model card with its licence. A typed
    repository of a task (`task` given) gets the tiny model of that task."""
    task = task or next(t for t in TASKS.values() if t.repo == repo_id)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = _tiny_parts(task.task)
    model.save_pretrained(folder, safe_serialization=True)
    _save_processor(tokenizer, folder)
    for extra in ("special_tokens_map.json", "vocab.txt"):
        (folder / extra).unlink(missing_ok=True)
    (folder / "README.md").write_text(f"---\nlicense: {task.licence}\n---\n# {repo_id} (tiny test copy)\n",
                                      encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _spec(task: Task, repo: str, name: str, prefetch: bool) -> ModelSpec:
    load, is_cached = _loader(task, repo, name)
    return ModelSpec(
        name=name, family="hub", kind=f"hub:{task.task}", source=f"Hugging Face {repo}", load=load,
        build_tiny=_tiny_builder(task, repo, name), approx_mb=task.approx_mb, prefetch_default=prefetch,
        description={"ko": task.description[0], "en": task.description[1]} if repo == task.repo else {},
        hub_repos=(repo,), write_tiny_repo=functools.partial(write_tiny_repo, task=task),
        is_cached=is_cached, download_url=hub_endpoint)


def add_task(task: Task) -> Task:
    """A row of the hub's table: its task known to the lesson, its model registered with the loader."""
    if task.tiny_parts is None or task.real_parts is None:
        raise ValueError(f"{task.task}: a row needs tiny_parts (the test zoo) and real_parts (the bench)")
    TASKS[task.task] = task
    register(_spec(task, task.repo, task.spec, prefetch=True))
    return task


add_task(Task(
    "fill-mask", "hub_fill_mask", "klue/bert-base", "AutoModelForMaskedLM", "cc-by-sa-4.0", 443,
    ("KLUE BERT-base: 한국어로 학습한 BERT (12층, 1억 1천만 매개변수)",
     "KLUE BERT-base: a BERT trained on Korean text (12 layers, 110 M parameters)"),
    tiny_parts=_tiny_fill_mask, real_parts=_real_fill_mask))
add_task(Task(
    "text-generation", "hub_text_generation", "skt/kogpt2-base-v2", "AutoModelForCausalLM", "cc-by-nc-sa-4.0",
    513, ("SKT KoGPT2 base v2: 한국어로 학습한 GPT-2 (12층, 1억 2천5백만 매개변수)",
          "SKT KoGPT2 base v2: a GPT-2 trained on Korean text (12 layers, 125 M parameters)"),
    # The model card loads its tokenizer with these special tokens (its tokenizer.json names none).
    tokenizer_kwargs=(("bos_token", "</s>"), ("eos_token", "</s>"), ("unk_token", "<unk>"),
                      ("pad_token", "<pad>"), ("mask_token", "<mask>")),
    tiny_parts=_tiny_text_generation, real_parts=_real_text_generation))


# ---------------------------------------------------------------- a repository a student types

REPO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


def spec_name(task: str, repo: str) -> str:
    """The spec of `repo` for `task`: the lesson's own one, or the name a typed repository is registered under."""
    known = TASKS[task]
    return known.spec if repo == known.repo else f"hub:{task}:{repo}"


def repo_cached(task: str, repo: str) -> bool:
    """Whether every file the loader reads from `repo` is in the local cache (no network, nothing registered)."""
    return hub_files_cached(repo, TASKS[task].hub_files)


def typed_spec(task: str, repo: str) -> str:
    """Register (once) a typed repository as a spec of `task`, loaded by the same code; returns its name."""
    name = spec_name(task, repo)
    if name not in {s.name for s in specs("hub")}:
        register(_spec(TASKS[task], repo, name, prefetch=False))
    return name


def download_bytes(repo: str) -> int:
    """The bytes of the weights a download of `repo` would fetch (the Hub's file list; network)."""
    from huggingface_hub import HfApi

    info = HfApi().model_info(repo, files_metadata=True)
    sizes = {s.rfilename: int(s.size or 0) for s in (info.siblings or [])}
    safetensors = sum(v for k, v in sizes.items() if k.endswith(".safetensors"))
    return safetensors or sum(v for k, v in sizes.items() if k.endswith(".bin"))
