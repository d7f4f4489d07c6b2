"""The edge where the pieces meet: desired state → rendered functions → live state → plan."""

from __future__ import annotations

from deployer import codegen, live
from deployer.artifacts import DigestCache
from deployer.codegen import RenderedFunction
from deployer.desired import DesiredState, Model
from deployer.plan import Plan
from deployer.planner import plan
from deployer.session import Session


def render_all(state: DesiredState, models: tuple[Model, ...] | None = None) -> tuple[str, tuple[RenderedFunction, ...]]:
    """The stage statement and each model's function (all by default), hashing files through the digest cache."""
    cache = DigestCache.for_state(state)
    functions = tuple(codegen.render_function(state, model, cache=cache)
                      for model in (state.models if models is None else models))
    cache.save()
    return codegen.render_stage(state), functions


def make_plan(state: DesiredState, session: Session, *, destroy: bool = False, refresh: bool = False,
              candidates: bool = True) -> tuple[Plan, tuple[RenderedFunction, ...], live.LiveState]:
    stage_sql, functions = render_all(state)
    current = live.read(session, state, refresh=refresh)
    return plan(state, stage_sql, functions, current, destroy=destroy, candidates=candidates), functions, current
