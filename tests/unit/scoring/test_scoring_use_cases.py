"""Scoring's use cases through the in-memory unit of work: what a user would notice."""

from __future__ import annotations

from datetime import timedelta

from leadpipe.scoring.rules.loader import default_rules
from leadpipe.scoring.service.erasure import erase_person
from leadpipe.scoring.service.handlers import Decoded, apply_batch
from leadpipe.scoring.service.recycling import recycle_due
from leadpipe.shared.events import InboundEvent, LeadErased, Stage, StageChanged
from leadpipe.shared.privacy import record_key, subject_hash
from leadpipe.shared.topics import Topics
from tests.fakes.scoring_unit_of_work import InMemoryScoringUnitOfWork
from tests.unit.scoring.events import T0, demo_request, inbound

RULES = default_rules()
TOPICS = Topics.with_prefix("test.")
EMAIL = "max@mustermann.example"


def _decoded(*events: InboundEvent) -> list[Decoded]:
    return [Decoded(event, event.model_dump_json()) for event in events]


def _store() -> InMemoryScoringUnitOfWork:
    return InMemoryScoringUnitOfWork(RULES, TOPICS, T0)


def _stage_events(uow: InMemoryScoringUnitOfWork) -> list[StageChanged]:
    return [e.event for e in uow.outbox if isinstance(e.event, StageChanged)]


async def test_a_form_post_creates_a_lead_and_moves_it_to_mql_with_reasons() -> None:
    uow = _store()
    post = inbound(
        "form_submitted",
        traits={"email": EMAIL, "title": "Geschäftsführer", "company_size": 120},
        properties={"form_id": "demo-request"},
    )
    await apply_batch(uow, _decoded(post), RULES)

    (lead,) = uow.leads.values()
    assert (lead.email, lead.stage) == (EMAIL, "mql")
    assert {c.change.component for c in uow.score_changes} >= {"fit", "engagement"}
    assert all(c.event_id == post.event_id for c in uow.score_changes)
    # One stage-changed event per move: the lead's creation, then the move to MQL.
    moves = _stage_events(uow)
    assert [(e.from_stage, e.to_stage) for e in moves] == [
        (None, Stage.LEAD),
        (Stage.LEAD, Stage.MQL),
    ]
    assert moves[1].reason == "hand-raiser: asked for a demo"
    assert {(e.cause_event_id, e.lead_key, e.lead_id) for e in moves} == {
        (post.event_id, record_key(EMAIL), lead.id)
    }
    assert moves[1].lead.title == "Geschäftsführer"  # the snapshot: the lead after the event
    assert [e.event_id for e in uow.inbound] == [post.event_id]


async def test_an_event_delivered_again_changes_nothing() -> None:
    uow = _store()
    post = demo_request()
    await apply_batch(uow, _decoded(post, post), RULES)
    seen = (len(uow.score_changes), len(uow.stage_changes), len(uow.outbox), len(uow.inbound))
    lead = next(iter(uow.leads.values()))
    score = (lead.fit, lead.engagement, lead.qualification)

    await apply_batch(uow, _decoded(post), RULES)

    again = (len(uow.score_changes), len(uow.stage_changes), len(uow.outbox), len(uow.inbound))
    assert again == seen
    assert len(uow.inbound) == 1
    assert (lead.fit, lead.engagement, lead.qualification) == score
    assert len(uow.leads) == 1


async def test_the_events_of_an_erased_person_are_dropped() -> None:
    uow = _store()
    await apply_batch(uow, _decoded(demo_request()), RULES)
    await erase_person(uow, EMAIL, TOPICS, T0 + timedelta(hours=1))
    before = (len(uow.outbox), len(uow.inbound), len(uow.score_changes))

    later = demo_request(at=T0 + timedelta(days=1))
    await apply_batch(uow, _decoded(later), RULES)

    assert [lead.email for lead in uow.leads.values()] == [None]
    assert (len(uow.outbox), len(uow.inbound), len(uow.score_changes)) == before
    assert later.event_id in uow.processed  # read, and dropped for good


async def test_an_anonymous_visitor_is_merged_into_the_person_who_identifies() -> None:
    uow = _store()
    visit = inbound("page", email=None, anonymous_id="a-1", properties={"url": "/pricing"})
    await apply_batch(uow, _decoded(visit), RULES)
    await apply_batch(uow, _decoded(inbound("identify", traits={"title": "CTO"})), RULES)
    by_key = {lead.lead_key: lead for lead in uow.leads.values()}
    visitor, person = by_key["a-1"], by_key[EMAIL]
    engagement = person.engagement

    tie = inbound("identify", anonymous_id="a-1", at=T0 + timedelta(minutes=1))
    await apply_batch(uow, _decoded(tie), RULES)

    assert uow.leads[visitor.id].merged_into == person.id
    assert {e.lead_id for e in uow.inbound} == {person.id}
    assert uow.leads[person.id].engagement > engagement  # the pricing visit counts for them


async def test_recycling_moves_a_due_mql_to_nurture_and_emits_the_move() -> None:
    uow = _store()
    await apply_batch(
        uow,
        _decoded(
            inbound("identify", traits={"title": "CTO"}),
            inbound("track", properties={"event": "Webinar Attended"}),
            inbound("track", properties={"event": "Chat Started"}),
            inbound("page", properties={"url": "/pricing"}),
        ),
        RULES,
    )
    (lead,) = uow.leads.values()
    assert lead.stage == "mql" and lead.recycle_at is not None
    due = lead.recycle_at

    uow.now = due - timedelta(hours=1)
    assert await recycle_due(uow, RULES, uow.now) == 0
    uow.now = due + timedelta(minutes=1)
    assert await recycle_due(uow, RULES, uow.now) == 1

    assert uow.leads[lead.id].stage == "nurture"
    last = _stage_events(uow)[-1]
    assert (last.from_stage, last.to_stage) == (Stage.MQL, Stage.NURTURE)
    assert last.cause_event_id.startswith(f"recycle:{lead.id}:")
    assert uow.leads[lead.id].recycle_at is None


async def test_erasure_anonymises_the_lead_and_emits_lead_erased() -> None:
    uow = _store()
    await apply_batch(uow, _decoded(demo_request()), RULES)
    (lead,) = uow.leads.values()

    receipt = await erase_person(uow, EMAIL, TOPICS, T0 + timedelta(hours=1))

    erased = uow.leads[lead.id]
    assert (erased.email, erased.first_name, erased.profile) == (None, None, {})
    assert erased.lead_key == f"erased:{lead.id}"
    assert receipt.lead_ids == [lead.id]
    assert subject_hash(EMAIL) in uow.suppressions
    assert not uow.inbound and not uow.score_changes and not uow.stage_changes
    # The queued stage changes that named the person went; the erasure event is what is left.
    (left,) = uow.outbox
    assert (left.topic, left.key) == (TOPICS.stage_changed, lead.id)
    assert isinstance(left.event, LeadErased) and left.event.lead_id == lead.id
