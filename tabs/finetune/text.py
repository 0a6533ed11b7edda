"""Every word of the fine-tuning lesson, in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("finetune", {
    "title": ("10. 파인튜닝", "10. Fine-tuning"),

    # Ready: the data
    "data_h": ("### 준비: 데이터 (클래스 2~5개)", "### Ready: the data (2 to 5 classes)"),
    "source": ("데이터", "Data"),
    "source_builtin": ("내장 도형 세트 (파일 없이)", "Built-in shape set (no files needed)"),
    "source_mine": ("내 사진 / 웹캠", "My photos / webcam"),
    "n_classes": ("클래스 수", "Number of classes"),
    "per_class": ("클래스마다 이미지 수", "Images per class"),
    "data_seed": ("도형 시드 (다른 그림)", "Shape seed (other pictures)"),
    "class_name": ("클래스 이름", "Class name"),
    "class_files": ("사진 올리기 (여러 장)", "Upload photos (several)"),
    "snap": ("웹캠 스냅샷 (또는 사진)", "Webcam snapshot (or a photo)"),
    "snap_class": ("스냅샷을 넣을 클래스", "Class for the snapshot"),
    "snap_add": ("📸 이 클래스에 추가", "📸 Add to this class"),
    "snap_clear": ("스냅샷 모두 지우기", "Clear all snapshots"),
    "snap_counts": ("클래스별 스냅샷 수: {counts}", "Snapshots per class: {counts}"),
    "preview": ("데이터 보기와 나누기", "Show and split the data"),
    "gallery": ("데이터 미리 보기", "Data preview"),
    "shape_circle": ("원", "circle"),
    "shape_square": ("사각형", "square"),
    "shape_triangle": ("삼각형", "triangle"),
    "shape_star": ("별", "star"),
    "shape_cross": ("십자", "cross"),
    "class_default": ("클래스 {n}", "class {n}"),
    "split_class": ("클래스", "class"),
    "split_train": ("학습", "train"),
    "split_val": ("검증", "validation"),
    "split_total": ("합계", "total"),

    # ① ② ③
    "step1": ("### ① 사전 학습된 모델 가져오기", "### ① Take a pretrained model"),
    "backbone": ("ImageNet 으로 학습된 CNN", "CNN trained on ImageNet"),
    "step2": ("### ② 레이어 고정하기 (앞쪽부터)", "### ② Freeze layers (from the input side)"),
    "freeze": ("고정할 단계 수 (최대 = 몸통 전체 고정, 출력층만 학습)",
               "Stages kept frozen (max = whole body frozen, only the output layer learns)"),
    "freeze_short": ("고정할 단계 수", "Stages kept frozen"),
    "freeze_idle": ("모델을 불러오는 중...", "Loading the model..."),
    "weights_real": ("ImageNet 진짜 가중치", "real ImageNet weights"),
    "weights_random": ("무작위 가중치 (테스트용)", "random weights (test zoo)"),
    "nothing": ("없음", "none"),
    "freeze_info": (
        "**{name}** · {weights} · 고정: `{frozen}`\n\n학습: `{trainable}` + 새 출력층\n\n"
        "학습되는 파라미터 **{trainable_count}**개 / 전체 {total_count}개 (**{share}**) · 고정된 파라미터 {frozen_count}개",
        "**{name}** · {weights} · frozen: `{frozen}`\n\ntrained: `{trainable}` + new output layer\n\n"
        "trainable parameters **{trainable_count}** of {total_count} (**{share}**) · frozen parameters {frozen_count}"),
    "step3": ("### ③ 새 출력층 붙이기", "### ③ Add a new output layer"),
    "head_info": (
        "원래 출력층 (ImageNet 클래스 1000개) 을 떼어 내고 `Linear({dim} → {n})` 을 새로 붙입니다. "
        "특징 {dim}개를 클래스 {n}개의 점수로 바꾸는 층으로, 파라미터 {params}개가 무작위 값에서 출발합니다.",
        "The old output layer (1000 ImageNet classes) is taken off and a new `Linear({dim} → {n})` goes on. "
        "It turns {dim} features into scores for {n} classes; its {params} parameters start from random values."),
    "fallback": ("'{name}' 가중치가 이 컴퓨터에 없어 오프라인 모델 EfficientNet-Lite0 으로 대신합니다 "
                 "(인터넷이 될 때 `python app.py --prefetch {name}` 로 받아 둘 수 있습니다).",
                 "The weights of '{name}' are not on this computer, so the offline EfficientNet-Lite0 is used "
                 "instead (fetch them while online with `python app.py --prefetch {name}`)."),

    # ④ train
    "step4": ("### ④ 새 데이터로 학습하기", "### ④ Train on the new data"),
    "epochs": ("최대 에포크", "Max epochs"),
    "lr": ("학습률", "Learning rate"),
    "batch": ("배치 크기", "Batch size"),
    "augment": ("데이터 증강 (자르기·뒤집기·회전·밝기)", "Augmentation (crop, flip, rotate, brightness)"),
    "patience": ("조기 종료 patience (참을 에포크)", "Early stopping patience (epochs to wait)"),
    "min_delta": ("min_delta (이만큼은 줄어야 개선)", "min_delta (smallest drop that counts)"),
    "train": ("▶ 새로 학습 (새 출력층)", "▶ Train (new output layer)"),
    "stop": ("■ 멈추기", "■ Stop"),
    "clear_runs": ("이전 실행 지우기", "Clear earlier runs"),
    "curves": ("손실과 정확도 (에포크마다)", "Loss and accuracy (per epoch)"),
    "status_idle": ("데이터와 설정을 고르고 **새로 학습** 을 누르세요.",
                    "Pick the data and settings, then press **Train**."),
    "status_preparing": ("⏳ 고정된 층의 출력을 이미지 {n}장에 대해 한 번만 계산하는 중...",
                         "⏳ Computing the frozen layers' output once, for {n} images..."),
    "status_head": ("학습 파라미터 {trainable}개 · {mode} (특징 계산: {features}) · 학습 {n_train}장 / 검증 {n_val}장",
                    "{trainable} trainable parameters · {mode} (features: {features}) · "
                    "{n_train} training / {n_val} validation images"),
    "mode_cached": ("특징 캐시 사용", "cached features"),
    "mode_uncached": ("고정된 층을 배치마다 계산 (캐시가 메모리 한도를 넘음)",
                      "frozen layers run in every batch (the cache would pass the memory limit)"),
    "features_reused": ("이미 계산된 것 재사용", "reused, already computed"),
    "features_seconds": ("{seconds}초", "{seconds} s"),
    "status_epoch": ("🏃 에포크 {epoch}/{epochs} · 학습 손실 {train_loss}, 정확도 {train_acc} · "
                     "검증 손실 {val_loss}, 정확도 {val_acc} · 최고 에포크 {best}",
                     "🏃 epoch {epoch}/{epochs} · train loss {train_loss}, accuracy {train_acc} · "
                     "validation loss {val_loss}, accuracy {val_acc} · best epoch {best}"),
    "status_done": ("✅ 끝 ({seconds}초): {reason}. 에포크 {stopped} 에서 멈춤, {restored} · "
                    "검증 정확도 **{acc}**, 검증 손실 {loss}",
                    "✅ Done ({seconds} s): {reason}. Stopped at epoch {stopped}, {restored} · "
                    "validation accuracy **{acc}**, validation loss {loss}"),
    "restored": ("에포크 {epoch} 의 가중치로 되돌렸습니다", "weights of epoch {epoch} restored"),
    "kept_weights": ("가중치는 그대로입니다", "weights kept as they are"),
    "status_stopped": ("멈췄습니다.", "Stopped."),
    "reason_early_stop": ("조기 종료: 검증 손실이 patience 에포크 동안 min_delta 보다 더 줄지 않았습니다",
                          "early stopping: the validation loss did not drop by more than min_delta for `patience` epochs"),
    "reason_epochs": ("최대 에포크를 다 채웠습니다", "all the epochs ran"),
    "reason_stopped": ("멈추기 버튼으로 멈췄습니다", "stopped with the Stop button"),
    "reason_time": ("시간 제한 ({limit}초) 에 걸려 멈췄습니다", "stopped at the time limit ({limit} s)"),
    "reason_diverged": ("손실이 무한대나 NaN 이 되어 멈췄습니다 (학습률을 낮추세요)",
                        "the loss became infinite or NaN (lower the learning rate)"),
    "run_label": ("#{number} (고정 {frozen}, p={patience})", "#{number} (frozen {frozen}, p={patience})"),
    "run_label_continued": ("#{number} 이어서 (고정 {frozen}, p={patience})",
                            "#{number} cont. (frozen {frozen}, p={patience})"),
    "loss_title": ("손실 (loss)", "Loss"),
    "acc_title": ("정확도 (accuracy)", "Accuracy"),
    "epoch_axis": ("에포크", "epoch"),
    "trace_train": ("{run} · 학습", "{run} · train"),
    "trace_val": ("{run} · 검증", "{run} · validation"),
    "best_epoch": ("최고 에포크", "best epoch"),
    "best_mark": ("★ 최고 {epoch}", "★ best {epoch}"),
    "stop_mark": ("멈춤 {epoch}", "stop {epoch}"),

    # ⑤ evaluate, continue, predict
    "step5": ("### ⑤ 평가하고, 더 풀어서 이어 학습하기", "### ⑤ Evaluate, then unfreeze more and continue"),
    "step5_help": (
        "검증 데이터의 혼동 행렬을 보세요. 더 좋게 만들고 싶다면 ②의 슬라이더를 왼쪽으로 옮겨 고정을 조금 풀고, "
        "학습률을 낮춘 뒤(예: 0.0003) **이어서 학습** 을 누르세요. 지금까지 배운 가중치에서 출발합니다.",
        "Look at the confusion matrix on the validation data. To improve further, move the slider of ② left to "
        "unfreeze a little, lower the learning rate (e.g. 0.0003) and press **Continue training**: it starts "
        "from the weights learned so far."),
    "continue": ("⏩ 이어서 학습 (지금 가중치에서)", "⏩ Continue training (from current weights)"),
    "confusion": ("혼동 행렬 (검증 데이터)", "Confusion matrix (validation data)"),
    "confusion_title": ("검증 정확도 {acc}", "Validation accuracy {acc}"),
    "predicted_axis": ("예측", "predicted"),
    "true_axis": ("정답", "true"),
    "confusion_hover": ("정답 %{y} → 예측 %{x}: %{z}", "true %{y} → predicted %{x}: %{z}"),
    "predict_h": ("#### 새 사진으로 시험하기", "#### Try it on a new picture"),
    "predict_image": ("새 사진 (올리기 또는 웹캠)", "New picture (upload or webcam)"),
    "new_shape": ("🎲 처음 보는 도형 만들기", "🎲 Draw a shape it has never seen"),
    "predict": ("예측하기", "Predict"),
    "probs": ("파인튜닝한 모델: 내 클래스 확률", "The fine-tuned model: my classes"),
    "imagenet_probs": ("파인튜닝 전 모델: ImageNet 클래스 상위 5개", "The model before fine-tuning: top 5 ImageNet classes"),
    "imagenet_title": ("{name} 원래 출력층의 답", "{name}'s old output layer"),

    # problems and notes
    "too_few_classes": ("클래스가 {low}개 이상 있어야 서로 구분하는 법을 배울 수 있습니다.",
                        "At least {low} classes are needed to learn to tell them apart."),
    "too_many_classes": ("클래스는 최대 {high}개까지입니다.", "At most {high} classes are allowed."),
    "class_empty": ("클래스 '{name}' 에 이미지가 없습니다. 사진을 올리거나 웹캠으로 찍어 주세요.",
                    "Class '{name}' has no images. Upload photos or take webcam snapshots."),
    "class_one_image": ("클래스 '{name}' 에 이미지가 1장뿐입니다. 학습용과 검증용으로 최소 2장이 필요합니다.",
                        "Class '{name}' has only one image. At least 2 are needed: one to train, one to validate."),
    "duplicate_names": ("클래스 이름이 겹칩니다. 서로 다른 이름을 붙여 주세요.",
                        "Two classes have the same name. Please give them different names."),
    "class_bad_file": ("클래스 '{name}': {reason}", "Class '{name}': {reason}"),
    "too_many_images": ("'{name}': 이미지 {got}장 중 앞의 {kept}장만 씁니다.",
                        "'{name}': only the first {kept} of {got} images are used."),
    "too_many_snapshots": ("한 클래스에 스냅샷은 {limit}장까지입니다.", "At most {limit} snapshots per class."),
    "busy": ("이 창에서 이미 학습 중입니다. 끝나거나 멈춘 뒤에 다시 누르세요.",
             "A run is already going in this window. Wait for it to end or stop it first."),
    "nothing_to_continue": ("이어서 학습할 모델이 없습니다 (또는 클래스나 모델이 바뀌었습니다). 먼저 **새로 학습** 을 누르세요.",
                            "There is no model to continue (or the classes or the model changed). Press **Train** first."),
    "train_first": ("먼저 모델을 학습시키세요 (④ 새로 학습).", "Train a model first (④ Train)."),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("사전학습된 단계를 모두 얼리면(슬라이더 최대) 학습되는 가중치는?",
                 "With every pretrained stage frozen (the slider at its maximum), which weights learn?"),
    "class_q1_choices": ("신경망의 모든 가중치|새 출력층만|첫 단계만|하나도 없다",
                         "every weight of the network|only the new output layer|only the first stage|none"),
    # the class as the experiment (the teacher's page; each student's finished run reports its numbers)
    "class_h": ("반 전체의 실험 (교사 화면)", "The class as the experiment (teacher's page)"),
    "class_help": (
        "위 **교사** 메뉴의 '학생마다 다른 값 나눠 주기'에서 '학습률'이나 '고정할 단계'를 고르고 **반 전체에 보내기**를 누르면 "
        "학생마다 다른 값을 받습니다. 학생들이 **새로 학습**을 마칠 때마다 설정·검증 곡선·최고 에포크(숫자만)가 여기 모입니다.",
        "In the **Teacher** menu above, pick the learning rate or the frozen stages under \"A different value for each "
        "student\" and press **Send to class**: each student gets a value of their own. Whenever a student's "
        "**Train** finishes, its settings, validation curve and best epoch (numbers only) gather here."),
    "class_gather": ("반 전체의 결과 다시 그리기", "Draw the class's runs again"),
    "class_curves": ("반 전체의 검증 정확도 곡선", "The class's validation accuracy curves"),
    "class_lr_best": ("학습률과 최고 검증 정확도", "Learning rate against best validation accuracy"),
    "class_curves_title": ("학생 실험 {runs}개의 검증 정확도 (★ 최고 에포크, ✕ 조기 종료)",
                           "Validation accuracy of {runs} runs (★ best epoch, ✕ early stop)"),
    "class_lr_title": ("학습률(로그 축)과 최고 검증 정확도", "Learning rate (log axis) and best validation accuracy"),
    "class_lr_axis": ("학습률 (로그 축)", "learning rate (log axis)"),
    "class_acc_axis": ("최고 검증 정확도", "best validation accuracy"),
    "class_early": ("조기 종료로 멈춤", "stopped early"),
    "class_full": ("에포크를 다 채움", "ran every epoch"),
    "class_run_name": ("학습률 {lr} · 고정 {frozen}", "lr {lr} · frozen {frozen}"),
    "class_run_hover": ("학습률 {lr} · 고정 {frozen}단계 · 최고 에포크 {best}", "lr {lr} · {frozen} frozen · best epoch {best}"),
    "class_summary": ("파인튜닝 실험 {runs}개가 모였습니다 (학습률별 최고 검증 정확도)",
                      "{runs} fine-tuning runs gathered (best validation accuracy by learning rate)"),
    "class_settings": ("설정", "Settings"),
    "class_best": ("최고 에포크", "Best epoch"),
    "class_best_value": ("{epoch}번째, 검증 정확도 {acc}", "epoch {epoch}, validation accuracy {acc}"),
    "class_stop": ("조기 종료", "Early stopping"),
    "class_stop_yes": ("{epoch}번째 에포크에서 멈춤", "stopped at epoch {epoch}"),
    "class_stop_no": ("멈추지 않음 ({epoch} 에포크 모두)", "did not stop ({epoch} epochs ran)"),
})
