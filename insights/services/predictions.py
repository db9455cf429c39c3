"""Predictive traits, trained locally with scikit-learn.

Targets (``PredictiveModel.Target``): purchase in the next 30 days (every
profile), churn — no purchase in the next 90 days — (buyers of the last
365 days), revenue of the next 90 days (every profile).

Time-based split: with ``H`` the target's horizon and ``T`` now, the model
is fitted on the features as of ``T - 2H`` and the outcomes of the next
``H`` days, and validated on the features as of ``T - H`` and the outcomes
of ``[T - H, T)`` — the window after the one it learned from. An
RFM-only baseline (days since last purchase, purchases and revenue of 365
days) is trained the same way. The model is published only if its
validation AUC is at least ``MIN_GAIN`` above the baseline's and at least
the store's floor (``InsightPolicy.min_auc``); otherwise it is recorded as
rejected and the published one (if any) stays. For revenue the AUC is that
of the prediction for "spends anything in the window".

Models are logistic regressions (a Poisson regression for revenue) over
log-scaled, standardised features, fitted on at most ``FIT_ROWS`` rows (a
sample stratified by the outcome beyond that; validation always uses every
row); they are stored as numbers
(``PredictiveModel.params``) and scored with numpy, and each profile's
explanation is the features that moved its score most.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from core.errors import DomainError
from insights import traits
from insights.models import InsightPolicy, PredictiveModel
from insights.services import features
from insights.services.bulk import bulk_reads
from segments.stored import replace_stored_traits

log = logging.getLogger(__name__)
MIN_GAIN = 0.03
MIN_POSITIVES = 20
FIT_ROWS = 100_000
HORIZON = {"purchase_30d": 30, "churn_90d": 90, "revenue_90d": 90}
TOP_REASONS = 3
Target = PredictiveModel.Target


class ModelError(DomainError):
    """Training cannot start or is impossible on this data (not enough history)."""

    code = "model_not_trainable"

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


# --- data --------------------------------------------------------------------


def _eligible(target: str, frame: pd.DataFrame) -> pd.DataFrame:
    if target == Target.CHURN_90D:
        return frame[frame["purchases_365d"] > 0]
    return frame


def _label(target: str, frame: pd.DataFrame, outcome: pd.DataFrame) -> np.ndarray:
    joined = outcome.reindex(frame.index).fillna(0.0)
    if target == Target.PURCHASE_30D:
        return (joined["purchases"] > 0).to_numpy(dtype=int)
    if target == Target.CHURN_90D:
        return (joined["purchases"] == 0).to_numpy(dtype=int)
    return joined["revenue"].clip(lower=0).to_numpy(dtype=float)


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return np.log1p(frame[columns].clip(lower=0).to_numpy(dtype=float))


# --- fitting and scoring -------------------------------------------------------


def fit_sample(positive: np.ndarray, rows: int = FIT_ROWS) -> np.ndarray:
    """Rows to fit on: all of them up to ``rows``, beyond that a random sample
    stratified by the outcome (each class keeps its share, so rare buyers are
    not left to chance); sorted, reproducible."""
    if len(positive) <= rows:
        return np.arange(len(positive))
    rng = np.random.default_rng(0)
    keep = []
    for value in (0, 1):
        members = np.flatnonzero(positive == value)
        size = round(rows * len(members) / len(positive))
        keep.append(rng.choice(members, size=min(size, len(members)), replace=False))
    return np.sort(np.concatenate(keep))


def _fit(target: str, x: np.ndarray, y: np.ndarray, columns: list[str]) -> dict:
    if len(y) > FIT_ROWS:  # a linear model learns as well from a large sample
        keep = fit_sample(_binary(target, y))
        x, y = x[keep], y[keep]
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    if target == Target.REVENUE_90D:
        # Fitted on revenue / its mean (same coefficients, the intercept
        # shifted by log(mean)): far fewer iterations than on raw amounts.
        unit = float(y.mean()) or 1.0
        model = PoissonRegressor(alpha=1e-4, max_iter=300).fit(z, y / unit)
        coef, intercept, link = model.coef_, float(model.intercept_) + np.log(unit), "log"
    else:
        model = LogisticRegression(C=1.0, max_iter=500).fit(z, y)
        coef, intercept, link = model.coef_[0], float(model.intercept_[0]), "logit"
    return {
        "features": columns,
        "mean": scaler.mean_.tolist(),
        "scale": np.where(scaler.scale_ == 0, 1.0, scaler.scale_).tolist(),
        "coef": np.asarray(coef, dtype=float).tolist(),
        "intercept": intercept,
        "link": link,
    }


def _standardised(params: dict, frame: pd.DataFrame) -> np.ndarray:
    x = _matrix(frame, params["features"])
    return (x - np.array(params["mean"])) / np.array(params["scale"])


def predict(params: dict, frame: pd.DataFrame) -> np.ndarray:
    """The model's prediction for each row of ``frame`` (probability or revenue)."""
    eta = _standardised(params, frame) @ np.array(params["coef"]) + params["intercept"]
    if params["link"] == "log":
        return np.exp(np.clip(eta, -50, 30))
    return 1.0 / (1.0 + np.exp(-np.clip(eta, -50, 50)))


