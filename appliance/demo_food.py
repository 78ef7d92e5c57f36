"""Demo food banks: three banks and a shop trading needs, supplies, pledges and shifts.

Ten weeks of history, up to the end of last week, go through the same services an
organiser or a volunteer uses, so the balance view, the trends and their early
warnings show something real to a newcomer: every week has its needs and at least
three supplies (the shop's surplus and a bank's overflow) that others claim, nappies
are asked for far more in the last fortnight than before, next week's shifts are short
of people, and the shop's surplus beans match a bank's need.
"""

from __future__ import annotations

import datetime

from appliance.box import Box
from appliance.dates import DAY_MS, day_start_ms, local_day, local_ms
from appliance.democlock import DemoClock
from appliance.models import Item
from appliance.services import board, catalogue, food, orgs, shifts
from appliance.services.accounts import Actor, actor_for

HISTORY_WEEKS = 10  # every week before the current one, back this far, has its food posts

# name, type, place, organiser (a demo person's name)
ORGS = [
    ("Millbrook Food Bank", "foodbank", "Main hall", "Priya Shah"),
    ("Riverside Pantry", "foodbank", "Riverside estate", "Joe Brennan"),
    ("Hilltop Larder", "foodbank", "The library", "Tom Okafor"),
    ("Mistry's Corner Shop", "shop", "Millbrook Road", "Dev Mistry"),
]
BANKS = ORGS[:3]
VOLUNTEERS = ["Grace Liu", "Maria Costa", "Dev Mistry", "Joe Brennan"]

# What each bank asks for most weeks: (item, quantity); a week varies it a little.
USUAL = {
    "Millbrook Food Bank": [("Baked beans", 30), ("Pasta", 20), ("Toilet roll", 8)],
    "Riverside Pantry": [("Tinned tomatoes", 24), ("Rice", 10), ("Tea bags", 6)],
    "Hilltop Larder": [("Soup", 20), ("Breakfast cereal", 8), ("Toothpaste", 10)],
}
# Nappies: a few packs a week, then a sharp rise in the last fortnight (the warning).
NAPPIES_BEFORE, NAPPIES_RECENT = 4, 16
# What is spare most weeks, for others to claim: (offered by, title, lines, use-by
# days after Monday, claimed by (an organisation), the item and how many it takes).
SURPLUS = [
    (
        "Mistry's Corner Shop",
        "Bread and fruit near their date",
        [("Bread", 15), ("Fruit and vegetables", 12)],
        2,
        ("Millbrook Food Bank", "Bread", 10),
    ),
    (
        "Mistry's Corner Shop",
        "Dented tins, fine inside",
        [("Baked beans", 12), ("Soup", 8)],
        4,
        ("Riverside Pantry", "Baked beans", 10),
    ),
    (
        "Hilltop Larder",
        "Spare pasta and tea from a school collection",
        [("Pasta", 10), ("Tea bags", 4)],
        5,
        ("Riverside Pantry", "Pasta", 6),
    ),
]


