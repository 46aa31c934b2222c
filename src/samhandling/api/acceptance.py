"""The five acceptance questions of the 2012 steering-data slides, as PxWebApi 2.0 requests.

One request per question (MISSION.md §2.3, seed 001), in the municipality codes of the 2011
borders (the catalogue must be built with ``borders=2011``): Flora 1401, Bærum 0219, Namsos 1703,
Bodø 1804, Grimstad 0904. ``docs/acceptance-questions.md`` lists the requests and the answers
on the synthetic demo data; ``tests/test_acceptance_questions.py`` checks each answer against an
independent count from the raw episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BORDERS", "MUNICIPALITIES", "QUESTIONS", "Question"]

BORDERS = 2011
# The five municipalities in 2011 codes, and the 2024 municipalities they are part of (the
# synthetic generator selects residents by 2024 code).
MUNICIPALITIES = {
    "1401": ("Flora", "4602"),
    "0219": ("Bærum", "3201"),
    "1703": ("Namsos", "5007"),
    "1804": ("Bodø", "1804"),
    "0904": ("Grimstad", "4202"),
}


@dataclass(frozen=True)
class Question:
    """A question, the one request that answers it, and what the answer's values are."""

    number: int
    text: str
    table: str
    query: str  # the query string of GET /api/v2/tables/{table}/data
    answer: str  # what the values of the response are, in order

    @property
    def url(self) -> str:
        return f"/api/v2/tables/{self.table}/data?{self.query}"


QUESTIONS = (
    Question(
        1,
        "How many residents of Flora municipality had a stay and/or consultation in a somatic "
        "hospital in 2010?",
        "SD04",
        "valuecodes[region]=1401&valuecodes[period]=2010&valuecodes[ContentsCode]=pasienter",
        "patients",
    ),
    Question(
        2,
        "How many stays did patients aged 79 and over from Bærum have up to the 2nd tertial "
        "2011, absolute and per 1 000 inhabitants?",
        "SD02",
        "valuecodes[region]=0219&valuecodes[period]=2011P2&valuecodes[age]=A80%2B"
        "&valuecodes[ContentsCode]=opphold,opphold_per_1000",
        "stays; stays per 1 000 inhabitants aged 80+",
    ),
    Question(
        3,
        "In how many stays were patients from Namsos discharged to a nursing home in 2010?",
        "SD03",
        "valuecodes[region]=1703&valuecodes[period]=2010&valuecodes[discharged_to]=nursing_home"
        "&valuecodes[ContentsCode]=opphold",
        "stays",
    ),
    Question(
        4,
        "How many stays and consultations did patients with diabetes from Bodø have up to the "
        "2nd tertial 2011?",
        "SD04",
        "valuecodes[region]=1804&valuecodes[period]=2011P2&valuecodes[diagnosis]=E10-E14"
        "&valuecodes[ContentsCode]=opphold,polikliniske",
        "stays; outpatient consultations",
    ),
    Question(
        5,
        "How did the average length of stay for emergency medical admissions from Grimstad "
        "develop from 2009 to the 2nd tertial 2011?",
        "SD05",
        "valuecodes[region]=0904&valuecodes[period]=2009,2010,2011P2&valuecodes[urgency]=emergency"
        "&valuecodes[drg_type]=M&valuecodes[ContentsCode]=gj_liggetid",
        "average length of stay (days) in 2009; 2010; January-August 2011",
    ),
)
