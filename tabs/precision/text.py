"""Every word of the precision lesson (number formats, and the same model in many precisions), in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("precision", {
    "title": ("9. 정밀도와 장치", "9. Precision & devices"),

    # ---- controls (tab.py)
    "numbers_tab": ("숫자 하나를 비트로 보기", "One number, bit by bit"),
    "number": ("숫자 (예: 0.1, 1/3, 65504, 1e-8, 500, inf, nan, -0)",
               "A number (e.g. 0.1, 1/3, 65504, 1e-8, 500, inf, nan, -0)"),
    "show_bits": ("비트 보기", "Show the bits"),
    "examples": ("해 볼 만한 숫자 (누르면 바로 계산합니다)", "Numbers worth trying (a click shows them at once)"),
    "spacing": ("이웃한 수 사이의 간격", "Gap between neighbouring numbers"),
    "compare_tab": ("같은 모델, 여러 정밀도", "Same model, many precisions"),
    "model": ("CNN 모델", "CNN model"),
    "precisions": ("정밀도", "Precisions"),
    "devices": ("장치", "Devices"),
    "batch": ("이미지 개수 (예시 사진 + 뒤집기·자르기)", "Images (example photos + flips and crops)"),
    "matmul": ("행렬 곱 크기 N (N x N 두 개를 곱함)", "Matrix multiply size N (two N x N matrices)"),
    "budget": ("시간 예산 (초): 측정이 이 안에 끝납니다", "Time budget (s): the measurements finish within it"),
    "run": ("측정하기", "Measure"),
    "chart": ("측정 결과", "Measurements"),
    "table": ("표", "Table"),
    "notes_heading": ("### 결과 읽는 법", "### What the result means"),
    "compare_hint": ("**측정하기**를 누르면 이 컴퓨터에서 지금 직접 잽니다 (결과를 저장해 두지 않습니다). "
                     "측정은 시간 예산 안에서 끝나고, 처음 한 번은 그 전에 모델을 불러오는 시간이 더 듭니다.",
                     "Press **Measure** to time it on this machine now (nothing is stored from earlier runs). "
                     "The measurements finish within the time budget; the first run also loads the model before them."),
    "device_tab": ("이 컴퓨터의 장치", "This machine's devices"),

    # ---- names of the controls inside notes (core.values.clamp)
    "label_model": ("CNN 모델", "CNN model"),
    "label_batch": ("이미지 개수", "number of images"),
    "label_matmul": ("행렬 곱 크기 N", "matrix size N"),
    "label_budget": ("시간 예산(초)", "time budget (s)"),

    # ---- the typed number (compute.parse_number)
    "empty": ("숫자를 입력해 주세요 (예: 0.1, 1/3, 65504, 1e-8, inf, nan, -0).",
              "Please type a number (e.g. 0.1, 1/3, 65504, 1e-8, inf, nan, -0)."),
    "not_a_number": ("'{shown}' 은(는) 숫자가 아닙니다. 0.1, -2.5, 1e-8, 1/3, 65504, inf, nan, -0 처럼 입력해 주세요.",
                     "'{shown}' is not a number. Type something like 0.1, -2.5, 1e-8, 1/3, 65504, inf, nan or -0."),
    "too_large": ("이 수는 float64(파이썬 float)의 최댓값(약 1.8e308)보다 커서 어떤 부동소수점 형식에도 담을 수 없습니다. "
                  "1.8e308 이하의 수를 넣거나, 무한대를 보려면 inf 를 입력해 보세요.",
                  "This number is larger than the largest float64 (Python float), about 1.8e308, so no floating-point "
                  "format here can hold it. Type a number up to 1.8e308, or type inf to see infinity."),
    "too_small": ("이 수는 float64 로도 0 이 될 만큼 작습니다 (가장 작은 float64 는 약 4.9e-324). 더 큰 수를 넣어 보세요.",
                  "This number is so small that even float64 turns it into 0 (the smallest float64 is about 4.9e-324). "
                  "Try a larger number."),

    # ---- what happened to the number in one format (compute.outcome)
    "nan_stays": ("NaN 은 NaN 으로 남습니다", "NaN stays NaN"),
    "nan_one_pattern": ("NaN 은 NaN 으로 남습니다 (E4M3 의 NaN 은 S.1111.111 한 가지뿐)",
                        "NaN stays NaN (E4M3 has a single NaN pattern: S.1111.111)"),
    "inf_stays": ("무한대는 무한대로 (지수 비트가 모두 1, 가수 0)", "inf stays inf (exponent all ones, mantissa 0)"),
    "inf_saturates": ("이 형식에는 무한대가 없어서, 이 PyTorch 는 가장 큰 수 ±{largest} 로 포화시킵니다",
                      "This format has no infinity, so this PyTorch saturates it to ±{largest}, the largest value"),
    "inf_to_nan": ("이 형식에는 무한대가 없어서, 이 PyTorch 는 NaN 으로 바꿉니다",
                   "This format has no infinity, so this PyTorch turns it into NaN"),
    "negative_zero": ("-0: 부호 비트만 1 (0 과 같다고 비교되지만 1/-0 = -inf)",
                      "-0: only the sign bit is 1 (equals 0, but 1/-0 = -inf)"),
    "zero": ("0: 모든 비트가 0", "0: every bit is 0"),
    "overflow_inf": ("넘침(overflow): 가장 큰 수 {largest} 보다 커서 무한대가 됩니다",
                     "overflow: beyond the largest value {largest}, so it becomes inf"),
    "overflow_saturates": ("넘침: 무한대가 없는 형식이라 이 PyTorch 는 ±{largest} 로 포화시킵니다 (NaN 을 내는 라이브러리도 있습니다)",
                           "overflow: there is no inf, so this PyTorch saturates to ±{largest} (some libraries give NaN instead)"),
    "overflow_nan": ("넘침: 무한대가 없는 형식이라 이 PyTorch 는 NaN 을 냅니다 (±{largest} 로 포화시키는 라이브러리도 있습니다)",
                     "overflow: there is no inf, so this PyTorch gives NaN (some libraries saturate to ±{largest} instead)"),
    "underflow": ("언더플로: 가장 작은 수 {smallest} 의 절반보다 작아 0 이 됩니다",
                  "underflow: below half the smallest number {smallest}, so it becomes 0"),
    "subnormal": ("비정규수(subnormal): 정규 범위보다 작아 유효 비트가 줄어듭니다",
                  "subnormal: below the normal range, so fewer significant bits remain"),
    "exact": ("정확히 저장됩니다", "stored exactly"),
    "rounded": ("가장 가까운 수로 반올림 (동점이면 짝수 쪽)", "rounded to the nearest number (ties to even)"),

    # ---- the bits table (view.bits_html)
    "col_format": ("형식", "Format"),
    "col_bits": ("비트: 부호 | 지수 | 가수", "Bits: sign | exponent | mantissa"),
    "col_hex": ("16진수", "Hex"),
    "col_stored": ("실제로 저장된 값", "Value actually stored"),
    "col_abs_error": ("절대 오차", "Absolute error"),
    "col_rel_error": ("상대 오차", "Relative error"),
    "col_outcome": ("무슨 일이 일어났나", "What happened"),
    "legend_sign": ("부호", "sign"),
    "legend_exp": ("지수", "exponent"),
    "legend_man": ("가수", "mantissa"),
    "legend_hint": ("(흐린 칸 = 0, 진한 칸 = 1)", "(pale box = 0, strong box = 1)"),
    "typed_exact": ("입력한 수를 파이썬 float(float64)는 <code>{value}</code> 로 저장합니다 (오차 {error}). "
                    "FP16·BF16·FP8 은 FP32 값에서 변환합니다 (model.half() 처럼). 비트와 값은 모두 torch 가 변환하고 읽은 그대로이며, "
                    "오차는 입력한 정확한 수와 비교한 값입니다.",
                    "Python's float (float64) stores what you typed as <code>{value}</code> (error {error}). "
                    "FP16, BF16 and FP8 are converted from the FP32 value (as model.half() does). Every bit and value is "
                    "what torch's own conversion stored; errors are against the exact number you typed."),
    "typed_inexact": ("inf, nan, pi 는 정확한 유리수가 아니므로 오차는 float64 값과 비교합니다. 비트와 값은 torch 가 변환한 그대로입니다.",
                      "inf, nan and pi are not exact fractions, so errors are against the float64 value. Every bit and "
                      "value is what torch's own conversion stored."),
    "neighbours_intro": ("저장된 값과 그 바로 아래·위의 수 (비트 패턴을 정수로 보고 1 을 빼고 더한 수):",
                         "The stored value and the numbers just below and above it (the bit pattern as an integer, minus and plus 1):"),
    "no_larger": ("(더 큰 수 없음: 다음 패턴은 NaN)", "(no larger number: the next pattern is NaN)"),
    "no_smaller": ("(더 작은 수 없음)", "(no smaller number)"),
    "limits_heading": ("형식별 한계 (torch.finfo)", "Limits of each format (torch.finfo)"),
    "lim_format": ("형식", "Format"),
    "lim_bits": ("비트 (부호+지수+가수)", "Bits (sign+exp+mantissa)"),
    "lim_largest": ("가장 큰 수", "Largest value"),
    "lim_smallest_normal": ("가장 작은 정규수", "Smallest normal"),
    "lim_smallest_subnormal": ("가장 작은 비정규수", "Smallest subnormal"),
    "lim_eps": ("머신 엡실론", "Machine epsilon"),
    "lim_digits": ("십진 유효숫자", "Decimal digits"),
    "lim_inf": ("무한대 / 너무 큰 수", "Infinity / too large"),
    "inf_yes": ("있음 → inf", "yes → inf"),
    "inf_none_saturates": ("없음 → ±{largest} 로 포화", "none → saturates to ±{largest}"),
    "inf_none_nan": ("없음 → NaN", "none → NaN"),

    # ---- the gap chart (view.spacing_figure)
    "spacing_title": ("수가 커질수록 간격도 커집니다: 2의 거듭제곱마다 두 배",
                      "The gap grows with the number: it doubles at every power of two"),
    "spacing_x": ("수의 크기 |x| (로그 눈금)", "size of the number |x| (log scale)"),
    "spacing_y": ("바로 다음 수까지의 간격 (로그 눈금)", "gap to the next number (log scale)"),
    "spacing_hover": ("값 %{x:.4g} 근처 간격 %{y:.3g}", "near %{x:.4g}: gap %{y:.3g}"),
    "spacing_here_hover": ("여기서 간격 %{y:.3g}", "gap here %{y:.3g}"),
    "spacing_out_of_range": ("{label} (이 범위 밖)", "{label} (out of range here)"),
    "spacing_your_number": ("입력한 수 |x| = {size}", "your number |x| = {size}"),

    # ---- the comparison: settings, progress, reasons (compare.py, hardware.py)
    "no_precision": ("정밀도를 하나 이상 골라 주세요.", "Please pick at least one precision."),
    "no_device_chosen": ("고른 장치가 이 컴퓨터에 없어서 CPU 로 잽니다.", "None of the chosen devices is here, so the CPU is measured."),
    "no_photos": ("assets/examples 에 예시 사진이 없습니다.", "There are no example photos in assets/examples."),
    "fallback": ("'{wanted}' 가중치가 없어 오프라인 모델 {used} 을(를) 대신 씁니다 (`python app.py --prefetch {wanted}` 로 받을 수 있습니다).",
                 "'{wanted}' weights are missing, so the offline model {used} is used instead "
                 "(get them with `python app.py --prefetch {wanted}`)."),
    "progress": ("{what} ({elapsed} / {budget}초)", "{what} ({elapsed} / {budget} s)"),
    "progress_loading": ("모델과 이미지 준비", "Loading the model and the images"),
    "progress_probe": ("CPU 의 16비트 행렬 곱 속도 재기", "Timing the CPU's 16-bit matrix multiply"),
    "progress_row": ("{device} · {precision} · {workload}", "{device} · {precision} · {workload}"),
    "progress_done": ("끝", "Done"),
    "workload_cnn": ("CNN", "CNN"),
    "workload_matmul": ("행렬 곱", "matmul"),
    "skipped_budget": ("시간 예산을 다 써서 건너뛰었습니다. 예산을 늘리거나 고른 항목을 줄여 보세요.",
                       "Skipped: the time budget ran out. Raise the budget or pick fewer items."),
    "skipped_estimate": ("이미지 한 장에 약 {seconds}초가 걸릴 것으로 보여 (FP32 속도와 측정한 행렬 곱 속도로 추정) 남은 시간 안에 못 끝냅니다.",
                         "One image would take about {seconds} s (estimated from the FP32 speed and the measured matmul "
                         "speed): more than the time left."),
    "stopped_budget": ("시간 예산이 끝나 멈췄습니다: {seconds}초 동안 이미지 한 장의 층 {done}/{total}개만 계산했습니다 (한 장에 약 {per_image}초).",
                       "Stopped when the time budget ran out: in {seconds} s only {done} of {total} layers of one image "
                       "were computed (about {per_image} s per image)."),
    "does_not_run": ("이 장치에서 실행되지 않았습니다: {error}", "Does not run on this device: {error}"),
    "row_out_of_memory": ("이 장치의 메모리가 모자랐습니다. 이미지 개수나 행렬 크기를 줄여 보세요.",
                          "This device ran out of memory. Use fewer images or a smaller matrix."),
    "bf16_gpu_unsupported": ("이 GPU 는 BF16 을 지원하지 않습니다 (Ampere, compute capability 8.0 이상 필요).",
                             "This GPU does not support BF16 (it needs Ampere, compute capability 8.0 or newer)."),
    "int8_cpu_only": ("PyTorch 의 동적 INT8 양자화(quantize_dynamic)는 CPU 용 커널만 있습니다.",
                      "PyTorch's dynamic INT8 quantisation (quantize_dynamic) only has CPU kernels."),
    "int8_no_quantize_dynamic": ("이 PyTorch 에는 torch.ao.quantization.quantize_dynamic 이 없습니다 (후속인 torchao 패키지는 설치되어 있지 않습니다).",
                                 "This PyTorch has no torch.ao.quantization.quantize_dynamic (its successor, the torchao "
                                 "package, is not installed)."),
    "int8_no_engine": ("이 PyTorch 빌드에는 INT8 양자화 엔진이 없습니다.", "This PyTorch build has no INT8 quantisation engine."),
    "fp8_old_gpu": ("이 GPU 는 compute capability {capability} 입니다. FP8 텐서 코어는 8.9 이상(Ada, Hopper, Blackwell)부터 있습니다.",
                    "This GPU is compute capability {capability}. FP8 tensor cores start at 8.9 (Ada, Hopper, Blackwell)."),
    "fp8_does_not_run": ("이 장치에서는 PyTorch 의 FP8 행렬 곱이 돌지 않습니다: {error}",
                         "PyTorch's FP8 matrix multiply does not run on this device: {error}"),
    "unknown_precision": ("알 수 없는 정밀도: {precision}", "Unknown precision: {precision}"),

    # ---- the comparison: chart and table (view.py)
    "fig_cnn": ("CNN: 초당 이미지 수 (클수록 빠름)", "CNN: images per second (higher is faster)"),
    "fig_matmul": ("행렬 곱: GFLOP/s (클수록 빠름)", "Matrix multiply: GFLOP/s (higher is faster)"),
    "fig_memory": ("CNN 메모리 MB: 가중치(진한 막대) / 이미지 1장 최대(빗금)", "CNN memory MB: weights (solid) / peak for 1 image (hatched)"),
    "fig_agree": ("CNN: FP32 와 같은 1등 클래스 (%)", "CNN: same top-1 class as FP32 (%)"),
    "fig_weights": ("{device} 가중치", "{device} weights"),
    "fig_peak": ("{device} 최대", "{device} peak"),
    "fig_title": ("{model} · 기준: CPU 의 FP32", "{model} · reference: FP32 on the CPU"),
    "fig_empty": (" · 빈 칸: 여기서 실행 못 함 (표에 이유)", " · empty: cannot run here (reason in the table)"),
    "fig_agree_hover": ("%{x}: %{y:.0f}% · 최대 차이 %{customdata:.3g}", "%{x}: %{y:.0f}% · max |Δ| %{customdata:.3g}"),
    "col_device": ("장치", "Device"),
    "col_precision": ("정밀도", "Precision"),
    "col_workload": ("작업", "Workload"),
    "col_status": ("상태", "Status"),
    "col_items": ("이미지 수 / N", "Images / N"),
    "col_latency": ("지연 (ms)", "Latency (ms)"),
    "col_throughput": ("이미지/s 또는 GFLOP/s", "Images/s or GFLOP/s"),
    "col_weights": ("가중치 MB", "Weights MB"),
    "col_peak": ("최대 메모리 MB (1장)", "Peak MB (1 image)"),
    "col_diff": ("FP32 와 최대 차이", "Max |Δ| vs FP32"),
    "col_agree": ("1등 일치 %", "Top-1 agree %"),
    "col_images_time": ("{count}장 걸리는 시간", "Time for {count} images"),
    "col_note": ("참고", "Note"),
    "status_ok": ("측정함", "measured"),
    "status_unsupported": ("여기서 안 됨", "not supported here"),
    "status_skipped": ("건너뜀 (시간)", "skipped (time)"),
    "row_int8_cnn": ("Linear 층만 INT8, 합성곱은 FP32", "only Linear layers are INT8; convolutions stay FP32"),
    "row_fp8_cnn": ("가중치만 FP8 로 저장, 계산은 BF16", "weights stored in FP8, computed in BF16"),
    "seconds": ("{n}초", "{n} s"),
    "minutes": ("{n}분", "{n} min"),
    "hours": ("{n}시간", "{n} h"),

    # ---- the comparison: what the result means (view.compare_notes)
    "weights_real": ("진짜 가중치", "real weights"),
    "weights_random": ("무작위 가중치(테스트용)", "random weights (test zoo)"),
    "notes_model": ("**모델**: {model} ({weights}). 차이와 1등 일치는 CPU 의 FP32 출력과 비교했습니다. "
                    "**시간**: 측정 {seconds}초 / 예산 {budget}초 (그 전에 모델과 이미지 준비 {load}초).",
                    "**Model**: {model} ({weights}). Differences and top-1 agreement are against FP32 on the CPU. "
                    "**Time**: measurements {seconds} s of the {budget} s budget (before them, loading the model "
                    "and the images: {load} s)."),
    "notes_skipped": ("시간 예산이 모자라 {n}개 항목을 건너뛰었습니다.", "{n} item(s) skipped for lack of time."),
    "notes_threads": ("**CPU**: PyTorch 는 이번에 CPU 논리 코어 {cores}개 중 {threads}개 스레드를 썼습니다.",
                      "**CPU**: PyTorch used {threads} thread(s) of the {cores} logical CPU cores."),
    "notes_probe": ("{n}x{n} 행렬 곱 측정: FP32 {fp32}, BF16 {bf16} ({bf16_ratio}배), FP16 {fp16} ({fp16_ratio}배) GFLOP/s.",
                    "Measured {n}x{n} matmul: FP32 {fp32}, BF16 {bf16} ({bf16_ratio}x), FP16 {fp16} ({fp16_ratio}x) GFLOP/s."),
    "case_both_fast": ("→ 이 CPU 는 BF16 과 FP16 을 모두 FP32 보다 빠르게 계산합니다: 낮은 정밀도가 여기서는 실제로 더 빠릅니다.",
                       "→ This CPU computes both BF16 and FP16 faster than FP32: lower precision really is faster here."),
    "case_bf16_fast": ("→ 이 CPU 는 BF16 은 FP32 보다 빠르지만 FP16 은 빠르지 않습니다: FP16 전용 연산 장치가 없으면 "
                       "FP16 은 변환을 거쳐 계산되므로 오히려 느립니다.",
                       "→ On this CPU BF16 is faster than FP32 but FP16 is not: without FP16 units, FP16 is computed "
                       "through conversions and ends up slower."),
    "case_fp16_fast": ("→ 이 CPU 는 FP16 은 빠르지만 BF16 은 빠르지 않습니다.", "→ On this CPU FP16 is fast but BF16 is not."),
    "case_none_fast": ("→ 이 CPU 에서는 FP16·BF16 이 FP32 보다 빠르지 않습니다: 낮은 정밀도 전용 연산 장치가 없거나 PyTorch 가 쓰지 못합니다. "
                       "이런 CPU 에서는 FP32(또는 INT8), GPU 에서는 FP16·BF16 이 보통 답입니다.",
                       "→ On this CPU FP16 and BF16 are not faster than FP32: it has no low-precision units, or PyTorch "
                       "does not use them. On such a CPU use FP32 (or INT8); on a GPU, FP16/BF16."),
    "notes_flags": ("이 CPU 가 알려 준 명령어 (/proc/cpuinfo): {flags}. PyTorch 가 쓰는 CPU 명령어 수준: {capability}.",
                    "Instructions this CPU reports (/proc/cpuinfo): {flags}. PyTorch's CPU capability: {capability}."),
    "notes_flags_unknown": ("이 시스템은 CPU 명령어 목록을 알려 주지 않습니다 (/proc/cpuinfo 없음). PyTorch 가 쓰는 CPU 명령어 수준: {capability}.",
                            "This system does not list the CPU's instructions (no /proc/cpuinfo). PyTorch's CPU capability: {capability}."),
    "flag_yes": ("{name} 있음", "{name} yes"),
    "flag_no": ("{name} 없음", "{name} no"),
    "notes_amx": ("참고: AMX 는 인텔 제온(4세대 Sapphire Rapids 부터)에 있는 행렬 전용 장치로, BF16 행렬 곱을 "
                  "FP32 보다 몇 배 빠르게 합니다 (AMX FP16 은 6세대부터).",
                  "For contrast: AMX is a matrix unit in Intel Xeon CPUs (from the 4th generation, Sapphire Rapids) that "
                  "runs BF16 matrix multiplies several times faster than FP32 (AMX FP16 from the 6th generation)."),
    "notes_ratio": ("이번 측정에서 CPU 의 CNN 은 {precision} 가 FP32 의 **{ratio}배** 속도였습니다.",
                    "In this run the CPU ran the CNN in {precision} at **{ratio}x** the FP32 speed."),
    "notes_int8": ("**INT8 (동적 양자화)**: Linear 층의 가중치를 8비트 정수로 저장하고 입력은 실행할 때마다 양자화합니다. "
                   "합성곱 층은 FP32 그대로라서 CNN 에서는 분류기만 바뀝니다 (가중치 {mb} MB).",
                   "**INT8 (dynamic quantisation)**: the weights of Linear layers are stored as 8-bit integers and the input "
                   "is quantised on every call. Convolutions stay FP32, so in a CNN only the classifier changes "
                   "(weights {mb} MB)."),
    "notes_int8_matmul": ("순수한 행렬 곱에서는 INT8 이 FP32 의 {ratio}배 속도였습니다 (N={n}).",
                          "On the plain matmul INT8 ran at {ratio}x the FP32 speed (N={n})."),
    "notes_fp8_ran": ("**FP8**: {devices} 에서 돌았습니다. 행렬 곱은 PyTorch 의 FP8 행렬 곱(scaled_mm, 행렬마다 배율 하나)이고, "
                      "PyTorch 에는 FP8 합성곱이 없어 CNN 은 가중치만 FP8 로 저장하고 BF16 으로 계산합니다. "
                      "FP8 이 빠르려면 FP8 연산 장치가 있어야 합니다 (NVIDIA GPU 는 compute capability 8.9 이상).",
                      "**FP8**: ran on {devices}. The matmul is PyTorch's FP8 matrix multiply (scaled_mm, one scale per "
                      "matrix); PyTorch has no FP8 convolution, so the CNN only stores its weights in FP8 and computes in "
                      "BF16. FP8 is fast only where the hardware has FP8 units (NVIDIA GPUs of compute capability 8.9+)."),
    "notes_fp8_ratio": ("{device} 의 FP8 행렬 곱은 FP32 의 {ratio}배 속도였습니다 (N={n}).",
                        "On {device} the FP8 matmul ran at {ratio}x the FP32 speed (N={n})."),
    "notes_fp8_not_here": ("**FP8**: 이 컴퓨터에서는 실행되지 않았습니다 (표의 이유 참고).",
                           "**FP8**: did not run on this machine (see the reason in the table)."),
    "notes_accuracy": ("**정확도**: 가장 낮은 1등 일치는 {device} {precision} 의 {agree}% 입니다. "
                       "출력 숫자가 조금 달라도 1등 클래스는 대부분 그대로입니다: 추론에는 16비트로 충분한 경우가 많습니다.",
                       "**Accuracy**: the lowest top-1 agreement is {agree}% ({device} {precision}). The outputs move a "
                       "little, but the top class mostly stays: 16 bits are usually enough for inference."),
    "notes_images_time": ("**이미지 {count}장**을 이 모델로 분류하면 (여기서 잰 속도로): {times}.",
                          "**{count} images** through this model would take (at the speeds measured here): {times}."),
    "notes_gpu_faster": ("여기서 GPU 는 CPU 의 가장 빠른 설정보다 **{ratio}배** 빨랐습니다. 클라우드 GPU 는 같은 종류의 GPU 를 "
                         "시간 단위로 빌리는 것이므로 계산 속도는 같은 모델의 GPU 와 같고, 쓴 시간만큼 돈을 냅니다 (데이터를 올리는 시간은 따로).",
                         "Here the GPU was **{ratio}x** faster than the CPU's best setting. A cloud GPU is the same kind of "
                         "GPU rented by the hour: the compute speed is that of the same GPU model, and you pay for the time "
                         "used (uploading the data is extra)."),
    "notes_no_gpu": ("이 컴퓨터에는 GPU 가 없어 GPU 줄은 없습니다 (Hugging Face 무료 Space 도 CPU 뿐). GPU 가 있는 컴퓨터나 "
                     "클라우드 GPU 에서 같은 버튼을 누르면 GPU 줄이 함께 측정됩니다.",
                     "This machine has no GPU, so there are no GPU rows (the free Hugging Face Space is CPU-only too). Press "
                     "the same button on a machine or cloud GPU with CUDA and the GPU rows are measured as well."),

    # ---- this machine's devices (view.device_panel)
    "panel_heading": ("### 이 컴퓨터", "### This machine"),
    "panel_cpu": ("- **CPU**: {model}, 논리 코어 {cores}개, PyTorch 스레드 {threads}개, PyTorch CPU 명령어 수준 {capability}",
                  "- **CPU**: {model}, {cores} logical cores, {threads} PyTorch threads, PyTorch CPU capability {capability}"),
    "panel_flags": ("- **낮은 정밀도용 명령어** (/proc/cpuinfo): {flags}", "- **Low-precision instructions** (/proc/cpuinfo): {flags}"),
    "panel_flags_unknown": ("- **낮은 정밀도용 명령어**: 이 시스템은 알려 주지 않습니다 (/proc/cpuinfo 없음)",
                            "- **Low-precision instructions**: this system does not say (no /proc/cpuinfo)"),
    "panel_gpu": ("- **GPU {index}**: {name}, {memory} GiB, compute capability {capability}, SM {sms}개, CUDA {cuda}",
                  "- **GPU {index}**: {name}, {memory} GiB, compute capability {capability}, {sms} SMs, CUDA {cuda}"),
    "panel_no_gpu": ("- **GPU**: 없음 (CUDA 를 쓸 수 없습니다). Hugging Face 무료 Space 도 GPU 가 없습니다.",
                     "- **GPU**: none (CUDA is not available). The free Hugging Face Space has no GPU either."),
    "panel_mps": ("- **Apple GPU (MPS)**: 있음", "- **Apple GPU (MPS)**: available"),
    "panel_torch": ("- PyTorch {version}", "- PyTorch {version}"),
    "panel_compare_heading": ("### CPU / GPU / 클라우드 GPU", "### CPU / GPU / cloud GPU"),
    "panel_compare_table": (
        "| | CPU | GPU | 클라우드 GPU |\n|---|---|---|---|\n"
        "| 처리 방식 | 강한 코어 몇 개가 차례로 | 단순한 코어 수천 개가 동시에 | GPU 를 필요한 만큼 빌려서 동시에 |\n"
        "| 딥러닝 학습 | 느림 | 빠름 (한 대의 메모리가 한계) | 여러 대로 큰 모델·큰 데이터 |\n"
        "| 비용 | 이미 있음 | 비싼 장비를 사야 함 | 쓴 시간만큼 지불 |\n"
        "| 관리 | 직접 | 직접 (드라이버, 냉각) | 클라우드 회사가 |",
        "| | CPU | GPU | Cloud GPU |\n|---|---|---|---|\n"
        "| How it works | a few strong cores, one task after another | thousands of simple cores at once | rented GPUs, as many as needed |\n"
        "| Training deep nets | slow | fast (limited by one card's memory) | many GPUs for big models and data |\n"
        "| Cost | already there | buy an expensive card | pay for the hours used |\n"
        "| Upkeep | you | you (drivers, cooling) | the cloud provider |"),
    "panel_hint": ("'같은 모델, 여러 정밀도' 탭에서 측정하기를 누르면, 그래프 아래 '결과 읽는 법'에 이 컴퓨터에서 잰 속도로 "
                   "이미지 {count}장에 걸리는 시간이 장치·정밀도마다 나옵니다.",
                   "Press Measure in 'Same model, many precisions': 'What the result means' under the chart then gives, for "
                   "each device and precision, the time {count} images take at the speed measured here."),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("70000은 FP16에 들어갈까요? BF16에는?",
                 "Does 70000 fit in FP16? In BF16?"),
    "class_q1_choices": ("둘 다 들어간다|FP16에만|BF16에만|둘 다 안 된다",
                         "both|FP16 only|BF16 only|neither"),
})
