"""Template filters for ``accounts.masking``: ``{% load masking %}`` then
``{{ customer.email|shown_email:request.user }}``,
``{{ issue.value|shown_text:request.user }}``."""

from django import template

from accounts import masking

register = template.Library()


@register.filter
def shown_email(value, user):
    return masking.shown_email(user, value or "")


@register.filter
def shown_phone(value, user):
    return masking.shown_phone(user, value or "")


@register.filter
def shown_text(value, user):
    return masking.shown_text(user, "" if value is None else str(value))
