"""Container names: the rule a name must follow, and random names in Docker's style
(``adjective_surname``) for containers created without one."""

from __future__ import annotations

import random
import re

from pouch.errors import InvalidArgument

_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def validate_container_name(name: str) -> str:
    """The name without its leading "/"; "" stays "" (the service picks one)."""
    if not name:
        return ""
    if not _NAME_RE.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")

ADJECTIVES = (
    "admiring adoring affectionate agitated amazing angry awesome blissful bold boring brave busy charming "
    "clever cool compassionate competent condescending confident cranky crazy dazzling determined distracted "
    "dreamy eager ecstatic elastic elated elegant eloquent epic fervent festive flamboyant focused friendly "
    "frosty gallant gifted goofy gracious happy hardcore heuristic hopeful hungry infallible inspiring "
    "jolly jovial keen kind laughing loving lucid magical modest musing mystifying naughty nervous nice "
    "nifty nostalgic objective optimistic peaceful pedantic pensive practical priceless quirky quizzical "
    "relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied suspicious sweet "
    "tender thirsty trusting unruffled upbeat vibrant vigilant vigorous wizardly wonderful xenodochial "
    "youthful zealous zen"
).split()

SURNAMES = (
    "albattani allen almeida archimedes ardinghelli aryabhata austin babbage banach bardeen bartik bassi "
    "bell bhabha bhaskara blackwell bohr booth borg bose boyd brahmagupta brattain brown carson chandrasekhar "
    "clarke colden cori cray curie darwin davinci dijkstra dubinsky easley edison einstein elion engelbart "
    "euclid euler fermat fermi feynman franklin galileo gates goldberg goldstine golick goodall hamilton "
    "hawking heisenberg hermann hodgkin hoover hopper hugle hypatia jackson jang jennings jepsen joliot "
    "jones kalam kare keller kepler khorana kilby kirch knuth kowalevski lalande lamarr lamport leakey "
    "leavitt lewin lichterman liskov lovelace lumiere mahavira mayer mccarthy mcclintock mclean mcnulty "
    "meitner mendel mirzakhani montalcini moore morse murdock napier nash neumann newton nightingale nobel "
    "noether northcutt noyce panini pare pasteur payne perlman pike poincare poitras ptolemy raman "
    "ramanujan ride ritchie roentgen rosalind saha sammet shannon shaw shirley shockley sinoussi snyder "
    "spence stallman stonebraker swanson swartz swirles tesla thompson torvalds turing varahamihira "
    "visvesvaraya volhard wescoff wiles williams wilson wing wozniak wright yalow yonath"
).split()


def random_name(rng: random.Random | None = None) -> str:
    rng = rng or random.SystemRandom()
    return f"{rng.choice(ADJECTIVES)}_{rng.choice(SURNAMES)}"
