from io import StringIO

from django.core.management import call_command

from insights.models import PredictiveModel, RfmRun


def test_compute_insights_runs_once_and_reports(make_customer, buy):
    ann = make_customer()
    buy(ann, 1, 10)
    out = StringIO()
    call_command("compute_insights", stdout=out)
    assert "RFM: 1 buyers, lifecycle: 1 profiles" in out.getvalue()
    assert RfmRun.objects.count() == 1


def test_train_models_runs_once_and_says_why_a_model_is_not_published(db):
    out = StringIO()
    call_command("train_models", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("purchase_30d: model #")
    assert "rejected" in lines[0]
    assert "no training rows" in lines[0]
    assert PredictiveModel.objects.filter(status="rejected").count() == 3
