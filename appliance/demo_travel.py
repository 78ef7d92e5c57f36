"""Demo community travel: riders, volunteer drivers, a coordinator and the paid last resort.

Everything goes through the services a rider, a driver, staff or a coordinator uses.
`history` runs while the demo clock is weeks back: staff vouch for four drivers (one
whose criminal records check runs out before today, one whose insurance runs out soon),
riders ask for their regular weekly rides and drivers take them, a few hospital trips
are asked for one at a time, and when a driver is away a coordinator books a taxi.
`current` then marks the journeys that have happened done (with the miles), and adds
today's picture: a hospital trip tomorrow nobody has taken (the coordinator's alert), a
wheelchair journey only the accessible minibus can serve, a ride offered first to the
rider's regular driver, and a journey already passed to a paid service.

Regular rides fall on the same mornings (the day centre's Tuesday lunch club), so the
travel insight has enough riders and drivers behind each figure to show it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from appliance.box import Box
from appliance.democlock import MINUTE_MS, DemoClock
from appliance.models import Account, Ride
from appliance.services import (
    accounts,
    coordinating,
    drivers,
    driving,
    members,
    rides,
    travel_lists,
)
from appliance.services.accounts import Actor, actor_for, login_key

MIN_HISTORY_DAYS = 21  # a shorter history has no room for past journeys or a lapsed driver

# New demo people: four riders and the driver of the accessible minibus.
NEW_PEOPLE = [
    ("Edna Hughes", "01632 960 118"),
    ("Arthur Bell", ""),
    ("Rose Whitfield", ""),
    ("Stan Kowalski", ""),
    ("Kwame Asante", "kwame@example.org"),
]
COORDINATOR = "Maria Costa"
DESK = "Priya Shah"  # staff, who asks for rides for riders at the desk
PROVIDERS = ["Millbrook Accessible Taxis", "Valley Community Transport"]

# Each driver's vehicle as staff record it.
VEHICLES = {
    "Joe Brennan": {"seats": 3, "folded_chair": True},
    "Grace Liu": {"seats": 4, "dogs": True},
    "Kwame Asante": {"seats": 6, "wheelchair": True, "folded_chair": True, "dogs": True},
    "Dev Mistry": {"seats": 4, "folded_chair": True},
}
LAPSED = "Dev Mistry"  # his criminal records check ran out a few weeks ago
LAPSING = "Kwame Asante"  # his insurance runs out within the warning time
AWAY = "Kwame Asante"  # away for a week in the history: a taxi covers his journeys

# The regular rides: rider, driver, days (RFC 5545), every how many weeks, time, pickup
# or appointment, from (area, address), to (area, address), return, needs, notes, who
# asks (None: the rider), regular driver named, miles there and back.
REGULAR = [
    {
        "rider": "Arthur Bell",
        "driver": "Joe Brennan",
        "days": ["TU"],
        "repeat": "weekly",
        "time": "10:00",
        "time_is": "pickup",
        "from": ("Millbrook", "14 Orchard Close, Millbrook MB4 2QT"),
        "to": ("Riverside Day Centre", "Riverside Day Centre, 2 Mill Lane, Riverside RV1 5AB"),
        "return_at": "15:00",
        "needs": ["hard-of-hearing"],
        "notes": "Please knock loudly: Arthur does not always hear the bell.",
        "regular": True,
        "miles": 9,
    },
    {
        "rider": "Rose Whitfield",
        "driver": "Grace Liu",
        "days": ["TU"],
        "repeat": "weekly",
        "time": "10:00",
        "time_is": "pickup",
        "from": ("Millbrook Road", "3 Station Cottages, Millbrook Road MB4 1DF"),
        "to": ("Riverside Day Centre", "Riverside Day Centre, 2 Mill Lane, Riverside RV1 5AB"),
        "return_at": "15:00",
        "needs": ["visually-impaired", "door-to-door"],
        "notes": "Rose will be waiting inside: please ring and walk her to the car.",
        "miles": 8,
    },
    {
        "rider": "Edna Hughes",
        "driver": "Kwame Asante",
        "days": ["TU"],
        "repeat": "weekly",
        "time": "10:00",
        "time_is": "pickup",
        "from": ("Riverside estate", "Flat 3, Heron House, Riverside estate RV2 8LP"),
        "to": ("Riverside Day Centre", "Riverside Day Centre, 2 Mill Lane, Riverside RV1 5AB"),
        "return_at": "15:00",
        "needs": ["wheelchair-stays"],
        "notes": "The lift is at the back of Heron House. Edna's chair is a powered one.",
        "desk": True,
        "miles": 4,
    },
    {
        "rider": "Edna Hughes",
        "driver": "Kwame Asante",
        "days": ["MO"],
        "repeat": "fortnightly",
        "time": "11:00",
        "time_is": "appointment",
        "from": ("Riverside estate", "Flat 3, Heron House, Riverside estate RV2 8LP"),
        "to": ("City Hospital", "City Hospital, Renal Unit, Level 2, Infirmary Road CT1 4HS"),
        "return_at": "14:30",
        "needs": ["wheelchair-stays"],
        "notes": "The lift is at the back of Heron House. Edna's chair is a powered one.",
        "desk": True,
        "miles": 18,
    },
    {
        "rider": "Tom Okafor",
        "driver": "Joe Brennan",
        "days": ["TH"],
        "repeat": "weekly",
        "time": "13:30",
        "time_is": "pickup",
        "from": ("Riverside estate", "27 Kingfisher Walk, Riverside estate RV2 8LW"),
        "to": ("Millbrook Leisure Centre", "Millbrook Leisure Centre, Park Road MB4 3PL"),
        "return_at": "15:30",
        "needs": ["wheelchair-transfers"],
        "notes": "Hydrotherapy pool. Tom moves to the front seat; the chair folds into the boot.",
        "miles": 7,
    },
    {
        "rider": "Stan Kowalski",
        "driver": "Kwame Asante",
        "days": ["FR"],
        "repeat": "weekly",
        "time": "09:30",
        "time_is": "pickup",
        "from": ("Hilltop", "8 Beacon Rise, Hilltop HT2 6BN"),
        "to": ("Northgate Market", "Northgate Market, Market Square, Northgate NG1 2MS"),
        "return_at": "12:00",
        "needs": ["assistance-dog"],
        "notes": "Stan travels with Bess, his guide dog.",
        "miles": 11,
    },
]
# Tom's hospital check-ups, one at a time: days after the history starts and who covers
# each: a driver, a paid service (provider, cost, reference) or nobody.
TOM_HOSPITAL = {
    "from": ("Riverside estate", "27 Kingfisher Walk, Riverside estate RV2 8LW"),
    "to": ("City Hospital", "City Hospital, Outpatients, Infirmary Road CT1 4HS"),
    "time": "10:30",
    "needs": ["wheelchair-transfers"],
    "notes": "Outpatients entrance B. Tom moves to the front seat; the chair folds.",
    "miles": 16,
}
TOM_TRIPS = [
    (9, "Dev Mistry"),
    (23, "Dev Mistry"),
    (37, ("Valley Community Transport", "18.00", "VCT 0412")),
    (51, "Joe Brennan"),
    (65, None),  # nobody could go: the insight counts it as unmet
]
# The paid services that covered the journeys of the week the minibus driver was away,
# by rider and destination: provider, cost, booking reference.
AWAY_BOOKINGS = {
    ("Edna Hughes", "Riverside Day Centre"): ("Millbrook Accessible Taxis", "22.00", "MAT-2231"),
    ("Edna Hughes", "City Hospital"): ("Millbrook Accessible Taxis", "34.00", "MAT-2232"),
    ("Stan Kowalski", "Northgate Market"): ("Valley Community Transport", "15.50", "VCT 0388"),
}


class _Travel:
    def __init__(self, box: Box, people: dict[str, Actor], staff: Actor, clock: DemoClock):
        self.box, self.people, self.staff, self.clock = box, people, staff, clock
        self.zone = ZoneInfo(box.settings["timezone"])
        self.providers = {p["name"]: p["slug"] for p in travel_lists.providers(box)}

    def actor(self, name: str) -> Actor:
        return actor_for(self.box, self.people[name].id)

    def day(self, ms: int) -> datetime.date:
        return datetime.datetime.fromtimestamp(ms / 1000, self.zone).date()

    # --- set-up ---------------------------------------------------------------------------

    def sign_up(self) -> None:
        # Here: appliance.demo imports this module, and demo_governance the services.
        from appliance import demo_governance
        from appliance.demo import DEMO_PASSWORD

        for name, contact in NEW_PEOPLE:
            account = Account.get_or_none(Account.login == login_key(name))
            member_id = (
                account.member
                if account
                else accounts.sign_up(self.box, name, DEMO_PASSWORD, contact)
            )
            self.people[name] = actor_for(self.box, member_id)
            demo_governance.accept(self.box, [self.people[name]])

    def lists_and_roles(self) -> None:
        for name in PROVIDERS:
            if name not in self.providers:
                self.providers[name] = travel_lists.set_provider(
                    self.box, self.staff, {"slug": "", "name": name}
                )
        members.grant_role(self.box, self.staff, self.people[COORDINATOR].id, "coordinator")
        self.people[COORDINATOR] = self.actor(COORDINATOR)

    def vouch(self, name: str, today: datetime.date, runs_out: dict[str, datetime.date]) -> None:
        """Record a driver's checks, seen a while ago, each lasting two or three years
        unless `runs_out` says otherwise, and their vehicle."""
        seen = today - datetime.timedelta(days=40)
        checks = {}
        for n, check in enumerate(travel_lists.driver_checks(self.box)):
            expires = runs_out.get(check["slug"], seen + datetime.timedelta(days=365 * (2 + n % 2)))
            checks[check["slug"]] = (seen.isoformat(), expires.isoformat())
        vehicle = {"seats": 1, "wheelchair": False, "folded_chair": False, "dogs": False}
        vehicle.update(VEHICLES[name])
        drivers.vouch(self.box, self.staff, self.people[name].id, checks, vehicle)

    # --- rides ----------------------------------------------------------------------------

    def ask(self, spec: dict, first: datetime.date, **extra) -> str:
        """Ask for a ride as its rider (or at the desk for them); return the ride's id."""
        data = {
            "from_area": spec["from"][0],
            "from_address": spec["from"][1],
            "to_area": spec["to"][0],
            "to_address": spec["to"][1],
            "date": first.isoformat(),
            "time": spec["time"],
            "time_is": spec.get("time_is", "appointment"),
            "window": "15",
            "return_at": spec.get("return_at", ""),
            "passengers": "1",
            "needs": spec["needs"],
            "notes": spec["notes"],
            "repeat": spec.get("repeat", "none"),
            "days": spec.get("days", []),
        }
        data.update(extra)
        asker = self.actor(spec["rider"])
        if spec.get("desk"):
            asker, data["rider"] = self.actor(DESK), self.people[spec["rider"]].id
        return rides.request_ride(self.box, asker, data)

    def book(self, ride_id: str, date: datetime.date, booking: tuple[str, str, str]) -> None:
        provider, cost, reference = booking
        coordinating.allocate_paid(
            self.box,
            self.actor(COORDINATOR),
            ride_id,
            date.isoformat(),
            self.providers[provider],
            cost,
            reference,
        )

    def regular(self, start: datetime.date, away: datetime.date | None) -> int:
        """Ask for the regular rides from the week after `start`; their drivers take every
        journey. With `away`, the history: the minibus driver hands back that week and a
        coordinator books paid services, and Arthur cancels a journey. Returns the rides."""
        for spec in REGULAR:
            first = _next(start + datetime.timedelta(days=2), spec["days"][0])
            driver = spec["driver"]
            extra = {"regular_driver": self.people[driver].id} if spec.get("regular") else {}
            ride_id = self.ask(spec, first, **extra)
            driving.take(self.box, self.actor(driver), ride_id, None)
            if away is None:
                continue
            ride = Ride.get_by_id(ride_id)
            if driver == AWAY:
                for date in rides.occurrences(ride, away, away + datetime.timedelta(days=6)):
                    driving.hand_back(self.box, self.actor(driver), ride_id, date.isoformat())
                    self.book(ride_id, date, AWAY_BOOKINGS[spec["rider"], spec["to"][0]])
            if spec["rider"] == "Arthur Bell":
                cold = rides.occurrences(ride, away - datetime.timedelta(days=14), away)[0]
                rides.cancel(
                    self.box, self.actor("Arthur Bell"), ride_id, cold.isoformat(), "I have a cold."
                )
        return len(REGULAR)

    def check_ups(self, start: datetime.date, span: int) -> int:
        """Tom's hospital check-ups in the history, each covered as TOM_TRIPS says."""
        tom = {**TOM_HOSPITAL, "rider": "Tom Okafor"}
        made = 0
        for days, cover in TOM_TRIPS:
            if days > span - 2:
                continue
            date = start + datetime.timedelta(days=days)
            ride_id = self.ask(tom, date, return_at="13:00")
            made += 1
            if isinstance(cover, str):
                driving.take(self.box, self.actor(cover), ride_id, date.isoformat())
            elif cover is not None:
                self.book(ride_id, date, cover)
        return made

    def mark_done(self) -> int:
        """Drivers say the journeys that have happened are done, with the miles."""
        now = min(self.clock.t, self.clock.real())  # the clock may have run ahead of now
        miles = {(s["rider"], s["to"][0]): s["miles"] for s in REGULAR}
        miles[("Tom Okafor", TOM_HOSPITAL["to"][0])] = TOM_HOSPITAL["miles"]
        names = {a.id: n for n, a in self.people.items()}
        count = 0
        ours = Ride.select().where(Ride.rider.in_(list(names))).order_by(Ride.start_ms)
        for ride in ours:
            for date in rides.occurrences(ride, rides.first_date(ride), self.day(now)):
                day = date.isoformat()
                driver, state = driving.journey_state(ride, day)
                if state != "driver_found" or driver not in names:
                    continue
                if driving.due_ms(ride, day) >= now:
                    continue  # today's, later on: not yet
                given = miles.get((names[ride.rider], ride.to_area), 5) + date.day % 3
                driving.done(self.box, self.actor(names[driver]), ride.id, day, str(given))
                count += 1
        return count

    def today(self, today: datetime.date) -> int:
        """What stands now: an unmet trip tomorrow, a wheelchair journey waiting for the
        minibus, a taxi booked while the minibus driver is on a course, and a ride
        offered to the rider's regular driver first. Returns the rides asked for."""
        tom = {**TOM_HOSPITAL, "rider": "Tom Okafor"}
        self.ask(tom, today + datetime.timedelta(days=1), return_at="13:00")
        edna = {
            "rider": "Edna Hughes",
            "from": REGULAR[2]["from"],
            "to": ("Millbrook Road", "Clearview Opticians, 40 Millbrook Road MB4 1AA"),
            "time": "14:00",
            "needs": ["wheelchair-stays"],
            "notes": "Eye test. The shop has a ramp at the side door.",
            "desk": True,
        }
        self.ask(edna, _next(today + datetime.timedelta(days=3), "TH"), return_at="16:00")
        hospital = next(s for s in REGULAR if s["to"][0] == "City Hospital")
        ride = Ride.get(
            (Ride.rider == self.people[hospital["rider"]].id)
            & (Ride.to_area == hospital["to"][0])
            & Ride.rrule.is_null(False)
        )
        soon = today + datetime.timedelta(days=2)
        for date in rides.occurrences(ride, soon, soon + datetime.timedelta(days=14))[:1]:
            driving.hand_back(self.box, self.actor(AWAY), ride.id, date.isoformat())
            self.book(ride.id, date, ("Millbrook Accessible Taxis", "34.00", "MAT-3318"))
        # Asked for just now, so the regular driver still has it to themselves.
        self.clock.jump(self.clock.real() - 30 * MINUTE_MS)
        arthur = {
            "rider": "Arthur Bell",
            "from": REGULAR[0]["from"],
            "to": ("Millbrook Surgery", "Millbrook Surgery, 1 Church Street MB4 2AB"),
            "time": "09:40",
            "needs": ["hard-of-hearing"],
            "notes": "Flu jab. Please knock loudly.",
        }
        first = _next(today + datetime.timedelta(days=6), "WE")
        self.ask(arthur, first, regular_driver=self.people["Joe Brennan"].id)
        return 3