def _binary(target: str, y: np.ndarray) -> np.ndarray:
    return (y > 0).astype(int) if target == Target.REVENUE_90D else y.astype(int)


def evaluate(target: str, y: np.ndarray, scores: np.ndarray) -> dict:
    """AUC, calibration (10 bins of predictions) and lift by decile."""
    positive = _binary(target, y)
    if positive.min() == positive.max():
        return {"auc": None, "calibration": [], "lift": []}
    auc = float(roc_auc_score(positive, scores))
    order = np.argsort(-scores, kind="stable")
    overall = positive.mean()
    lift = []
    for decile, chunk in enumerate(np.array_split(order, 10), start=1):
        rate = float(positive[chunk].mean()) if len(chunk) else 0.0
        lift.append({"decile": decile, "rows": len(chunk), "rate": rate, "lift": rate / overall})
    calibration = [
        {
            "rows": len(chunk),
            "predicted": float(scores[chunk].mean()),
            "observed": float(y[chunk].mean()),
        }
        for chunk in np.array_split(order[::-1], 10)
        if len(chunk)
    ]
    return {"auc": auc, "calibration": calibration, "lift": lift}


# --- training and publishing -----------------------------------------------------


@dataclass(frozen=True)
class TrainingReport:
    model_id: int
    target: str
    published: bool
    auc: float | None
    baseline_auc: float | None
    reason: str
    seconds: float
    scored: int


def train_model(
    *,
    target: str,
    now: datetime | None = None,
    reader: features.Reader | None = None,
    score: bool = True,
) -> TrainingReport:
    """Fit, validate against the baseline, record, and publish (and, with
    ``score``, score) if it passes."""
    started = time.monotonic()
    now = now or timezone.now()
    reader = reader or features.Reader()
    horizon = timedelta(days=HORIZON[target])
    train_at, valid_at = now - 2 * horizon, now - horizon
    with bulk_reads():
        names = reader.event_names(as_of=valid_at)
        train = _eligible(target, reader.snapshot(as_of=train_at, names=names))
        valid = _eligible(target, reader.snapshot(as_of=valid_at, names=names))
        y_train = _label(target, train, reader.outcomes(start=train_at, days=horizon.days))
        y_valid = _label(target, valid, reader.outcomes(start=valid_at, days=horizon.days))
    columns = features.feature_names(names)
    policy = InsightPolicy.current()
    record = PredictiveModel(
        target=target,
        trained_at=now,
        train_cutoff=train_at,
        validation_cutoff=valid_at,
        train_rows=len(train),
        validation_rows=len(valid),
        validation_positives=int(_binary(target, y_valid).sum()),
    )
    reason = _untrainable(target, y_train, y_valid)
    if not reason:
        params = _fit(target, _matrix(train, columns), y_train, columns)
        params["event_names"] = names
        rfm = list(features.RFM_FEATURES)
        baseline = _fit(target, _matrix(train, rfm), y_train, rfm)
        model_metrics = evaluate(target, y_valid, predict(params, valid))
        baseline_metrics = evaluate(target, y_valid, predict(baseline, valid))
        record.params, record.baseline_params = params, baseline
        record.auc, record.baseline_auc = model_metrics["auc"], baseline_metrics["auc"]
        record.metrics = {"model": model_metrics, "baseline": baseline_metrics}
        reason = _gate(record, policy)
    published = not reason
    record.reason = reason or "beats the RFM-only baseline and the floor"
    _record(record, published=published, now=now)
    scored = score_published(target=target, now=now, reader=reader) if published and score else 0
    report = TrainingReport(
        model_id=record.pk,
        target=target,
        published=published,
        auc=record.auc,
        baseline_auc=record.baseline_auc,
        reason=record.reason,
        seconds=time.monotonic() - started,
        scored=scored,
    )
    log.info("trained %s: %s", target, report)
    return report