class _Demo:
    def __init__(self, box: Box, people: dict[str, Actor], staff: Actor, clock: DemoClock):
        self.box, self.people, self.staff, self.clock = box, people, staff, clock
        self.orgs: dict[str, str] = {}
        self.items = {i.name: i.id for i in Item.select(Item.id, Item.name)}

    def actor(self, name: str) -> Actor:
        return actor_for(self.box, self.people[name].id)

    def at(self, day: datetime.date, hour: int) -> None:
        """Move the demo clock on to a local time (it never goes back)."""
        self.clock.jump(local_ms(self.box, day, datetime.time(hour)))

    # --- set-up ---------------------------------------------------------------------------

    def organisations(self) -> None:
        catalogue.add_starter_items(self.box, self.staff)
        self.items = {i.name: i.id for i in Item.select(Item.id, Item.name)}
        for name, type_, place, organiser in ORGS:
            org = orgs.create_org(
                self.box, self.staff, {"name": name, "type": type_, "place": place}
            )
            orgs.set_org_role(self.box, self.staff, org, self.people[organiser].id, "organiser")
            self.orgs[name] = org
        for volunteer in ("Grace Liu", "Maria Costa"):
            org = self.orgs["Millbrook Food Bank"]
            orgs.set_org_role(self.box, self.staff, org, self.people[volunteer].id, "member")

    # --- actions --------------------------------------------------------------------------

    def need(self, bank: str, title: str, lines, by: datetime.date, details: str = "") -> str:
        organiser = next(o for n, _, _, o in ORGS if n == bank)
        data = {
            "org": self.orgs[bank],
            "title": title,
            "details": details,
            "needed_by": by.isoformat(),
        }
        pairs = [(self.items[item], str(qty)) for item, qty in lines]
        return food.create_need(self.box, self.actor(organiser), data, pairs)

    def supply(self, org: str, title: str, lines, use_by: datetime.date | None) -> str:
        organiser = next(o for n, _, _, o in ORGS if n == org)
        data = {"org": self.orgs[org], "title": title, "details": "", "use_by": ""}
        if use_by:
            data["use_by"] = use_by.isoformat()
        pairs = [(self.items[item], str(qty)) for item, qty in lines]
        return food.create_supply(self.box, self.actor(organiser), data, pairs)

    def pledge(self, who: str, post: str, item: str, qty: int) -> None:
        food.pledge(self.box, self.actor(who), post, self.items[item], str(qty))

    def claim(self, org: str, post: str, item: str, qty: int) -> None:
        organiser = next(o for n, _, _, o in ORGS if n == org)
        food.claim(
            self.box, self.actor(organiser), post, self.orgs[org], self.items[item], str(qty)
        )

    def shift(self, bank: str, title: str, day: datetime.date, people: int, bring: str = "") -> str:
        organiser = next(o for n, _, _, o in ORGS if n == bank)
        data = {
            "org": self.orgs[bank],
            "title": title,
            "date": day.isoformat(),
            "start": "10:00",
            "end": "13:00",
            "place": "",
            "people": str(people),
            "bring": bring,
        }
        return shifts.create_shift(self.box, self.actor(organiser), data)

    def join(self, shift: str, volunteers) -> None:
        for name in volunteers:
            shifts.join(self.box, self.actor(name), shift)

    # --- weeks ----------------------------------------------------------------------------

    def past_week(self, monday: datetime.date, week: int, nappies: int) -> int:
        """One ordinary week: each bank asks, neighbours pledge, the shop and a bank give
        what they have spare and others claim it, people sort. Returns the posts made.

        `nappies` is what a bank asks for of them; in the last fortnight all three do.
        """
        self.at(monday, 9)
        saturday = monday + datetime.timedelta(days=5)
        wiggle = (week % 3) - 1  # -1, 0, 1: weeks differ a little
        posted = []
        for n, (bank, _, _, _) in enumerate(BANKS):
            lines = [(item, qty + 2 * wiggle) for item, qty in USUAL[bank]]
            if n < 2 or nappies == NAPPIES_RECENT:
                lines.append(("Nappies", nappies + wiggle))
            posted.append((bank, self.need(bank, "Weekly shopping list", lines, saturday), lines))
        spare = []
        for org, title, lines, days, taker in SURPLUS:
            lines = [(item, qty + wiggle) for item, qty in lines]
            use_by = monday + datetime.timedelta(days=days)
            spare.append((self.supply(org, title, lines, use_by), taker))
        sorting = self.shift("Millbrook Food Bank", "Sorting donations", saturday, 4)
        self.at(monday + datetime.timedelta(days=1), 11)
        for post, (org, item, qty) in spare:
            self.claim(org, post, item, qty)
        # Neighbours pledge most of each list; the rest the bank buys, then marks it met.
        givers = ["Grace Liu", "Maria Costa", "Dev Mistry", "Tom Okafor", "Joe Brennan"]
        for n, (bank, post, lines) in enumerate(posted):
            for m, (item, qty) in enumerate(lines):
                giver = givers[(n + m + week) % len(givers)]
                if giver == next(o for b, _, _, o in ORGS if b == bank):
                    giver = "Grace Liu"
                share = qty if (m + week) % 4 else qty // 2
                self.pledge(giver, post, item, share)
        self.join(sorting, VOLUNTEERS[: 3 + week % 2])
        self.at(saturday, 15)
        for bank, post, _ in posted:
            if board.visible_post(None, post).status != "resolved":
                organiser = next(o for b, _, _, o in ORGS if b == bank)
                board.resolve(self.box, self.actor(organiser), post, "Bought the rest ourselves.")
        return len(posted) + len(spare)

    def this_fortnight(self, today: datetime.date) -> dict[str, str]:
        """What stands open now: needs, a surplus that matches one, short shifts ahead."""
        soon = today + datetime.timedelta(days=5)
        posts = {}
        posts["beans"] = self.need(
            "Millbrook Food Bank",
            "Beans and pasta for Saturday's parcels",
            [("Baked beans", 25), ("Pasta", 20), ("Nappies", NAPPIES_RECENT)],
            soon,
            "Forty families this week. Drop off at the main hall, 10 to 4.",
        )
        posts["riverside"] = self.need(
            "Riverside Pantry",
            "Nappies and tins, please",
            [("Nappies", NAPPIES_RECENT), ("Tinned tomatoes", 24), ("Rice", 10)],
            soon,
        )
        posts["hilltop"] = self.need(
            "Hilltop Larder",
            "Nappies (size 4 and 5) and toothpaste",
            [("Nappies", NAPPIES_RECENT), ("Toothpaste", 12)],
            soon,
        )
        self.pledge("Grace Liu", posts["beans"], "Pasta", 8)
        self.pledge("Maria Costa", posts["riverside"], "Tinned tomatoes", 12)
        self.pledge("Dev Mistry", posts["hilltop"], "Toothpaste", 12)
        posts["task"] = food.create_need(
            self.box,
            self.actor("Priya Shah"),
            {
                "org": self.orgs["Millbrook Food Bank"],
                "title": "Two drivers to collect from the supermarket on Friday",
                "details": "About an hour; the store has trolleys ready at the back door.",
                "needed_by": soon.isoformat(),
                "task": "1",
            },
            [],
        )
        posts["surplus"] = self.supply(
            "Mistry's Corner Shop",
            "Forty tins of beans, dented but fine",
            [("Baked beans", 40), ("Bread", 12)],
            today + datetime.timedelta(days=10),
        )
        posts["overflow"] = self.supply(
            "Hilltop Larder",
            "Too much rice after the school harvest festival",
            [("Rice", 15)],
            None,
        )
        posts["tea"] = self.supply(
            "Riverside Pantry",
            "Tea bags and cereal, more than we can give out",
            [("Tea bags", 10), ("Breakfast cereal", 6)],
            today + datetime.timedelta(days=14),
        )
        self.claim("Hilltop Larder", posts["tea"], "Breakfast cereal", 4)
        board.add_comment(
            self.box,
            self.actor("Joe Brennan"),
            posts["overflow"],
            "We could use ten of those at Riverside: I'll claim them once I've checked the van.",
        )
        for offset, bank, people, volunteers in (
            (2, "Millbrook Food Bank", 4, ["Grace Liu"]),
            (6, "Riverside Pantry", 3, ["Maria Costa"]),
            (9, "Millbrook Food Bank", 5, ["Grace Liu", "Maria Costa", "Dev Mistry"]),
            (12, "Hilltop Larder", 4, []),
        ):
            shift = self.shift(
                bank, "Packing parcels", today + datetime.timedelta(days=offset), people, "Gloves"
            )
            self.join(shift, volunteers)
        return posts


