"""Signing in and out in a real browser, against the live server."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.browser.conftest import FAILED_TO_LOAD, PHONE, screenshot_path

WRONG_CREDENTIALS = "That email and password do not match an active account."


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def fill_sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_see_inbox_and_sign_out(page, live_server, make_live_user, console_errors):
    user = make_live_user(name="Ada Lovelace")

    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Sign in to continue.")
    page.screenshot(path=screenshot_path("sign-in"), full_page=True)

    fill_sign_in(page, user.email, user.password)

    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    assert path_of(page) == "/"
    header = page.get_by_role("navigation", name="Main")
    expect(header.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    page.screenshot(path=screenshot_path("inbox-signed-in"), full_page=True)

    header.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    assert path_of(page) == "/login"
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Ada Lovelace")
    ).to_have_count(0)

    page.goto(live_server.url + "/")
    assert path_of(page) == "/login"
    expect(page.get_by_role("heading", name="Inbox")).to_have_count(0)

    assert console_errors == []


def test_wrong_password_stays_on_sign_in(page, live_server, make_live_user, console_errors):
    user = make_live_user()

    page.goto(live_server.url + "/login")
    fill_sign_in(page, user.email, "not-the-password")

    expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    assert path_of(page) == "/login"
    expect(page.get_by_label("Email")).to_have_value(user.email)
    expect(page.get_by_label("Password")).to_have_value("")
    # The page itself answers 401, which Chromium logs as an error; nothing else may.
    assert console_errors == [f"{FAILED_TO_LOAD} 401 (UNAUTHORIZED) ({live_server.url}/login)"]


def test_sign_in_fits_a_phone(new_page, live_server, make_live_user, console_errors):
    user = make_live_user()
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)

    page.goto(live_server.url + "/login")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=screenshot_path("sign-in-phone"), full_page=True)

    fill_sign_in(page, user.email, user.password)

    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    assert path_of(page) == "/"
    assert console_errors == []