def _untrainable(target: str, y_train: np.ndarray, y_valid: np.ndarray) -> str:
    for name, y in (("training", y_train), ("validation", y_valid)):
        positive = _binary(target, y)
        if len(positive) == 0:
            return f"no {name} rows (not enough history)"
        if min(positive.sum(), len(positive) - positive.sum()) < MIN_POSITIVES:
            return f"fewer than {MIN_POSITIVES} positive or negative {name} rows"
    return ""


def _gate(record: PredictiveModel, policy: InsightPolicy) -> str:
    if record.auc is None or record.baseline_auc is None:
        return "validation AUC undefined"
    if record.auc < policy.min_auc:
        return f"AUC {record.auc:.3f} below the floor {policy.min_auc:.2f}"
    if record.auc - record.baseline_auc < MIN_GAIN:
        return (
            f"AUC {record.auc:.3f} is not {MIN_GAIN:.2f} above the RFM-only baseline "
            f"({record.baseline_auc:.3f})"
        )
    return ""


def _record(record: PredictiveModel, *, published: bool, now: datetime) -> None:
    with transaction.atomic():
        if published:
            PredictiveModel.objects.filter(
                target=record.target, status=PredictiveModel.Status.PUBLISHED
            ).update(status=PredictiveModel.Status.RETIRED)
            record.status, record.published_at = PredictiveModel.Status.PUBLISHED, now
        else:
            record.status = PredictiveModel.Status.REJECTED
        record.save()


def train_all(*, now: datetime | None = None) -> list[TrainingReport]:
    """Train every target, then score the published models together (one write)."""
    now = now or timezone.now()
    reader = features.Reader()
    reports = [
        train_model(target=target, now=now, reader=reader, score=False) for target in Target.values
    ]
    scored = score_all(now=now, reader=reader)
    return [
        dataclasses.replace(report, scored=scored[report.target] if report.published else 0)
        for report in reports
    ]


# --- scoring ----------------------------------------------------------------------


def published_model(target: str) -> PredictiveModel | None:
    return PredictiveModel.objects.filter(
        target=target, status=PredictiveModel.Status.PUBLISHED
    ).first()


def _explanations(params: dict, frame: pd.DataFrame, why: dict) -> list[str]:
    """Each row's explanation as JSON text: ``why`` and the features that moved
    its score most (largest |coef · z|). Rendered from arrays, without a dict
    per profile (a million of them cost more than the scoring itself)."""
    effects = _standardised(params, frame) * np.array(params["coef"])
    top = np.argsort(-np.abs(effects), axis=1)[:, :TOP_REASONS]
    rows = np.arange(len(frame))[:, None]
    raw = np.round(frame[params["features"]].to_numpy()[rows, top], 2)
    moved = np.round(effects[rows, top], 3)
    names = params.get("event_names", [])
    labels = np.array(
        [json.dumps(features.feature_label(f, names)) for f in params["features"]], dtype=object
    )
    cells = '{"feature":' + labels[top] + ',"value":' + _reprs(raw) + ',"effect":'
    cells = cells + _reprs(moved) + "}"
    text = np.full(len(frame), json.dumps(why, separators=(",", ":"))[:-1] + ',"top":[', object)
    for rank in range(top.shape[1]):
        text = text + (cells[:, rank] if rank == 0 else "," + cells[:, rank])
    return (text + "]}").tolist()


