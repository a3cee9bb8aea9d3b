"""bAbI-style question answering, generated: the 20 toy tasks of Weston et al. (2015), "Towards
AI-Complete Question Answering: A Set of Prerequisite Toy Tasks" (bAbI is on no registry).

Each story is told by a small simulation that keeps the state of its world (where every actor
is, who holds which object, what was said when), so every answer, and the indices of the
sentences that support it, are correct by construction. Tasks keep bAbI's numbering:

==  ==========================  =============================================================
 1  single supporting fact      ``mary went to the kitchen`` ... ``where is mary``
 2  two supporting facts        ``john got the milk`` ``john moved to the office`` ... milk?
 3  three supporting facts      ``where was the milk before the office``
 4  two-argument relations      ``the office is north of the garden`` ``what is north of ...``
 5  three-argument relations    ``fred gave the apple to bill`` ``who received the apple``
 6  yes/no questions            ``is john in the hallway``
 7  counting                    ``how many objects is mary holding``  (none, one, two, three)
 8  lists / sets                ``what is mary carrying``  (``apple,milk`` in the order got)
 9  simple negation             ``sandra is no longer in the office``
10  indefinite knowledge        ``julie is either in the school or the park``  (yes/no/maybe)
11  basic coreference           ``then she went to the garden``
12  conjunction                 ``mary and daniel went to the office``
13  compound coreference        ``after that they moved to the garden``
14  time reasoning              ``this morning fred went to the park`` ... ``before the park``
15  basic deduction             ``wolves are afraid of mice`` ``emily is a wolf``
16  basic induction             ``lily is a swan`` ``lily is white`` ``greg is a swan``
17  positional reasoning        ``is the triangle to the left of the red square``
18  size reasoning              ``does the box fit in the chest``
19  path finding                ``how do you go from the garden to the office``  (``n,w``)
20  agent's motivations         ``sumit is tired`` ... ``why did sumit go to the bedroom``
==  ==========================  =============================================================

Sentences and questions are tuples of lower-case words; an answer is one word (a
comma-joined list for tasks 8 and 19). A question is asked after the first ``after``
sentences of its story and only while its supporting facts are among the last
:data:`MEMORY_SIZE` of them, the memory of the model (Sukhbaatar et al. 2015).

As in bAbI, a split is counted in questions: ``splits(task, train=1000)`` gives 900 training
and 100 validation questions (the paper holds out 10% for validation) and a test set of
1,000 questions from another random stream that repeats no training or validation story.

Notation for tensor shapes: N questions, M memories (sentences, the latest first), J words.

Example:
    >>> story = generate(1, n_stories=1, seed=0)[0]
    >>> q = story.questions[0]
    >>> " ".join(q.words), q.answer, q.answer in story.sentences[q.supports[0]]
    ('where is daniel', 'hallway', True)
    >>> data = vectorize([story], BabiVocab.build([story]))
    >>> data.memory.shape, data.query.shape, data.answer.shape  # (N, M, J), (N, J), (N,)
    (torch.Size([5, 10, 6]), torch.Size([5, 6]), torch.Size([5]))
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from attnkit.data.vocab import JsonFields
from attnkit.errors import AttnkitError
from attnkit.specials import SPECIAL_TOKENS, UNK_ID

__all__ = [
    "MEMORY_SIZE",
    "TASKS",
    "BabiTensors",
    "BabiVocab",
    "Question",
    "Splits",
    "Story",
    "generate",
    "splits",
    "vectorize",
]

MEMORY_SIZE = 50  # sentences a question may look back on (the paper's memory size)

Words = tuple[str, ...]

ACTORS = ("mary", "john", "daniel", "sandra")
PRONOUNS = {"mary": "she", "sandra": "she", "john": "he", "daniel": "he"}
LOCATIONS = ("bathroom", "hallway", "garden", "office", "bedroom", "kitchen")
OBJECTS = ("football", "apple", "milk")
MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
GRABS = ("picked up", "got", "grabbed", "took")
DROPS = ("dropped", "discarded", "put down", "left")
GIVES = ("gave", "handed", "passed")
THEN = ("then", "after that", "following that", "afterwards")
NUMBERS = ("none", "one", "two", "three")
DIRECTIONS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}


@dataclass(frozen=True)
class Question:
    """A question asked after the first ``after`` sentences of its story.

    Attributes:
        words: the question, lower-case words without the question mark.
        answer: one word, or a comma-joined list (tasks 8 and 19).
        supports: indices (ascending) of the sentences needed to answer.
        after: how many of the story's sentences precede the question.
    """

    words: Words
    answer: str
    supports: tuple[int, ...]
    after: int


@dataclass(frozen=True)
class Story:
    """Sentences of one bAbI-style task and the questions asked along the way."""

    task: int
    sentences: tuple[Words, ...]
    questions: tuple[Question, ...]


def _words(*parts: str) -> Words:
    return tuple(" ".join(parts).split())


class _Teller:
    """A story being told: its sentences and the questions asked so far."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sentences: list[Words] = []
        self.questions: list[Question] = []

    def say(self, *parts: str) -> int:
        """Add a sentence; return its index."""
        self.sentences.append(_words(*parts))
        return len(self.sentences) - 1

    def ask(self, question: str, answer: str, supports: Iterable[int]) -> bool:
        """Ask now, unless a supporting fact is older than the memory holds (then ``False``)."""
        sup = tuple(sorted(set(supports)))
        if sup[0] < len(self.sentences) - MEMORY_SIZE:
            return False
        self.questions.append(Question(_words(question), answer, sup, len(self.sentences)))
        return True

    def interleave(
        self,
        step: Callable[[], object],
        ask: Callable[[], bool],
        *,
        questions: int = 5,
        gap: tuple[int, int] = (2, 2),
    ) -> None:
        """Take ``gap[0]..gap[1]`` steps (sentences), then ask, until ``questions`` are asked.

        ``ask`` may decline (no answerable question yet): more sentences are told first.
        """
        for _ in range(50 * questions):  # a bound; every task's ask succeeds far sooner
            if len(self.questions) == questions:
                return
            for _ in range(self.rng.randint(*gap)):
                step()
            ask()


