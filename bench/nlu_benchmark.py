"""Cross-validation (5 folds by default) of the project's NLU pipeline vs stock Rasa, same folds.

Run from the project root: ``.venv/bin/python -m bench.nlu_benchmark`` (``make bench-nlu``).
Prints the report and writes it to ``bench/nlu_report.md`` (``--output`` elsewhere), stamped with
the commit and the machine (:mod:`bench.report`).

Each fold trains a model with Rasa's own training entry point, loads it with ``Agent`` and parses
the held-out examples one by one through the message processor, timing each parse. Intent
metrics are scikit-learn's; entity metrics are both Rasa's token-level report (what
``rasa test nlu`` prints) and exact-span matching (type, start and end all equal).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Before Rasa/TensorFlow are imported: quiet logs, no telemetry, and no training cache (a cache
# hit would make later folds look faster than a real training).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ["RASA_MAX_CACHE_SIZE"] = "0"

import numpy as np
import rasa.model_training
import rasa.shared.utils.io
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.nlu.classifiers import fallback_classifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.test import EntityEvaluationResult, evaluate_entities
from rasa.shared.nlu.constants import ENTITIES, EXTRACTOR, INTENT, TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.log_utils import configure_structlog
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from bench.report import Stamp, command_line, header_lines, percentile
from clinicbot.ptbr.text import normalized_form

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPORT_PATH = PROJECT_ROOT / "bench" / "nlu_report.md"
SEED = 42
DEFAULT_FOLDS = 5

# The pipeline `rasa init` writes (rasa 3.6), with the language of the project.
STOCK_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


@dataclass
class Run:
    """Everything measured for one pipeline over all folds."""

    name: str
    gold_intents: list[str] = field(default_factory=list)
    predicted_intents: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)  # top-1 minus top-2 confidence
    entity_results: list[EntityEvaluationResult] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    parse_ms: list[float] = field(default_factory=list)
    model_bytes: list[int] = field(default_factory=list)


def pipeline_config(pipeline: list[dict[str, Any]], language: str) -> dict[str, Any]:
    """An NLU-only training config."""
    return {"recipe": "default.v1", "language": language, "pipeline": pipeline}


def stratified_folds(data: TrainingData, n_folds: int) -> list[tuple[TrainingData, list]]:
    """Seeded stratified folds, so that both pipelines see exactly the same splits.

    Spelling variants of one message ("até logo" / "ate logo") share a fold: otherwise one in
    training would make the other an easy test and inflate the scores.
    """
    examples = data.intent_examples
    labels = [example.get(INTENT) for example in examples]
    groups = [normalized_form(example.get(TEXT)) for example in examples]
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=SEED)
    folds = []
    for train_index, test_index in splitter.split(examples, labels, groups):
        train = TrainingData(
            training_examples=[examples[i] for i in train_index],
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=data.lookup_tables,
        )
        folds.append((train, [examples[i] for i in test_index]))
    return folds


async def evaluate_fold(run: Run, model_path: str, test_examples: list) -> None:
    """Parses every held-out example with the trained model and records the outcome."""
    processor = Agent.load(model_path).processor
    await processor.parse_message(UserMessage("oi"))  # first call builds lazy state
    for example in test_examples:
        started = time.perf_counter()
        result = await processor.parse_message(
            UserMessage(example.get(TEXT)), only_output_properties=False
        )
        run.parse_ms.append((time.perf_counter() - started) * 1000)
        if fallback_classifier.is_fallback_classifier_prediction(result):
            result = fallback_classifier.undo_fallback_prediction(result)
        run.gold_intents.append(example.get(INTENT))
        run.predicted_intents.append(result[INTENT].get("name") or "")
        ranking = [entry.get("confidence") or 0.0 for entry in result.get("intent_ranking", [])]
        run.confidences.append(float(result[INTENT].get("confidence") or 0.0))
        run.margins.append(float(ranking[0] - ranking[1]) if len(ranking) > 1 else 1.0)
        run.entity_results.append(
            EntityEvaluationResult(
                example.get(ENTITIES, []),
                result.get(ENTITIES, []),
                result.get(TOKENS_NAMES[TEXT], []),
                result.get(TEXT),
            )
        )


def cross_validate(
    name: str, config: dict[str, Any], folds: list[tuple[TrainingData, list]], workdir: Path
) -> Run:
    """Trains and evaluates ``config`` on every fold."""
    run = Run(name)
    config_path = workdir / f"{name}_config.yml"
    rasa.shared.utils.io.write_yaml(config, config_path)
    for index, (train, test_examples) in enumerate(folds, start=1):
        data_path = workdir / f"{name}_fold{index}.yml"
        RasaYAMLWriter().dump(data_path, train)
        started = time.perf_counter()
        model_path = rasa.model_training.train_nlu(
            str(config_path), str(data_path), str(workdir), fixed_model_name=f"{name}_{index}"
        )
        run.train_seconds.append(time.perf_counter() - started)
        run.model_bytes.append(Path(model_path).stat().st_size)
        asyncio.run(evaluate_fold(run, model_path, test_examples))
        print(f"  {name} fold {index}/{len(folds)}: trained in {run.train_seconds[-1]:.1f} s")
    return run


def cold_cli_training_seconds(config: dict[str, Any], data: str, workdir: Path) -> float:
    """Wall time of ``rasa train nlu`` on all of ``data`` in a fresh process (it inherits
    ``RASA_MAX_CACHE_SIZE=0``: no training cache)."""
    config_path = workdir / "cold_config.yml"
    rasa.shared.utils.io.write_yaml(config, config_path)
    command = [
        str(Path(sys.executable).with_name("rasa")), "train", "nlu",
        "--config", str(config_path), "--nlu", data,
        "--out", str(workdir / "cold"), "--fixed-model-name", "cold",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def entity_scores(run: Run) -> dict[str, Any]:
    """Rasa's token-level entity report and exact-span precision/recall/F1 per entity."""
    extractors = {
        entity[EXTRACTOR]
        for result in run.entity_results
        for entity in result.entity_predictions
        if EXTRACTOR in entity
    }
    token_report: dict[str, Any] = {}
    if extractors:
        evaluation = evaluate_entities(
            run.entity_results, extractors, None, False, False, True, report_as_dict=True
        )
        token_report = next(iter(evaluation.values()))["report"]
    gold: Counter = Counter()
    predicted: Counter = Counter()
    matched: Counter = Counter()
    for index, result in enumerate(run.entity_results):
        gold_spans = {(index, e["entity"], e["start"], e["end"]) for e in result.entity_targets}
        predicted_spans = {
            (index, e["entity"], e["start"], e["end"]) for e in result.entity_predictions
        }
        for spans, counter in ((gold_spans, gold), (predicted_spans, predicted)):
            counter.update(span[1] for span in spans)
        matched.update(span[1] for span in gold_spans & predicted_spans)
    span_report = {
        entity: _prf(matched[entity], predicted[entity], gold[entity]) for entity in sorted(gold)
    }
    span_report["overall (micro)"] = _prf(
        sum(matched.values()), sum(predicted.values()), sum(gold.values())
    )
    return {"token": token_report, "span": span_report}


