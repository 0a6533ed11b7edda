"""The Hugging Face lesson's CLIP row: zero-shot image classification (a photo and labels the student types).

| spec | task | repository | why this one |
|---|---|---|---|
| hub_zero_shot_image | zero-shot-image-classification (CLIP) | openai/clip-vit-base-patch32 | the CLIP of the paper, ViT-B/32 |

OpenAI's CLIP ViT-B/32: an image encoder (a ViT with 32x32 patches on 224x224 pictures, 12 layers of width
768) and a text encoder (a 12-layer Transformer of width 512 over a lower-cased byte-level BPE of 49,408
pieces, at most 77 tokens), each projected to 512 numbers; about 151 M parameters (605 MB in float32). One
photo and ten short labels take well under a second on a 2-core CPU. It learnt from English captions: a
student who wants Korean labels types a Korean CLIP (e.g. Bingsu/clip-vit-base-patch32-ko, the same
CLIPModel class) in the row's name box.

The repository was written before transformers 5: its image processor has its own file
(preprocessor_config.json) beside the tokenizer's (tokenizer.json, tokenizer_config.json, vocab.json,
merges.txt), and it has no processor_config.json. Its weights are pytorch_model.bin (model.safetensors
where a conversion is present); its model card names no licence, so the lesson says the licence of
OpenAI's CLIP code (MIT).

The test zoo builds the same classes (CLIPModel, CLIPProcessor = CLIPImageProcessor + CLIPTokenizer) from a
tiny config with random weights and a byte-level BPE made here: every byte as a piece, alone and at a word's
end ("</w>"), no merges, CLIP's own special tokens. Like the real one, it turns a Hangul syllable into its
three UTF-8 bytes, so Korean labels cost more tokens than English ones.
"""
from __future__ import annotations

from core.zoo import hub

TASK = "zero-shot-image-classification"
SPEC = "hub_zero_shot_image"
REPO = "openai/clip-vit-base-patch32"

# The test zoo: 2 layers of 4 heads of width 32 on both sides, 32x32 pictures in 8x8 patches (16 patches).
TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=77)
TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                   patch_size=8)
TINY_PROJECTION = 16

# The repository's config.json (CLIPConfig), written out so the bench builds the real architecture without a
# download. Its text config keeps the ids of the first CLIP configs (eos_token_id 2: transformers then pools
# the text at the largest token id, which is CLIP's end token).
REAL_TEXT = dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                 num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=0,
                 eos_token_id=2, pad_token_id=1)
REAL_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                   image_size=224, patch_size=32, hidden_act="quick_gelu")
REAL_PROJECTION = 512
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def prepare_library() -> None:
    """Resolve transformers' lazily imported classes once, in the loader's one import thread."""
    from transformers import (AutoModelForZeroShotImageClassification, AutoProcessor, CLIPConfig,  # noqa: F401
                              CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer)


def byte_pieces() -> list[str]:
    """The 256 characters byte-level BPE writes bytes as (GPT-2's table, which CLIP uses): printable bytes as
    themselves, the others shifted past 255, in byte order as CLIP's vocab.json lists them."""
    shown = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    hidden = [b for b in range(256) if b not in shown]
    table = {b: chr(b) for b in shown} | {b: chr(256 + i) for i, b in enumerate(hidden)}
    return [table[b] for b in [*shown, *hidden]]


def tiny_clip_tokenizer():
    """CLIP's tokenizer (lower-cased byte-level BPE, pieces ending a word marked "</w>", <|startoftext|> ...
    <|endoftext|>) over the bytes alone: the vocabulary's first 512 entries as in CLIP's, then its two
    special tokens."""
    from transformers import CLIPTokenizer

    pieces = byte_pieces()
    vocab = {piece: index for index, piece in enumerate([*pieces, *(p + "</w>" for p in pieces), BOS, EOS])}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=TINY_TEXT["max_position_embeddings"])


def _processor(tokenizer, side: int):
    from transformers import CLIPImageProcessor, CLIPProcessor

    # CLIP's preprocessing: shortest side to `side` (bicubic), centre crop, CLIP's mean and std.
    images = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    return CLIPProcessor(image_processor=images, tokenizer=tokenizer)


def _tiny_clip():
    from transformers import CLIPConfig, CLIPModel

    tokenizer = tiny_clip_tokenizer()
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    config = CLIPConfig(text_config=dict(vocab_size=len(tokenizer), **TINY_TEXT, **ids), vision_config=TINY_VISION,
                        projection_dim=TINY_PROJECTION)
    return CLIPModel(config), _processor(tokenizer, TINY_VISION["image_size"])


def _real_clip():
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(text_config=REAL_TEXT, vision_config=REAL_VISION, projection_dim=REAL_PROJECTION)
    return CLIPModel(config), _processor(tiny_clip_tokenizer(), REAL_VISION["image_size"])


hub.add_task(hub.Task(
    TASK, SPEC, REPO, "AutoModelForZeroShotImageClassification", "mit", 605,
    ("OpenAI CLIP ViT-B/32: 사진과 글을 같은 공간에 놓는 모델 (영어 설명으로 학습, 1억 5천만 매개변수)",
     "OpenAI CLIP ViT-B/32: puts pictures and words in one space (learnt from English captions, 151 M parameters)"),
    # What AutoProcessor and the Auto model read: the config, the weights, the image processor's own file and
    # the tokenizer's (the repository also has vocab.json and merges.txt, which tokenizer.json contains).
    hub_files=("config.json", ("model.safetensors", "pytorch_model.bin"), "preprocessor_config.json",
               "tokenizer.json", "tokenizer_config.json"),
    tiny_parts=_tiny_clip, real_parts=_real_clip, processor_class="AutoProcessor"))
