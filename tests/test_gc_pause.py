"""engine.gc_pause: the collector is paused during a build; a kept build skips the young
generations (their collections would only walk it to find it alive)."""

from __future__ import annotations

import gc

from engine.gc_pause import gc_paused


def _in_generation(obj, generation: int) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


def test_pause_turns_collection_off_and_back_on():
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_kept_build_lands_in_the_oldest_generation():
    with gc_paused(keep=True):
        built = [[i] for i in range(2000)]
    assert _in_generation(built, 2)
    assert gc.get_count()[0] < 100  # the next young collection does not walk the build


def test_plain_pause_leaves_new_objects_young():
    with gc_paused():
        built = [[i] for i in range(10)]
    assert not _in_generation(built, 2)


def test_inner_kept_build_is_promoted_by_the_outermost_pause_only():
    with gc_paused(keep=True):
        with gc_paused(keep=True):
            inner = [[1]]
        assert not _in_generation(inner, 2)
        outer = [[2]]
    assert _in_generation(inner, 2) and _in_generation(outer, 2)


def test_kept_build_joins_a_freeze_in_force():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused(keep=True):
            built = [[i] for i in range(100)]
        assert gc.get_freeze_count() >= frozen + 100
        assert not _in_generation(built, 2)
    finally:
        gc.unfreeze()
    assert _in_generation(built, 2)
