from django import template

from backoffice.charts import bar_chart, hbar_chart, line_chart
from backoffice.dashboard import dashboard_figures

register = template.Library()


@register.inclusion_tag("backoffice/dashboard.html", takes_context=True)
def tributary_dashboard(context):
    """The dashboard above the admin index, for people who may read customers."""
    user = context["request"].user
    if not user.has_perm("customers.view_customer"):
        return {"show": False}
    figures = dashboard_figures()
    return {
        "show": True,
        "f": figures,
        "events_chart": bar_chart(figures["events_per_day"], title="Events per day"),
        "profiles_chart": line_chart(figures["profiles_per_day"], title="Profiles over time"),
        "segments_chart": hbar_chart(figures["segments"], title="Largest segments"),
    }
