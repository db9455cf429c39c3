import pytest

from destinations.errors import BlockedURL
from destinations.models import Delivery, Destination
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import save_destination
from destinations.services.urlguard import check_url

from .conftest import make_destination, new_profile


def public(host, port):
    return ["93.184.215.14"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.8.9.10",
        "[::1]",
        "169.254.169.254",  # link-local: cloud metadata
        "[fe80::1]",
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.10",
        "[fd00::1]",
        "100.64.0.1",  # shared (carrier-grade NAT)
        "224.0.0.1",  # multicast
        "[ff02::1]",
        "240.0.0.1",  # reserved
        "0.0.0.0",  # noqa: S104 (unspecified)
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
    ],
)
def test_internal_addresses_are_refused(settings, address):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(BlockedURL) as caught:
        check_url(f"https://{address}/hook")
    assert caught.value.code == "blocked_address"


def test_host_name_resolving_to_an_internal_address_is_refused(settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(BlockedURL):
        check_url("https://hooks.example.com/x", resolver=lambda host, port: ["10.0.0.5"])


def test_host_with_one_internal_address_among_public_ones_is_refused(settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(BlockedURL):
        check_url("https://x.example.com/", resolver=lambda h, p: ["93.184.215.14", "127.0.0.1"])


def test_public_address_is_allowed_and_pinned():
    target = check_url("https://hooks.example.com:8443/in?x=1", resolver=public)
    assert (target.host, target.port, target.address, target.path) == (
        "hooks.example.com",
        8443,
        "93.184.215.14",
        "/in?x=1",
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/x", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("https://user:pw@example.com/", "credentials_in_url"),
    ],
)
def test_odd_urls_are_refused(url, code):
    with pytest.raises(BlockedURL) as caught:
        check_url(url, resolver=public)
    assert caught.value.code == code


def test_allowed_hosts_setting_lets_an_address_through(settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    assert check_url("http://127.0.0.1:9000/x").address == "127.0.0.1"


def test_allowed_hosts_accepts_networks_and_names(settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["10.20.0.0/16", "hooks.internal"]
    assert check_url("http://10.20.3.4/x").address == "10.20.3.4"
    internal = check_url("http://hooks.internal/x", resolver=lambda h, p: ["10.9.9.9"])
    assert internal.address == "10.9.9.9"
    with pytest.raises(BlockedURL):
        check_url("http://10.21.0.1/x")


def test_allow_private_opens_private_ranges_but_not_loopback_or_metadata(settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []
    settings.TRIBUTARY_WEBHOOK_ALLOW_PRIVATE = True
    assert check_url("http://192.168.1.10/x").address == "192.168.1.10"
    for blocked in ("127.0.0.1", "169.254.169.254"):
        with pytest.raises(BlockedURL):
            check_url(f"http://{blocked}/x")


def test_blocked_url_cannot_be_saved(db, settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(BlockedURL):
        save_destination(destination=Destination(name="x", url="http://127.0.0.1:9/x"))
    assert Destination.objects.count() == 0


def test_address_is_checked_again_at_send_time(receiver, run_on_commit, settings):
    make_destination(receiver.url, on_profile_created=True)
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []  # as if the name now resolved elsewhere
    new_profile()

    run_on_commit(dispatch_outbox)

    delivery = Delivery.objects.get()
    assert receiver.requests == []
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert delivery.last_error.startswith("blocked_address")
