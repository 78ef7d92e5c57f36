"""Believable demo content for a newcomer: people, posts, a conversation, thanks, and
food banks (appliance/demo_food.py).

Everything goes through the same services a person would use, so the demo is also a
walk through the rules. A new demo box is stamped over the last ten weeks with a demo
clock (history_clock), which only moves forward: the food banks' weekly history first,
up to the end of last week, then the board's own posts over the days since, then what
stands open today.
"""

from __future__ import annotations

import datetime

from appliance import demo_food, demo_governance, demo_travel
from appliance.box import Box
from appliance.dates import local_day
from appliance.democlock import DAY_MS, DemoClock
from appliance.errors import N_, Conflict
from appliance.log import wall_clock_ms
from appliance.models import Account
from appliance.services import accounts, board, centre, members
from appliance.services.accounts import login_key

DEMO_PASSWORD = "kith-demo"
BOARD_DAYS = 14  # the board's own posts start at most this long ago...
BOARD_STEP_MS = 4 * 3_600_000  # ...each at most this long after the one before
BOARD_READINGS = 48  # about how often the board's part reads the clock

PLACES = ["Main hall", "Car park", "Millbrook Road", "Riverside estate", "The library"]

PEOPLE = [
    # name, verified in person, contact
    ("Priya Shah", True, "07700 900101"),
    ("Joe Brennan", True, ""),
    ("Maria Costa", False, "maria@example.org"),
    ("Tom Okafor", True, ""),
    ("Grace Liu", False, ""),
    ("Dev Mistry", False, ""),
    ("Rob Quick", False, ""),
]

# author, type, category, place, title, details, needed_by (days from now or None)
POSTS = [
    (
        "Priya Shah",
        "need",
        "food",
        "Main hall",
        "Tinned tomatoes and pasta for Friday's food bank",
        "We are down to our last two boxes. Anything in date helps; drop off at the hall "
        "between 10 and 4.",
        3,
    ),
    (
        "Joe Brennan",
        "offer",
        "food",
        "Car park",
        "Surplus bread from the bakery every Tuesday",
        "Ten to fifteen loaves, collected at 5pm. Happy to drop them at the hall if someone "
        "can take them in.",
        None,
    ),
    (
        "Maria Costa",
        "should",
        "local-fix",
        "Millbrook Road",
        "Somebody should fix the broken streetlight outside number 42",
        "It has been out for two weeks and the pavement is dark by five.",
        None,
    ),
    (
        "Tom Okafor",
        "need",
        "travel",
        "Riverside estate",
        "Lift to the hospital on Thursday morning",
        "Appointment at 10:30, I use a folding wheelchair. Back by one.",
        2,
    ),
    (
        "Grace Liu",
        "offer",
        "household",
        "The library",
        "Two single duvets, clean, free to a good home",
        "Washed and bagged. Can bring them to the centre.",
        None,
    ),
    (
        "Dev Mistry",
        "should",
        "local-fix",
        "Car park",
        "Somebody should clear the leaves blocking the drain by the car park",
        "It floods every time it rains and people step into the road to get round it.",
        None,
    ),
    (
        "Priya Shah",
        "need",
        "volunteering",
        "Main hall",
        "Two volunteers to sort donations on Saturday",
        "10am to 12, tea and biscuits provided. No experience needed.",
        4,
    ),
    (
        "Joe Brennan",
        "need",
        "food",
        "Main hall",
        "Nappies, size 4 and 5",
        "Three families asked this week. Unopened packs only please.",
        5,
    ),
    (
        "Maria Costa",
        "offer",
        "travel",
        "Millbrook Road",
        "Spare seat to the big supermarket on Sundays",
        "I go at 9am every Sunday and can take one person plus shopping.",
        None,
    ),
    (
        "Tom Okafor",
        "should",
        "local-fix",
        "Riverside estate",
        "Somebody should repaint the faded zebra crossing by the school",
        "Drivers do not see it until the last moment. Worth asking the council?",
        None,
    ),
    (
        "Grace Liu",
        "need",
        "household",
        "Riverside estate",
        "A working kettle for a new neighbour",
        "Just moved into a flat with nothing. Any kettle that works.",
        None,
    ),
    (
        "Dev Mistry",
        "offer",
        "volunteering",
        "The library",
        "Free help with phone and computer basics",
        "Wednesdays 2 to 4 at the library: email, video calls, online forms.",
        None,
    ),
]


def history_clock(real=wall_clock_ms) -> DemoClock:
    """Return the clock for a new demo box: it starts before the food banks' history."""
    # The history's first Monday is up to HISTORY_WEEKS weeks and six days back, and
    # making the centre and its people, four hours a step, takes about five days more.
    weeks = demo_food.HISTORY_WEEKS + 2
    return DemoClock(real() - weeks * 7 * DAY_MS, step_ms=4 * 3_600_000, real=real)


def fill(box: Box) -> int:
    """Add demo members, places and posts to an initialised box; return posts created."""
    clock = box.log.now_ms
    if not isinstance(clock, DemoClock):
        clock = box.log.now_ms = DemoClock(wall_clock_ms())
    try:
        return _fill(box, clock)
    finally:
        box.log.now_ms = wall_clock_ms