def _reprs(numbers: np.ndarray) -> np.ndarray:
    """Each float's ``repr`` (as ``json.dumps`` writes it), formatted once per
    distinct value (by its bits: -0.0 stays "-0.0")."""
    bits = np.ascontiguousarray(numbers, dtype=np.float64).view(np.int64)
    distinct, where = np.unique(bits, return_inverse=True)
    shown = np.array([repr(x) for x in distinct.view(np.float64).tolist()], dtype=object)
    return shown[where.reshape(numbers.shape)]


def _score_rows(
    model: PredictiveModel, frame: pd.DataFrame
) -> tuple[int, dict[str, Iterator[tuple[int, object, str]]]]:
    """How many profiles ``model`` scores in ``frame`` (a snapshot of now), and
    the rows of its trait and percentile; explanations are rendered only
    when the rows are read (one target's at a time in memory)."""
    frame = _eligible(model.target, frame)
    scores = predict(model.params, frame)
    percentiles = np.floor(pd.Series(scores).rank(pct=True, method="max").to_numpy() * 100)
    trait, _description = traits.PREDICTION_TRAITS[model.target]
    ids = frame.index.to_numpy().tolist()
    digits = 2 if model.target == Target.REVENUE_90D else 4
    why = {
        "model": model.pk,
        "auc": round(model.auc or 0, 3),
        "trained_at": model.trained_at.isoformat(),
    }

    def values() -> Iterator[tuple[int, object, str]]:
        explanations = _explanations(model.params, frame, why)
        rounded = [round(score, digits) for score in scores.tolist()]
        yield from zip(ids, rounded, explanations, strict=True)

    def ranks() -> Iterator[tuple[int, object, str]]:
        for cid, p in zip(ids, percentiles.tolist(), strict=True):
            yield cid, int(p), "{}"

    return len(ids), {trait: values(), traits.percentile_name(trait): ranks()}


def _publish_scores(
    targets: Iterable[str], *, now: datetime, reader: features.Reader
) -> dict[str, int]:
    """Score every eligible profile with the published model of each target
    and replace the traits and their percentiles, all in one write (a
    profile whose values change gets one new version)."""
    models = [m for m in (published_model(t) for t in targets) if m is not None]
    counts = dict.fromkeys(targets, 0)
    if not models:
        return counts
    traits.declare_fixed_traits()
    rows: dict[str, Iterator[tuple[int, object, str]]] = {}
    with transaction.atomic():
        for model in models:
            with bulk_reads():
                frame = reader.snapshot(as_of=now, names=model.params["event_names"])
            counts[model.target], own = _score_rows(model, frame)
            rows.update(own)
        replace_stored_traits(traits=rows, computed_at=now)
        for model in models:
            PredictiveModel.objects.filter(pk=model.pk).update(
                scored_at=now, scored_profiles=counts[model.target]
            )
    return counts


def score_published(
    *, target: str, now: datetime | None = None, reader: features.Reader | None = None
) -> int:
    """Score every eligible profile with the published model of ``target`` and
    publish the trait and its percentile (replacing the previous values)."""
    now = now or timezone.now()
    return _publish_scores([target], now=now, reader=reader or features.Reader())[target]


def score_all(
    *, now: datetime | None = None, reader: features.Reader | None = None
) -> dict[str, int]:
    """``score_published`` for every target, in one write."""
    now = now or timezone.now()
    return _publish_scores(Target.values, now=now, reader=reader or features.Reader())
