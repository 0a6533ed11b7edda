"""Stable Diffusion family: sd-turbo, a classic SD 1.5, SDXL base + refiner, TAESD/TAESDXL, the safety checker.

Every text-to-image spec loads to an `SDBundle`: the parts of the pipeline kept separate
(tokenizer, text encoder, UNet, scheduler, VAE) so the tab can run the denoising loop step by step
and show what happens between the parts. The real parts come from the Hugging Face hub through
diffusers/transformers `from_pretrained(local_files_only=not download)`; the test zoo builds the same
classes from small configs with random weights, locally (including a small CLIP BPE tokenizer, so no
tokenizer download is needed and the 77-token limit still applies).

The configs of the REAL architectures are written here too (`SD_TURBO_*`), so the bench can time
random-init models of exactly the sd-turbo shapes without downloading anything.
"""
from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from core.models import ModelSpec, WeightsMissing, hub_endpoint, hub_files_cached, register

SD_TURBO = "sd_turbo"
SD15 = "sd15"
SDXL = "sdxl"  # base + refiner, GPU only
TAESD = "taesd"
TAESDXL = "taesdxl"
SAFETY_CHECKER = "sd_safety_checker"

REPOS = {
    SD_TURBO: "stabilityai/sd-turbo",
    # runwayml/stable-diffusion-v1-5 was taken down in 2024; this is the maintained mirror diffusers points to.
    SD15: "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sdxl_base": "stabilityai/stable-diffusion-xl-base-1.0",
    "sdxl_refiner": "stabilityai/stable-diffusion-xl-refiner-1.0",
    TAESD: "madebyollin/taesd",
    TAESDXL: "madebyollin/taesdxl",
    SAFETY_CHECKER: "CompVis/stable-diffusion-safety-checker",
}

# Where the offline copy of the real TAESD lives (see ../shared/weights/README.md).
SHARED_WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights"

MAX_TOKENS = 77  # CLIP's text window: <start> + 75 tokens + <end>


# ---------------------------------------------------------------- the real architectures (configs in code)

SD_TURBO_UNET_CONFIG = dict(  # = Stable Diffusion 2.1 (base, 512 px) UNet
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20),
    use_linear_projection=True,
)
SD_TURBO_TEXT_CONFIG = dict(  # OpenCLIP ViT-H/14 text tower as a HF CLIPTextModel (SD 2.x uses 23 of its 24 layers)
    vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
    max_position_embeddings=MAX_TOKENS, hidden_act="gelu", layer_norm_eps=1e-5, projection_dim=512,
)
SD_VAE_CONFIG = dict(  # the Stable Diffusion 1.x/2.x AutoencoderKL (8x down, 4 latent channels)
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, act_fn="silu", norm_num_groups=32,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512), sample_size=512, scaling_factor=0.18215,
)
SD_TURBO_SCHEDULER_CONFIG = dict(  # EulerDiscreteScheduler, "trailing" spacing so 1 step starts from pure noise
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    prediction_type="epsilon", timestep_spacing="trailing", steps_offset=1, interpolation_type="linear",
    use_karras_sigmas=False,
)
SD15_SCHEDULER_CONFIG = dict(SD_TURBO_SCHEDULER_CONFIG, timestep_spacing="leading")


@dataclasses.dataclass
class ModelInfo:
    """What the tab needs to know about a text-to-image model to clamp its settings and explain it."""

    label: str
    steps_default: int
    steps_max: int
    guidance_default: float
    guidance_max: float  # 0 = guidance does not apply (sd-turbo was distilled to work without it)
    size_default: int
    sizes_cpu: tuple[int, ...]
    sizes_gpu: tuple[int, ...]
    gpu_only: bool = False


INFO = {
    SD_TURBO: ModelInfo("sd-turbo (SD 2.1, 1-4 steps)", 1, 4, 0.0, 0.0, 512, (256, 384, 512), (256, 384, 512, 768)),
    SD15: ModelInfo("Stable Diffusion 1.5 (25+ steps, guidance)", 25, 50, 7.5, 15.0, 512, (256, 384, 512),
                    (256, 384, 512, 768)),
    SDXL: ModelInfo("SDXL base + refiner (GPU)", 30, 60, 7.0, 15.0, 1024, (), (512, 768, 1024), gpu_only=True),
}


