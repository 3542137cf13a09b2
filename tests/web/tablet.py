"""What every tablet and bench page owes a gloved hand, measured the same way on each page:
tap targets at least 44 × 44 CSS px, and nothing wider than the screen."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from tests.web.conftest import TIMEOUT_MS, watch_policy

MIN_TARGET_PX = 44
# The sizes the pages are used at: a bench screen, and a tablet held either way.
BENCH = {"width": 1280, "height": 800}
PORTRAIT = {"width": 768, "height": 1024}
LANDSCAPE = {"width": 1024, "height": 768}


def small_targets(page: Page, scope: str = "body") -> list[tuple[str, dict]]:
    """Every visible button and link inside `scope` smaller than a fingertip (44 × 44 px)."""
    small = []
    for target in page.locator(f"{scope} button, {scope} a[href]").all():
        if target.is_visible():
            box = target.bounding_box()
            if box["width"] < MIN_TARGET_PX or box["height"] < MIN_TARGET_PX:
                small.append((target.inner_text(), box))
    return small


def fits_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def within_viewport(page: Page, locator) -> bool:
    """Whether all of `locator` is on the screen as it stands, without scrolling."""
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def tablet(browser: Browser, viewport: dict, **options) -> Page:
    """A fresh touch tablet (its own cookies) showing nothing yet; close its context after."""
    context = browser.new_context(viewport=viewport, has_touch=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch_policy(page)
    return page
