"""The column layouts of the exports marketers have, recognised by their header row.

A file whose header row holds a layout's signature columns (compared like
every header: case, spaces and punctuation aside) gets that layout's
targets for the columns it names; its other columns are read like any
file's. Targets use the shared vendor identifier types of DESIGN.md
(``shopify_customer_id``, ``hubspot_record_id``, ``salesforce_contact_id``,
``mailchimp_leid``). The header rows are those of the vendors' current
exports: Shopify customers (current and older), Salesforce contact reports,
HubSpot contacts, Mailchimp audiences (subscribed and unsubscribed) and
Shopify orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


@dataclass(frozen=True)
class Layout:
    """``columns``: header → target; ``signature``: the headers that tell the
    layout apart (all present), ``absent``: headers it never has;
    ``prefixes``: header prefix → target prefix for the columns it may grow
    (Shopify's ``Lineitem …`` columns)."""

    name: str
    kind: str
    columns: dict[str, str]
    signature: tuple[str, ...]
    absent: tuple[str, ...] = ()
    prefixes: dict[str, str] = field(default_factory=dict)

    def matches(self, keys: set[str]) -> bool:
        return all(_key(h) in keys for h in self.signature) and not any(
            _key(h) in keys for h in self.absent
        )

    def target(self, header: str) -> str | None:
        key = _key(header)
        for column, target in self.columns.items():
            if _key(column) == key:
                return target
        for prefix, target_prefix in self.prefixes.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                rest = re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")
                return target_prefix + rest.removeprefix(prefix).strip("_")
        return None


SHOPIFY_CUSTOMERS = Layout(
    name="Shopify customers",
    kind="customers",
    signature=("Accepts Email Marketing", "Default Address Address1", "Default Address Zip"),
    columns={
        "Customer ID": "id.shopify_customer_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Accepts Email Marketing": "consent.email_marketing",
        "Default Address Company": "company",
        "Default Address Address1": "address_line1",
        "Default Address Address2": "address_line2",
        "Default Address City": "city",
        "Default Address Province Code": "region",
        "Default Address Country Code": "country",
        "Default Address Zip": "postal_code",
        "Default Address Phone": "phone|trait.address_phone",
        "Phone": "phone",
        "Accepts SMS Marketing": "consent.sms_marketing",
        "Total Spent": "trait.total_spent",
        "Total Orders": "trait.total_orders",
        "Note": "trait.note",
        "Tax Exempt": "trait.tax_exempt",
        "Tags": "trait.tags",
    },
)

SHOPIFY_CUSTOMERS_OLDER = Layout(
    name="Shopify customers, older export",
    kind="customers",
    signature=("Accepts Marketing", "Address1", "Province Code", "Country Code", "Total Spent"),
    columns={
        "Customer ID": "id.shopify_customer_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Accepts Marketing": "consent.email_marketing",
        "Company": "company",
        "Address1": "address_line1",
        "Address2": "address_line2",
        "City": "city",
        "Province Code": "region",
        "Province": "region|ignore",
        "Country Code": "country",
        "Country": "country|ignore",
        "Zip": "postal_code",
        "Phone": "phone",
        "Accepts SMS Marketing": "consent.sms_marketing",
        "Total Spent": "trait.total_spent",
        "Total Orders": "trait.total_orders",
        "Tags": "trait.tags",
        "Note": "trait.note",
        "Tax Exempt": "trait.tax_exempt",
    },
)

SALESFORCE_CONTACTS = Layout(
    name="Salesforce contacts",
    kind="customers",
    signature=("Mailing Street", "Mailing City", "Email Opt Out"),
    columns={
        "Contact ID": "id.salesforce_contact_id",
        "Salutation": "trait.salutation",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Title": "trait.title",
        "Mailing Street": "address_line1",
        "Mailing City": "city",
        "Mailing State/Province": "region",
        "Mailing Zip/Postal Code": "postal_code",
        "Mailing Country": "country",
        "Phone": "phone",
        "Mobile": "phone|trait.mobile",
        "Email": "email",
        "Email Opt Out": "consent.email_marketing:inverted",
        "Birthdate": "birthday",
        "Account Name": "company",
    },
)

HUBSPOT_CONTACTS = Layout(
    name="HubSpot contacts",
    kind="customers",
    signature=("Record ID", "State/Region", "Country/Region"),
    columns={
        "Record ID": "id.hubspot_record_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Company Name": "company",
        "City": "city",
        "State/Region": "region",
        "Country/Region": "country",
        "Postal Code": "postal_code",
        "Lifecycle Stage": "trait.lifecycle_stage",
        "Create Date": "trait.create_date",
        "Marketing contact status": "consent.email_marketing",
    },
)

_MAILCHIMP = {
    "Email Address": "email",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Address": "address",
    "Phone Number": "phone",
    "Birthday": "trait.birthday_month_day:month_day",
    "MEMBER_RATING": "trait.member_rating",
    "CC": "country",
    "REGION": "region",
    "LEID": "id.mailchimp_leid",
    "EUID": "trait.mailchimp_euid",
    "NOTES": "trait.notes",
    "TAGS": "trait.tags",
}

MAILCHIMP_UNSUBSCRIBED = Layout(
    name="Mailchimp audience, unsubscribed",
    kind="customers",
    signature=("Email Address", "LEID", "EUID", "UNSUB_TIME"),
    columns={**_MAILCHIMP, "UNSUB_TIME": "consent.email_marketing:withdrawn_at"},
)

MAILCHIMP_SUBSCRIBED = Layout(
    name="Mailchimp audience, subscribed",
    kind="customers",
    signature=("Email Address", "LEID", "EUID", "OPTIN_TIME"),
    absent=("UNSUB_TIME", "CLEAN_TIME"),
    columns={
        **_MAILCHIMP,
        "OPTIN_TIME": "consent.email_marketing:granted_at",
        "OPTIN_IP": "consent_ip",
    },
)

SHOPIFY_ORDERS = Layout(
    name="Shopify orders",
    kind="events",
    signature=("Name", "Financial Status", "Lineitem name", "Created at"),
    columns={
        "Name": "order_id.shopify",
        "Email": "email",
        "Financial Status": "property.financial_status",
        "Paid at": "property.paid_at",
        "Currency": "property.currency",
        "Subtotal": "property.subtotal",
        "Shipping": "property.shipping",
        "Taxes": "property.tax",
        "Total": "property.total",
        "Discount Code": "property.coupon",
        "Discount Amount": "property.discount",
        "Created at": "timestamp",
        "Lineitem quantity": "product.quantity",
        "Lineitem name": "product.name",
        "Lineitem price": "product.price",
        "Lineitem sku": "product.sku",
        "Billing Name": "ignore",
        "Billing Phone": "phone",
    },
    prefixes={"lineitem": "product."},
)

LAYOUTS = (
    SHOPIFY_CUSTOMERS,
    SHOPIFY_CUSTOMERS_OLDER,
    SALESFORCE_CONTACTS,
    HUBSPOT_CONTACTS,
    MAILCHIMP_UNSUBSCRIBED,
    MAILCHIMP_SUBSCRIBED,
    SHOPIFY_ORDERS,
)


def detect_layout(headers: list[str], *, kind: str | None = None) -> Layout | None:
    """The known layout of a header row (of files of ``kind``, if given), or None."""
    keys = {_key(header) for header in headers}
    for layout in LAYOUTS:
        if (kind is None or layout.kind == kind) and layout.matches(keys):
            return layout
    return None
