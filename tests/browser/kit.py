"""What the browser journeys share: the chromium launch, one browser context per person, screenshots of every page
visited, the form fillers of the pages, and the accessibility checks evaluated in the page.

Selectors are the ones a person uses — labels and roles (``get_by_label``, ``get_by_role``) — except where a page
documents an id as its contract (the signing form of ``api/static/js/signing.js``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect

from motcua.app import DEMO_PASSWORD
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, minimal_pdf

# Debian's chromium; Playwright's own browser downloads are never used (no `playwright install`).
CHROMIUM = os.environ.get("MOTCUA_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium keeps trying Google's hosts, refused by a closed network.
# Playwright gives every launch a fresh empty --user-data-dir of its own (it refuses one passed here).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("MOTCUA_SCREENSHOTS", REPO / "build" / "screenshots"))
TIMEOUT_MS = 15_000  # one action or assertion
WORKER_TIMEOUT_S = 30.0  # a step the in-process workers take (receipt, signature preparation, sealing)
expect.set_options(timeout=TIMEOUT_MS)

CITIZEN = "congdan1"
RECEPTION = "tiepnhan.xa1"
SPECIALIST = "chuyenvien1.xa1"
LEADER = "lanhdao.xa1"
CLERK = "vanthu.xa1"
AUDITOR = "thanhtra.tinh"
ADMIN = "quantri.tinh"
APPLICANT_ID = "001090012345"
XSS = "<img src=x onerror=alert(1)>"

# The application form of the household business registration (1.001612): its fields' labels (the procedure's
# field names in motcua/data/procedures/1.001612.json) and what is typed into them.
FORM_VALUES = {
    "Tên hộ kinh doanh": HOUSEHOLD_DETAILS["business_name"],
    "Địa chỉ trụ sở hộ kinh doanh": HOUSEHOLD_DETAILS["business_address"],
    "Ngành, nghề kinh doanh": "\n".join(HOUSEHOLD_DETAILS["business_lines"]),
    "Vốn kinh doanh (đồng)": str(HOUSEHOLD_DETAILS["capital_vnd"]),
    "Ngày sinh chủ hộ kinh doanh": HOUSEHOLD_DETAILS["owner_birth_date"],
    "Nơi cư trú của chủ hộ kinh doanh": HOUSEHOLD_DETAILS["owner_address"],
}
PAPERS = {  # label of the file input → file name
    "Giấy đề nghị đăng ký hộ kinh doanh": "giay-de-nghi.pdf",
    "Bản sao giấy tờ pháp lý của cá nhân chủ hộ kinh doanh": "cccd.pdf",
}


def starts(text: str) -> re.Pattern[str]:
    """A label or name that starts with ``text`` (labels of required fields end with an aria-hidden ``*``)."""
    return re.compile("^" + re.escape(text))


# ---------------------------------------------------------------------- screenshots


@dataclass
class Shots:
    """``build/screenshots/<test>/<NN>-<step>.png``: a full-page screenshot of every page a test visits."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Page, step: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9.-]+", "-", step.lower()).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


# ---------------------------------------------------------------------- one person in one browser context


@dataclass
class Visitor:
    """One person at one browser (a context of its own: cookies are not shared with the others)."""

    context: BrowserContext
    page: Page
    shots: Shots
    who: str
    dialogs: list[str] = field(default_factory=list)  # every alert/confirm/prompt that fired (none should)
    errors: list[str] = field(default_factory=list)  # uncaught script errors of the pages

    def goto(self, path: str, step: str | None = None) -> Page:
        response = self.page.goto(path)
        assert response is not None, path
        assert response.status < 500, f"{path}: HTTP {response.status}"
        if step:
            self.shot(step)
        return self.page

    def shot(self, step: str) -> Path:
        """Screenshot the page, then check that it is one of the pages (not an API error or a missing route)."""
        path = self.shots(self.page, f"{self.who}-{step}")
        self.check_page(step)
        return path

    def check_page(self, step: str) -> None:
        """One of the site's pages is shown (a route that is missing answers with the API's JSON problem)."""
        if self.page.locator("main#main").count() == 0:
            body = self.page.locator("body").inner_text()[:300] if self.page.locator("body").count() else ""
            raise AssertionError(f"{self.page.url} is not a page of the site (step {step!r}): {body}")

    def login(self, username: str, password: str = DEMO_PASSWORD) -> None:
        page = self.page
        page.goto("/dang-nhap")
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(password)
        self.shot("login")
        page.get_by_role("button", name="Đăng nhập", exact=True).click()
        expect(page).not_to_have_url(re.compile(r"/dang-nhap"))
        self.check_page(f"the home page of {username} after logging in")
        expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()

    def logout(self) -> None:
        self.page.get_by_role("button", name="Đăng xuất").click()
        expect(self.page).to_have_url(re.compile(r"/dang-nhap$"))
        expect(self.page.get_by_label("Tên đăng nhập")).to_be_visible()

    def assert_quiet(self) -> None:
        """No dialog fired and no script failed on any page of this visit."""
        assert not self.dialogs, f"dialogs fired for {self.who}: {self.dialogs}"
        assert not self.errors, f"script errors for {self.who}: {self.errors}"