def _prf(true_positives: int, predicted: int, gold: int) -> dict[str, float]:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": gold}


def fallback_table(
    run: Run, thresholds: list[float], ambiguity: float
) -> list[tuple[float, float, float]]:
    """Per threshold: share of correct predictions sent to fallback, share of errors caught.

    As ``FallbackClassifier`` does, a prediction falls back when its confidence is below the
    threshold or when it leads the runner-up by less than ``ambiguity``.
    """
    correct = np.array(run.gold_intents) == np.array(run.predicted_intents)
    confidences = np.array(run.confidences)
    ambiguous = np.array(run.margins) < ambiguity
    rows = []
    for threshold in thresholds:
        falls_back = (confidences < threshold) | ambiguous
        lost = falls_back[correct].mean() if correct.any() else 0.0
        caught = falls_back[~correct].mean() if (~correct).any() else 0.0
        rows.append((threshold, float(lost), float(caught)))
    return rows


def suggested_threshold(rows: list[tuple[float, float, float]], max_lost: float) -> float:
    """The highest threshold that sends at most ``max_lost`` of correct answers to fallback."""
    return max((t for t, lost, _ in rows if lost <= max_lost), default=rows[0][0])


def render_report(runs: list[Run], meta: dict[str, Any]) -> str:
    """The Markdown report: every figure and comparison in it is computed from ``runs``."""
    scores = {run.name: entity_scores(run) for run in runs}
    intents = sorted(set(runs[0].gold_intents))
    names = [run.name for run in runs]
    pipelines = {
        "project": f"`project` is the pipeline of `{meta['config']}`",
        "stock": "`stock` the pipeline `rasa init` writes (DIET, 100 epochs)",
        "diet_alternative": "`diet_alternative` the one of `config_diet.yml`",
    }
    folds_note = (
        f" (`--folds {meta['n_folds']}`, not the default {DEFAULT_FOLDS}: each fold trains on "
        f"{meta['n_folds'] - 1}/{meta['n_folds']} of the examples)"
        if meta["n_folds"] != DEFAULT_FOLDS
        else ""
    )
    lines = [
        "# NLU benchmark: " + " vs ".join(f"`{name}`" for name in names),
        "",
        *header_lines(meta["stamp"], meta["command"], packages=("rasa", "scikit-learn")),
        f"- Run time: {meta['runtime_s'] / 60:.1f} min in all",
        "",
        f"{meta['n_folds']}-fold stratified cross-validation{folds_note} (seed {SEED}) over "
        f"{meta['n_examples']} examples of {len(intents)} intents from `{meta['data']}`"
        + (", the same folds for every pipeline" if len(runs) > 1 else "")
        + "; spelling variants of one message (same text once accents, abbreviations and "
        "punctuation are normalised) always share a fold. "
        + "; ".join(pipelines.get(name, f"`{name}`") for name in names)
        + ". Latency is one `MessageProcessor.parse_message` call per held-out message, "
        "in-process, after one warm-up parse.",
        "",
        "Caveat: the project's concept lexicon (`clinicbot/ptbr/concepts.py`) and part of the "
        "training data were written while reading this benchmark's errors, so cross-validation "
        "can be optimistic for `project`; the held-out check is `tests/nlu/test_data.yml` "
        "(`make rasa-test`), which this benchmark does not read.",
        "",
        "## Summary",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(runs),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("intent macro-F1", [_f(f1_score(r.gold_intents, r.predicted_intents, average="macro"))
                            for r in runs])  # fmt: skip
    row("intent accuracy", [_f(np.mean(np.array(r.gold_intents) == np.array(r.predicted_intents)))
                            for r in runs])  # fmt: skip
    row(
        "entity F1, token-level (rasa test, micro)",
        [_f(scores[n]["token"].get("micro avg", {}).get("f1-score", float("nan"))) for n in names],
    )
    row("entity F1, exact span (micro)", [_f(scores[n]["span"]["overall (micro)"]["f1"])
                                          for n in names])  # fmt: skip
    row("train time per fold, in-process (s)", [f"{statistics.mean(r.train_seconds):.1f}"
                                                for r in runs])  # fmt: skip
    row("parse p50 (ms)", [f"{percentile(r.parse_ms, 50):.2f}" for r in runs])
    row("parse p95 (ms)", [f"{percentile(r.parse_ms, 95):.2f}" for r in runs])
    row("model size (.tar.gz)", [f"{statistics.mean(r.model_bytes) / 1e6:.2f} MB" for r in runs])
    for other in runs[1:]:
        ratio = percentile(other.parse_ms, 50) / percentile(runs[0].parse_ms, 50)
        lines += ["", f"Parse p50 of `{other.name}` ÷ parse p50 of `{names[0]}`: **{ratio:.2f}**."]
    lines += [
        "",
        f"Cold `rasa train nlu` of `{names[0]}` on all of `{meta['data']}` (fresh process, no "
        f"cache): **{meta['cold_train']:.1f} s**.",
    ]

    lines += ["", "## Intent F1 per intent", "", "| intent | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(runs)]  # fmt: skip
    per_intent = {
        r.name: f1_score(r.gold_intents, r.predicted_intents, labels=intents, average=None)
        for r in runs
    }
    for i, intent in enumerate(intents):
        row(intent, [_f(per_intent[n][i]) for n in names])

    lines += ["", "## Entities", ""]
    for run in runs:
        lines += [f"### {run.name}", "", "| entity | token F1 (rasa) | span P | span R | span F1 "
                  "| gold spans |", "|---|---|---|---|---|---|"]  # fmt: skip
        token, span = scores[run.name]["token"], scores[run.name]["span"]
        for entity, values in span.items():
            key = "micro avg" if entity.startswith("overall") else entity
            token_f1 = token.get(key, {}).get("f1-score", float("nan"))
            lines.append(
                f"| {entity} | {_f(token_f1)} | {_f(values['precision'])} | "
                f"{_f(values['recall'])} | {_f(values['f1'])} | {values['support']} |"
            )
        lines.append("")

    lines += ["## Top intent confusions (gold → predicted, count)", ""]
    for run in runs:
        pairs = Counter(
            (g, p) for g, p in zip(run.gold_intents, run.predicted_intents, strict=False) if g != p
        ).most_common(10)
        lines.append(f"- **{run.name}**: " + ", ".join(f"{g} → {p} ({c})" for (g, p), c in pairs))

    thresholds = [round(0.05 * i, 2) for i in range(1, 17)]
    lines += [
        "",
        f"## FallbackClassifier threshold ({names[0]})",
        "",
        "Share of correct CV predictions that `FallbackClassifier` would send to "
        "`nlu_fallback`, and share of wrong ones it would catch, per `threshold` and "
        "`ambiguity_threshold` (fallback when top-1 leads top-2 by less):",
        "",
    ]
    for ambiguity in (0.0, 0.05, 0.1):
        rows = fallback_table(runs[0], thresholds, ambiguity)
        threshold = suggested_threshold(rows, max_lost=0.02)
        lines += [
            f"ambiguity_threshold {ambiguity}: highest threshold losing at most 2 % of correct "
            f"answers **{threshold:.2f}**",
            "",
            "| threshold | correct → fallback | errors caught |",
            "|---|---|---|",
            *(f"| {t:.2f} | {lost:.1%} | {caught:.1%} |" for t, lost, caught in rows),
            "",
        ]
    return "\n".join(lines)


def _f(value: float) -> str:
    return f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--config", default="config.yml", help="the project's config")
    parser.add_argument("--data", default="data/nlu")
    parser.add_argument("--skip-stock", action="store_true", help="only the project pipeline")
    parser.add_argument(
        "--with-diet", action="store_true", help="also the DIET alternative (config_diet.yml)"
    )
    parser.add_argument("--output", default=str(REPORT_PATH))
    args = parser.parse_args()
    stamp = Stamp.capture()
    began = time.monotonic()
    # As `rasa run` does at its default level: debug events are dropped, not rendered.
    configure_structlog(logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    os.chdir(PROJECT_ROOT)
    sys.path.insert(0, str(PROJECT_ROOT))
    project = rasa.shared.utils.io.read_config_file(args.config)
    language = project.get("language", "pt")
    configs = {"project": pipeline_config(project["pipeline"], language)}
    if not args.skip_stock:
        configs["stock"] = pipeline_config(STOCK_PIPELINE, language)
    if args.with_diet:
        diet = rasa.shared.utils.io.read_config_file("config_diet.yml")
        configs["diet_alternative"] = pipeline_config(diet["pipeline"], language)
    data = load_data(args.data)
    folds = stratified_folds(data, args.folds)

    with tempfile.TemporaryDirectory(prefix="nlu_bench_") as tmp:
        workdir = Path(tmp)
        runs = []
        for name, config in configs.items():
            print(f"Cross-validating {name} ({args.folds} folds)…", flush=True)
            runs.append(cross_validate(name, config, folds, workdir))
        cold_train = cold_cli_training_seconds(configs["project"], args.data, workdir)

    meta = {
        "stamp": stamp,
        "command": command_line("bench.nlu_benchmark", sys.argv[1:]),
        "runtime_s": time.monotonic() - began,
        "config": args.config,
        "data": args.data,
        "n_folds": args.folds,
        "n_examples": len(data.intent_examples),
        "cold_train": cold_train,
    }
    report = render_report(runs, meta)
    Path(args.output).write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