class _World(_Teller):
    """Actors who move between locations and grab, drop and give objects (tasks 1-3, 5-8).

    Attributes:
        at: actor -> (location, the sentence that put them there).
        holder: object -> (actor, the sentence that gave it to them).
        lying: dropped object -> (location, the sentences that tell where).
        trail: object -> the locations it has been in, each with the sentences that tell it.
        touched: actor -> object -> the last sentence naming both.
        gives: (giver, object, receiver, sentence) in story order.
    """

    def __init__(self, rng: random.Random, actors: tuple[str, ...] = ACTORS) -> None:
        super().__init__(rng)
        self.actors = actors
        self.at: dict[str, tuple[str, int]] = {}
        self.holder: dict[str, tuple[str, int]] = {}
        self.lying: dict[str, tuple[str, tuple[int, ...]]] = {}
        self.trail: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        self.touched: dict[str, dict[str, int]] = {}
        self.gives: list[tuple[str, str, str, int]] = []

    def carrying(self, actor: str) -> list[str]:
        """The objects ``actor`` holds, in the order they got them."""
        held = [(s, obj) for obj, (who, s) in self.holder.items() if who == actor]
        return [obj for _, obj in sorted(held)]

    def where(self, obj: str) -> tuple[str, tuple[int, ...]]:
        """Location of a held or dropped object and the sentences that tell it."""
        if obj in self.holder:
            actor, got = self.holder[obj]
            place, moved = self.at[actor]
            return place, (got, moved)
        return self.lying[obj]

    def move(self, actor: str, place: str | None = None) -> None:
        here = self.at.get(actor, ("",))[0]
        place = place or self.rng.choice([p for p in LOCATIONS if p != here])
        s = self.say(actor, self.rng.choice(MOVES), "the", place)
        self.at[actor] = (place, s)
        for obj, (who, got) in self.holder.items():
            if who == actor:
                self.trail[obj].append((place, (got, s)))

    def grab(self, actor: str, obj: str) -> None:
        place, moved = self.at[actor]
        s = self.say(actor, self.rng.choice(GRABS), "the", obj)
        if self.lying.pop(obj, None) is None:  # first seen: it was where the actor is
            self.trail[obj] = [(place, (moved, s))]
        self.holder[obj] = (actor, s)
        self.touched.setdefault(actor, {})[obj] = s

    def drop(self, obj: str) -> None:
        actor, _ = self.holder.pop(obj)
        place, moved = self.at[actor]
        s = self.say(actor, self.rng.choice(DROPS), "the", obj)
        self.lying[obj] = (place, (moved, s))
        self.touched[actor][obj] = s

    def give(self, obj: str, receiver: str) -> None:
        giver, _ = self.holder[obj]
        if self.at.get(receiver, ("",))[0] != self.at[giver][0]:
            self.move(receiver, self.at[giver][0])  # they meet first
        s = self.say(giver, self.rng.choice(GIVES), "the", obj, "to", receiver)
        self.holder[obj] = (receiver, s)
        self.touched[giver][obj] = s
        self.touched.setdefault(receiver, {})[obj] = s
        self.gives.append((giver, obj, receiver, s))

    def event(
        self, move: float = 1.0, grab: float = 0.0, drop: float = 0.0, give: float = 0.0
    ) -> None:
        """One random event among the possible ones, drawn with these weights."""
        placed = [a for a in self.actors if a in self.at]
        grabs = [
            (a, o)
            for a in placed
            for o in OBJECTS
            if o not in self.holder and self.lying.get(o, (self.at[a][0],))[0] == self.at[a][0]
        ]
        held = sorted(self.holder)
        weights = (move, grab * bool(grabs), drop * bool(held), give * bool(held))
        kind = self.rng.choices(("move", "grab", "drop", "give"), weights)[0]
        if kind == "grab":
            self.grab(*self.rng.choice(grabs))
        elif kind == "drop":
            self.drop(self.rng.choice(held))
        elif kind == "give":
            obj = self.rng.choice(held)
            self.give(obj, self.rng.choice([a for a in self.actors if a != self.holder[obj][0]]))
        else:
            self.move(self.rng.choice(self.actors))


