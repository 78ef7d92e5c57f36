"""Trend charts drawn on the box as SVG with pygal: readable on a phone and on the kiosk.

Nothing in a chart reaches outside the box (DESIGN.md): pygal's tooltip script, which
it would load from its authors' site, is switched off (js=[]), and what it still puts
in (a script holding its settings, comments naming its web site) is taken out, so the
SVG is pictures and text only. Large type, colours that keep their contrast on white
and apart for colour-blind eyes (Okabe and Ito's vermilion and blue), and a table
beside each chart on the page give the same figures as text.

A suppressed figure (fewer than 3 posts or volunteers, see food_trends) is left out of
the chart, not drawn as a bar: its label is starred and the chart's note says why.
"""

from __future__ import annotations

import re

import pygal
from pygal.style import Style

from appliance.box import Box
from appliance.errors import N_, NotFound
from appliance.kinds import ITEM_CATEGORIES
from appliance.services import food_trends
from appliance.services.catalogue import CATEGORY_LABELS
from appliance.services.food_balance import PLAIN, Words

WIDTH, HEIGHT = 600, 440  # the viewBox: on a 360 px phone, type of 20 is 11 px
NEED = "#b34700"  # vermilion, darkened to 4.6:1 on white
OFFER = "#0067a3"  # blue, 5.9:1 on white
PLACES = "#4a4a4a"  # grey for places asked for, 8.9:1 on white
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
STAR = "*"

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#6b6b6b",
    opacity="1",
    opacity_hover="1",
    transition="none",
    font_family=FONT,
    label_font_family=FONT,
    major_label_font_family=FONT,
    legend_font_family=FONT,
    title_font_family=FONT,
    value_font_family=FONT,
    tooltip_font_family=FONT,
    no_data_font_family=FONT,
    label_font_size=20,
    major_label_font_size=20,
    legend_font_size=21,
    title_font_size=23,
    value_font_size=18,
    no_data_font_size=26,
    colors=(NEED, OFFER),
)


def _value(fig: dict) -> int | None:
    return None if fig["suppressed"] else fig["value"]


def chart(kind, words: Words, title: str, note: str | None, colors) -> pygal.Graph:
    return kind(
        js=[],  # no tooltip script from elsewhere
        disable_xml_declaration=True,  # the SVG may be inlined in a page
        width=WIDTH,
        height=HEIGHT,
        style=Style(**{**STYLE.to_dict(), "colors": colors}),
        title=title,
        x_title=note,
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        truncate_legend=-1,
        print_values=False,
        show_minor_x_labels=True,
        x_label_rotation=-40,
        min_scale=4,
        max_scale=8,
        include_x_axis=True,
        no_data_text=words.gettext("Nothing to show yet"),
        margin=12,
    )


def clean_svg(svg: str, name: str) -> str:
    """Take out pygal's script and comments, and name the chart by `name` not a uuid.

    A fixed id makes the same figures give the same bytes (an ETag can then answer
    304) and keeps two charts on one page apart.
    """
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<script\b[^>]*/>|<script\b.*?</script>", "", svg, flags=re.S)
    found = re.search(r'id="chart-([0-9a-f-]{36})"', svg)
    if found:
        svg = svg.replace(found.group(1), name)
    return svg


def demand_svg(rows: list[dict], label: str, words: Words = PLAIN, name: str = "demand") -> str:
    """Draw demand against supply per week (rows from food_trends.weekly)."""
    starred = any(r["demand"]["suppressed"] or r["supply"]["suppressed"] for r in rows)
    note = words.gettext("%(star)s fewer than 3 posts: not drawn", star=STAR) if starred else None
    graph = chart(
        pygal.Bar,
        words,
        words.gettext("Asked for and offered each week: %(category)s", category=label),
        note,
        (NEED, OFFER),
    )
    graph.x_labels = [
        words.short_day(r["start"])
        + (STAR if r["demand"]["suppressed"] or r["supply"]["suppressed"] else "")
        for r in rows
    ]
    graph.add(words.gettext("Asked for (needs)"), [_value(r["demand"]) for r in rows])
    graph.add(words.gettext("Offered (supplies)"), [_value(r["supply"]) for r in rows])
    return clean_svg(graph.render(is_unicode=True), name)


def labour_svg(rows: list[dict], words: Words = PLAIN, name: str = "labour") -> str:
    """Draw places asked for against volunteers signed up, per weekday."""
    starred = any(r["coming"]["suppressed"] for r in rows)
    note = (
        words.gettext("%(star)s fewer than 3 volunteers: not drawn", star=STAR) if starred else None
    )
    graph = chart(
        pygal.Bar,
        words,
        words.gettext("Volunteers by weekday, last and next 4 weeks"),
        note,
        (PLACES, OFFER),
    )
    graph.x_labels = [
        words.gettext(r["label"])[:3] + (STAR if r["coming"]["suppressed"] else "") for r in rows
    ]
    graph.add(words.gettext("Places on shifts"), [r["needed"] for r in rows])
    graph.add(words.gettext("Signed up"), [_value(r["coming"]) for r in rows])
    return clean_svg(graph.render(is_unicode=True), name)


def chart_names() -> list[str]:
    """Return the names of the charts the box draws."""
    return ["labour", "demand", *(f"demand-{c}" for c in ITEM_CATEGORIES)]


def chart_svg(box: Box, name: str, words: Words = PLAIN, now_ms: int | None = None) -> str:
    """Draw a chart by name: "labour", "demand" (all categories) or "demand-<category>"."""
    if name not in chart_names():
        raise NotFound(N_("There is no such chart."))
    if name == "labour":
        return labour_svg(food_trends.labour(box, now_ms), words, name)
    category = name.removeprefix("demand").removeprefix("-") or food_trends.ALL
    label = CATEGORY_LABELS.get(category, N_("All categories"))
    rows = food_trends.weekly(box, category, now_ms)
    return demand_svg(rows, words.gettext(label), words, name)