@dataclasses.dataclass
class SDBundle:
    """The separate parts of one text-to-image pipeline, plus facts for display."""

    name: str
    tokenizer: Any
    text_encoder: torch.nn.Module
    unet: torch.nn.Module
    scheduler: Any
    vae: torch.nn.Module  # AutoencoderKL (the full decoder)
    real_weights: bool
    source: str
    # SDXL only: the second tokenizer/encoder of the base and the refiner UNet (+ its scheduler)
    tokenizer_2: Any = None
    text_encoder_2: torch.nn.Module | None = None
    refiner: Any = None  # a diffusers StableDiffusionXLImg2ImgPipeline sharing text_encoder_2 and vae

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        return int(self.unet.config.in_channels)

    @property
    def embed_dim(self) -> int:
        return int(self.unet.config.cross_attention_dim)

    @property
    def is_xl(self) -> bool:
        return self.text_encoder_2 is not None


# ---------------------------------------------------------------- a CLIP tokenizer without a download

# Words the test-zoo tokenizer knows whole (like the real CLIP vocab does); anything else splits into letters/bytes.
_TINY_WORDS = """a an the of on in at with and or to for by from under over near above is are
cat dog bird fish horse cow lion tiger bear fox rabbit owl panda robot astronaut person man woman girl boy child
house castle city street road bridge tower mountain mountains river lake sea ocean beach forest tree trees flower
flowers garden field sky cloud clouds sun moon star stars night day sunset sunrise rain snow winter summer spring
autumn fire water ice space planet rocket car train boat ship plane bicycle chair table cup coffee tea cake apple
red orange yellow green blue purple pink black white gray brown golden silver colorful bright dark
big small tiny huge old new beautiful cute happy sad little
photo photograph painting drawing illustration sketch portrait landscape style art digital oil watercolor
cartoon anime realistic detailed highly quality high resolution 4k 8k cinematic lighting light soft sharp focus
riding wearing sitting standing flying running playing holding looking eating reading
hat glasses book guitar piano computer phone camera lamp window door wall floor room kitchen library
korean seoul van gogh by trending style""".split()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level alphabet: every byte gets a printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tiny_clip_tokenizer():
    """A real transformers CLIPTokenizer (byte-level BPE, lower-casing, <start>/<end>, 77 positions) with a
    small vocabulary learnt here, offline: every byte (so any text, Korean too, tokenizes) plus BPE merges
    trained on common prompt words, so those come out as whole-word tokens like in the real CLIP vocab."""
    from transformers import CLIPTokenizer

    vocab, merges = tiny_clip_vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_TOKENS)


@lru_cache(maxsize=1)
def tiny_clip_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) of the test zoo's CLIP tokenizer (see tiny_clip_tokenizer)."""
    import json

    from tokenizers import Tokenizer, trainers
    from transformers import CLIPTokenizer

    start, end = "<|startoftext|>", "<|endoftext|>"
    # The same normaliser and pre-tokeniser as CLIP's, taken from an empty CLIPTokenizer.
    template = CLIPTokenizer(vocab={start: 0, end: 1}, merges=[]).backend_tokenizer
    trainee = Tokenizer.from_str(template.to_str())
    alphabet = list(_bytes_to_unicode().values())
    trainer = trainers.BpeTrainer(vocab_size=4000, min_frequency=1, initial_alphabet=alphabet,
                                  end_of_word_suffix="</w>", show_progress=False)
    trainee.train_from_iterator([" ".join(_TINY_WORDS)] * 2, trainer)
    learnt = json.loads(trainee.to_str())["model"]
    vocab = {token: i for i, token in enumerate(alphabet + [c + "</w>" for c in alphabet])}
    for token in sorted(learnt["vocab"], key=learnt["vocab"].get):
        vocab.setdefault(token, len(vocab))
    for special in (start, end):
        vocab.setdefault(special, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learnt["merges"]]
    return vocab, merges