# ----- tasks: each tells one story with a fresh rng --------------------------------------------


def _single_fact(rng: random.Random) -> _Teller:
    w = _World(rng)

    def ask() -> bool:
        actor = rng.choice(sorted(w.at))
        place, s = w.at[actor]
        return w.ask(f"where is {actor}", place, [s])

    w.interleave(w.event, ask)
    return w


def _two_facts(rng: random.Random) -> _Teller:
    w = _World(rng)

    def ask() -> bool:
        known = sorted(set(w.holder) | set(w.lying))
        if not known:
            return False
        obj = rng.choice(known)
        place, sup = w.where(obj)
        return w.ask(f"where is the {obj}", place, sup)

    w.interleave(lambda: w.event(0.5, 0.3, 0.2), ask, gap=(1, 8))
    return w


def _three_facts(rng: random.Random) -> _Teller:
    w = _World(rng)

    def ask() -> bool:  # only where "before the X" is unambiguous: X is new on the trail
        objs = [o for o, t in sorted(w.trail.items())
                if len(t) > 1 and t[-1][0] not in {p for p, _ in t[:-1]}]  # fmt: skip
        if not objs:
            return False
        obj = rng.choice(objs)
        (before, sup1), (now, sup2) = w.trail[obj][-2:]
        return w.ask(f"where was the {obj} before the {now}", before, sup1 + sup2)

    w.interleave(lambda: w.event(0.6, 0.3, 0.1), ask, gap=(1, 8))
    return w


def _place_on_grid(rng: random.Random, places: list[str]) -> tuple[list[tuple], dict]:
    """Each place after the first put next to an earlier one: ``[(x, dir, y)]`` (x is dir of
    y) and the grid positions; neighbours on the grid that no fact links stay unrelated."""
    pos = {places[0]: (0, 0)}
    facts = []
    for place in places[1:]:
        while True:
            anchor = rng.choice(sorted(pos))
            d = rng.choice(sorted(DIRECTIONS))
            cell = (pos[anchor][0] + DIRECTIONS[d][0], pos[anchor][1] + DIRECTIONS[d][1])
            if cell not in pos.values():
                break
        pos[place] = cell
        facts.append((place, d, anchor))
    return facts, pos


def _say_relations(t: _Teller, facts: list[tuple]) -> list[int]:
    """Say ``x is dir of y`` facts (either way round) in random order; their sentence ids."""
    order = t.rng.sample(range(len(facts)), len(facts))
    said = {}
    for i in order:
        x, d, y = facts[i]
        if t.rng.random() < 0.5:
            x, d, y = y, OPPOSITE[d], x
        said[i] = t.say("the", x, "is", d, "of the", y)
    return [said[i] for i in range(len(facts))]