def _next(day: datetime.date, weekday: str) -> datetime.date:
    """Return the first date on or after day that falls on an RFC 5545 weekday."""
    wanted = rides.WEEKDAYS.index(weekday)
    return day + datetime.timedelta(days=(wanted - day.weekday()) % 7)


@contextmanager
def _minute_steps(clock: DemoClock) -> Iterator[None]:
    """Step the clock a minute a reading meanwhile (many records in little time)."""
    saved, clock.step = clock.step, MINUTE_MS
    try:
        yield
    finally:
        clock.step = saved


def history(box: Box, people: dict[str, Actor], staff: Actor, clock: DemoClock) -> int:
    """Add the riders and drivers, the coordinator, the paid services and, on a new demo
    box, the weeks of rides before today. Returns the number of rides asked for.

    Adds the new demo people to `people`. On a box whose clock is not weeks back (an
    existing box) every driver's checks are in date and the regular rides start now.
    """
    demo = _Travel(box, people, staff, clock)
    with _minute_steps(clock):
        demo.sign_up()
        demo.lists_and_roles()
        start = demo.day(min(clock.t, clock.real()))
        today = demo.day(clock.real())
        backdated = clock.backdated and (today - start).days >= MIN_HISTORY_DAYS
        for name in VEHICLES:
            if name == LAPSED and not backdated:
                continue  # checks that ran out before today cannot be recorded today
            runs_out = {}
            if name == LAPSED:
                runs_out["dbs"] = today - datetime.timedelta(days=(today - start).days // 4)
            elif name == LAPSING:
                runs_out["insurance"] = today + datetime.timedelta(days=20)
            demo.vouch(name, start, runs_out)
        if not backdated:
            return demo.regular(start, None)
        span = (today - start).days
        away = start + datetime.timedelta(days=span // 2)
        return demo.regular(start, away) + demo.check_ups(start, span)


def current(box: Box, people: dict[str, Actor], staff: Actor, clock: DemoClock) -> int:
    """Mark the journeys that happened done and add today's rides; call it last, as it
    moves the clock on to half an hour ago. Returns the number of rides asked for."""
    demo = _Travel(box, people, staff, clock)
    with _minute_steps(clock):
        demo.mark_done()
        return demo.today(demo.day(clock.real()))
