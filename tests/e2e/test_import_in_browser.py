import pytest

from customers.models import Customer
from sources.models import ImportJob

pytestmark = pytest.mark.e2e

CSV = (
    "E-mail,First Name,Surname,Zip\n"
    "lena.berg@example.com,Lena,Berg,10115\n"
    "omar.haddad@example.com,Omar,Haddad,20095\n"
    "not-an-email,Broken,Row,\n"
)


def test_marketer_imports_a_small_csv_and_finds_the_new_customer(login, tmp_path):
    upload = tmp_path / "trade-show.csv"
    upload.write_text(CSV)
    page = login("marketer")
    page.goto("/admin/sources/importjob/add/")
    page.set_input_files("input[type=file]", str(upload))
    page.click("input[type=submit][value='Upload and map columns']")
    page.click("input[type=submit][value='Preview the import']")
    page.click("input[type=submit][value='Confirm import']")
    page.wait_for_function("() => !document.querySelector('meta[http-equiv=refresh]')")
    job = ImportJob.objects.get()
    assert (job.status, job.rows_new, job.rows_invalid) == ("done", 2, 1)
    page.fill("#tributary-search-q", "lena.berg@example.com")
    page.press("#tributary-search-q", "Enter")
    lena = Customer.objects.get(email="lena.berg@example.com")
    page.wait_for_url(f"**/admin/customers/customer/{lena.pk}/change/")
    assert "Berg" in page.locator("#bo-profile").inner_text()
