"""The demo page in a real browser (Debian's headless chromium through its chromedriver).

Offline mode: sign in, see the plans, check out, pay on the emulator's Checkout page, come back,
see "Subscribed" and the plan, open the billing portal. `.ci/run` installs chromium and
chromedriver when they are missing, so CI always runs this; elsewhere without them it is
skipped with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.local.conftest import Served

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_whole_flow_in_a_browser(served: Served, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    wait = WebDriverWait(browser, 60)
    browser.get(served.base_url + "/")
    wait.until(until.presence_of_element_located((By.ID, "buy-pro-monthly")))
    assert "Basic" in browser.find_element(By.ID, "plans").text
    assert "14-day free trial" in browser.find_element(By.ID, "plans").text

    browser.find_element(By.ID, "user").clear()
    browser.find_element(By.ID, "user").send_keys("erin")
    browser.find_element(By.ID, "sign-in").click()
    wait.until(until.text_to_be_present_in_element((By.ID, "who"), "signed in as erin"))
    wait.until(until.text_to_be_present_in_element((By.ID, "status"), "Not subscribed"))

    browser.find_element(By.ID, "buy-pro-monthly").click()
    wait.until(until.presence_of_element_located((By.ID, "pay")))
    assert "/c/pay/" in browser.current_url
    browser.find_element(By.ID, "pay").click()

    wait.until(until.url_contains("/billing/success?session_id="))
    wait.until(until.text_to_be_present_in_element((By.ID, "status"), "Subscribed: pro"))
    assert '"isSubscribed": true' in browser.find_element(By.ID, "state").text

    browser.find_element(By.ID, "manage").click()
    wait.until(until.presence_of_element_located((By.ID, "portal")))
    assert "/p/session/" in browser.current_url
    browser.find_element(By.ID, "return").click()
    wait.until(until.url_contains("/account"))
    wait.until(until.text_to_be_present_in_element((By.ID, "status"), "Subscribed: pro"))