def watch(visitor: Visitor) -> Visitor:
    def on_dialog(dialog: Any) -> None:
        visitor.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    visitor.page.on("dialog", on_dialog)
    visitor.page.on("pageerror", lambda error: visitor.errors.append(str(error)))
    return visitor


def reload_until(page: Page, target: Callable[[], Locator], what: str, timeout: float = WORKER_TIMEOUT_S) -> Locator:
    """Reload the page until ``target()`` is visible: a step the server's workers take by themselves."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.5) + 2):
        locator = target()
        if locator.count() > 0 and locator.first.is_visible():
            return locator.first
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
        page.reload()
    raise AssertionError(f"{what}: not on {page.url} after {timeout} s")


# ---------------------------------------------------------------------- forms of the pages


def write_papers(folder: Path) -> dict[str, Path]:
    """The scans of the required papers as files on disk (what a person picks in the file chooser)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for label, name in PAPERS.items():
        path = folder / name
        path.write_bytes(minimal_pdf(name))
        files[label] = path
    return files


def fill_application(page: Page, papers: dict[str, Path], applicant_name: str, *, online: bool) -> None:
    """The application form shared by the desk and the online submission (api/templates/desk/_application.html)."""
    if online:
        page.get_by_label(starts("Cơ quan tiếp nhận")).select_option(COMMUNE)
    page.get_by_label(starts("Họ và tên")).fill(applicant_name)
    page.get_by_label(starts("Số định danh cá nhân")).fill(APPLICANT_ID)
    for label, value in FORM_VALUES.items():
        page.get_by_label(starts(label)).fill(value)
    for label, path in papers.items():
        page.get_by_label(starts(label)).set_input_files(path)


def task_row(page: Page, code: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=code, exact=True))


def decide(page: Page, decision: str | None, comment: str | None) -> None:
    """Complete the step on the task page: the decision the gateway accepts (radio or select), a comment, send."""
    form = page.locator("form").filter(has=page.locator("[name=comment]"))
    if decision is not None:
        choice = form.locator("[name=decision]")
        if choice.first.evaluate("e => e.tagName") == "SELECT":
            choice.select_option(decision)
        else:
            form.locator(f"[name=decision][value={decision}]").check()
    if comment is not None:
        form.locator("[name=comment]").fill(comment)
    form.locator("button[type=submit], button:not([type])").last.click()


def household_business_data(agency: str = COMMUNE) -> dict[str, str]:
    """The same application as the browser fills in, for ``POST /api/dossiers`` (when a journey needs a dossier
    that an earlier journey did not leave)."""
    return {
        "procedure_code": HOUSEHOLD_BUSINESS,
        "applicant_name": "Nguyễn Văn An",
        "applicant_id_number": APPLICANT_ID,
        "agency_code": agency,
        "details": json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False),
    }


# ---------------------------------------------------------------------- accessibility, evaluated in the page

UNLABELLED_JS = """() => {
  const skip = new Set(["hidden", "submit", "button", "reset", "image"]);
  const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const named = (e) => {
    if ((e.getAttribute("aria-label") || "").trim()) return true;
    const by = (e.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
    if (by.some((id) => (document.getElementById(id)?.textContent || "").trim())) return true;
    return Array.from(e.labels || []).some((l) => l.textContent.trim());
  };
  return Array.from(document.querySelectorAll("input, select, textarea"))
    .filter((e) => !skip.has((e.getAttribute("type") || "").toLowerCase()) && visible(e) && !named(e))
    .map((e) => e.outerHTML.slice(0, 160));
}"""

# The element that has the keyboard focus, and whether a focus indicator is drawn around it.
FOCUS_JS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== "none";
  return {tag: e.tagName, text: (e.textContent || e.value || "").trim().slice(0, 60), visible: outline || shadow,
          outline: s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor};
}"""


def unlabelled_inputs(page: Page) -> list[str]:
    return list(page.evaluate(UNLABELLED_JS))


def scroll_width(page: Page) -> int:
    return int(page.evaluate("() => document.scrollingElement.scrollWidth"))


def focus_stops(page: Page, count: int) -> list[dict[str, Any]]:
    """Press Tab ``count`` times; what had the focus after each press."""
    stops = []
    for _ in range(count):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUS_JS))
    return stops
