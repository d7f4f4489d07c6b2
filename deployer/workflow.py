"""The edge where the pieces meet: desired state → rendered functions → live state → plan."""

from __future__ import annotations

from deployer import codegen, live, pins
from deployer.artifacts import DigestCache
from deployer.codegen import RenderedFunction
from deployer.desired import DesiredState, Model
from deployer.plan import Plan
from deployer.planner import plan
from deployer.session import Session


def render_all(state: DesiredState, models: tuple[Model, ...] | None = None, *,
               session: Session | None = None,
               resolution: pins.Resolution | None = None) -> tuple[str, tuple[RenderedFunction, ...]]:
    """The stage statement and each model's function (all by default), hashing files through the digest cache.

    PACKAGES are pinned from `resolution`, else resolved against the session's target, else
    against the local offering (the channel snapshot).
    """
    models = state.models if models is None else models
    if resolution is None:
        resolution = pins.resolve_state(state, session, models)
    cache = DigestCache.for_state(state)
    functions = tuple(codegen.render_function(state, model, cache=cache, packages=resolution.pins(model.name))
                      for model in models)
    cache.save()
    return codegen.render_stage(state), functions


def make_plan(state: DesiredState, session: Session, *, destroy: bool = False, refresh: bool = False,
              candidates: bool = True, resolution: pins.Resolution | None = None, verify: bool = False,
              ) -> tuple[Plan, tuple[RenderedFunction, ...], live.LiveState]:
    if resolution is None and not destroy:
        resolution = pins.resolve_state(state, session)
    resolution = resolution or pins.Resolution({})
    stage_sql, functions = render_all(state, resolution=resolution)
    current = live.read(session, state, refresh=refresh, verify=verify)
    the_plan = plan(state, stage_sql, functions, current, destroy=destroy, candidates=candidates)
    return pins.annotate(state, the_plan, resolution), functions, current
