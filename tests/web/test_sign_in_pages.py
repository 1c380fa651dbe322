"""Signing in on the web, in a real browser: a printed code, an emailed link, a passkey, signing out
everywhere; and each refusal a person may meet, with its sentence on the page and nothing changed.
Every page is checked with axe-core for WCAG 2.2 AA (no violations)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from application.identity import Actor, sign_in
from application.identity.sign_in import CODE_REFUSED, Invitation
from application.services import Services
from domain.plan import plan_from_yaml
from tests.domain.plans import SMALL_PLAN_YAML

from .conftest import WebSite, register_people

ENGAGEMENT = "web-sign-in"
FACILITATOR = Actor("f1", "cli")
WCAG_22_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "web"


@pytest.fixture(scope="module")
def site(web_site: WebSite) -> WebSite:
    plan = plan_from_yaml(SMALL_PLAN_YAML, "small")
    people = [
        p.model_copy(update={"contact": f"{p.id}@example.org" if p.id == "u1" else None}) for p in plan.people
    ]
    register_people(web_site, ENGAGEMENT, plan.model_copy(update={"people": tuple(people)}))
    return web_site


def invite(site: WebSite, person: str, *, email: bool = False) -> Invitation:
    async def action(services: Services) -> Invitation:
        return await sign_in.invite(services, FACILITATOR, ENGAGEMENT, person, email=email)

    return site.run(action)


def assert_accessible(page: Page) -> None:
    results = Axe().run(page, options=WCAG_22_AA)
    assert results.violations_count == 0, results.generate_report()


def test_a_printed_code_signs_in_once(site: WebSite, browser: Browser) -> None:
    invitation = invite(site, "u2")
    page = site.page(browser)
    page.goto("/sign-in")
    expect(page.locator("h1")).to_have_text("Sign in")
    assert_accessible(page)
    page.get_by_label("Your sign-in code").fill(invitation.code.lower())
    page.get_by_role("button", name="Sign in with this code").click()
    expect(page.locator("h1")).to_have_text("Your page")
    expect(page.locator("main")).to_contain_text("You signed in with a one-time code.")
    # Temporal is down in these tests: the page says so rather than "nothing is waiting for you"
    expect(page.locator("main")).to_contain_text("We cannot show your engagements just now")
    expect(page.locator("main")).not_to_contain_text("Nothing is waiting for your decision")
    assert_accessible(page)

    again = site.page(browser)
    again.goto("/sign-in")
    again.get_by_label("Your sign-in code").fill(invitation.code)
    again.get_by_role("button", name="Sign in with this code").click()
    expect(again).to_have_title(re.compile("^Error: "))
    expect(again.locator(".error-summary")).to_contain_text("There is a problem")
    expect(again.locator(".error-summary")).to_contain_text(CODE_REFUSED)
    expect(again.get_by_label("Your sign-in code")).to_have_value(invitation.code)  # the answer is kept
    assert_accessible(again)


def test_an_emailed_link_signs_in_after_a_button_and_only_once(site: WebSite, browser: Browser) -> None:
    invitation = invite(site, "u1", email=True)
    assert invitation.emailed_to == "u1@example.org"
    [mail] = site.mailbox.wait_for("u1@example.org")
    assert mail["Subject"] == "Your sign-in link" and mail.is_multipart()
    text = next(part for part in mail.walk() if part.get_content_type() == "text/plain").get_payload(
        decode=True
    )
    link = re.search(rb"http://localhost:\d+/sign-in/link/[\w-]+", text).group().decode()  # type: ignore[union-attr]
    assert link == invitation.link

    page = site.page(browser)
    response = page.goto(link)
    assert response is not None and response.headers["referrer-policy"] == "no-referrer"
    expect(page.locator("h1")).to_have_text("Sign in")
    assert_accessible(page)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Your page")
    assert "/sign-in/link/" not in page.url  # the token is not left in the address bar or history

    later = site.page(browser)
    response = later.goto(link)
    assert response is not None and response.status == 410
    expect(later.locator("h1")).to_have_text("This link cannot be used")
    assert_accessible(later)


def test_a_passkey_is_added_and_then_signs_in_with_the_devices_lock(site: WebSite, browser: Browser) -> None:
    invitation = invite(site, "u3")
    page = site.page(browser)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {"options": {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                     "hasUserVerification": True, "isUserVerified": True}},
    )  # fmt: skip
    page.goto("/sign-in")
    page.get_by_label("Your sign-in code").fill(invitation.code)
    page.get_by_role("button", name="Sign in with this code").click()
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-added")).to_be_visible()

    page.get_by_role("button", name="Sign out").first.click()
    expect(page.locator("h1")).to_have_text("You have signed out")
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("h1")).to_have_text("Your page")
    expect(page.locator("main")).to_contain_text("You signed in with a passkey on your device.")


def test_signing_out_everywhere_ends_every_session(site: WebSite, browser: Browser) -> None:
    phone, laptop = site.page(browser), site.page(browser)
    for page in (phone, laptop):
        page.goto("/sign-in")
        page.get_by_label("Your sign-in code").fill(invite(site, "u2").code)
        page.get_by_role("button", name="Sign in with this code").click()
        expect(page.locator("h1")).to_have_text("Your page")
    laptop.get_by_role("button", name="Sign out on every device").click()
    expect(laptop.locator("main")).to_contain_text("You are signed out on every device.")
    phone.goto("/me")
    expect(phone.locator("h1")).to_have_text("Sign in")  # sent back to sign in
    assert "/sign-in?next=/me" in phone.url


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    site: WebSite, browser: Browser
) -> None:
    invitation = invite(site, "u2")
    page = site.page(browser)
    page.goto("/sign-in")
    response = page.request.post("/sign-in/code", form={"code": invitation.code})
    assert response.status == 403
    assert "This form has expired or did not come from this site." in response.text()
    forged = page.request.post("/sign-in/code", form={"code": invitation.code, "csrf_token": "forged"})
    assert forged.status == 403
    page.goto("/me")
    expect(page.locator("h1")).to_have_text("Sign in")  # not signed in
    page.get_by_label("Your sign-in code").fill(invitation.code)  # and the code still works
    page.get_by_role("button", name="Sign in with this code").click()
    expect(page.locator("h1")).to_have_text("Your page")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/me", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_never_leads_off_the_site(site: WebSite, browser: Browser, target: str) -> None:
    page = site.page(browser)
    page.goto(f"/sign-in?next={target}")
    page.get_by_label("Your sign-in code").fill(invite(site, "u2").code)
    page.get_by_role("button", name="Sign in with this code").click()
    expect(page.locator("h1")).to_have_text("Your page")
    assert page.url.startswith(site.url + "/me")


def test_the_keyboard_alone_signs_in(site: WebSite, browser: Browser) -> None:
    page = site.page(browser)
    page.goto("/sign-in")
    page.keyboard.press("Tab")  # the skip link first
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "code":
            break
    page.keyboard.type(invite(site, "u2").code)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Your page")


def test_every_response_carries_the_security_headers(site: WebSite, browser: Browser) -> None:
    page = site.page(browser)
    for path in ("/sign-in", "/no-such-page", "/static/coproduce.css"):
        response = page.request.get(path)
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "'unsafe-inline'" not in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    cookie = next(c for c in page.context.cookies() if c["name"] == "coproduce_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


@pytest.mark.parametrize(("name", "width"), [("phone", 320), ("desktop", 1280)])
def test_the_sign_in_page_reflows_and_is_pictured(
    site: WebSite, browser: Browser, name: str, width: int
) -> None:
    page = site.page(browser, viewport={"width": width, "height": 900})
    page.goto("/sign-in")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"sign-in-{name}.png"), full_page=True)
