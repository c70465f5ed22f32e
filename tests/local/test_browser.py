"""The demo page in a real browser (Debian's headless chromium through its chromedriver).

Offline mode: sign in, see the plans, check out, pay on the emulator's Checkout page, come back,
see "Subscribed" and the plan, open the billing portal. `.ci/run` installs chromium and
chromedriver when they are missing, so CI always runs this; elsewhere without them it is
skipped with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.local.conftest import REPO_ROOT, Served
from tools.local import devjwt

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver
    from selenium.webdriver.support.ui import WebDriverWait

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
    assert "ends on" not in browser.find_element(By.ID, "status").text  # cancelAt is null

    browser.find_element(By.ID, "manage").click()
    wait.until(until.presence_of_element_located((By.ID, "portal")))
    assert "/p/session/" in browser.current_url
    browser.find_element(By.ID, "return").click()
    wait.until(until.url_contains("/account"))
    wait.until(until.text_to_be_present_in_element((By.ID, "status"), "Subscribed: pro"))


# --- Helpers for the tests below -------------------------------------------------------------

#: Noon UTC on 15 January 2026: the same calendar day in every time zone from UTC-11 to UTC+11.
CANCEL_AT = 1768478400


def _driver(browser: object) -> ChromiumDriver:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver

    assert isinstance(browser, ChromiumDriver)
    return browser


def _wait(browser: ChromiumDriver) -> WebDriverWait[ChromiumDriver]:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 60)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(sub: str, *, expired: bool = False) -> str:
    """A dev JWT signed with the running server's key, its payload raw UTF-8 JSON (as an
    identity provider sends a non-ASCII name), not the \\u escapes `devjwt.issue` writes."""
    key = devjwt.signing_key(REPO_ROOT / "build" / "local" / "jwt.key")
    now = int(time.time()) - (7200 if expired else 0)
    claims = {"iss": devjwt.ISSUER, "aud": devjwt.AUDIENCE, "sub": sub, "iat": now,
              "nbf": now, "exp": now + 3600, "token_use": "id"}  # fmt: skip
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"


def _stub_api(browser: ChromiumDriver, stubs: dict[str, tuple[int, object]]) -> None:
    """Answer the page's fetch of "METHOD /path" with (status, JSON body), from the next page
    load on; every other call reaches the server."""
    script = """
      (() => {
        const stubs = __STUBS__;
        const real = window.fetch.bind(window);
        window.fetch = (input, init = {}) => {
          const path = new URL(String(input), location.href).pathname;
          const stub = stubs[`${(init.method || "GET").toUpperCase()} ${path}`];
          if (!stub) return real(input, init);
          const [status, body] = stub;
          return Promise.resolve(new Response(JSON.stringify(body),
            { status, headers: { "content-type": "application/json" } }));
        };
      })();
    """.replace("__STUBS__", json.dumps(stubs))
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})


def _open(served: Served, browser: ChromiumDriver, token: str | None = None) -> None:
    """The demo page, signed in with `token` if given, its plans shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    browser.get(served.base_url + "/")
    if token is not None:
        browser.execute_script("localStorage.setItem('token', arguments[0])", token)
        browser.get(served.base_url + "/")
    _wait(browser).until(until.presence_of_element_located((By.CSS_SELECTOR, "#plans button")))


def _stored_token(browser: ChromiumDriver) -> object:
    return browser.execute_script("return localStorage.getItem('token')")


def _subscribed(cancel_at: int | None) -> dict[str, object]:
    """GET /subscription for a Pro monthly subscriber (openapi.yaml's SubscriptionState)."""
    return {"isSubscribed": True, "plan": "monthly", "planId": "pro", "priceId": "price_pro_m",
            "features": ["API access"], "subscriptionStatus": "active",
            "currentPeriodEnd": CANCEL_AT, "cancelAtPeriodEnd": cancel_at is not None,
            "cancelAt": cancel_at}  # fmt: skip


# --- The page's own behaviour ----------------------------------------------------------------