# ---------------------------------------------------------------- TAESD from the offline safetensors


def taesd_from_safetensors(encoder_path: str | Path, decoder_path: str | Path):
    """The real TAESD (madebyollin/taesd) from its original-layout safetensors files, as a diffusers
    AutoencoderTiny in float32 (key mapping from ../shared/weights/README.md)."""
    from diffusers import AutoencoderTiny
    from safetensors.torch import load_file

    state = {f"encoder.layers.{k}": v for k, v in load_file(str(encoder_path)).items()}
    for key, value in load_file(str(decoder_path)).items():
        index, rest = key.split(".", 1)
        state[f"decoder.layers.{int(index) - 1}.{rest}"] = value
    model = AutoencoderTiny()
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model.eval().requires_grad_(False)


def _finish(module: torch.nn.Module, device, dtype) -> torch.nn.Module:
    module = module.eval().requires_grad_(False).to(device=device)
    return module.to(dtype=dtype) if next(module.parameters()).dtype != dtype else module


def _missing(exc: Exception) -> WeightsMissing:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WeightsMissing(text[:200])


def _vae_dtype(device, dtype) -> torch.dtype:
    # The SD VAE overflows in float16 (black/NaN images); keep it in float32 unless bf16 was asked for.
    return torch.float32 if dtype == torch.float16 else dtype


# ---------------------------------------------------------------- real loaders


def _load_sd(name: str):
    repo = REPOS[name]

    def load(device, dtype, download: bool) -> SDBundle:
        from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        kwargs = dict(local_files_only=not download)
        try:
            tokenizer = CLIPTokenizer.from_pretrained(repo, subfolder="tokenizer", **kwargs)
            text_encoder = CLIPTextModel.from_pretrained(repo, subfolder="text_encoder", **kwargs)
            unet = UNet2DConditionModel.from_pretrained(repo, subfolder="unet", **kwargs)
            vae = AutoencoderKL.from_pretrained(repo, subfolder="vae", **kwargs)
            scheduler_config = EulerDiscreteScheduler.load_config(repo, subfolder="scheduler", **kwargs)
        except (OSError, ValueError) as exc:  # huggingface_hub's LocalEntryNotFoundError is an OSError
            if not download:
                raise _missing(exc) from None
            raise
        # Euler: its step() also returns the predicted clean image (pred_original_sample) we preview.
        overrides = {"timestep_spacing": "trailing"} if name == SD_TURBO else {}
        scheduler = EulerDiscreteScheduler.from_config(scheduler_config, **overrides)
        return SDBundle(name, tokenizer, _finish(text_encoder, device, dtype), _finish(unet, device, dtype), scheduler,
                        _finish(vae, device, _vae_dtype(device, dtype)), True, repo)

    return load


def _load_sdxl(device, dtype, download: bool) -> SDBundle:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    base, refiner_repo = REPOS["sdxl_base"], REPOS["sdxl_refiner"]
    kwargs = dict(local_files_only=not download)
    variant = "fp16" if dtype == torch.float16 else None
    try:
        tokenizer = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer", **kwargs)
        tokenizer_2 = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer_2", **kwargs)
        text_encoder = CLIPTextModel.from_pretrained(base, subfolder="text_encoder", variant=variant, **kwargs)
        text_encoder_2 = CLIPTextModelWithProjection.from_pretrained(base, subfolder="text_encoder_2", variant=variant,
                                                                     **kwargs)
        unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet", variant=variant, **kwargs)
        vae = AutoencoderKL.from_pretrained(base, subfolder="vae", **kwargs)
        scheduler = EulerDiscreteScheduler.from_pretrained(base, subfolder="scheduler", **kwargs)
        refiner = StableDiffusionXLImg2ImgPipeline.from_pretrained(
            refiner_repo, text_encoder_2=text_encoder_2, vae=vae, torch_dtype=dtype, variant=variant,
            safety_checker=None, **kwargs)
    except (OSError, ValueError) as exc:
        if not download:
            raise _missing(exc) from None
        raise
    text_encoder_2 = _finish(text_encoder_2, device, dtype)
    vae = _finish(vae, device, torch.float32)  # the SDXL VAE overflows in fp16
    refiner = refiner.to(device)
    refiner.vae = vae
    refiner.text_encoder_2 = text_encoder_2
    refiner.set_progress_bar_config(disable=True)
    return SDBundle(SDXL, tokenizer, _finish(text_encoder, device, dtype), _finish(unet, device, dtype), scheduler,
                    vae, True, f"{base} + {refiner_repo}", tokenizer_2=tokenizer_2, text_encoder_2=text_encoder_2,
                    refiner=refiner)


