"""Shared machinery of the implicit-Q imitation algorithms (LSIQ, IQ-Learn): an SB3 off-policy algorithm that
mixes an expert batch into every gradient step and learns a soft-Q critic whose implicit reward imitates."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import get_parameters_by_name, get_schedule_fn, polyak_update, update_learning_rate

try:  # SB3 >= 2.6 deprecates get_schedule_fn in favour of FloatSchedule
    from stable_baselines3.common.utils import FloatSchedule as _FloatSchedule
except ImportError:  # pragma: no cover - SB3 2.2.1 (imitation's pins)
    _FloatSchedule = None  # type: ignore[assignment,misc]

from sb3_lsiq.common.demonstrations import EPISODE_END_RULES
from sb3_lsiq.common.entropy_critic import EntropyCritic
from sb3_lsiq.common.expert_buffer import ExpertBuffer, ExpertSamples, build_expert_buffer
from sb3_lsiq.common.greedy_policy import GreedyQPolicy
from sb3_lsiq.common.inverse_dynamics import GaussianInverseDynamics
from sb3_lsiq.common.losses import CriticLossTerms, IQBatch, soft_bellman_target, squashed_gaussian_nll
from sb3_lsiq.common.observation_map import ObservationMap, as_observation_map
from sb3_lsiq.common.policies import IQActor, IQPolicy
from sb3_lsiq.common.train_stats import TrainStats

# Where the expert batch's actions come from: the recordings, an inverse dynamics model, or the current policy
EXPERT_ACTION_SOURCES = ("demonstrations", "idm", "policy")
IDM_OPTIONS = frozenset(
    {"net_arch", "activation_fn", "learning_rate", "log_std_bounds", "kl_coef", "target_update_interval", "pretrain_fits",
     "inputs", "action_clip"}
)  # fmt: skip

OFFLINE_OBJECTIVES = ("iq", "bc")
OFFLINE_POLICY_TERMS = ("v0", "value_expert")
# V(s) in the offline policy term: the actor's soft value, or the soft maximum of Q over actions
OFFLINE_VALUES = ("policy", "soft_max")
CriticLossFunction = Callable[[IQBatch, th.Tensor, th.Tensor], CriticLossTerms]


class MixedBatch(NamedTuple):
    """The rows of one update, policy (replay) rows first and expert rows last (``n_policy`` = 0 offline)."""

    observations: th.Tensor  # (N, obs_dim)
    actions: th.Tensor  # (N, action_dim), scaled to [-1, 1]
    next_observations: th.Tensor  # (N, obs_dim)
    dones: th.Tensor  # (N, 1), 1 only for a true termination
    n_policy: int


SelfImplicitQAlgorithm = TypeVar("SelfImplicitQAlgorithm", bound="ImplicitQAlgorithm")


def as_schedule(value: float | str | Schedule) -> Schedule:
    """A float, a schedule, or an rl-zoo3 style string (``"3e-4"``, ``"lin_3e-4"``: linear decay to 0) as a schedule."""
    if isinstance(value, str):
        value = parse_schedule_string(value)
    return _FloatSchedule(value) if _FloatSchedule is not None else get_schedule_fn(value)


def parse_schedule_string(text: str) -> float | Schedule:
    """``"lin_<x>"`` is the linear schedule from x (start) to 0 (end), as in rl-zoo3; any other string a float."""
    try:
        if text.startswith("lin_"):
            initial = float(text[len("lin_") :])
            return LinearDecay(initial)
        return float(text)
    except ValueError:
        raise ValueError(f"Cannot read the learning rate {text!r}: expected a float or 'lin_<float>'.") from None


class LinearDecay:
    """progress_remaining * initial (a picklable linear schedule)."""

    def __init__(self, initial: float) -> None:
        self.initial = initial

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial


def assign_gradients(params: list[th.Tensor], grads: tuple[th.Tensor | None, ...]) -> None:
    """Set ``param.grad`` from :func:`torch.autograd.grad` results (replaces zero_grad + backward)."""
    for param, grad in zip(params, grads):
        param.grad = grad


def optimizer_parameters(optimizer: th.optim.Optimizer) -> list[th.Tensor]:
    """Every parameter ``optimizer`` updates, in order."""
    return [param for group in optimizer.param_groups for param in group["params"]]


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    """Raise a ValueError naming the option and its valid values."""
    if value not in choices:
        raise ValueError(f"Unknown {name}={value!r}; valid values: {', '.join(repr(c) for c in choices)}.")


class ImplicitQAlgorithm(OffPolicyAlgorithm):
    """Base class of LSIQ and IQLearn; see those classes for the documentation of every argument.

    A subclass provides the critic loss (:meth:`_critic_loss`), the bounds of target clipping
    (:meth:`_target_clip_bounds`) and the validation of its own options (:meth:`_validate_options`).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": IQPolicy}
    policy: IQPolicy
    actor: IQActor
    critic: Any
    critic_target: Any

    def __init__(
        self,
        policy: str | type[IQPolicy],
        env: GymEnv | str | None,
        demonstrations: Any = None,
        reg_mult: float = 0.5,
        learning_rate: float | str | Schedule = 3e-4,
        actor_learning_rate: float | str | Schedule | None = 3e-5,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        expert_batch_size: int | None = None,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        ent_coef: str | float = 1e-3,
        target_entropy: str | float = "auto",
        ent_coef_learning_rate: float | str | Schedule | None = None,
        target_update_interval: int = 1,
        actor_learning_starts: int = 0,
        actor_on_expert_states: bool = True,
        demo_episode_end: str = "auto",
        n_demo_episodes: int | None = None,
        expert_actions: str = "demonstrations",
        idm_kwargs: dict[str, Any] | None = None,
        expert_observation_map: ObservationMap | Mapping[str, Any] | None = None,
        offline_objective: str | None = None,
        offline_policy_term: str = "v0",
        offline_value: str = "policy",
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        if isinstance(learning_rate, str):  # rl-zoo3 style "lin_3e-4" from YAML or the command line
            learning_rate = parse_schedule_string(learning_rate)
        super().__init__(
            policy,
            env,  # type: ignore[arg-type]
            learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            action_noise=action_noise,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            use_sde=False,
            support_multi_env=True,
            sde_support=False,
            supported_action_spaces=None,  # checked below with an error that names the fix
        )
        if getattr(self, "action_space", None) is not None and not isinstance(self.action_space, spaces.Box):
            raise ValueError(
                f"{type(self).__name__} supports continuous (Box) action spaces only, got {self.action_space}. "
                "Discrete actions are not supported yet; use a continuous-control env."
            )
        self.demonstrations = demonstrations
        self.reg_mult = reg_mult
        self.actor_learning_rate = actor_learning_rate
        self.expert_batch_size = expert_batch_size
        self.ent_coef = ent_coef
        self.target_entropy = target_entropy
        self.ent_coef_learning_rate = ent_coef_learning_rate
        self.target_update_interval = target_update_interval
        self.actor_learning_starts = actor_learning_starts
        self.actor_on_expert_states = actor_on_expert_states
        self.demo_episode_end = demo_episode_end
        self.n_demo_episodes = n_demo_episodes
        self.expert_actions = expert_actions
        self.idm_kwargs = idm_kwargs
        # a mapping of the map's fields is accepted too: a YAML hyperparameter file can hold nothing else
        self.expert_observation_map = as_observation_map(expert_observation_map)
        self.offline_objective = offline_objective
        self.offline_policy_term = offline_policy_term
        self.offline_value = offline_value
        self.inverse_dynamics: GaussianInverseDynamics | None = None
        self.entropy_critic: EntropyCritic | None = None  # LSIQ-H / LSIQ-HC only
        self.log_ent_coef: th.Tensor | None = None
        self.ent_coef_optimizer: th.optim.Adam | None = None
        self.expert_buffer: ExpertBuffer | None = None
        self._train_stats = TrainStats()

        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------------------------------------------

    def _validate_options(self) -> None:
        """Check every option value before anything is built; subclasses extend it."""
        check_choice("demo_episode_end", self.demo_episode_end, EPISODE_END_RULES)
        check_choice("expert_actions", self.expert_actions, EXPERT_ACTION_SOURCES)
        if self.offline_objective is not None:
            check_choice("offline_objective", self.offline_objective, OFFLINE_OBJECTIVES)
            check_choice("offline_policy_term", self.offline_policy_term, OFFLINE_POLICY_TERMS)
            check_choice("offline_value", self.offline_value, OFFLINE_VALUES)
        if self.idm_kwargs is not None and self.expert_actions != "idm":
            raise ValueError(f"idm_kwargs only apply with expert_actions='idm' (got expert_actions={self.expert_actions!r}).")
        if self.reg_mult <= 0:
            raise ValueError(f"reg_mult must be > 0 (it is c, the regulariser weight), got {self.reg_mult}.")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma}.")
        if self.expert_batch_size is not None and self.expert_batch_size < 1:
            raise ValueError(f"expert_batch_size must be >= 1 or None (same as batch_size), got {self.expert_batch_size}.")
        if self.n_demo_episodes is not None and self.n_demo_episodes < 1:
            raise ValueError(f"n_demo_episodes must be >= 1 or None (all episodes), got {self.n_demo_episodes}.")
        if isinstance(self.ent_coef, str) and not self.ent_coef.startswith("auto"):
            raise ValueError(f"ent_coef must be a float, 'auto' or 'auto_<initial value>', got {self.ent_coef!r}.")

    def _setup_model(self) -> None:
        self._validate_options()
        self._apply_observation_map_to_policy_kwargs()
        super()._setup_model()
        self._create_aliases()
        if self.expert_batch_size is None:
            self.expert_batch_size = self.batch_size
        # Separate actor and critic learning rates (the papers need 3e-5 / 3e-4): SACPolicy builds both
        # optimizers with the critic schedule, so the actor's rate is set here and in _update_learning_rate.
        self.actor_lr_schedule = as_schedule(
            self.actor_learning_rate if self.actor_learning_rate is not None else self.learning_rate
        )
        update_learning_rate(self.actor.optimizer, self.actor_lr_schedule(1))
        # Running mean/variance of batch norm layers follow the target update too (as in SAC)
        self.batch_norm_stats = get_parameters_by_name(self.critic, ["running_"])
        self.batch_norm_stats_target = get_parameters_by_name(self.critic_target, ["running_"])
        # The parameters each optimizer steps (with a shared features extractor, the critic's excludes it, as in SAC)
        self._actor_params = optimizer_parameters(self.actor.optimizer)
        self._critic_params = optimizer_parameters(self.critic.optimizer)

        if self.target_entropy == "auto":
            # -dim(A), the SAC heuristic
            self.target_entropy = -float(np.prod(self.action_space.shape))  # type: ignore[arg-type]
        else:
            self.target_entropy = float(self.target_entropy)

        self.ent_coef_lr_schedule = as_schedule(
            self.ent_coef_learning_rate if self.ent_coef_learning_rate is not None else self.learning_rate
        )
        if isinstance(self.ent_coef, str) and self.ent_coef.startswith("auto"):
            init_value = 1.0
            if "_" in self.ent_coef:
                init_value = float(self.ent_coef.split("_")[1])
                if init_value <= 0.0:
                    raise ValueError(f"The initial value of ent_coef must be > 0, got {self.ent_coef!r}.")
            # Optimise log(alpha), as SAC does, so alpha stays positive
            self.log_ent_coef = th.log(th.ones(1, device=self.device) * init_value).requires_grad_(True)
            self.ent_coef_optimizer = th.optim.Adam([self.log_ent_coef], lr=self.ent_coef_lr_schedule(1))
        else:
            self.ent_coef_tensor = th.tensor(float(self.ent_coef), device=self.device)
        if self.expert_actions == "idm":
            self.inverse_dynamics = self._make_inverse_dynamics()

    def _apply_observation_map_to_policy_kwargs(self) -> None:
        """With an observation subset, the critics see only the entries the expert observed (see observation_map)."""
        obs_map = self.expert_observation_map
        if obs_map is None:
            return
        obs_map.check_agent_space(self.observation_space)
        if not obs_map.is_relayout:
            # a copy: the caller's dict stays untouched
            self.policy_kwargs = {**self.policy_kwargs, "critic_observation_indices": obs_map.shared_indices}

    def _critic_observation_indices(self) -> list[int] | None:
        obs_map = self.expert_observation_map
        return None if obs_map is None or obs_map.is_relayout else obs_map.shared_indices

    def _make_inverse_dynamics(self) -> GaussianInverseDynamics:
        kwargs = dict(self.idm_kwargs or {})
        unknown = set(kwargs) - IDM_OPTIONS
        if unknown:
            raise ValueError(f"Unknown idm_kwargs {sorted(unknown)}; valid keys: {', '.join(sorted(IDM_OPTIONS))}.")
        obs_dim = int(np.prod(self.observation_space.shape))  # type: ignore[arg-type]
        action_dim = int(np.prod(self.action_space.shape))  # type: ignore[arg-type]
        indices = self._critic_observation_indices()
        return GaussianInverseDynamics(obs_dim, action_dim, observation_indices=indices, **kwargs).to(self.device)

    def _create_aliases(self) -> None:
        self.actor = self.policy.actor  # type: ignore[assignment]
        self.critic = self.policy.critic
        self.critic_target = self.policy.critic_target

    def set_demonstrations(self, demonstrations: Any) -> None:
        """Replace the demonstrations; the expert buffer is rebuilt (and validated) before the next update."""
        self.demonstrations = demonstrations
        self.expert_buffer = None
        if self.env is not None:
            self._build_expert_buffer()

    def _build_expert_buffer(self) -> None:
        assert self.expert_batch_size is not None
        self.expert_buffer = build_expert_buffer(
            self,
            self.demonstrations,
            batch_size=self.expert_batch_size,
            episode_end=self.demo_episode_end,
            n_episodes=self.n_demo_episodes,
            needs_actions=self.expert_actions == "demonstrations",
            observation_map=self.expert_observation_map,
        )

    def _setup_learn(self, total_timesteps: int, *args: Any, **kwargs: Any) -> Any:
        # Demonstrations are loaded lazily: load()/enjoy never need the demo file, and the zip never holds it
        if self.expert_buffer is None:
            self._build_expert_buffer()
        return super()._setup_learn(total_timesteps, *args, **kwargs)

    # ------------------------------------------------------------------------------------------------------
    # Hooks for the subclasses
    # ------------------------------------------------------------------------------------------------------

    def _target_clip_bounds(self) -> tuple[float | None, float | None]:
        """Bounds of the target value V_target(s') (None: unclipped)."""
        return None, None

    def _critic_loss(self, batch: IQBatch, observations: th.Tensor, actions: th.Tensor) -> CriticLossTerms:
        """The critic loss of one mixed batch (policy rows first, expert rows last)."""
        raise NotImplementedError

    def _offline_critic_loss(self, batch: IQBatch, policy_term: str) -> CriticLossTerms:
        """The critic loss of an expert-only batch (offline training)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------------------------------------------

    def _current_ent_coef(self) -> th.Tensor:
        if self.log_ent_coef is not None:
            return th.exp(self.log_ent_coef.detach())
        return self.ent_coef_tensor

    def _update_learning_rate(self, optimizers: Any = None) -> None:
        """Each optimizer follows its own schedule (SB3 applies one schedule to all)."""
        progress = self._current_progress_remaining
        update_learning_rate(self.critic.optimizer, self.lr_schedule(progress))
        update_learning_rate(self.actor.optimizer, self.actor_lr_schedule(progress))
        if self.ent_coef_optimizer is not None:
            update_learning_rate(self.ent_coef_optimizer, self.ent_coef_lr_schedule(progress))
        if self.entropy_critic is not None:
            update_learning_rate(self.entropy_critic.optimizer, self.lr_schedule(progress))

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate()
        # The actor (and the entropy coefficient) wait for actor_learning_starts env steps, so the critic can
        # first learn a meaningful reward from the expert and the initial replay data
        update_actor = self.num_timesteps > self.actor_learning_starts
        for gradient_step in range(gradient_steps):
            self._gradient_step(batch_size, update_actor)
            if gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        self._n_updates += gradient_steps

    def _gradient_step(self, batch_size: int, update_actor: bool) -> None:
        """One update on a mixed batch: ``batch_size`` replay rows first, ``expert_batch_size`` expert rows last."""
        assert self.replay_buffer is not None and self.expert_buffer is not None and self.expert_batch_size is not None
        replay = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[arg-type]
        expert = self.expert_buffer.sample(self.expert_batch_size, self._vec_normalize_env)
        expert_actions = self._expert_actions(replay, expert)  # (n_expert, action_dim), scaled to [-1, 1]
        mixed = MixedBatch(
            observations=th.cat([replay.observations, expert.observations]),  # (N, obs_dim), N = n_policy + n_expert
            actions=th.cat([replay.actions, expert_actions]),  # (N, action_dim), scaled to [-1, 1]
            next_observations=th.cat([replay.next_observations, expert.next_observations]),  # (N, obs_dim)
            # Replay dones already exclude time-limit truncations (handle_timeout_termination), so d is absorbing
            dones=th.cat([replay.dones.reshape(-1, 1), expert.dones]),  # (N, 1)
            n_policy=replay.observations.shape[0],
        )
        self._update(mixed, update_actor, self._critic_loss)

    def _update(self, mixed: MixedBatch, update_actor: bool, critic_loss: CriticLossFunction) -> None:
        """The critic (and actor, temperature) update on one batch, policy rows first; ``critic_loss`` maps
        (batch, observations, actions) to the loss terms."""
        observations, actions, next_observations, dones, n_policy = mixed
        ent_coef = self._current_ent_coef()

        # a~ ~ pi(.|s): one reparameterised sample serves V(s) in the critic loss and the actor loss
        with th.set_grad_enabled(update_actor):
            sampled_actions, log_prob = self.actor.action_log_prob(observations)
        log_prob = log_prob.reshape(-1, 1)  # (N, 1)

        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(next_observations)
            next_log_prob = next_log_prob.reshape(-1, 1)  # (N, 1)
            next_q = th.cat(self.critic_target(next_observations, next_actions), dim=1)  # (N, K)
            # Soft target value; with several critics the minimum, as in SAC. With an entropy critic, Q is a
            # reward-only critic and H carries the entropy, so the -alpha log pi term leaves Q's values.
            next_v = next_q.min(dim=1, keepdim=True)[0]  # (N, 1)
            if self.entropy_critic is None:
                next_v = next_v - ent_coef * next_log_prob
            target = soft_bellman_target(next_v, dones, self.gamma, *self._target_clip_bounds())  # (N, 1)

        q_data = th.cat(self.critic(observations, actions), dim=1)  # Q(s, a) at the dataset actions, (N, K)
        # Q(s, a~) is computed once and serves both losses, as in the original SAC (both losses from one forward
        # pass, the actor's against the critic before this step's update): this saves the second critic forward
        # of SB3's order. Each loss is differentiated with respect to its own parameters only (autograd.grad), so
        # V(s) in the critic loss moves theta alone and the actor loss moves phi alone.
        # Why not one forward over the stacked (s, a) and (s, a~) rows: the actor's backward would then run through
        # the critic on all 2N rows, half of them with zero gradient; measured, +8% FLOPs per update and slower.
        q_sampled = th.cat(self.critic(observations, sampled_actions), dim=1)  # (N, K)
        v = q_sampled - ent_coef * log_prob.detach()  # V(s) = Q(s, a~) - alpha log pi(a~|s)
        if self.entropy_critic is not None:
            v = q_sampled  # reward-only Q
        batch = IQBatch(q=q_data, v=v, target=target, done=dones, n_policy=n_policy)
        terms = critic_loss(batch, observations, actions)

        stats = self._train_stats
        critic_grads = th.autograd.grad(terms.loss, self._critic_params, retain_graph=update_actor)
        if update_actor:
            actor_rows = slice(None) if self.actor_on_expert_states or n_policy == 0 else slice(0, n_policy)
            min_q_pi = q_sampled[actor_rows].min(dim=1, keepdim=True)[0]  # (rows, 1)
            if self.entropy_critic is not None:  # the actor maximises Q + H - alpha log pi
                min_q_pi = min_q_pi + self.entropy_critic.value(observations[actor_rows], sampled_actions[actor_rows])
            actor_log_prob = log_prob[actor_rows]
            actor_loss = (ent_coef * actor_log_prob - min_q_pi).mean()
            actor_grads = th.autograd.grad(actor_loss, self._actor_params, allow_unused=True)
            assign_gradients(self._actor_params, actor_grads)
            self.actor.optimizer.step()
            stats.add("train/actor_loss", actor_loss)

            if self.ent_coef_optimizer is not None and self.log_ent_coef is not None:
                ent_coef_loss = -(self.log_ent_coef * (actor_log_prob.detach() + float(self.target_entropy))).mean()
                self.ent_coef_optimizer.zero_grad()
                ent_coef_loss.backward()
                self.ent_coef_optimizer.step()
                stats.add("train/ent_coef_loss", ent_coef_loss)
        # The critic steps after the actor's gradient was taken: the step changes theta in place
        assign_gradients(self._critic_params, critic_grads)
        self.critic.optimizer.step()
        if self.entropy_critic is not None:
            q_target = None
            if self.entropy_critic.mode == "entropy_regularizer":
                with th.no_grad():  # Q_target(s, a) for HC's regulariser reward
                    q_target = th.cat(self.critic_target(observations, actions), dim=1).min(dim=1, keepdim=True)[0]
            h_loss = self.entropy_critic.update(
                observations, actions, next_observations, next_actions, next_log_prob, dones, n_policy, ent_coef,
                q_target=q_target, next_v_target=next_v,
            )  # fmt: skip
            stats.add("train/entropy_critic_loss", h_loss)

        # Diagnostics, accumulated on the device (no host sync); see TrainStats
        with th.no_grad():
            reward = q_data - target  # implicit reward r = Q(s, a) - gamma (1 - d) V(s'), (N, K)
            stats.add("train/critic_loss", terms.loss)
            stats.add("train/ent_coef", ent_coef.reshape(()))
            stats.add("train/expert_loss", terms.expert_term)
            stats.add("train/policy_loss", terms.policy_term)
            stats.add("train/regularizer", terms.regularizer)
            stats.add("train/chi2_regularizer", self.reg_mult * reward.pow(2).mean())
            stats.add("train/q_expert", q_data[n_policy:].mean())
            stats.add("train/reward_expert", reward[n_policy:].mean())
            if n_policy > 0:  # offline batches hold expert rows only
                stats.add("train/q_policy", q_data[:n_policy].mean())
                stats.add("train/reward_policy", reward[:n_policy].mean())
            stats.add("train/v", v.mean())
            stats.add("train/target", target.mean())
            stats.add("train/entropy", -log_prob.mean())
            stats.add_ratio("train/q_absorbing", (q_data.mean(dim=1, keepdim=True) * dones).sum(), dones.sum())

    # ------------------------------------------------------------------------------------------------------
    # Offline training
    # ------------------------------------------------------------------------------------------------------

    def learn(
        self: SelfImplicitQAlgorithm,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfImplicitQAlgorithm:
        """SB3's ``learn``; with ``offline_objective`` set, :meth:`learn_offline` for ``total_timesteps`` updates
        instead (how rl-zoo3, which only calls ``learn``, trains offline: ``-params offline_objective:"'iq'"``), which
        dumps its logs every 1000 updates (``log_interval`` counts episodes, and offline there are none)."""
        if self.offline_objective is not None:
            if reset_num_timesteps:
                self.num_timesteps = 0
            return self.learn_offline(
                total_timesteps, callback, log_interval=1_000, objective=self.offline_objective,
                policy_term=self.offline_policy_term, value=self.offline_value, tb_log_name=f"{tb_log_name}_offline",
            )  # fmt: skip
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)

    def learn_offline(
        self: SelfImplicitQAlgorithm,
        n_updates: int,
        callback: MaybeCallback = None,
        log_interval: int = 1_000,
        objective: str = "iq",
        policy_term: str = "v0",
        value: str = "policy",
        value_samples: int = 4,
        tb_log_name: str = "offline",
    ) -> SelfImplicitQAlgorithm:
        """Train from the demonstrations alone, with no environment step (the papers' offline variants).

        ``objective="iq"``: every update samples ``expert_batch_size`` expert transitions and runs the usual critic,
        actor and temperature updates on them with the algorithm's offline critic loss (both: -r on expert rows, the
        ``policy_term`` and the chi^2 regulariser on expert rows; LSIQ clips the targets to its Q bounds).
        ``policy_term``: ``"v0"`` ((1 - gamma) mean V(s_E), expert states standing in for initial states) or
        ``"value_expert"`` (mean of V(s_E) - gamma V(s'_E)).
        ``value``: the V(s_E) of the policy term. ``"policy"``: the actor's soft value Q(s, a~) - alpha log pi(a~|s),
        as online. ``"soft_max"``: alpha log int exp(Q(s, a) / alpha) da, the value of the policy that is soft-optimal
        for Q (exact in discrete-action IQ-Learn), estimated by importance sampling from ``value_samples`` actor and
        ``value_samples`` uniform actions. Why: with expert rows only, -r + V(s) - gamma V(s') reduces to
        V(s_E) - Q(s_E, a_E), a contrastive term whose negatives are the actions V is taken at. The actor's samples
        alone leave Q unconstrained at actions it does not draw, the actor then chases those, and the return swings;
        the uniform samples push Q down everywhere (as CQL's log-sum-exp term). Measured on Pendulum-v1 from 10
        demonstrations (the README's offline table): it lifts offline LSIQ to behaviour cloning's level.
        ``objective="bc"``: behaviour cloning of the same tanh-Gaussian actor (the Gaussian NLL of the pre-tanh
        expert action, as the reference's BC), the baseline; the critic is untouched.

        Callbacks are called once per update (an ``EvalCallback(eval_freq=k)`` evaluates every k updates); the
        environment is used for its spaces and by such callbacks only. No environment step is taken, so
        ``num_timesteps`` counts the offline updates (the x axis of evaluation logs); the replay buffer stays empty.

        :param n_updates: gradient steps
        :param log_interval: updates between log dumps (the logged values are means since the last dump)
        """
        check_choice("objective", objective, OFFLINE_OBJECTIVES)
        check_choice("policy_term (offline)", policy_term, OFFLINE_POLICY_TERMS)
        check_choice("value (offline)", value, OFFLINE_VALUES)
        if value_samples < 1:
            raise ValueError(f"value_samples must be >= 1 (actions drawn per proposal to estimate V), got {value_samples}.")
        if self.expert_actions == "idm":
            raise ValueError(
                "learn_offline cannot use expert_actions='idm': the inverse dynamics model learns from the agent's own "
                "transitions, and offline training has none. Use demonstrations with actions, or expert_actions='policy'."
            )
        _, callbacks = self._setup_learn(n_updates, callback, reset_num_timesteps=False, tb_log_name=tb_log_name)
        assert self.expert_buffer is not None and self.expert_batch_size is not None
        callbacks.on_training_start(locals(), globals())
        self.policy.set_training_mode(True)

        def offline_loss(iq_batch: IQBatch, observations: th.Tensor, _actions: th.Tensor) -> CriticLossTerms:
            if value == "soft_max":
                iq_batch = iq_batch._replace(v=self._soft_max_value(observations, value_samples))
            return self._offline_critic_loss(iq_batch, policy_term)

        # Until num_timesteps reaches the total _setup_learn set (n_updates past the count at the start): a resume
        # callback that puts the count back (benchmarks) thereby gets only the remaining updates
        update = 0
        while self.num_timesteps < self._total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
            self._update_learning_rate()
            expert = self.expert_buffer.sample(self.expert_batch_size, self._vec_normalize_env)
            actions = self._expert_actions(None, expert)
            if objective == "bc":
                self._behaviour_cloning_step(expert.observations, actions)
            else:
                batch = MixedBatch(expert.observations, actions, expert.next_observations, expert.dones, n_policy=0)
                self._update(batch, True, offline_loss)
                if update % self.target_update_interval == 0:
                    polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                    polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
            self._n_updates += 1
            self.num_timesteps += 1
            update += 1
            if log_interval > 0 and update % log_interval == 0:
                self._flush_train_stats()
                self.logger.record("offline/updates", update)
                self.logger.dump(step=self._n_updates)
            if not callbacks.on_step():
                break
        callbacks.on_training_end()
        return self

    def _behaviour_cloning_step(self, observations: th.Tensor, actions: th.Tensor) -> None:
        mean, log_std, _ = self.actor.get_action_dist_params(observations)  # (B, A) each
        loss = squashed_gaussian_nll(mean, log_std, actions)
        self.actor.optimizer.zero_grad()
        loss.backward()
        self.actor.optimizer.step()
        self._train_stats.add("train/bc_loss", loss)

    def _expert_actions(self, replay: Any, expert: ExpertSamples) -> th.Tensor:
        """The expert batch's actions: recorded, labelled by the inverse dynamics model, or by the current policy."""
        if self.expert_actions == "demonstrations":
            assert expert.actions is not None
            return expert.actions
        if self.expert_actions == "policy":
            # The state-only baseline: the current policy labels expert states (no gradient)
            with th.no_grad():
                return self.actor.action_log_prob(expert.observations)[0]
        assert self.inverse_dynamics is not None
        if self._n_updates == 0 and self.inverse_dynamics.n_fits == 0 and self.inverse_dynamics.pretrain_fits > 0:
            self._pretrain_inverse_dynamics(replay.observations.shape[0])
        # One IDM fit per gradient step on this step's replay batch (actions known), then a sampled label per pair
        terms = self.inverse_dynamics.fit(
            replay.observations, replay.actions, replay.next_observations, expert.observations, expert.next_observations
        )
        self._train_stats.add("train/idm_nll", terms.nll)
        if self.inverse_dynamics.kl_coef > 0:
            self._train_stats.add("train/idm_kl", terms.kl)
        return self.inverse_dynamics.sample(expert.observations, expert.next_observations)

    def _pretrain_inverse_dynamics(self, batch_size: int) -> None:
        """``pretrain_fits`` IDM fits on fresh replay batches, once, before the first expert pair is labelled: the
        first labels then come from a model of the initial replay data rather than from an untrained one. A model
        that already trained (loaded, resumed) is never pre-trained again."""
        assert self.inverse_dynamics is not None and self.replay_buffer is not None
        for _ in range(self.inverse_dynamics.pretrain_fits):
            replay = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[arg-type]
            terms = self.inverse_dynamics.fit(replay.observations, replay.actions, replay.next_observations)
        self._train_stats.add("train/idm_pretrain_nll", terms.nll)

    def _flush_train_stats(self) -> None:
        """Move the accumulated training statistics into the logger (one host transfer)."""
        if not len(self._train_stats):
            return
        self._train_stats.flush(self.logger)
        progress = self._current_progress_remaining
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/learning_rate", self.lr_schedule(progress))
        self.logger.record("train/actor_learning_rate", self.actor_lr_schedule(progress))

    def dump_logs(self) -> None:  # SB3 >= 2.4
        self._flush_train_stats()
        super().dump_logs()  # type: ignore[misc]

    def _dump_logs(self) -> None:  # SB3 < 2.4 (imitation's pinned 2.2.1) calls this name
        self._flush_train_stats()
        super()._dump_logs()

    # ------------------------------------------------------------------------------------------------------
    # The recovered reward
    # ------------------------------------------------------------------------------------------------------

    def predict_reward(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        next_observations: np.ndarray,
        dones: np.ndarray,
        n_action_samples: int = 16,
        seed: int = 0,
    ) -> np.ndarray:
        """The implicit reward recovered by the critic: r(s, a, s') = Q(s, a) - gamma (1 - d) V(s').

        V(s') = E_{a'~pi}[Q(s', a') - alpha log pi(a'|s')] is estimated with ``n_action_samples`` samples drawn
        from a private generator seeded with ``seed``, so the result is deterministic and the training RNG is
        untouched. With several critics, Q is their minimum (as in the soft target).

        :param observations: s as the policy sees them (normalised, if VecNormalize is used, like ``predict``),
            shape (n, *obs_shape)
        :param actions: a in the env's action scale, shape (n, *action_shape)
        :param next_observations: s', shape (n, *obs_shape)
        :param dones: 1 where the transition truly terminates (absorbing), 0 otherwise (also at time limits),
            shape (n,)
        :return: the reward, shape (n,), float32
        """
        # np.array copies: imitation hands out read-only arrays, which torch warns about
        obs = th.as_tensor(np.array(observations, dtype=np.float32), device=self.device)
        next_obs = th.as_tensor(np.array(next_observations, dtype=np.float32), device=self.device)
        act = th.as_tensor(np.array(actions, dtype=np.float32), device=self.device)
        done = th.as_tensor(np.array(dones, dtype=np.float32), device=self.device)
        return self.implicit_reward(obs, act, next_obs, done, n_action_samples, seed).cpu().numpy()

    def implicit_reward(
        self,
        observations: th.Tensor,
        actions: th.Tensor,
        next_observations: th.Tensor,
        dones: th.Tensor,
        n_action_samples: int = 16,
        seed: int = 0,
    ) -> th.Tensor:
        """:meth:`predict_reward` on tensors (on the model's device), without gradients; actions in the env's scale.

        :return: the reward, shape (n,)
        """
        obs, next_obs = observations.float(), next_observations.float()
        act = self._to_unit_box(actions)
        done = dones.float().reshape(-1, 1)  # (n, 1)
        n = obs.shape[0]
        if not (len(act) == len(next_obs) == len(done) == n):
            raise ValueError(
                f"predict_reward: inputs disagree in length: observations {n}, actions {len(act)}, "
                f"next_observations {len(next_obs)}, dones {len(done)}"
            )
        generator = th.Generator(device=self.device).manual_seed(seed)
        with th.no_grad():
            q = th.cat(self.critic(obs, act), dim=1).min(dim=1, keepdim=True)[0]  # (n, 1)
            reward = q - (1.0 - done) * self.gamma * self._soft_value(next_obs, n_action_samples, generator)
        return reward.reshape(-1)

    def predict_advantage(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        n_action_samples: int = 64,
        seed: int = 0,
    ) -> np.ndarray:
        """The recovered reward with its potential removed: A(s, a) = Q(s, a) - max_a' Q(s, a'); for training new agents.

        For any state function V, the recovered reward Q(s, a) - gamma (1 - d) V(s') equals A(s, a) plus the
        potential-based shaping term V(s) - gamma (1 - d) V(s') (Ng et al., 1999), so both have the same optimal
        policies. With V the maximum of Q, Q is the optimal action value of both and the greedy policy of Q their
        optimal policy. This form pays 0 for the greedy action and less for every other one, at every state: a
        dense signal. The recovered reward itself pays for falling to states of low V (-gamma V(s')), which a new
        agent learns to exploit long before it learns the long-run value (the README's reward-transfer caveat).

        The maximum is taken over ``n_action_samples`` uniform actions of the action box, as many actor samples
        and the actor's mean, drawn from a private generator seeded with ``seed`` (deterministic, the training
        RNG untouched). With several critics, Q is their minimum (as in the soft target).

        :param observations: s as the policy sees them (normalised, if VecNormalize is used), shape (n, *obs_shape)
        :param actions: a in the env's action scale, shape (n, *action_shape)
        :return: the advantage, shape (n,), float32, <= 0 up to the sampled maximum's error
        """
        obs = th.as_tensor(np.array(observations, dtype=np.float32), device=self.device)
        act = th.as_tensor(np.array(actions, dtype=np.float32), device=self.device)
        return self.implicit_advantage(obs, act, n_action_samples, seed).cpu().numpy()

    def implicit_advantage(
        self, observations: th.Tensor, actions: th.Tensor, n_action_samples: int = 64, seed: int = 0
    ) -> th.Tensor:
        """:meth:`predict_advantage` on tensors (on the model's device), without gradients; actions in the env's scale.

        :return: the advantage, shape (n,)
        """
        obs = observations.float()
        if len(actions) != len(obs):
            raise ValueError(f"predict_advantage: inputs disagree in length: observations {len(obs)}, actions {len(actions)}")
        generator = th.Generator(device=self.device).manual_seed(seed)
        with th.no_grad():
            q = th.cat(self.critic(obs, self._to_unit_box(actions)), dim=1).min(dim=1, keepdim=True)[0]  # (n, 1)
            advantage = q - self._max_value(obs, n_action_samples, generator)
        return advantage.reshape(-1)

    def predict_greedy(self, observations: np.ndarray, n_action_samples: int = 64, seed: int = 0) -> np.ndarray:
        """Q's greedy action argmax_a Q(s, a): the optimal policy of the recovered reward, in both its forms.

        The policy that any agent trained to the optimum on :meth:`predict_reward` or :meth:`predict_advantage`
        converges to, so its true return is the ceiling of reward transfer (the README's reward-transfer table).
        The maximum is over the same candidates as :meth:`predict_advantage` with the same ``seed`` (the actor's
        mean, ``n_action_samples`` actor samples and as many uniform actions), so the advantage of the returned
        actions is exactly 0 there. Deterministic; the training RNG is untouched.

        :param observations: s as the policy sees them, shape (n, *obs_shape)
        :param n_action_samples: uniform and actor-sampled candidate actions (each)
        :param seed: seed of the private generator
        :return: the greedy actions in the env's action scale, shape (n, *action_shape), float32
        """
        assert isinstance(self.action_space, spaces.Box)
        obs = th.as_tensor(np.array(observations, dtype=np.float32), device=self.device)
        generator = th.Generator(device=self.device).manual_seed(seed)
        with th.no_grad():
            candidates, q = self._candidate_values(obs, n_action_samples, generator)  # (C, n, A), (C, n)
            best = q.argmax(dim=0)  # (n,)
            greedy = candidates[best, th.arange(len(obs), device=self.device)]  # (n, A), in [-1, 1]
        actions = self.policy.unscale_action(greedy.cpu().numpy()).astype(np.float32)
        return actions.reshape(len(obs), *self.action_space.shape)

    def greedy_policy(self, n_action_samples: int = 64, seed: int = 0) -> GreedyQPolicy:
        """:meth:`predict_greedy` behind SB3's ``predict`` (one observation or a batch), e.g. for ``evaluate_policy``.

        :param n_action_samples: uniform and actor-sampled candidate actions (each)
        :param seed: seed of the private generator
        """
        return GreedyQPolicy(self, n_action_samples, seed)

    def _to_unit_box(self, actions: th.Tensor) -> th.Tensor:
        """Env-scale actions -> [-1, 1], as ``policy.scale_action``, shape (n, A)."""
        assert isinstance(self.action_space, spaces.Box)
        low = th.as_tensor(self.action_space.low, dtype=th.float32, device=self.device)
        high = th.as_tensor(self.action_space.high, dtype=th.float32, device=self.device)
        return 2.0 * (actions.float().reshape(len(actions), -1) - low) / (high - low) - 1.0

    def _max_value(self, states: th.Tensor, n_action_samples: int, generator: th.Generator) -> th.Tensor:
        """max_a Q(s, a) over the actor's mean, S actor samples and S uniform actions, shape (n, 1)."""
        _, q = self._candidate_values(states, n_action_samples, generator)  # (2S + 1, n)
        return q.max(dim=0)[0].reshape(-1, 1)  # (n, 1)

    def _candidate_values(
        self, states: th.Tensor, n_action_samples: int, generator: th.Generator
    ) -> tuple[th.Tensor, th.Tensor]:
        """Candidate actions (the actor's mean, S actor samples, S uniform actions; [-1, 1] scale) and their Q
        (the critics' minimum), shapes (2S + 1, n, A) and (2S + 1, n)."""
        n = states.shape[0]
        mean, log_std, _ = self.actor.get_action_dist_params(states)  # (n, A) each
        # Row j * n + i is candidate j of state i: the mean, S actor samples, S uniform actions, ((2S + 1) n, A)
        mean_rep, log_std_rep = mean.repeat(n_action_samples, 1), log_std.repeat(n_action_samples, 1)
        noise = th.randn(mean_rep.shape, generator=generator, device=self.device)
        actor_actions = th.tanh(mean_rep + log_std_rep.exp() * noise)
        uniform_actions = 2.0 * th.rand(mean_rep.shape, generator=generator, device=self.device) - 1.0
        candidates = th.cat([th.tanh(mean), actor_actions, uniform_actions])
        n_candidates = 2 * n_action_samples + 1
        q = th.cat(self.critic(states.repeat(n_candidates, 1), candidates), dim=1).min(dim=1)[0]  # ((2S + 1) n,)
        return candidates.reshape(n_candidates, n, -1), q.reshape(n_candidates, n)

    def _soft_value(self, states: th.Tensor, n_action_samples: int, generator: th.Generator) -> th.Tensor:
        """V(s) = E_{a~pi}[Q(s, a) - alpha log pi(a|s)] from ``n_action_samples`` samples, shape (n, 1)."""
        n = states.shape[0]
        mean, log_std, _ = self.actor.get_action_dist_params(states)  # (n, A) each
        # Repeat the n states n_action_samples times: row j * n + i is sample j of state i
        mean_rep, log_std_rep = mean.repeat(n_action_samples, 1), log_std.repeat(n_action_samples, 1)
        noise = th.randn(mean_rep.shape, generator=generator, device=self.device)
        gaussian_actions = mean_rep + log_std_rep.exp() * noise
        distribution = SquashedDiagGaussianDistribution(mean_rep.shape[1]).proba_distribution(mean_rep, log_std_rep)
        log_prob = distribution.log_prob(th.tanh(gaussian_actions), gaussian_actions)  # (S*n,)
        q = th.cat(self.critic(states.repeat(n_action_samples, 1), th.tanh(gaussian_actions)), dim=1)
        soft_q = q.min(dim=1)[0] - self._current_ent_coef() * log_prob  # (S*n,)
        return soft_q.reshape(n_action_samples, n).mean(dim=0).reshape(-1, 1)  # (n, 1)

    def _soft_max_value(self, states: th.Tensor, n_action_samples: int) -> th.Tensor:
        """V(s) = alpha log int exp(Q(s, a) / alpha) da over the [-1, 1]^A action box, per critic, shape (n, K).

        Importance sampling from the proposal q = (pi + U) / 2 with ``n_action_samples`` actions from each: the
        actor's samples find the high-Q actions, the uniform ones cover the rest (and keep q > 0). The gradient
        flows into the critic only: the samples and their proposal density are constants.
        """
        n = states.shape[0]
        with th.no_grad():
            mean, log_std, _ = self.actor.get_action_dist_params(states)  # (n, A) each
            action_dim = mean.shape[1]
            # Row j * n + i is sample j of state i: S actor samples, then S uniform ones, (2S*n, A)
            mean_rep, log_std_rep = mean.repeat(2 * n_action_samples, 1), log_std.repeat(2 * n_action_samples, 1)
            n_actor = n_action_samples * n
            actor_actions = th.tanh(mean_rep[:n_actor] + log_std_rep[:n_actor].exp() * th.randn_like(mean_rep[:n_actor]))
            uniform_actions = 2.0 * th.rand_like(mean_rep[n_actor:]) - 1.0
            # clamped so that atanh in the squashed log-density stays finite
            actions = th.cat([actor_actions, uniform_actions]).clamp(-1.0 + 1e-6, 1.0 - 1e-6)
            distribution = SquashedDiagGaussianDistribution(action_dim).proba_distribution(mean_rep, log_std_rep)
            log_pi = distribution.log_prob(actions)  # (2S*n,)
            log_uniform = th.full_like(log_pi, -action_dim * math.log(2.0))
            log_proposal = (th.logaddexp(log_pi, log_uniform) - math.log(2.0)).reshape(-1, 1)  # (2S*n, 1)
        q = th.cat(self.critic(states.repeat(2 * n_action_samples, 1), actions), dim=1)  # (2S*n, K)
        alpha = self._current_ent_coef()
        log_weights = (q / alpha - log_proposal).reshape(2 * n_action_samples, n, -1)  # (2S, n, K)
        return alpha * (th.logsumexp(log_weights, dim=0) - math.log(2 * n_action_samples))  # (n, K)

    # ------------------------------------------------------------------------------------------------------
    # Saving
    # ------------------------------------------------------------------------------------------------------

    def _excluded_save_params(self) -> list[str]:
        # The demonstrations and the expert buffer never go into the zip (load() works without them)
        return [
            *super()._excluded_save_params(),
            "actor",
            "critic",
            "critic_target",
            "demonstrations",
            "expert_buffer",
            "_train_stats",
            "_actor_params",
            "_critic_params",
            "inverse_dynamics",
            "entropy_critic",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts = ["policy", "actor.optimizer", "critic.optimizer"]
        if self.inverse_dynamics is not None:
            state_dicts += ["inverse_dynamics", "inverse_dynamics.optimizer"]
        if self.entropy_critic is not None:
            state_dicts += ["entropy_critic", "entropy_critic.optimizer"]
        if self.ent_coef_optimizer is not None:
            saved_pytorch_variables = ["log_ent_coef"]
            state_dicts.append("ent_coef_optimizer")
        else:
            saved_pytorch_variables = ["ent_coef_tensor"]
        return state_dicts, saved_pytorch_variables
