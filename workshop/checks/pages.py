"""A step's page as `workshop show` prints it: its "Check your work" list rendered from the step's checks in course.toml,
so the page and the checks that run cannot drift apart."""

from __future__ import annotations

from workshop.checks import registry

PLACEHOLDER = "<!-- checks -->"


def check_list(step) -> str:
    """One markdown bullet per check of the step, in course order, with its title from the registry."""
    return "\n".join(f"- {registry.get(c).title}" for c in step.checks if c in registry.CHECKS)


def page(step) -> str:
    """The step's markdown with the placeholder filled."""
    return step.text().replace(PLACEHOLDER, check_list(step))