def _load_taesd(name: str):
    repo = REPOS[name]

    def load(device, dtype, download: bool):
        from diffusers import AutoencoderTiny

        try:
            model = AutoencoderTiny.from_pretrained(repo, local_files_only=not download)
        except (OSError, ValueError) as exc:
            # TAESD for SD 1.x/2.x is also kept offline in ../shared/weights (test machines, classrooms).
            enc, dec = SHARED_WEIGHTS / "taesd_encoder.safetensors", SHARED_WEIGHTS / "taesd_decoder.safetensors"
            if name == TAESD and enc.is_file() and dec.is_file():
                model = taesd_from_safetensors(enc, dec)
            elif not download:
                raise _missing(exc) from None
            else:
                raise
        return _finish(model, device, dtype)

    return load


class SafetyChecker:
    """The standard Stable Diffusion safety checker (CLIP ViT-L/14 image embedding vs. unsafe concepts)."""

    def __init__(self, checker, feature_extractor):
        self.checker, self.feature_extractor = checker, feature_extractor

    def flags(self, images_uint8: list) -> list[bool]:
        """True for each RGB uint8 image the checker considers not safe for work."""
        import numpy as np

        param = next(self.checker.parameters())
        clip_input = self.feature_extractor(images_uint8, return_tensors="pt").pixel_values
        arrays = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images_uint8])
        with torch.inference_mode():
            _, flagged = self.checker(clip_input=clip_input.to(param.device, param.dtype), images=arrays)
        return [bool(f) for f in flagged]


def _load_safety_checker(device, dtype, download: bool) -> SafetyChecker:
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPImageProcessor

    repo = REPOS[SAFETY_CHECKER]
    try:
        checker = StableDiffusionSafetyChecker.from_pretrained(repo, local_files_only=not download)
        extractor = CLIPImageProcessor.from_pretrained(repo, local_files_only=not download)
    except (OSError, ValueError) as exc:
        if not download:
            raise _missing(exc) from None
        raise
    return SafetyChecker(_finish(checker, device, dtype), extractor)


# ---------------------------------------------------------------- random-init builders (test zoo, bench)


def build_random_sd(name: str, tiny: bool, device="cpu", dtype=torch.float32) -> SDBundle:
    """A text-to-image bundle with random weights, built locally from configs.

    tiny=True: the test zoo (small channels, 2 text layers; seconds to build, milliseconds per step).
    tiny=False: the REAL sd-turbo architecture (SD 2.1 UNet, OpenCLIP ViT-H text encoder, SD VAE), for timing.
    """
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = tiny_clip_tokenizer()
    scheduler = EulerDiscreteScheduler(**(SD15_SCHEDULER_CONFIG if name == SD15 else SD_TURBO_SCHEDULER_CONFIG))
    if tiny:
        embed = 32
        text_config = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=embed, intermediate_size=64,
                                     num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=MAX_TOKENS,
                                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                     pad_token_id=tokenizer.pad_token_id)
        unet = UNet2DConditionModel(
            sample_size=32, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=embed, attention_head_dim=(2, 4), norm_num_groups=8, use_linear_projection=True)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            block_out_channels=(8, 8, 16, 16), scaling_factor=0.18215)
    else:
        text_config = CLIPTextConfig(**SD_TURBO_TEXT_CONFIG, bos_token_id=tokenizer.bos_token_id,
                                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        unet = UNet2DConditionModel(**SD_TURBO_UNET_CONFIG)
        vae = AutoencoderKL(**SD_VAE_CONFIG)
    text_encoder = CLIPTextModel(text_config)
    return SDBundle(name, tokenizer, _finish(text_encoder, device, dtype), _finish(unet, device, dtype), scheduler,
                    _finish(vae, device, _vae_dtype(device, dtype)), False,
                    "test zoo (random weights)" if tiny else "random weights, real sd-turbo architecture")


def build_random_taesd(tiny: bool, device="cpu", dtype=torch.float32):
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    if tiny:
        model = AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                                num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1))
    else:
        model = AutoencoderTiny()  # the real TAESD architecture
    return _finish(model, device, dtype)