def test_the_signed_in_name_is_decoded_from_base64url_and_utf8(
    served: Served, browser: object
) -> None:
    """A JWT's payload is base64url ('-' and '_', no padding) of UTF-8: `atob` alone throws on
    '-'/'_' and turns 'ë' into 'Ã«'."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    driver = _driver(browser)
    name = "zoë ~~~???"  # a 3-byte block ending in '~' encodes to '-', one ending in '?' to '_'
    token = _token(name)
    assert {"-", "_"} <= set(token.split(".")[1]) and "ë".encode() in base64.urlsafe_b64decode(
        token.split(".")[1] + "=" * (-len(token.split(".")[1]) % 4)
    )
    _open(served, driver, token)
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "who"), f"signed in as {name}"))
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "status"), "Not subscribed"))

    # The same through the page's own sign-in (/local/token, its payload \\u-escaped JSON).
    driver.find_element(By.ID, "user").clear()
    driver.find_element(By.ID, "user").send_keys("ë~~~???")
    driver.find_element(By.ID, "sign-in").click()
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "who"), "signed in as ë~~~???"))
    assert {"-", "_"} <= set(str(_stored_token(driver)).split(".")[1])


def test_an_expired_session_signs_out_and_asks_to_sign_in_again(
    served: Served, browser: object
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    driver = _driver(browser)
    _open(served, driver, _token("frank", expired=True))  # GET /subscription: 401
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "message"), "session expired"))
    assert "sign in again" in driver.find_element(By.ID, "message").text
    assert _stored_token(driver) is None
    assert driver.find_element(By.ID, "who").text == ""
    assert driver.find_element(By.ID, "status").text == "Sign in to see it."

    # Signed in, then the token expires before the next call (here, checkout).
    driver.find_element(By.ID, "sign-in").click()
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "status"), "Not subscribed"))
    assert driver.find_element(By.ID, "message").text == ""
    driver.execute_script(
        "localStorage.setItem('token', arguments[0])", _token("alice", expired=True)
    )
    driver.find_element(By.ID, "buy-pro-monthly").click()
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "message"), "session expired"))
    assert _stored_token(driver) is None
    assert driver.current_url == served.base_url + "/"


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ((502, {"message": "Internal Server Error"}), "Internal Server Error"),
        ((400, {"error": "No billing portal configuration"}), "No billing portal configuration"),
        ((401, {"message": "Unauthorized"}), "session expired"),
        ((200, {}), "without a URL"),
    ],
    ids=["502", "400", "401", "200-without-url"],
)
def test_a_failed_portal_call_shows_why_and_never_goes_to_undefined(
    served: Served, browser: object, answer: tuple[int, object], shown: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    driver = _driver(browser)
    _stub_api(driver, {"GET /subscription": (200, _subscribed(None)),
                       "POST /subscription/portal": answer})  # fmt: skip
    _open(served, driver, _token("grace"))
    page = served.base_url + "/"
    _wait(driver).until(until.element_to_be_clickable((By.ID, "manage"))).click()
    _wait(driver).until(
        lambda _: (
            driver.current_url != page
            or shown
            in driver.execute_script("return document.getElementById('message')?.textContent")
        )
    )
    assert driver.current_url == page, "no navigation, least of all to /undefined"
    assert "undefined" not in driver.find_element(By.ID, "message").text


def test_price_buttons_are_named_for_their_plan(served: Served, browser: object) -> None:
    from selenium.webdriver.common.by import By

    driver = _driver(browser)
    _open(served, driver)
    pro = driver.find_element(By.ID, "buy-pro-monthly")
    assert pro.accessible_name == "Subscribe to Pro — monthly ($29.00 / month)"
    buttons = driver.find_elements(By.CSS_SELECTOR, "#plans button")
    assert len(buttons) >= 2
    for button in buttons:
        plan = button.find_element(By.XPATH, "ancestor::div[@class='plan']//h3").text
        assert button.accessible_name.startswith(f"Subscribe to {plan} — "), button.accessible_name


def test_the_page_has_a_main_landmark_a_live_status_a_viewport_and_a_favicon(
    served: Served, browser: object
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    driver = _driver(browser)
    _open(served, driver)
    main = driver.find_element(By.TAG_NAME, "main")
    assert main.find_element(By.ID, "plans") and main.find_element(By.ID, "status")
    message = main.find_element(By.ID, "message")
    assert message.get_attribute("aria-live") == "polite"
    assert message.get_attribute("role") == "status"
    viewport = driver.find_element(By.CSS_SELECTOR, "meta[name=viewport]")
    assert viewport.get_attribute("content") == "width=device-width, initial-scale=1"
    icon = driver.find_element(By.CSS_SELECTOR, "link[rel=icon]")
    assert str(icon.get_attribute("href")).startswith("data:image/")

    driver.find_element(By.ID, "buy-pro-monthly").click()  # signed out: the message region says
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "message"), "Sign in first."))


@pytest.mark.parametrize(
    ("cancel_at", "shown"),
    [(CANCEL_AT, "Subscribed: pro (monthly), ends on January 15, 2026"),
     (None, "Subscribed: pro (monthly)")],
    ids=["cancel-at-set", "cancel-at-null"],
)  # fmt: skip
def test_the_status_says_when_a_cancelled_subscription_ends(
    served: Served, browser: object, cancel_at: int | None, shown: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    driver = _driver(browser)
    _stub_api(driver, {"GET /subscription": (200, _subscribed(cancel_at))})
    _open(served, driver, _token("heidi"))
    _wait(driver).until(until.text_to_be_present_in_element((By.ID, "status"), "Subscribed"))
    assert driver.find_element(By.ID, "status").text == shown


def test_catalog_text_is_shown_as_text_never_as_html(served: Served, browser: object) -> None:
    from selenium.webdriver.common.by import By

    driver = _driver(browser)
    hostile = "<img src=x onerror=\"document.title='owned'\">"
    catalog = {"currency": "usd", "plans": [{
        "id": "pro", "name": f"Pro {hostile}", "description": f"<b>{hostile}</b>",
        "features": [hostile], "trialDays": 0,
        "prices": {"monthly": {"id": "price_x", "amount": 2900, "interval": "month"}},
    }]}  # fmt: skip
    _stub_api(driver, {"GET /subscription/prices": (200, catalog)})
    _open(served, driver)
    plans = driver.find_element(By.ID, "plans")
    assert plans.find_elements(By.TAG_NAME, "img") == []
    assert plans.find_elements(By.TAG_NAME, "b") == []
    assert plans.text.count(hostile) == 4  # name, description, feature, and the button's name
    assert driver.title == "saas-billing demo"


def test_the_clock_buttons_end_a_trial_and_renew(served: Served, browser: object) -> None:
    """Offline, the page's "advance" buttons move the emulator's clocks: a pro trial ends and
    converts (the state says active), and a month later the period end moves on."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    driver = _driver(browser)
    wait = _wait(driver)
    driver.get(served.base_url + "/")
    wait.until(until.visibility_of_element_located((By.ID, "advance-day")))
    driver.find_element(By.ID, "user").clear()
    driver.find_element(By.ID, "user").send_keys("tina")
    driver.find_element(By.ID, "sign-in").click()
    wait.until(until.text_to_be_present_in_element((By.ID, "who"), "signed in as tina"))
    wait.until(until.presence_of_element_located((By.ID, "buy-pro-monthly"))).click()
    wait.until(until.presence_of_element_located((By.ID, "pay"))).click()
    wait.until(
        until.text_to_be_present_in_element((By.ID, "state"), '"subscriptionStatus": "trialing"')
    )
    trial_end = json.loads(driver.find_element(By.ID, "state").text)["currentPeriodEnd"]
    driver.find_element(By.ID, "advance-month").click()
    wait.until(
        until.text_to_be_present_in_element((By.ID, "state"), '"subscriptionStatus": "active"')
    )
    converted = json.loads(driver.find_element(By.ID, "state").text)["currentPeriodEnd"]
    assert converted > trial_end
    driver.find_element(By.ID, "advance-month").click()
    wait.until(
        lambda d: json.loads(d.find_element(By.ID, "state").text)["currentPeriodEnd"] > converted
    )
    assert driver.find_element(By.ID, "frozen-time").text != ""


