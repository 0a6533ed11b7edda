"""The Hugging Face lesson, what every row shares: a model is a name on the hub.

A row takes a repository name; `model_for(task, name)` turns it into a loaded model through the one loader
(`core.models`): the lesson's own model by its spec, another repository of the same task as a spec of the
same family (`core.zoo.hub.typed_spec`). A typed name is refused at once, before any download, when it is
not a repository name, when the server is offline and it is not on this computer, or when the hub says its
weights are larger than the server's memory budget. The facts a row shows (parameters, size on disk,
licence, cache folder) are read from the loaded model. The rows themselves: fill_mask.py, generate.py.
"""
from __future__ import annotations

import dataclasses

from core import memory, models, text, values
from core.zoo import hub as zoo
from tabs.hub.text import TEXT

MAX_CHARS = 300

SETTINGS = values.settings(
    values.Setting("top_k", TEXT.msg("label_top_k"), default=5, low=1, high=20, integer=True),
    values.Setting("temperature", TEXT.msg("label_temperature"), default=1.0, low=0.1, high=2.0, step=0.1),
    values.Setting("new_tokens", TEXT.msg("label_new_tokens"), default=8, low=1, high=30, integer=True),
    values.Setting("seed", TEXT.msg("label_seed"), default=0, low=0, high=9999, integer=True),
)


@dataclasses.dataclass
class Facts:
    """What a row shows about its model, read from the loaded model."""

    repo: str
    spec: str
    task: str
    parameters: int
    disk_bytes: int
    licence: str  # "" when the model card does not say
    folder: str  # "" for the test zoo
    real_weights: bool

    @property
    def pipeline_line(self) -> str:
        return f'pipeline("{self.task}", model="{self.repo}")'


def facts_of(model: zoo.HubModel) -> Facts:
    return Facts(model.repo, model.name, model.task, model.parameters, model.disk_bytes, model.licence,
                 model.folder, model.real_weights)


def read_text(value, *, allow_empty: bool = False) -> str:
    """A typed sentence: text, not empty, at most MAX_CHARS characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise TEXT.problem("not_text", got=type(value).__name__)
    value = value.strip()
    if not value and not allow_empty:
        raise TEXT.problem("empty")
    if len(value) > MAX_CHARS:
        raise TEXT.problem("too_long", got=len(value), limit=MAX_CHARS)
    return value


def read_name(task: str, value) -> str:
    """The repository a row uses: the lesson's model when the box is empty."""
    default = zoo.TASKS[task].repo
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        raise TEXT.problem("not_text", got=type(value).__name__)
    name = value.strip()
    if not zoo.REPO_PATTERN.match(name):
        raise TEXT.problem("bad_name", name=name[:60], example=default)
    return name


def _check_typed(task: str, repo: str) -> None:
    """Refuse a typed repository at once: offline and not here, or too big for the memory budget."""
    default = zoo.TASKS[task].repo
    if zoo.repo_cached(task, repo):
        return
    if models.offline():
        raise TEXT.problem("offline_name", name=repo, default=default)
    if models.source(zoo.TASKS[task].spec) == "tiny":  # the loader serves the test zoo: a tiny model stands in
        return
    try:
        size = zoo.download_bytes(repo)
    except Exception as exc:  # no such repository, no network: said at once, without a download
        reason = str(exc).strip().splitlines()[0][:80] if str(exc).strip() else type(exc).__name__
        raise TEXT.problem("unreachable_name", name=repo, reason=reason, default=default) from exc
    budget = memory.BUDGET.limit_bytes
    if size > budget // 2:  # the model and what it computes must fit with the rest of the app
        raise TEXT.problem("too_big", name=repo, size=f"{size / 1e9:.1f} GB", budget=f"{budget / 1e9:.1f} GB")


def model_for(task: str, name) -> zoo.HubModel:
    """The loaded model of `task` named `name` (a repository), through the one loader."""
    repo = read_name(task, name)
    if repo == zoo.TASKS[task].repo:
        return models.get(zoo.TASKS[task].spec)
    _check_typed(task, repo)
    try:
        return models.get(zoo.typed_spec(task, repo))
    except models.ModelUnavailable:
        raise
    except (ValueError, KeyError, OSError) as exc:  # e.g. a repository of another task
        raise TEXT.problem("wrong_task", name=repo, task=task) from exc


def model_in_use(task: str) -> str:
    """Where the lesson's model of `task` comes from now ("tiny", "cached", "download"): part of cache keys."""
    return models.source(zoo.TASKS[task].spec)


def take_settings(notes: list, **given) -> dict:
    """The named settings, read (clamped) with their notes."""
    return {name: SETTINGS[name].take(value, notes) for name, value in given.items()}


def say_notes(notes: list, lang: str) -> list[str]:
    return [note.say(lang) if isinstance(note, text.Message) else str(note) for note in notes]