def _tiny_sd(name: str):
    def build(device, dtype) -> SDBundle:
        return build_random_sd(name, tiny=True, device=device, dtype=dtype)

    return build


def _tiny_sdxl(device, dtype) -> SDBundle:
    # The test zoo has no SDXL: the tab only offers it on a GPU with the real weights.
    return build_random_sd(SDXL, tiny=True, device=device, dtype=dtype)


def _tiny_taesd(device, dtype):
    return build_random_taesd(tiny=True, device=device, dtype=dtype)


def _tiny_safety_checker(device, dtype):
    return None  # the test zoo's images are random colours: no checker (the tab says so)


# ---------------------------------------------------------------- "are the weights on this computer?"

# The files each loader above reads from its repository (a tuple: any one of them). The cache check,
# prefetch's completeness check and the tests' hub mirror all follow these lists.
_TOKENIZER = ("vocab.json", "merges.txt", "tokenizer_config.json")


def _weights(folder: str, stem: str, variant: str | None = None) -> tuple[str, ...]:
    infix = f".{variant}" if variant else ""
    prefix = f"{folder}/" if folder else ""
    return (f"{prefix}{stem}{infix}.safetensors", f"{prefix}{stem}{infix}.bin")


def _model_files(folder: str, stem: str, variant: str | None = None) -> list:
    prefix = f"{folder}/" if folder else ""
    return [f"{prefix}config.json", _weights(folder, stem, variant)]


SD_FILES = ([f"tokenizer/{f}" for f in _TOKENIZER] + _model_files("text_encoder", "model")
            + _model_files("unet", "diffusion_pytorch_model") + _model_files("vae", "diffusion_pytorch_model")
            + ["scheduler/scheduler_config.json"])
SDXL_BASE_FILES = ([f"{t}/{f}" for t in ("tokenizer", "tokenizer_2") for f in _TOKENIZER]
                   + _model_files("text_encoder", "model", "fp16") + _model_files("text_encoder_2", "model", "fp16")
                   + _model_files("unet", "diffusion_pytorch_model", "fp16")
                   + _model_files("vae", "diffusion_pytorch_model") + ["scheduler/scheduler_config.json"])
SDXL_REFINER_FILES = (["model_index.json", "scheduler/scheduler_config.json"] + [f"tokenizer_2/{f}" for f in _TOKENIZER]
                      + _model_files("unet", "diffusion_pytorch_model", "fp16"))
TAESD_FILES = _model_files("", "diffusion_pytorch_model")
SAFETY_FILES = ["preprocessor_config.json"] + _model_files("", "model")


def _hub_cached(name: str):
    def is_cached() -> bool:
        if name == SDXL:
            return (hub_files_cached(REPOS["sdxl_base"], SDXL_BASE_FILES)
                    and hub_files_cached(REPOS["sdxl_refiner"], SDXL_REFINER_FILES))
        if name in (TAESD, TAESDXL):
            shared = name == TAESD and all((SHARED_WEIGHTS / f"taesd_{part}.safetensors").is_file()
                                           for part in ("encoder", "decoder"))
            return shared or hub_files_cached(REPOS[name], TAESD_FILES)
        return hub_files_cached(REPOS[name], SAFETY_FILES if name == SAFETY_CHECKER else SD_FILES)

    return is_cached