def _two_arg_relations(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    facts, _ = _place_on_grid(rng, rng.sample(LOCATIONS, 3))
    said = _say_relations(t, facts)
    i = rng.randrange(len(facts))
    x, d, y = facts[i]
    if rng.random() < 0.5:
        x, d, y = y, OPPOSITE[d], x
    if rng.random() < 0.5:
        t.ask(f"what is {d} of the {y}", x, [said[i]])
    else:
        t.ask(f"what is the {x} {d} of", y, [said[i]])
    return t


def _three_arg_relations(rng: random.Random) -> _Teller:
    w = _World(rng, actors=("mary", "jeff", "fred", "bill"))

    def ask() -> bool:
        if not w.gives:
            return False
        giver, obj, receiver, _ = rng.choice(w.gives[-3:])
        question, match, pick = rng.choice(
            [
                (f"who gave the {obj} to {receiver}", (None, obj, receiver), 0),
                (f"who did {giver} give the {obj} to", (giver, obj, None), 2),
                (f"what did {giver} give to {receiver}", (giver, None, receiver), 1),
                (f"who received the {obj}", (None, obj, None), 2),
                (f"who gave the {obj}", (None, obj, None), 0),
            ]
        )
        # the latest gift that fits the question answers it
        gift = next(
            g
            for g in reversed(w.gives)
            if all(m in (None, v) for m, v in zip(match, g[:3], strict=True))
        )
        return w.ask(question, gift[pick], [gift[3]])

    w.interleave(lambda: w.event(0.3, 0.25, 0.1, 0.35), ask, gap=(1, 4))
    return w


def _yes_no(rng: random.Random) -> _Teller:
    w = _World(rng)

    def ask() -> bool:
        actor = rng.choice(sorted(w.at))
        place, s = w.at[actor]
        asked = place if rng.random() < 0.5 else rng.choice([p for p in LOCATIONS if p != place])
        return w.ask(f"is {actor} in the {asked}", "yes" if asked == place else "no", [s])

    w.interleave(lambda: w.event(0.7, 0.15, 0.15), ask)
    return w


def _holding(rng: random.Random, *, count: bool) -> _Teller:
    w = _World(rng)

    def ask() -> bool:
        if not w.touched:
            return False
        actor = rng.choice(sorted(w.touched))
        objs, sup = w.carrying(actor), w.touched[actor].values()
        if count:
            return w.ask(f"how many objects is {actor} holding", NUMBERS[len(objs)], sup)
        return w.ask(f"what is {actor} carrying", ",".join(objs) or "nothing", sup)

    w.interleave(lambda: w.event(0.3, 0.4, 0.2, 0.1), ask, gap=(1, 3))
    return w


def _negation(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    facts: dict[str, tuple[str, bool, int]] = {}  # actor -> (location, is there, sentence)

    def step() -> None:
        actor = rng.choice(ACTORS)
        if actor in facts and facts[actor][1] and rng.random() < 0.5:
            place, there = facts[actor][0], False  # leaves where they were
        else:
            place, there = rng.choice(LOCATIONS), rng.random() < 0.6
        verbs = ("is in", *MOVES) if there else ("is not in", "is no longer in")
        facts[actor] = (place, there, t.say(actor, rng.choice(verbs), "the", place))

    def ask() -> bool:
        actor = rng.choice(sorted(facts))
        place, there, s = facts[actor]
        if there and rng.random() < 0.5:
            place, there = rng.choice([p for p in LOCATIONS if p != place]), False
        return t.ask(f"is {actor} in the {place}", "yes" if there else "no", [s])

    t.interleave(step, ask)
    return t


def _indefinite(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    facts: dict[str, tuple[tuple[str, ...], int]] = {}  # actor -> (possible places, sentence)

    def step() -> None:
        actor = rng.choice(ACTORS)
        if rng.random() < 0.5:
            places = tuple(rng.sample(LOCATIONS, 2))
            s = t.say(actor, "is either in the", places[0], "or the", places[1])
        else:
            places = (rng.choice(LOCATIONS),)
            s = t.say(actor, rng.choice(("is in", *MOVES)), "the", places[0])
        facts[actor] = (places, s)

    def ask() -> bool:
        actor = rng.choice(sorted(facts))
        places, s = facts[actor]
        asked = rng.choice(places if rng.random() < 0.6 else LOCATIONS)
        answer = "no" if asked not in places else "yes" if len(places) == 1 else "maybe"
        return t.ask(f"is {actor} in the {asked}", answer, [s])

    t.interleave(step, ask)
    return t


def _coreference(rng: random.Random, *, pairs: bool) -> _Teller:
    """Task 11 (``then she ...``) or, with ``pairs``, task 13 (``a and b ...``, ``then they``)."""
    t = _Teller(rng)
    at: dict[str, tuple[str, tuple[int, ...]]] = {}
    last: tuple[tuple[str, ...], int] | None = None  # who the previous sentence named, where

    def step() -> None:
        nonlocal last
        place = rng.choice(LOCATIONS)
        if last is not None and rng.random() < 0.5:
            who, named = last
            pronoun = "they" if pairs else PRONOUNS[who[0]]
            sup: tuple[int, ...] = (named, t.say(rng.choice(THEN), pronoun, rng.choice(MOVES),
                                                 "the", place))  # fmt: skip
        else:
            who = tuple(rng.sample(ACTORS, 2 if pairs else 1))
            sup = (t.say(" and ".join(who), rng.choice(MOVES), "the", place),)
            last = (who, sup[0])
        for actor in who:
            at[actor] = (place, sup)

    def ask() -> bool:
        actor = rng.choice(sorted(at))
        return t.ask(f"where is {actor}", *at[actor])

    t.interleave(step, ask)
    return t


def _conjunction(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    at: dict[str, tuple[str, int]] = {}

    def step() -> None:
        who = rng.sample(ACTORS, rng.choice((1, 2)))
        place = rng.choice(LOCATIONS)
        s = t.say(" and ".join(who), rng.choice(MOVES), "the", place)
        at.update({actor: (place, s) for actor in who})

    def ask() -> bool:
        actor = rng.choice(sorted(at))
        place, s = at[actor]
        return t.ask(f"where is {actor}", place, [s])

    t.interleave(step, ask)
    return t


TIMES = ("yesterday", "this morning", "this afternoon", "this evening")


def _time_reasoning(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    places = ("school", "park", "kitchen", "office", "bedroom", "cinema")
    facts = []
    actors = rng.sample(("mary", "julie", "fred", "bill"), 2)
    for actor in actors:  # distinct places per actor: "before the park" is unambiguous
        times = sorted(rng.sample(range(len(TIMES)), rng.randint(2, len(TIMES))))
        facts += [(actor, i, p) for i, p in zip(times, rng.sample(places, len(times)), strict=True)]
    said = {}
    for actor, i, place in rng.sample(facts, len(facts)):  # told out of time order
        move = rng.choice(MOVES)
        if rng.random() < 0.7:
            said[actor, i] = (place, t.say(TIMES[i], actor, move, "the", place))
        else:
            said[actor, i] = (place, t.say(actor, move, "the", place, TIMES[i]))
    for actor in actors:
        times = sorted(i for a, i in said if a == actor)
        k = rng.randrange(1, len(times))
        (before, s1), (now, s2) = said[actor, times[k - 1]], said[actor, times[k]]
        t.ask(f"where was {actor} before the {now}", before, [s1, s2])
    return t


SPECIES = {"mouse": "mice", "sheep": "sheep", "wolf": "wolves", "cat": "cats"}


def _deduction(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    kinds = sorted(SPECIES)
    fears = {k: rng.choice([f for f in kinds if f != k]) for k in kinds}
    names = {n: rng.choice(kinds) for n in ("gertrude", "winona", "jessica", "emily")}
    afraid, is_a = {}, {}
    for item in rng.sample(kinds + list(names), len(kinds) + len(names)):
        if item in SPECIES:
            afraid[item] = t.say(SPECIES[item], "are afraid of", SPECIES[fears[item]])
        else:
            is_a[item] = t.say(item, "is a", names[item])
    for name in rng.sample(sorted(names), 3):
        kind = names[name]
        t.ask(f"what is {name} afraid of", fears[kind], [is_a[name], afraid[kind]])
    return t


def _induction(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    colour = {k: rng.choice(("white", "yellow", "green", "gray")) for k in
              ("swan", "lion", "frog", "rhino")}  # fmt: skip
    names = ["lily", "bernhard", "greg", "julius", "brian"]
    kind = {n: rng.choice(sorted(colour)) for n in names}
    asked = rng.choice(names)
    if not any(kind[n] == kind[asked] for n in names if n != asked):
        kind[rng.choice([n for n in names if n != asked])] = kind[asked]
    facts = [(n, "is a") for n in names] + [(n, "is") for n in names if n != asked]
    said = {}
    for name, verb in rng.sample(facts, len(facts)):
        said[name, verb] = t.say(name, verb, kind[name] if verb == "is a" else colour[kind[name]])
    peers = [n for n in names if n != asked and kind[n] == kind[asked]]
    peer = max(peers, key=lambda n: said[n, "is"])
    sup = [said[asked, "is a"], said[peer, "is a"], said[peer, "is"]]
    t.ask(f"what color is {asked}", colour[kind[asked]], sup)
    return t


SHAPES = ("triangle", "pink rectangle", "red square", "blue square", "red sphere", "yellow square")
SIDES = {"to the left of": (-1, 0), "to the right of": (1, 0), "above": (0, 1), "below": (0, -1)}


def _say_side(t: _Teller, x: str, side: str, y: str) -> int:
    """``the x is <side> the y``, or the same fact the other way round."""
    if t.rng.random() < 0.5:
        dx, dy = SIDES[side]
        x, side, y = y, next(s for s, v in SIDES.items() if v == (-dx, -dy)), x
    return t.say("the", x, "is", side, "the", y)


def _positional(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    a, b, c = rng.sample(SHAPES, 3)
    first = rng.choice(sorted(SIDES))
    second = rng.choice([s for s in sorted(SIDES) if (SIDES[s][0] == 0) != (SIDES[first][0] == 0)])
    pos = {b: (0, 0), a: SIDES[first]}
    pos[c] = (pos[a][0] + SIDES[second][0], pos[a][1] + SIDES[second][1])
    s1, s2 = _say_side(t, a, first, b), _say_side(t, c, second, a)
    pairs = [(a, b, [s1]), (c, a, [s2]), (c, b, [s1, s2])]
    for _ in range(4):
        x, y, sup = rng.choice(pairs)
        if rng.random() < 0.5:
            x, y = y, x
        dx, dy = pos[x][0] - pos[y][0], pos[x][1] - pos[y][1]
        side = rng.choice([s for s in sorted(SIDES) if SIDES[s][0] * dx + SIDES[s][1] * dy != 0])
        yes = SIDES[side][0] * dx + SIDES[side][1] * dy > 0
        t.ask(f"is the {x} {side} the {y}", "yes" if yes else "no", sup)
    return t


def _size(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    order = rng.sample(("chocolate", "box", "suitcase", "container", "chest"), 5)  # small first
    said = [0] * (len(order) - 1)
    for i in rng.sample(range(len(said)), len(said)):
        small, big = order[i], order[i + 1]
        if rng.random() < 0.5:
            said[i] = t.say("the", small, "fits inside the", big)
        else:
            said[i] = t.say("the", big, "is bigger than the", small)
    for _ in range(2):
        i = rng.randrange(len(order) - 1)
        j = rng.randint(i + 1, min(i + 2, len(order) - 1))
        x, y = (order[i], order[j]) if rng.random() < 0.5 else (order[j], order[i])
        x_smaller = order.index(x) < order.index(y)
        if rng.random() < 0.5:
            t.ask(f"does the {x} fit in the {y}", "yes" if x_smaller else "no", said[i:j])
        else:
            t.ask(f"is the {x} bigger than the {y}", "no" if x_smaller else "yes", said[i:j])
    return t


def _path_finding(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    facts, pos = _place_on_grid(rng, rng.sample(LOCATIONS, 5))
    said = _say_relations(t, facts)
    links: dict[str, dict[str, int]] = {}  # place -> neighbour -> the sentence linking them
    for (x, _, y), s in zip(facts, said, strict=True):
        links.setdefault(x, {})[y] = s
        links.setdefault(y, {})[x] = s
    trips = [(x, m, y) for m in links for x in links[m] for y in links[m] if x != y]
    start, middle, end = rng.choice(sorted(trips))
    letters = {v: d[0] for d, v in DIRECTIONS.items()}

    def step(a: str, b: str) -> str:
        return letters[(pos[b][0] - pos[a][0], pos[b][1] - pos[a][1])]

    answer = f"{step(start, middle)},{step(middle, end)}"
    t.ask(f"how do you go from the {start} to the {end}", answer,
          [links[start][middle], links[middle][end]])  # fmt: skip
    return t


MOTIVES = {
    "hungry": ("kitchen", "apple"),
    "thirsty": ("kitchen", "milk"),
    "tired": ("bedroom", "pajamas"),
    "bored": ("garden", "football"),
}


def _motivations(rng: random.Random) -> _Teller:
    t = _Teller(rng)
    actors = rng.sample(("sumit", "yann", "antoine", "jason"), rng.randint(2, 4))
    motive = {a: rng.choice(sorted(MOTIVES)) for a in actors}
    steps = [a for a in actors for _ in range(3)]
    rng.shuffle(steps)  # each actor's three steps in order, the actors interleaved
    done: dict[str, list[int]] = {a: [] for a in actors}
    for actor in steps:
        place, obj = MOTIVES[motive[actor]]
        n = len(done[actor])
        if n == 0:
            done[actor].append(t.say(actor, "is", motive[actor]))
            question, answer = f"where will {actor} go", place
        elif n == 1:
            done[actor].append(t.say(actor, rng.choice(MOVES), "the", place))
            question, answer = f"why did {actor} go to the {place}", motive[actor]
        else:
            done[actor].append(t.say(actor, rng.choice(GRABS), "the", obj, "there"))
            question, answer = f"why did {actor} get the {obj}", motive[actor]
        if rng.random() < 0.6:
            t.ask(question, answer, [done[actor][0], done[actor][-1]])
    return t


TASKS: dict[int, tuple[str, Callable[[random.Random], _Teller]]] = {
    1: ("single supporting fact", _single_fact),
    2: ("two supporting facts", _two_facts),
    3: ("three supporting facts", _three_facts),
    4: ("two argument relations", _two_arg_relations),
    5: ("three argument relations", _three_arg_relations),
    6: ("yes/no questions", _yes_no),
    7: ("counting", lambda rng: _holding(rng, count=True)),
    8: ("lists/sets", lambda rng: _holding(rng, count=False)),
    9: ("simple negation", _negation),
    10: ("indefinite knowledge", _indefinite),
    11: ("basic coreference", lambda rng: _coreference(rng, pairs=False)),
    12: ("conjunction", _conjunction),
    13: ("compound coreference", lambda rng: _coreference(rng, pairs=True)),
    14: ("time reasoning", _time_reasoning),
    15: ("basic deduction", _deduction),
    16: ("basic induction", _induction),
    17: ("positional reasoning", _positional),
    18: ("size reasoning", _size),
    19: ("path finding", _path_finding),
    20: ("agent's motivations", _motivations),
}
"""bAbI task number -> (name, story teller)."""


def _stories(task: int, stream: str) -> Iterator[Story]:
    """Endless stories of one task, the same for the same ``stream``."""
    if task not in TASKS:
        raise AttnkitError(f"no bAbI task {task!r}; valid: 1..{len(TASKS)}")
    rng = random.Random(f"attnkit-babi/{task}/{stream}")  # str seeds are hashed with SHA-512
    tell = TASKS[task][1]
    while True:
        t = tell(rng)
        if t.questions:
            yield Story(task, tuple(t.sentences), tuple(t.questions))


def generate(task: int, n_stories: int, seed: int = 0) -> list[Story]:
    """``n_stories`` stories of bAbI task ``task`` (1..20), the same for the same ``seed``.

    Raises:
        AttnkitError: an unknown task.

    Example:
        >>> [len(s.questions) for s in generate(15, n_stories=2, seed=1)]
        [3, 3]
    """
    stories = _stories(task, str(seed))
    return [next(stories) for _ in range(n_stories)]


def _take(stories: Iterator[Story], n_questions: int, avoid: set[tuple[Words, ...]]) -> list[Story]:
    """Stories holding ``n_questions`` questions (the last one cut short), none in ``avoid``."""
    taken: list[Story] = []
    count = rejected = 0
    while count < n_questions:
        story = next(stories)
        keep = story.questions[: n_questions - count]
        story = Story(story.task, story.sentences[: keep[-1].after], keep)
        if story.sentences in avoid:
            rejected += 1
            if rejected > 100 * n_questions:
                raise AttnkitError(f"task {story.task} repeats its stories: cannot draw "
                                   f"{n_questions} new questions")  # fmt: skip
            continue
        taken.append(story)
        count += len(keep)
    return taken


@dataclass(frozen=True)
class Splits:
    """Training, validation and test stories of one task."""

    train: list[Story]
    valid: list[Story]
    test: list[Story]


def splits(task: int, *, train: int = 1000, test: int = 1000, seed: int = 0) -> Splits:
    """The 1k (``train=1000``) or 10k (``train=10000``) questions of a task, and its test set.

    Args:
        task: bAbI task number, 1..20.
        train: training + validation questions; 10% of them (at least one) are validation.
        test: test questions, drawn from another random stream; a test story never equals a
            training or validation story.
        seed: selects the streams.

    Raises:
        AttnkitError: an unknown task, or fewer than 2 training questions.

    Example:
        >>> s = splits(1, train=100, test=50)
        >>> [sum(len(x.questions) for x in part) for part in (s.train, s.valid, s.test)]
        [90, 10, 50]
    """
    if train < 2 or test < 1:
        raise AttnkitError(f"need at least 2 training and 1 test question, got {train}, {test}")
    n_valid = max(1, train // 10)
    stream = _stories(task, f"{seed}/train")
    train_stories = _take(stream, train - n_valid, set())
    valid_stories = _take(stream, n_valid, set())
    seen = {s.sentences for s in train_stories + valid_stories}
    test_stories = _take(_stories(task, f"{seed}/test"), test, seen)
    return Splits(train_stories, valid_stories, test_stories)


@dataclass
class BabiVocab(JsonFields):
    """Words of the stories, questions and answers (answers are words of the same table, so
    the answer layer can share the last memory embedding); ids 0 and 1 are PAD and UNK.

    Example:
        >>> vocab = BabiVocab.build(generate(1, n_stories=3))
        >>> vocab.words[:2], vocab.ids(("where", "is", "zorro"))[-1]
        (['<pad>', '<unk>'], 1)
    """

    words: list[str]

    @classmethod
    def build(cls, stories: Iterable[Story]) -> BabiVocab:
        """The vocabulary of ``stories`` (for several tasks: all their stories at once)."""
        seen: set[str] = set()
        for story in stories:
            for sentence in story.sentences:
                seen.update(sentence)
            for q in story.questions:
                seen.update(q.words)
                seen.add(q.answer)
        return cls(list(SPECIAL_TOKENS) + sorted(seen - set(SPECIAL_TOKENS)))

    @cached_property
    def _index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def ids(self, words: Iterable[str]) -> list[int]:
        """Word ids, UNK for words the vocabulary lacks."""
        return [self._index.get(w, UNK_ID) for w in words]


@dataclass
class BabiTensors:
    """Questions as tensors; index it with a slice or an index tensor to get a batch.

    Memory slot ``m`` of a question asked after ``after`` sentences holds sentence
    ``after - 1 - m`` (slot 0 is the latest, as temporal encoding wants).

    Attributes:
        memory: ``(N, M, J)`` word ids of the last ``M`` sentences, 0 = padding.
        query: ``(N, J)`` word ids of the question.
        answer: ``(N,)`` id of the answer.
        supports: ``(N, M)`` bool, the slots of the supporting facts.
        task: ``(N,)`` bAbI task numbers.
    """

    memory: Tensor
    query: Tensor
    answer: Tensor
    supports: Tensor
    task: Tensor

    def __len__(self) -> int:
        return self.answer.shape[0]

    def __getitem__(self, index: slice | Tensor) -> BabiTensors:
        return BabiTensors(*(getattr(self, f.name)[index] for f in fields(self)))


def vectorize(
    stories: Iterable[Story], vocab: BabiVocab, *, memory_size: int = MEMORY_SIZE
) -> BabiTensors:
    """One row per question: its memory (the last ``memory_size`` sentences before it, the
    latest first), the query and the answer id (UNK for an answer the vocabulary lacks).

    Raises:
        AttnkitError: no question in ``stories``, or ``memory_size < 1``.
    """
    if memory_size < 1:
        raise AttnkitError(f"memory_size must be >= 1, got {memory_size}")
    rows = []  # (sentence ids of the story, question)
    for story in stories:
        encoded = [vocab.ids(s) for s in story.sentences]
        rows += [(encoded, q, story.task) for q in story.questions]
    if not rows:
        raise AttnkitError("no questions to vectorize")
    M = min(memory_size, max(q.after for _, q, _ in rows))
    J = max(max(map(len, sentences), default=1) for sentences, _, _ in rows)
    J = max(J, max(len(q.words) for _, q, _ in rows))
    memory = np.zeros((len(rows), M, J), dtype=np.int64)  # (N, M, J)
    query = np.zeros((len(rows), J), dtype=np.int64)  # (N, J)
    supports = np.zeros((len(rows), M), dtype=bool)  # (N, M)
    for n, (sentences, q, _) in enumerate(rows):
        for m, ids in enumerate(reversed(sentences[max(0, q.after - M) : q.after])):
            memory[n, m, : len(ids)] = ids
        query[n, : len(q.words)] = vocab.ids(q.words)
        supports[n, [q.after - 1 - i for i in q.supports if q.after - 1 - i < M]] = True
    return BabiTensors(
        memory=torch.from_numpy(memory),
        query=torch.from_numpy(query),
        answer=torch.tensor([vocab.ids([q.answer])[0] for _, q, _ in rows]),
        supports=torch.from_numpy(supports),
        task=torch.tensor([task for _, _, task in rows]),
    )
