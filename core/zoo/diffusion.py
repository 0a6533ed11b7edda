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
import os
from pathlib import Path
from typing import Any

import torch

from core.models import ModelSpec, WeightsMissing, register

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


def safety_checker_enabled() -> bool:
    """On by default (classrooms); DLCLASS_SAFETY_CHECKER=0 (server operators only) turns it off."""
    return os.environ.get("DLCLASS_SAFETY_CHECKER", "1").strip().lower() not in ("0", "false", "no", "off")


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
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_TOKENS)


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


# ---------------------------------------------------------------- registration

register(ModelSpec(SD_TURBO, "diffusion", REPOS[SD_TURBO], _load_sd(SD_TURBO), _tiny_sd(SD_TURBO),
                   approx_mb=5200, description={"ko": "1~4단계 만에 그리는 증류(distilled) SD 2.1",
                                                "en": "SD 2.1 distilled to draw in 1-4 steps"}))
register(ModelSpec(SD15, "diffusion", REPOS[SD15], _load_sd(SD15), _tiny_sd(SD15), approx_mb=4300,
                   prefetch_default=False,
                   description={"ko": "고전 SD 1.5: 25단계 이상, 가이던스 사용", "en": "Classic SD 1.5: 25+ steps with guidance"}))
register(ModelSpec(SDXL, "diffusion", f"{REPOS['sdxl_base']} + {REPOS['sdxl_refiner']}", _load_sdxl, _tiny_sdxl,
                   default_dtype=torch.float16, approx_mb=13000, prefetch_default=False,
                   description={"ko": "SDXL 베이스 + 리파이너 (GPU 전용, 1024x1024)",
                                "en": "SDXL base + refiner (GPU only, 1024x1024)"}))
register(ModelSpec(TAESD, "diffusion", REPOS[TAESD], _load_taesd(TAESD), _tiny_taesd, approx_mb=10,
                   description={"ko": "SD 1.x/2.x 잠재를 빠르게 그림으로 바꾸는 작은 디코더",
                                "en": "A tiny decoder that turns SD 1.x/2.x latents into pictures fast"}))
register(ModelSpec(TAESDXL, "diffusion", REPOS[TAESDXL], _load_taesd(TAESDXL), _tiny_taesd, approx_mb=10,
                   prefetch_default=False,
                   description={"ko": "SDXL 잠재용 작은 디코더", "en": "A tiny decoder for SDXL latents"}))
register(ModelSpec(SAFETY_CHECKER, "diffusion", REPOS[SAFETY_CHECKER], _load_safety_checker, _tiny_safety_checker,
                   approx_mb=1200, description={"ko": "Stable Diffusion 표준 안전 검사기",
                                                "en": "The standard Stable Diffusion safety checker"}))