# ---------------------------------------------------------------- the repositories' layout, tiny (the tests' hub mirror)

# Each repository as published: the same folders and file names, configs, tokenizer files (vocab.json +
# merges.txt, as the CLIP repositories carry them), fp16 variants where the repository has them, and the
# weights of the test zoo's sizes. SD 1.5 ships a PNDM scheduler config (the loader turns it into Euler);
# SD 2.x tokenizers (sd-turbo, SDXL's second) pad with "!", the others with <|endoftext|>.
SD15_PNDM_SCHEDULER_CONFIG = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  num_train_timesteps=1000, set_alpha_to_one=False, skip_prk_steps=True,
                                  steps_offset=1, trained_betas=None)
# The published file also carries a key PNDMScheduler does not take (diffusers keeps it as an unused entry).
SD15_PNDM_EXTRA = {"clip_sample": False}
CLIP_PREPROCESSOR_CONFIG = {"crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                            "feature_extractor_type": "CLIPFeatureExtractor",
                            "image_mean": [0.48145466, 0.4578275, 0.40821073],
                            "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_clip_tokenizer(folder: Path, pad_token: str) -> None:
    """A CLIP tokenizer folder as the Stable Diffusion repositories carry it (transformers 4 format)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    vocab, merges = tiny_clip_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")

    def token(content: str) -> dict:
        return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True, "rstrip": False,
                "single_word": False}

    specials = {"bos_token": token("<|startoftext|>"), "eos_token": token("<|endoftext|>"),
                "unk_token": token("<|endoftext|>"), "pad_token": pad_token}
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(folder / "tokenizer_config.json", {
        **specials, "add_prefix_space": False, "do_lower_case": True, "errors": "replace",
        "model_max_length": MAX_TOKENS, "special_tokens_map_file": "./special_tokens_map.json",
        "tokenizer_class": "CLIPTokenizer"})


def _tiny_text_encoder(with_projection: bool = False, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab, _ = tiny_clip_vocab()
    config = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_attention_heads=4,
                            num_hidden_layers=2, max_position_embeddings=MAX_TOKENS, projection_dim=32,
                            bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                            pad_token_id=vocab["<|endoftext|>"])
    torch.manual_seed(seed)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config).eval()


def _tiny_unet(cross_attention_dim: int, xl_time_ids: int = 0, seed: int = 0):
    """The test zoo's UNet; with xl_time_ids, SDXL's extra conditioning (pooled text + that many size numbers)."""
    from diffusers import UNet2DConditionModel

    extra = {}
    if xl_time_ids:
        extra = dict(addition_embed_type="text_time", addition_time_embed_dim=8,
                     projection_class_embeddings_input_dim=32 + xl_time_ids * 8)
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=(2, 4), norm_num_groups=8,
        use_linear_projection=True, **extra).eval()


def _tiny_vae(scaling_factor: float, seed: int = 0):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         block_out_channels=(8, 8, 16, 16), scaling_factor=scaling_factor).eval()


def _tiny_safety_checker_model(seed: int = 0):
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    config = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                         num_hidden_layers=2, vocab_size=1000, bos_token_id=0, eos_token_id=2,
                                         pad_token_id=1),
                        vision_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                           num_hidden_layers=2, image_size=224, patch_size=32),
                        projection_dim=16)
    torch.manual_seed(seed)
    return StableDiffusionSafetyChecker(config).eval()


def _save_pipeline(pipe, folder: Path, tokenizers: dict[str, str]) -> None:
    """diffusers' own save (model_index.json, every folder, configs, safetensors), once in float32 and once
    as the fp16 variant; then each tokenizer folder in the repositories' format."""
    pipe.save_pretrained(folder)
    pipe.to(torch.float16).save_pretrained(folder, variant="fp16")
    for subfolder, pad_token in tokenizers.items():
        _write_clip_tokenizer(folder / subfolder, pad_token)


def _write_safety_checker(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    checker = _tiny_safety_checker_model()
    checker.save_pretrained(folder)  # config.json + model.safetensors
    torch.save(checker.state_dict(), folder / "pytorch_model.bin")


def write_tiny_repo(repo_id: str, folder) -> None:
    """The layout of one of this family's Hub repositories (REPOS) with tiny random weights."""
    from diffusers import (AutoencoderTiny, EulerDiscreteScheduler, PNDMScheduler, StableDiffusionPipeline,
                           StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline)
    from transformers import CLIPImageProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if repo_id in (REPOS[SD_TURBO], REPOS[SD15]):
        sd15 = repo_id == REPOS[SD15]
        checker = _tiny_safety_checker_model() if sd15 else None
        extractor = CLIPImageProcessor(**{k: v for k, v in CLIP_PREPROCESSOR_CONFIG.items()
                                          if k != "feature_extractor_type"}) if sd15 else None
        scheduler = (PNDMScheduler(**SD15_PNDM_SCHEDULER_CONFIG) if sd15
                     else EulerDiscreteScheduler(**SD_TURBO_SCHEDULER_CONFIG))
        pipe = StableDiffusionPipeline(vae=_tiny_vae(0.18215), text_encoder=_tiny_text_encoder(),
                                       tokenizer=tiny_clip_tokenizer(), unet=_tiny_unet(32), scheduler=scheduler,
                                       safety_checker=checker, feature_extractor=extractor,
                                       requires_safety_checker=sd15)
        _save_pipeline(pipe, folder, {"tokenizer": "<|endoftext|>" if sd15 else "!"})
        if sd15:  # SD 1.5 also carries the pickled weights of every model folder
            for sub, stem, model in (("text_encoder", "pytorch_model", pipe.text_encoder),
                                     ("unet", "diffusion_pytorch_model", pipe.unet),
                                     ("vae", "diffusion_pytorch_model", pipe.vae),
                                     ("safety_checker", "pytorch_model", pipe.safety_checker)):
                torch.save(model.float().state_dict(), folder / sub / f"{stem}.bin")
            _write_json(folder / "feature_extractor" / "preprocessor_config.json", CLIP_PREPROCESSOR_CONFIG)
            scheduler_file = folder / "scheduler" / "scheduler_config.json"
            _write_json(scheduler_file, {**json.loads(scheduler_file.read_text()), **SD15_PNDM_EXTRA})
    elif repo_id == REPOS["sdxl_base"]:
        pipe = StableDiffusionXLPipeline(
            vae=_tiny_vae(0.13025), text_encoder=_tiny_text_encoder(), text_encoder_2=_tiny_text_encoder(True, seed=1),
            tokenizer=tiny_clip_tokenizer(), tokenizer_2=tiny_clip_tokenizer(), unet=_tiny_unet(64, xl_time_ids=6),
            scheduler=EulerDiscreteScheduler(**SD15_SCHEDULER_CONFIG))
        _save_pipeline(pipe, folder, {"tokenizer": "<|endoftext|>", "tokenizer_2": "!"})
    elif repo_id == REPOS["sdxl_refiner"]:
        pipe = StableDiffusionXLImg2ImgPipeline(
            vae=_tiny_vae(0.13025), text_encoder=None, text_encoder_2=_tiny_text_encoder(True, seed=1), tokenizer=None,
            tokenizer_2=tiny_clip_tokenizer(), unet=_tiny_unet(32, xl_time_ids=5, seed=2),
            scheduler=EulerDiscreteScheduler(**SD15_SCHEDULER_CONFIG),
            requires_aesthetics_score=True, force_zeros_for_empty_prompt=False)
        _save_pipeline(pipe, folder, {"tokenizer_2": "!"})
    elif repo_id in (REPOS[TAESD], REPOS[TAESDXL]):
        model = build_random_taesd(tiny=True)
        assert isinstance(model, AutoencoderTiny)
        model.save_pretrained(folder)  # config.json + diffusion_pytorch_model.safetensors
        torch.save(model.state_dict(), folder / "diffusion_pytorch_model.bin")
        # The original (non-diffusers) files too, in the key layout taesd_from_safetensors reads.
        state = model.state_dict()
        prefix = "taesdxl" if repo_id == REPOS[TAESDXL] else "taesd"
        torch.save({k.removeprefix("encoder.layers."): v for k, v in state.items() if k.startswith("encoder.layers.")},
                   folder / f"{prefix}_encoder.pth")
        decoder = {}
        for key, value in state.items():
            if key.startswith("decoder.layers."):
                index, rest = key.removeprefix("decoder.layers.").split(".", 1)
                decoder[f"{int(index) + 1}.{rest}"] = value
        torch.save(decoder, folder / f"{prefix}_decoder.pth")
    elif repo_id == REPOS[SAFETY_CHECKER]:
        _write_safety_checker(folder)
        _write_json(folder / "preprocessor_config.json", CLIP_PREPROCESSOR_CONFIG)
    else:
        raise ValueError(f"{repo_id!r} is not a repository of the diffusion family")


# ---------------------------------------------------------------- registration

_HUB = dict(download_url=hub_endpoint, write_tiny_repo=write_tiny_repo)

register(ModelSpec(SD_TURBO, "diffusion", REPOS[SD_TURBO], _load_sd(SD_TURBO), _tiny_sd(SD_TURBO),
                   approx_mb=5200, description={"ko": "1~4단계 만에 그리는 증류(distilled) SD 2.1",
                                                "en": "SD 2.1 distilled to draw in 1-4 steps"},
                   hub_repos=(REPOS[SD_TURBO],), is_cached=_hub_cached(SD_TURBO), kind="text_to_image", **_HUB))
register(ModelSpec(SD15, "diffusion", REPOS[SD15], _load_sd(SD15), _tiny_sd(SD15), approx_mb=4300,
                   prefetch_default=False,
                   description={"ko": "고전 SD 1.5: 25단계 이상, 가이던스 사용", "en": "Classic SD 1.5: 25+ steps with guidance"},
                   hub_repos=(REPOS[SD15],), is_cached=_hub_cached(SD15), kind="text_to_image", **_HUB))
register(ModelSpec(SDXL, "diffusion", f"{REPOS['sdxl_base']} + {REPOS['sdxl_refiner']}", _load_sdxl, _tiny_sdxl,
                   default_dtype=torch.float16, approx_mb=13000, prefetch_default=False,
                   description={"ko": "SDXL 베이스 + 리파이너 (GPU 전용, 1024x1024)",
                                "en": "SDXL base + refiner (GPU only, 1024x1024)"},
                   hub_repos=(REPOS["sdxl_base"], REPOS["sdxl_refiner"]), is_cached=_hub_cached(SDXL),
                   kind="text_to_image", **_HUB))
register(ModelSpec(TAESD, "diffusion", REPOS[TAESD], _load_taesd(TAESD), _tiny_taesd, approx_mb=10,
                   description={"ko": "SD 1.x/2.x 잠재를 빠르게 그림으로 바꾸는 작은 디코더",
                                "en": "A tiny decoder that turns SD 1.x/2.x latents into pictures fast"},
                   hub_repos=(REPOS[TAESD],), is_cached=_hub_cached(TAESD), kind="latent_decoder", **_HUB))
register(ModelSpec(TAESDXL, "diffusion", REPOS[TAESDXL], _load_taesd(TAESDXL), _tiny_taesd, approx_mb=10,
                   prefetch_default=False,
                   description={"ko": "SDXL 잠재용 작은 디코더", "en": "A tiny decoder for SDXL latents"},
                   hub_repos=(REPOS[TAESDXL],), is_cached=_hub_cached(TAESDXL), kind="latent_decoder", **_HUB))
register(ModelSpec(SAFETY_CHECKER, "diffusion", REPOS[SAFETY_CHECKER], _load_safety_checker, _tiny_safety_checker,
                   approx_mb=1200, description={"ko": "Stable Diffusion 표준 안전 검사기",
                                                "en": "The standard Stable Diffusion safety checker"},
                   hub_repos=(REPOS[SAFETY_CHECKER],), is_cached=_hub_cached(SAFETY_CHECKER), kind="safety_checker",
                   **_HUB))