def _monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def history(box: Box, people: dict[str, Actor], staff: Actor, clock: DemoClock) -> int:
    """Set up the organisations and the HISTORY_WEEKS weeks before the current one.

    Returns the number of food posts made.
    """
    demo = _Demo(box, people, staff, clock)
    demo.organisations()
    if not clock.backdated:
        return 0  # an existing box: its clock cannot go back, so only today's content
    this_week = _monday(local_day(box, clock.real()))
    made = 0
    for back in range(HISTORY_WEEKS, 0, -1):
        nappies = NAPPIES_RECENT if back == 1 else NAPPIES_BEFORE
        monday = this_week - datetime.timedelta(weeks=back)
        made += demo.past_week(monday, HISTORY_WEEKS - back, nappies)
    return made


def current_start(box: Box, real_ms: int) -> int:
    """Return when today's food content is posted: a day before now, but in this week.

    The trends count weeks from Monday: what stands open now belongs to the current week.
    """
    this_week = _monday(local_day(box, real_ms))
    return max(real_ms - DAY_MS, day_start_ms(box, this_week))


def current(box: Box, people: dict[str, Actor], staff: Actor, clock: DemoClock) -> int:
    """Add what is open now; return the number of food posts made."""
    demo = _Demo(box, people, staff, clock)
    demo.orgs = {o.name: o.id for o in orgs.list_orgs(box)}
    return len(demo.this_fortnight(board.today(box)))
