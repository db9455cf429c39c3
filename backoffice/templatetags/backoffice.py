from django import template
from django.utils import timezone

from backoffice.charts import bar_chart, hbar_chart, line_chart
from backoffice.dashboard import PRESETS, PeriodForm, dashboard_figures

register = template.Library()


@register.inclusion_tag("backoffice/dashboard.html", takes_context=True)
def tributary_dashboard(context):
    """The dashboard above the admin index, for people who may read customers,
    over the period chosen in the query string (``?days=`` or ``?start=&end=``;
    a bad one is a form error on the page, with the default period shown)."""
    request = context["request"]
    if not request.user.has_perm("customers.view_customer"):
        return {"show": False}
    chosen = {k: request.GET[k] for k in ("days", "start", "end") if request.GET.get(k)}
    today = timezone.localdate()
    form = PeriodForm(chosen or None, today=today)
    period = form.period()
    figures = dashboard_figures(period)
    return {
        "show": True,
        "f": figures,
        "form": form,
        "period": period,
        "today": today,
        "presets": PRESETS,
        "events_chart": bar_chart(figures["events_per_day"], title="Events per day"),
        "profiles_chart": line_chart(figures["profiles_per_day"], title="Profiles over time"),
        "segments_chart": hbar_chart(figures["segments"], title="Largest segments"),
    }
