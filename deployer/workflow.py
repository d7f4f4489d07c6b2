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


def start_ahead(session: Session, state: DesiredState, resolution: pins.Resolution, most: int = 2) -> None:
    """Tell a target that takes the hint (the local engine: LocalSession.start_ahead) which
    interpreters the functions apply is about to test will need: the first `most` distinct
    PACKAGES lists in manifest order, the order apply tests them. A hint given before the
    plan is known: an apply with nothing to do costs an idle process while it runs."""
    hint = getattr(session, "start_ahead", None)
    if hint is None:
        return
    from deployer import frameworks

    seen: set[tuple] = set()
    for model in state.models:
        packages = tuple(resolution.pins(model.name) or codegen.packages_for(model))
        if (model.runtime_version, packages) in seen:
            continue
        seen.add((model.runtime_version, packages))
        framework = frameworks.get(model.framework)
        # Pickles whose classes name the modules its first call imports: the model when its
        # framework pickles it, and the steps (scikit-learn's, whatever the model's framework).
        pickled = pins.artifact_paths(model)[0 if framework is not None and framework.pickled else 1:]
        # numpy and pandas: every handler imports them (templates/handler.py.j2)
        hint(model.runtime_version, packages, ("numpy", "pandas") + (framework.modules if framework else ()),
             tuple(str(p) for p in pickled))
        if len(seen) >= most:
            return
