"""One admin class per shared model, composed from the apps' mixins, registered once."""

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite

from backoffice.admin.events import EventAdmin
from backoffice.admin.profiles import CustomerAdmin, IdentityAdmin
from backoffice.admin.segments import SegmentAdmin
from customers.models import Customer, Event, Identity
from segments.models import Segment


@pytest.mark.parametrize(
    ("model", "composed", "actions"),
    [
        (Customer, CustomerAdmin, ["merge_selected", "export_csv", "export_xlsx"]),
        (Event, EventAdmin, ["export_csv", "export_xlsx"]),
        (Segment, SegmentAdmin, ["recompute", "export_csv", "export_xlsx"]),
        (Identity, IdentityAdmin, []),
    ],
)
def test_each_shared_model_has_its_composed_admin_with_every_apps_actions(model, composed, actions):
    registered = admin.site.get_model_admin(model)
    assert type(registered) is composed
    names = [name for _func, name, _description in registered._get_base_actions()]
    assert names == ["delete_selected", *actions]


def test_the_composed_admins_need_no_earlier_registration():
    """Registered on a site of their own, with nothing else on it, they
    serve every page they serve on the main site (no app's admin has to be
    registered first)."""
    site = AdminSite(name="alone")
    for model, composed in ((Customer, CustomerAdmin), (Segment, SegmentAdmin)):
        site.register(model, composed)
    names = {u.name for pattern in site.get_urls() for u in getattr(pattern, "url_patterns", [])}
    assert {
        "customers_customer_changelist",
        "customers_customer_undo_merge",
        "customers_customer_record_consent",
        "segments_segment_export",
        "segments_segment_changelist",
    } <= names