def test_an_admin_buys_seats_and_gives_one_and_the_member_sees_it(
    served: Served, browser: object
) -> None:
    """Teams on the demo page: an admin of acme checks out 2 seats of the per-seat plan, gives
    one to bob, and bob (signed in as acme's member) holds it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select

    driver = _driver(browser)
    wait = _wait(driver)

    def sign_in(user: str, role: str) -> None:
        driver.get(served.base_url + "/")
        wait.until(until.presence_of_element_located((By.ID, "buy-team-monthly")))
        for field, value in (("user", user), ("org", "acme-demo")):
            driver.find_element(By.ID, field).clear()
            driver.find_element(By.ID, field).send_keys(value)
        Select(driver.find_element(By.ID, "role")).select_by_value(role)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(
            until.text_to_be_present_in_element((By.ID, "who"), f"signed in as {user} (acme-demo")
        )

    sign_in("ada", "admin")
    wait.until(until.visibility_of_element_located((By.ID, "change-seats")))
    driver.find_element(By.ID, "seat-count").clear()
    driver.find_element(By.ID, "seat-count").send_keys("2")
    driver.find_element(By.ID, "buy-team-monthly").click()
    wait.until(until.presence_of_element_located((By.ID, "pay"))).click()
    wait.until(until.text_to_be_present_in_element((By.ID, "seats"), "0 of 2 assigned"))
    driver.find_element(By.ID, "member").send_keys("bob")
    driver.find_element(By.ID, "add-member").click()
    wait.until(until.text_to_be_present_in_element((By.ID, "members"), "bob"))
    wait.until(until.text_to_be_present_in_element((By.ID, "seats"), "1 of 2 assigned"))
    sign_in("bob", "member")
    wait.until(until.text_to_be_present_in_element((By.ID, "seats"), "you hold one."))
    assert not driver.find_element(By.ID, "admin").is_displayed()
    assert '"sso"' in driver.find_element(By.ID, "state").text