def already_filled() -> bool:
    """Return True if the open box already holds the demo people."""
    return Account.get_or_none(Account.login == login_key(PEOPLE[0][0])) is not None


def _fill(box: Box, clock: DemoClock) -> int:
    if already_filled():
        raise Conflict(N_("This box already has the demo content."))
    staff = accounts.actor_for(box, next(m for m in box_members_with_role(box, "admin")))
    for place in PLACES:
        centre.set_place(box, staff, place)
    people = {}
    for name, verified, contact in PEOPLE:
        member_id = accounts.sign_up(box, name, DEMO_PASSWORD, contact)
        if verified:
            members.set_verified(box, staff, member_id, True)
        people[name] = accounts.actor_for(box, member_id)
    members.grant_role(box, staff, people["Priya Shah"].id, "staff")
    people["Priya Shah"] = accounts.actor_for(box, people["Priya Shah"].id)
    demo_governance.conduct_for_everyone(box, staff, people)
    demo_governance.propose_quiet_posts(box, people)

    clock.step = 10 * 60_000
    # Rides first: each journey must be asked for before it happens, so the ten weeks of
    # rides are all asked for while the clock still stands at the start.
    demo_travel.history(box, people, staff, clock)
    made = demo_food.history(box, people, staff, clock)
    # The board's own posts between the end of the food history and today's food posts:
    # the clock never goes back, so the gap sets how far apart they are.
    today_starts = demo_food.current_start(box, clock.real())
    clock.jump(clock.real() - BOARD_DAYS * DAY_MS)
    clock.step = max(60_000, min(BOARD_STEP_MS, (today_starts - clock.t) // BOARD_READINGS))

    demo_governance.adopt_and_accept(box, staff, people)
    posts = {}
    today = local_day(box, clock.real())
    for author, kind, category, place, title, details, due in POSTS:
        needed_by = None
        if due is not None:
            needed_by = (today + datetime.timedelta(days=due)).isoformat()
        posts[title] = board.create_post(
            box,
            people[author],
            {
                "type": kind,
                "category": category,
                "place": place,
                "title": title,
                "details": details,
                "needed_by": needed_by,
            },
        )

    def say(name, title, text):
        board.add_comment(box, people[name], posts[title], text)

    food = "Tinned tomatoes and pasta for Friday's food bank"
    say("Maria Costa", food, "Does it need to be dried pasta, or is fresh OK?")
    say("Priya Shah", food, "Dried please, fresh will not keep over the weekend. Thank you!")
    board.offer_help(box, people["Grace Liu"], posts[food], "on_it")
    board.offer_help(box, people["Tom Okafor"], posts[food], "can_help")

    light = "Somebody should fix the broken streetlight outside number 42"
    board.offer_help(box, people["Dev Mistry"], posts[light], "on_it")
    say("Dev Mistry", light, "Reported it to the council, reference 55-1123. They said two weeks.")
    say("Dev Mistry", light, "Fixed this morning!")
    board.resolve(box, people["Maria Costa"], posts[light], "The council replaced the lamp.")
    board.thank(
        box,
        people["Maria Costa"],
        posts[light],
        people["Dev Mistry"].id,
        "Thank you Dev for chasing the council, the street feels safe again.",
    )

    lift = "Lift to the hospital on Thursday morning"
    board.offer_help(box, people["Maria Costa"], posts[lift], "on_it")
    say("Maria Costa", lift, "I can take you, my car fits a folded chair in the boot.")

    kettle = "A working kettle for a new neighbour"
    board.offer_help(box, people["Joe Brennan"], posts[kettle], "on_it")
    board.resolve(box, people["Grace Liu"], posts[kettle], "Joe brought one round.")
    board.thank(
        box,
        people["Grace Liu"],
        posts[kettle],
        people["Joe Brennan"].id,
        "Thanks Joe, first cup of tea in the new place!",
    )

    volunteers = "Two volunteers to sort donations on Saturday"
    board.offer_help(box, people["Dev Mistry"], posts[volunteers], "can_help")
    board.offer_help(box, people["Grace Liu"], posts[volunteers], "on_it")
    board.resolve(box, people["Priya Shah"], posts[volunteers], "Two lovely helpers, all sorted.")
    board.thank(
        box,
        people["Priya Shah"],
        posts[volunteers],
        people["Grace Liu"].id,
        "Grace sorted forty bags in two hours. Amazing.",
    )
    posts.update(demo_governance.moderation_history(box, staff, people))
    # Today: what the food banks need now, a surplus that matches, short shifts ahead.
    clock.jump(today_starts)
    clock.step = 10 * 60_000
    made += len(posts) + demo_food.current(box, people, staff, clock)
    # Last: it moves the clock on to just now (a new ride still with its regular driver).
    demo_travel.current(box, people, staff, clock)
    demo_governance.open_proposal(box, people)
    return made


def box_members_with_role(box: Box, role: str):
    """Yield ids of members holding a role on this box."""
    from appliance.models import Role

    for row in Role.select(Role.member).where((Role.role == role) & (Role.origin == box.origin)):
        yield row.member
